"""In-process MPI test (pytest-mpi; run under mpirun -n 2 and -n 3 with --with-mpi).

The driver runs on COMM_WORLD and writes one file in parallel; every rank then checks every
permutation against the same permutation computed serially here, so a permutation written by the
wrong rank, into the wrong slot, or with a rank-dependent random stream fails.
"""


import h5py
import numpy as np
import pytest

from hpcbelt.drift import driver, runfile
from hpcbelt.drift.study import load_study
from hpcbelt.parallel import root_decides
from hpcbelt.particles.tracker import run_permutation

from .helpers import make_study

pytestmark = pytest.mark.mpi(min_size=2)


def test_parallel_file_matches_serial(comm, shared_dir):
    d = shared_dir
    if comm.rank == 0:
        make_study(d, **{"permutations = 5": f"permutations = {comm.size + 3}"})
    comm.Barrier()
    study = root_decides(comm, lambda: load_study(d / "study.toml"))
    out = d / "run.h5"
    driver.run(study, comm, out, quiet=True)
    exp = driver.experiment(study)
    with h5py.File(out, "r") as fh:
        assert fh.attrs["mpi_size"] == comm.size
        assert fh["particles/perm_done"][()].all()
        for p in range(study.doc["particles"]["permutations"]):
            ref = run_permutation(exp, p)
            np.testing.assert_array_equal(fh["particles/F"][p], ref["F"])
            np.testing.assert_array_equal(fh["particles/probe_F"][p], ref["probe_F"])
        assert np.isfinite(fh["pde/F"][()]).all()


def test_restart_in_parallel_rewrites_only_unfinished_work(comm, shared_dir):
    """Undo part of a finished run (PDE and some permutations marked unfinished, their data
    garbled), restart on this many ranks: the file comes back bitwise identical."""
    from .helpers import read_all

    d = shared_dir
    if comm.rank == 0:
        make_study(d, **{"permutations = 5": f"permutations = {2 * comm.size + 1}"})
    comm.Barrier()
    study = root_decides(comm, lambda: load_study(d / "study.toml"))
    out = d / "run.h5"
    driver.run(study, comm, out, quiet=True)
    ref = read_all(out) if comm.rank == 0 else None
    if comm.rank == 0:
        with h5py.File(out, "r+") as fh:
            fh["pde/done"][()] = 0
            fh["pde/F"][1:] = -1.0
            fh["radial/F"][-1] = -1.0
            for p in (0, comm.size):
                fh["particles/perm_done"][p] = 0
                fh["particles/F"][p] = -1.0
                fh["particles/probe_F"][p] = -1.0
    comm.Barrier()
    done = root_decides(comm, lambda: runfile.restart_state(study, out))
    assert not done["pde"].any() and done["particles"].sum() == study.doc["particles"]["permutations"] - 2
    driver.run(study, comm, out, quiet=True, done=done)
    if comm.rank == 0:
        got = read_all(out)
        assert got[0] == ref[0] and got[2] == ref[2]
        with h5py.File(out, "r") as fh:
            assert fh.attrs["restarts"] == 1 and fh.attrs["status"] == "complete"
