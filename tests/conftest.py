"""Fixtures shared by the in-process MPI tests of every package (run under mpirun with --with-mpi)."""

import shutil
import tempfile
from pathlib import Path

import pytest


@pytest.fixture
def comm():
    """COMM_WORLD (serial test modules that need a communicator override this with COMM_SELF)."""
    from mpi4py import MPI

    return MPI.COMM_WORLD


@pytest.fixture
def shared_dir(comm):
    """One temporary directory seen by all ranks, removed after the test."""
    path = tempfile.mkdtemp(prefix="hpcbelt-mpi-") if comm.Get_rank() == 0 else None
    path = Path(comm.bcast(path, root=0))
    yield path
    comm.Barrier()
    if comm.Get_rank() == 0:
        shutil.rmtree(path, ignore_errors=True)
