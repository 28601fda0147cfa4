"""``python -m hpcbelt.dxx build|import|plot|keys ...`` (same as ``hpcbelt dxx ...``)."""

import os
import sys

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

from .cli import main  # noqa: E402

sys.exit(main())
