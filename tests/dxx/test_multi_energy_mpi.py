"""The multi-energy build under a real communicator (pytest-mpi: mpirun -n N ... --with-mpi):
the gathered (energy, profile, alpha) arrays equal the serial build bitwise, and each energy's
slice equals the single-energy build at that energy on the same communicator."""

import dataclasses

import numpy as np
import pytest

from hpcbelt.dxx.config import DxxConfig, load
from hpcbelt.dxx.driver import build
from hpcbelt.dxx.synthetic import SyntheticSettings, generate

ENERGIES = (0.2, 1.0)


def _small(model, method):
    cfg = DxxConfig.from_doc(load(None))
    return dataclasses.replace(cfg, n_lat=24, alpha_step_deg=5.0, wave_model=model,
                               table_method=method, table_dlog10_X=0.05, table_dB_rel=0.1,
                               oblique=dataclasses.replace(cfg.oblique, n_resonance=2,
                                                           n_wave_normal=6, n_freq_scan=6))


@pytest.mark.mpi
@pytest.mark.parametrize("model, method", [("field_aligned", "direct"), ("oblique", "table")])
def test_parallel_multi_energy_build_equals_serial_and_single_energy(model, method):
    from mpi4py import MPI

    comm = MPI.COMM_WORLD
    cfg = dataclasses.replace(_small(model, method), energy_MeV=ENERGIES[0],
                              energies_MeV=ENERGIES)
    obs = generate(SyntheticSettings(n_profiles=24, seed=11))
    par = build(cfg, obs, comm)
    singles = [build(dataclasses.replace(cfg, energies_MeV=None, energy_MeV=e), obs, comm)
               for e in ENERGIES]
    if comm.Get_rank() != 0:
        assert par is None and all(s is None for s in singles)
        return
    ser = build(cfg, obs, None)
    assert par.daa.shape == (len(ENERGIES), 24, 19) and par.energies_MeV == ENERGIES
    assert par.daa.tobytes() == ser.daa.tobytes()
    assert par.daa_of_mean_inputs.tobytes() == ser.daa_of_mean_inputs.tobytes()
    for k, s in enumerate(singles):
        assert par.daa[k].tobytes() == s.daa.tobytes()
        assert par.daa_of_mean_inputs[k].tobytes() == s.daa_of_mean_inputs.tobytes()
        if method == "table":
            assert np.array_equal(par.table[k], s.table)
