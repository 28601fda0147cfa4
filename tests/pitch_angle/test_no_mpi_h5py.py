"""The fallback for an h5py built without MPI, with a real such h5py.

A second virtual environment gets PyPI's binary h5py wheel (serial HDF5 inside) and borrows
numpy, numba and mpi4py from the project's .venv; a 2-rank run with it must succeed, print the
one warning line, funnel writes through rank 0 and give the same numbers as the mpio run.
"""

import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import h5py
import pytest

from .helpers import ROOT, hpcbelt, make_study, mpi_env
from .test_run import assert_same_results


@pytest.fixture(scope="module")
def serial_h5py_python(tmp_path_factory):
    venv = tmp_path_factory.mktemp("nompi") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    py = venv / "bin" / "python"
    r = subprocess.run([str(py), "-m", "pip", "install", "-q", "--disable-pip-version-check", "--no-deps",
                        "--only-binary=h5py", f"h5py=={h5py.__version__}"], capture_output=True, text=True)
    assert r.returncode == 0, f"could not install PyPI's h5py wheel: {r.stderr}"
    site = subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    # after the venv's own site-packages: its h5py wins, everything else comes from .venv
    Path(site, "zz_project_venv.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    check = subprocess.run([str(py), "-c", "import h5py, mpi4py, numba; print(h5py.get_config().mpi)"],
                           capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert check.stdout.strip() == "False", check.stderr
    return py


def test_run_without_parallel_h5py(tmp_path, serial_h5py_python):
    study = make_study(tmp_path, dalpha=6.0, days=1.0, members=3)
    ref = hpcbelt("run", study, "-o", tmp_path / "ref.h5", "--quiet", ranks=2)
    assert ref.returncode == 0, ref.stderr
    env = mpi_env()
    env["PYTHONPATH"] = str(ROOT)
    cmd = ["mpirun", "-n", "2", str(serial_h5py_python), "-m", "hpcbelt", "run", str(study),
           "-o", str(tmp_path / "funnel.h5"), "--quiet"]
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0, r.stderr
    warnings = [ln for ln in r.stderr.splitlines() if "warning" in ln]
    assert len(warnings) == 1 and "no MPI support" in warnings[0], r.stderr
    with h5py.File(tmp_path / "funnel.h5") as fh:
        assert fh.attrs["parallel_io"] == "funnel"
    assert_same_results(tmp_path / "ref.h5", tmp_path / "funnel.h5")
