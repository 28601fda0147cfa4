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


def hpcbelt(*args, ranks=None, timeout=300, cwd=None):
    """Run the real command line (optionally under mpirun); returns the CompletedProcess."""
    cmd = [sys.executable, "-m", "hpcbelt", *map(str, args)]
    if ranks is not None:
        cmd = [shutil.which("mpirun"), "-n", str(ranks), *cmd]
    env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
               OMPI_MCA_rmaps_base_oversubscribe="1")
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env, cwd=cwd)
