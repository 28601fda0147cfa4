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


def test_study_over_energies_in_parallel_matches_serial(comm, shared_dir):
    """Issue 15: every energy group written by any rank holds the serial permutations and rings."""
    from hpcbelt.particles import diffusion

    d = shared_dir / "energies"
    if comm.rank == 0:
        make_study(d, **{"permutations = 5": f"permutations = {comm.size + 2}",
                         "energy_keV = 200.0": "energy_keV = [200.0, 1000.0]",
                         "coarsen_mlt = 2": "coarsen_mlt = 2\nring_per_permutation = 8\n"
                                            "max_drift_angle_per_step_rad = 0.2"})
    comm.Barrier()
    study = root_decides(comm, lambda: load_study(d / "study.toml"))
    out = d / "run.h5"
    driver.run(study, comm, out, quiet=True)
    with h5py.File(out, "r") as fh:
        for st in study.slices():
            g = fh[st.group]
            exp = driver.experiment(st)
            ring = diffusion.ring_experiment(exp)
            assert g["particles/perm_done"][()].all() and g["pde/done"][()] == 1
            for p in range(st.particles.permutations):
                np.testing.assert_array_equal(g["particles/F"][p], run_permutation(exp, p)["F"])
                r = diffusion.run_ring(ring, p, exp.base_sequence(), st.physics.L_energy, 8)
                np.testing.assert_array_equal(g["particles/ring/S"][p], r["S"])
