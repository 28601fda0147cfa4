"""Process settings every entry point applies before numpy or MPI start.

Imported first by :mod:`hpcbelt.cli` (the ``hpcbelt`` command), :mod:`hpcbelt.api` (the
in-process API) and ``python -m hpcbelt.dxx``, so a script that imports the API before numpy
and mpi4py runs under the same settings as the command line.  Each variable is only a default:
a value already in the environment is kept.  Nothing else happens here (no imports beyond
:mod:`os`), so importing this module is free.

``OPENBLAS_NUM_THREADS``, ``OMP_NUM_THREADS``, ``MKL_NUM_THREADS`` = 1
    One BLAS/OpenMP thread per MPI rank: parallelism comes from ranks, and a fixed thread count
    keeps floating-point results independent of how many ranks share a node.  Read when numpy
    loads its BLAS: a process that imported numpy before hpcbelt keeps its own thread count.
``OMPI_MCA_io`` = ``romio321``
    Open MPI's MPI-IO: ROMIO unless the user chose.  Measured with Open MPI 4.1.4: OMPIO's
    collective write ("vulcan") prints ENOSPC from a rank's pwritev but returns success to HDF5
    on every rank, so a full disk would go unnoticed; ROMIO returns MPI_ERR_IO, which becomes
    the agreed exit 74 (tests/reliability/test_full_disk.py).  Read at MPI_Init, so it must be
    set before mpi4py is imported; other MPI libraries ignore the variable.
"""

from __future__ import annotations

import os

THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
MPI_IO_VARIABLE = "OMPI_MCA_io"
MPI_IO_DEFAULT = "romio321"


def apply() -> None:
    """Set the defaults above where the environment does not already hold a value."""
    for var in THREAD_VARIABLES:
        os.environ.setdefault(var, "1")
    os.environ.setdefault(MPI_IO_VARIABLE, MPI_IO_DEFAULT)


apply()
