"""Issue 11, class 6: non-finite and absurd inputs are refused with one line naming the key or
file, exit 2, before anything is allocated or written.

* every float key must be finite (``inf``, ``nan``, also inside a list) and in range;
* a grid, an output cadence or a propagator bank that would not fit in memory is refused
  with the numbers (MiB needed and available);
* database datasets and attributes of the wrong dtype (strings, complex, compound) are refused.

A layout that does not fit on disk is refused too (tests/reliability/test_full_disk.py).
"""

import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pitch_angle.helpers import hpcbelt, make_study  # noqa: E402


def one_line(r):
    lines = [x for x in r.stderr.splitlines() if x.startswith("hpcbelt")]
    assert r.returncode == 2, r.stderr
    assert len(lines) == 1 and lines[0].startswith("hpcbelt: error: "), r.stderr
    assert "Traceback" not in r.stderr and "Warning" not in r.stderr, r.stderr
    return lines[0]


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    return make_study(tmp_path_factory.mktemp("absurd"), members=2, days=1.0)


@pytest.mark.parametrize("setting,expected", [
    ("time.duration_days=inf", "time.duration_days: expected a finite number"),
    ("time.duration_days=nan", "time.duration_days: expected a finite number"),
    ("time.output_every_s=-inf", "time.output_every_s: expected a finite number"),
    ("grid.dalpha_deg=nan", "grid.dalpha_deg: expected a finite number"),
    ("physics.energy_MeV=inf", "physics.energy_MeV: expected a finite number"),
    ("physics.initial_f=nan", "physics.initial_f: expected a finite number"),
    ("physics.initial_f=[1.0,inf]", "physics.initial_f: expected a finite number"),
    ("time.dt_s=nan", "time.dt_s: expected a finite number"),
    ("physics.L=1e300", "physics.L: expected 1 <= L <= 100"),
    ("physics.energy_MeV=1e-300", "physics.energy_MeV: expected 1e-06 <= energy_MeV"),
    ("physics.earth_radius_km=1e300", "physics.earth_radius_km: expected"),
    ("physics.initial_f=1e300", "physics.initial_f: expected values >= 0 and <= 1e+100"),
    ("time.duration_days=1e12", "time.duration_days: expected 0 <= duration_days <= 100000"),
    ("grid.dalpha_deg=1e-7", "grid.dalpha_deg: a grid of 9e+08 angles needs"),
    ("time.output_every_s=1e-4", "time.output_every_s (with duration_days = 1): one member of"),
])
def test_absurd_key_is_one_line(study, tmp_path, setting, expected):
    out = tmp_path / "out.h5"
    r = hpcbelt("run", study, "-o", out, "--quiet", "--set", setting, "--set", "database.check_L_energy=false")
    line = one_line(r)
    assert expected in line, line
    if "needs" in line:
        assert "MiB of memory per rank" in line and "available" in line
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_explicit_step_count_is_bounded(study, tmp_path):
    r = hpcbelt("run", study, "-o", tmp_path / "o.h5", "--quiet", "--set", "time.method=explicit",
                "--set", "time.dt_s=1e-9")
    assert "time.dt_s = 1e-09 s:" in one_line(r)


def test_non_finite_key_same_on_three_ranks(study, tmp_path):
    r = hpcbelt("run", study, "-o", tmp_path / "o.h5", "--quiet", "--set", "time.duration_days=inf", ranks=3)
    assert "time.duration_days: expected a finite number" in one_line(r)


def _database(path, **replace):
    alpha = np.linspace(0, 90, 31)
    daa = np.full((4, 31), 1e-6)
    with h5py.File(path, "w") as fh:
        data = {"alpha_deg": alpha, "daa": daa, **{k: v for k, v in replace.items() if not k.startswith("attr_")}}
        for k, v in data.items():
            fh.create_dataset(k, data=v)
        fh["daa"].attrs["units"] = "1/s"
        fh.attrs["L"] = replace.get("attr_L", 3.0)
        fh.attrs["energy_MeV"] = replace.get("attr_energy_MeV", 0.5)


@pytest.mark.parametrize("replace,expected", [
    ({"daa": np.full((4, 31), b"x", dtype="S4")}, "dataset 'daa' holds |S4; expected real numbers"),
    ({"daa": np.full((4, 31), 1e-6 + 1e-7j)}, "dataset 'daa' holds complex128"),
    ({"alpha_deg": np.zeros(31, dtype=[("a", "f8"), ("b", "i4")])}, "dataset 'alpha_deg' holds"),
    ({"attr_L": "three"}, "root attribute 'L' is 'three'"),
    ({"attr_energy_MeV": 0.5 + 1j}, "root attribute 'energy_MeV'"),
    ({"attr_L": np.inf}, "root attribute 'L' is inf"),
])
def test_database_of_the_wrong_dtype_is_refused(tmp_path, replace, expected):
    study = make_study(tmp_path, members=1, days=1.0)
    _database(tmp_path / "db.h5", **replace)
    r = hpcbelt("run", study, "-o", tmp_path / "o.h5", "--quiet")
    line = one_line(r)
    assert f"database {tmp_path / 'db.h5'}" in line and expected in line, line
