"""Small databases and study files for the pitch-angle tests (tiny grids, few members)."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np

from hpcbelt import daa_database as database

ROOT = Path(__file__).resolve().parents[2]


def write_test_database(path, n_profiles=40, seed=0, n_alpha=91, L=3.0, energy=0.5):
    """A database in the documented format: log-normal amplitudes times a smooth shape."""
    rng = np.random.default_rng(seed)
    alpha = np.linspace(0, 90, n_alpha)
    a = np.radians(alpha)
    shape = (0.5 + np.sin(a) ** 2) * np.exp(-((alpha / 80.0) ** 12))
    amp = 2e-6 * rng.lognormal(0, 1.0, (n_profiles, 1))
    daa = amp * shape[None, :] * rng.uniform(0.5, 1.5, (n_profiles, 1))
    database.write(path, alpha, daa, daa_of_mean_inputs=0.5 * daa.mean(axis=0), L=L, energy_MeV=energy,
                   description="test database")
    return path


STUDY = """\
kind = "pitch_angle"
seed = 11
title = "test study"

[physics]
L = 3.0
energy_MeV = 0.5
loss_cone_altitude_km = 100.0
initial_f = 5e3

[grid]
dalpha_deg = {dalpha}

[time]
duration_days = {days}
output_every_s = 21600.0
method = "{method}"
dt_s = {dt}

[database]
path = "db.h5"

[[experiment]]
name = "drand_1h"
mode = "random"
members = {members}
switch_every_s = 3600.0

[[experiment]]
name = "drand_6h"
mode = "random"
members = 3
switch_every_s = 21600.0

[[experiment]]
name = "mean_of_profiles"
mode = "mean_of_profiles"

[[experiment]]
name = "mean_inputs"
mode = "mean_inputs"

[[experiment]]
name = "profile_3"
mode = "profile"
profile = 3
"""


def make_study(directory, method="exact", dalpha=3.0, days=2.0, members=4, dt=1.0, **replace):
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    if not (directory / "db.h5").exists():
        write_test_database(directory / "db.h5")
    text = STUDY.format(method=method, dalpha=dalpha, days=days, members=members, dt=dt)
    for old, new in replace.items():
        text = text.replace(old, new)
    path = directory / "study.toml"
    path.write_text(text)
    return path


def mpi_env():
    env = dict(os.environ)
    env.update(OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
               OMPI_MCA_rmaps_base_oversubscribe="1")
    return env


def hpcbelt(*args, ranks=None, env=None, timeout=300, cwd=None):
    """Run the real command line (optionally under mpirun) and return the CompletedProcess."""
    cmd = [sys.executable, "-m", "hpcbelt", *map(str, args)]
    if ranks is not None:
        cmd = [shutil.which("mpirun"), "-n", str(ranks), *cmd]
    e = mpi_env()
    if env:
        e.update(env)
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=e, cwd=cwd)




def wait_until_gone(pids, timeout_s: float = 60.0) -> None:
    """Wait for the processes ``pids`` to exit.  A killed run's other ranks can outlive mpirun for
    a moment and still hold the run file's lock; a restart in that moment is rightly refused as
    a second writer."""
    import time

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        alive = []
        for pid in pids:
            try:
                os.kill(pid, 0)
                alive.append(pid)
            except ProcessLookupError:
                pass
        if not alive:
            return
        time.sleep(0.2)
