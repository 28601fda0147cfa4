"""``python -m hpcbelt.dxx build|import|plot|keys ...`` (same as ``hpcbelt dxx ...``)."""

import sys

# one BLAS/OpenMP thread per rank and ROMIO MPI-IO, before numpy and mpi4py (hpcbelt/runtime.py)
from .. import runtime  # noqa: F401
from .cli import main  # noqa: E402

sys.exit(main())
