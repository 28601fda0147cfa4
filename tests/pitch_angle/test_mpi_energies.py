"""A study over energies on 2 and 3 ranks (pytest-mpi, ``mpirun -n 2|3 ... --with-mpi``).

Every rank checks every (experiment, energy) group of the parallel file against the serial
solver run locally at that energy with the member's own draws (rank invariance: 1 vs N ranks
bitwise), with the node-shared propagator banks (one window per energy) and with private banks
(``HPCBELT_SHARED_BANK=0``); and after a restart of a damaged file on N ranks.
"""

import h5py
import numpy as np
import pytest

from hpcbelt.parallel import root_decides
from hpcbelt.pitch_angle import driver, runfile
from hpcbelt.pitch_angle.solver import run_member
from hpcbelt.pitch_angle.study import load_study

from .energy_helpers import make_energy_study

pytestmark = pytest.mark.mpi(min_size=2)


def _check_against_serial(study, out):
    with h5py.File(out, "r") as fh:
        assert fh.attrs["mpi_size"] >= 2
        for e, ex in enumerate(study.experiments):
            for m in range(ex.members):
                rows, stored = study.segment_profiles(e, m)
                for sl in study.slices:
                    g = fh[sl.group(ex.name)]
                    assert g["member_done"][m] == 1
                    f, dint = run_member(sl.grid, study.f0, sl.profiles, rows, study.out_t, ex.seg_t,
                                         study.method, study.dt_s)
                    np.testing.assert_array_equal(g["f"][m], f)
                    np.testing.assert_array_equal(g["daa_integral"][m], dint)
                    np.testing.assert_array_equal(g["profile_index"][m], stored)


@pytest.mark.parametrize("method,shared", [("exact", "1"), ("exact", "0"), ("explicit", "1")])
def test_energies_parallel_file_matches_serial_solver(comm, shared_dir, method, shared, monkeypatch):
    monkeypatch.setenv("HPCBELT_SHARED_BANK", shared)
    d = shared_dir
    if comm.Get_rank() == 0:
        make_energy_study(d, energies=(0.2, 1.0), method=method, dalpha=6.0, days=0.5,
                          members=comm.Get_size() + 2, dt=2.0)
    comm.Barrier()
    study = root_decides(comm, lambda: load_study(d / "study.toml"))
    driver.run(study, comm, d / "run.h5", quiet=True)
    _check_against_serial(study, d / "run.h5")


def test_energies_restart_on_n_ranks(comm, shared_dir):
    d = shared_dir
    if comm.Get_rank() == 0:
        make_energy_study(d, energies=(0.2, 0.5, 1.0), dalpha=6.0, days=0.5, members=comm.Get_size() + 1)
    comm.Barrier()
    study = root_decides(comm, lambda: load_study(d / "study.toml"))
    driver.run(study, comm, d / "run.h5", quiet=True)
    comm.Barrier()
    if comm.Get_rank() == 0:
        with h5py.File(d / "run.h5", "r+") as fh:
            fh["drand_1h_E0.5MeV/member_done"][0] = 0
            fh["drand_1h_E0.5MeV/f"][0] = np.nan
            fh["drand_6h_E1MeV/member_done"][1] = 0
    comm.Barrier()
    done = root_decides(comm, lambda: runfile.restart_state(study, d / "run.h5"))
    assert not done["drand_1h_E0.5MeV"][0]
    driver.run(study, comm, d / "run.h5", quiet=True, done=done)
    _check_against_serial(study, d / "run.h5")
