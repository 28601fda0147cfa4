"""The driver under a real communicator (pytest-mpi: run with mpirun -n N ... --with-mpi)."""

import dataclasses

import numpy as np
import pytest

from hpcbelt.dxx.config import DxxConfig, load
from hpcbelt.dxx.driver import build
from hpcbelt.dxx.synthetic import SyntheticSettings, generate


def _small(model):
    cfg = DxxConfig.from_doc(load(None))
    return dataclasses.replace(cfg, n_lat=24, alpha_step_deg=5.0, wave_model=model,
                               table_method="table", table_dlog10_X=0.05, table_dB_rel=0.1)


@pytest.mark.mpi
@pytest.mark.parametrize("model", ["field_aligned", "oblique"])
def test_parallel_build_equals_serial_bitwise(model):
    from mpi4py import MPI

    comm = MPI.COMM_WORLD
    cfg = _small(model)
    obs = generate(SyntheticSettings(n_profiles=40, seed=11))
    par = build(cfg, obs, comm)
    if comm.Get_rank() == 0:
        ser = build(cfg, obs, None)
        assert np.array_equal(par.daa, ser.daa)
        assert np.array_equal(par.daa_of_mean_inputs, ser.daa_of_mean_inputs)
        assert np.array_equal(par.table, ser.table)
    else:
        assert par is None
