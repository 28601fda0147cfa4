"""Many ranks on one machine: the shipped studies, shortened, on 64 oversubscribed ranks (more
ranks than work items) and on an uneven count, bitwise identical to one rank.

Every dataset of the run file is compared exactly (the attributes record hosts, times and the
rank count, so they differ by design).  The pitch-angle study runs through both I/O paths that
many ranks stress: mpio with collective writes (idle ranks join each round with empty
selections; one propagator bank per node in a shared window, built in 64 slices) and funnel
(rank 0 receives every member through the hub).  Kept short (1 day, 9 members per random
experiment; drift: 2 h, 7 permutations of 300 particles): the cost is mostly 64 start-ups.
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
HPCBELT = [sys.executable, "-m", "hpcbelt"]


def env(**extra):
    return dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
                OMPI_MCA_rmaps_base_oversubscribe="1", PYTHONPATH=str(ROOT), **extra)


def run(args, ranks=None, timeout=900, **extra):
    cmd = (["mpirun", "-n", str(ranks)] if ranks else []) + HPCBELT + ["run", *map(str, args), "--quiet"]
    r = subprocess.run(cmd, capture_output=True, text=True, env=env(**extra), timeout=timeout, cwd=ROOT)
    assert r.returncode == 0, r.stderr[-4000:]
    return r


def datasets(path):
    out = {}
    with h5py.File(path, "r") as h5:
        h5.visititems(lambda name, obj: out.__setitem__(name, obj[()]) if isinstance(obj, h5py.Dataset) else None)
        attrs = dict(h5.attrs)
    return out, attrs


def assert_same_datasets(a, b):
    da, _ = datasets(a)
    db, _ = datasets(b)
    assert sorted(da) == sorted(db)
    for name in da:
        np.testing.assert_array_equal(da[name], db[name], err_msg=name)


@pytest.fixture(scope="module")
def short_watt(tmp_path_factory):
    d = tmp_path_factory.mktemp("watt_many")
    text = (ROOT / "inputs" / "watt2021.toml").read_text()
    text = re.sub(r"members = 60", "members = 9", text)
    text = text.replace('path = "hiss_L3_0.5MeV.h5"', f'path = "{ROOT / "inputs" / "hiss_L3_0.5MeV.h5"}"')
    text = re.sub(r"duration_days = 30.0", "duration_days = 1.0", text)
    study = d / "watt_short.toml"
    study.write_text(text)
    run([study, "-o", d / "one.h5"])
    return study, d


@pytest.mark.parametrize("io", ["mpio", "funnel"])
def test_pitch_angle_on_64_ranks_is_bitwise_one_rank(short_watt, io):
    study, d = short_watt
    out = d / f"many_{io}.h5"
    run([study, "-o", out], ranks=64, HPCBELT_IO=io)
    _, attrs = datasets(out)
    assert attrs["mpi_size"] == 64 and attrs["parallel_io"] == io and attrs["status"] == "complete"
    assert_same_datasets(d / "one.h5", out)


def test_drift_permutations_on_an_uneven_count_are_bitwise_one_rank(tmp_path):
    args = [ROOT / "inputs" / "lejosne2023.toml", "--set", "time.duration_h=2", "--set", "particles.duration_h=2",
            "--set", "particles.permutations=7", "--set", "particles.per_permutation=300"]
    run([*args, "-o", tmp_path / "one.h5"])
    run([*args, "-o", tmp_path / "many.h5"], ranks=13)
    assert datasets(tmp_path / "many.h5")[1]["mpi_size"] == 13
    assert_same_datasets(tmp_path / "one.h5", tmp_path / "many.h5")
