"""Tiny drift-diffusion study files for the end-to-end tests."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

STUDY = """\
kind = "drift_diffusion"
seed = 5
title = "tiny drift test"

[physics]
W_mV_per_m = 0.5
update_s = 200.0
energy_keV = 200.0
L_energy = 3.0

[grid]
L_min = 2.0
L_max = 6.0
dL = 0.1
n_mlt = 48

[time]
duration_h = 2.0
output_every_s = 1800.0
dt_s = 300.0

[initial]
kind = "injection"

[radial]
enabled = true

[particles]
enabled = true
permutations = 5
per_permutation = 300
duration_h = 1.0
coarsen_L = 2
coarsen_mlt = 2
"""


def make_study(directory, **replace):
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    text = STUDY
    for old, new in replace.items():
        assert old in text, old
        text = text.replace(old, new)
    path = directory / "study.toml"
    path.write_text(text)
    return path


def hpcbelt(*args, ranks=None, timeout=300, cwd=None, env=None):
    """Run the real command line (optionally under mpirun); returns the CompletedProcess."""
    cmd = [sys.executable, "-m", "hpcbelt", *map(str, args)]
    if ranks is not None:
        cmd = [shutil.which("mpirun"), "-n", str(ranks), *cmd]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=mpi_env(**(env or {})), cwd=cwd)


# A study slow enough for a signal to land mid-run (about 0.2 s per work item, 16 items: the PDE
# in 4 chunks and 12 permutations), small enough to run in a few seconds.
SLOW = {"dL = 0.1": "dL = 0.05", "duration_h = 2.0": "duration_h = 4.0", "dt_s = 300.0": "dt_s = 30.0",
        "permutations = 5": "permutations = 12",
        "per_permutation = 300": "per_permutation = 8000\ndt_max_s = 10.0"}


def make_slow_study(directory, **replace):
    return make_study(directory, **{**SLOW, **replace})


def mpi_env(**extra):
    return dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
                OMPI_MCA_rmaps_base_oversubscribe="1", **extra)


VARIABLE_ATTRS = {"start_time", "end_time", "mpi_size", "parallel_io", "host", "git_commit", "status"}


def read_all(path):
    """Every dataset's bytes, every dataset attribute, and the root attributes that do not
    legitimately change between runs (times, MPI size, I/O mode, restart records)."""
    import h5py
    import numpy as np

    data, attrs = {}, {}

    def visit(name, obj):
        for k, v in obj.attrs.items():
            if k not in ("DIMENSION_LIST", "REFERENCE_LIST"):
                attrs[f"{name}@{k}"] = v
        if isinstance(obj, h5py.Dataset):
            v = np.asarray(obj[()])
            data[name] = (v.dtype.str, v.shape, v.tobytes())

    with h5py.File(path, "r") as fh:
        fh.visititems(visit)
        root = {k: v for k, v in fh.attrs.items() if k not in VARIABLE_ATTRS and not k.startswith("restart")}
    return data, attrs, root


def assert_bitwise_same(a, b):
    """Same datasets (dtype, shape and every byte, NaNs included), attributes and study record."""
    import numpy as np

    da, aa, ra = read_all(a)
    db, ab, rb = read_all(b)
    assert sorted(da) == sorted(db)
    for k in da:
        assert da[k] == db[k], f"{k} differs"
    assert aa.keys() == ab.keys() and all(np.array_equal(aa[k], ab[k]) for k in aa)
    assert ra.keys() == rb.keys(), set(ra) ^ set(rb)
    for k in ra:
        assert np.array_equal(ra[k], rb[k]), k
