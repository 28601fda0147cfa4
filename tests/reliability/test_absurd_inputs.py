"""Issue 11, class 6: non-finite and absurd inputs are refused with one line naming the key or
file, exit 2, before anything is allocated or written.

* every float key must be finite (``inf``, ``nan``, also inside a list) and in range;
* a grid, an output cadence or a propagator bank that would not fit in memory is refused
  with the numbers (MiB needed and available);
* database datasets and attributes of the wrong dtype (strings, complex, compound) are refused;
* the drift-diffusion study: every float and count key non-finite and out of range, the
  constraints between keys, arrays that would not fit in memory and a run file that would not
  fit on disk.

A layout that does not fit on disk is refused too (tests/reliability/test_full_disk.py).
"""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pitch_angle.helpers import hpcbelt, make_study, mpi_env  # noqa: E402
from drift.helpers import make_study as make_drift_study  # noqa: E402


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



# ------------------------------------------------------------------------------------------
# The drift-diffusion study (tests/drift/helpers.py's tiny study: L 2-6, 48 MLT cells, 2 h,
# radial solver and 5 permutations of 300 particles for 1 h)
# ------------------------------------------------------------------------------------------

def _probe(**box):
    keys = {"name": '"p"', "L_lo": 3.0, "L_hi": 4.0, "mlt_lo_h": 1.0, "mlt_hi_h": 2.0, **box}
    return {"[radial]": "[[probe]]\n" + "".join(f"{k} = {v}\n" for k, v in keys.items()) + "\n[radial]"}


GAUSS = "initial.kind=gaussian_L"
# id: (--set settings, replacements in the study text, what the one line must say)
DRIFT = {
    # every float key, non-finite
    "W inf": (["physics.W_mV_per_m=inf"], {}, "physics.W_mV_per_m: expected a finite number in mV/m"),
    "update nan": (["physics.update_s=nan"], {}, "physics.update_s: expected a finite number in s"),
    "energy -inf": (["physics.energy_keV=-inf"], {}, "physics.energy_keV: expected a finite number"),
    "L_energy nan": (["physics.L_energy=nan"], {}, "physics.L_energy: expected a finite number"),
    "R_E inf": (["physics.earth_radius_km=inf"], {}, "physics.earth_radius_km: expected a finite number"),
    "B_E nan": (["physics.B_E_nT=nan"], {}, "physics.B_E_nT: expected a finite number"),
    "L_min nan": (["grid.L_min=nan"], {}, "grid.L_min: expected a finite number"),
    "L_max inf": (["grid.L_max=inf"], {}, "grid.L_max: expected a finite number"),
    "dL nan": (["grid.dL=nan"], {}, "grid.dL: expected a finite number"),
    "F_L_min inf": (["grid.F_L_min=inf"], {}, "grid.F_L_min: expected a finite number"),
    "F_L_max nan": (["grid.F_L_max=nan"], {}, "grid.F_L_max: expected a finite number"),
    "duration inf": (["time.duration_h=inf"], {}, "time.duration_h: expected a finite number in h"),
    "cadence nan": (["time.output_every_s=nan"], {}, "time.output_every_s: expected a finite number"),
    "dt -inf": (["time.dt_s=-inf"], {}, "time.dt_s: expected a finite number"),
    "kmax inf": (["time.kmax=inf"], {}, "time.kmax: expected a finite number"),
    "L0 nan": ([GAUSS, "initial.L0=nan", "initial.width=0.3", "particles.enabled=false"], {},
               "initial.L0: expected a finite number"),
    "width inf": ([GAUSS, "initial.L0=4.0", "initial.width=inf", "particles.enabled=false"], {},
                  "initial.width: expected a finite number"),
    "probe L_lo inf": ([], _probe(L_lo="inf"), "probe[0].L_lo: expected a finite number"),
    "probe L_hi nan": ([], _probe(L_hi="nan"), "probe[0].L_hi: expected a finite number"),
    "probe mlt nan": ([], _probe(mlt_lo_h="nan"), "probe[0].mlt_lo_h: expected a finite number"),
    "D0 inf": (["radial.D_LL=power_law", "radial.D0_per_day=inf"], {}, "radial.D0_per_day: expected a finite"),
    "power nan": (["radial.power=nan"], {}, "radial.power: expected a finite number"),
    "theta inf": (["radial.theta=inf"], {}, "radial.theta: expected a finite number"),
    "radial dt nan": (["radial.dt_s=nan"], {}, "radial.dt_s: expected a finite number"),
    "particle duration inf": (["particles.duration_h=inf"], {}, "particles.duration_h: expected a finite number"),
    "RK4 step nan": (["particles.dt_max_s=nan"], {}, "particles.dt_max_s: expected a finite number"),
    "L_escape inf": (["particles.L_escape=inf"], {}, "particles.L_escape: expected a finite number"),
    "count inf": (["particles.permutations=inf"], {}, "particles.permutations: expected an integer"),
    "cells nan": (["grid.n_mlt=nan"], {}, "grid.n_mlt: expected an integer"),
    # every float and count key, out of its range
    "W huge": (["physics.W_mV_per_m=1e4"], {}, "physics.W_mV_per_m: expected 1e-06 <= W_mV_per_m <= 1000 mV/m"),
    "W tiny": (["physics.W_mV_per_m=1e-300"], {}, "physics.W_mV_per_m: expected 1e-06 <= W_mV_per_m"),
    "update zero": (["physics.update_s=0"], {}, "physics.update_s: expected 0.001 <= update_s <= 1e+07 s"),
    "update huge": (["physics.update_s=1e300"], {}, "physics.update_s: expected 0.001 <= update_s"),
    "energy tiny": (["physics.energy_keV=1e-9"], {}, "physics.energy_keV: expected 0.001 <= energy_keV <= 1e+07 keV"),
    "L_energy 1": (["physics.L_energy=1.0"], {}, "physics.L_energy: expected 1 < L_energy <= 100"),
    "R_E tiny": (["physics.earth_radius_km=1"], {}, "physics.earth_radius_km: expected 1000 <= earth_radius_km"),
    "B_E huge": (["physics.B_E_nT=1e12"], {}, "physics.B_E_nT: expected 1 <= B_E_nT <= 1e+07 nT"),
    "L_min below 1": (["grid.L_min=0.5"], {}, "grid.L_min: expected 1 < L_min <= 100"),
    "L_max huge": (["grid.L_max=1e300"], {}, "grid.L_max: expected 1 < L_max <= 100"),
    "dL tiny": (["grid.dL=1e-9"], {}, "grid.dL: expected 1e-06 <= dL <= 99"),
    "n_mlt few": (["grid.n_mlt=2"], {}, "grid.n_mlt: expected 4 <= n_mlt <= 1e+06"),
    "n_mlt many": (["grid.n_mlt=10000000"], {}, "grid.n_mlt: expected 4 <= n_mlt <= 1e+06"),
    "F_L_min negative": (["grid.F_L_min=-1"], {}, "grid.F_L_min: expected 0 <= F_L_min <= 1e+100"),
    "F_L_max huge": (["grid.F_L_max=1e200"], {}, "grid.F_L_max: expected 0 <= F_L_max <= 1e+100"),
    "duration zero": (["time.duration_h=0"], {}, "time.duration_h: expected 0 < duration_h <= 100000 h"),
    "duration huge": (["time.duration_h=1e6"], {}, "time.duration_h: expected 0 < duration_h <= 100000 h"),
    "cadence tiny": (["time.output_every_s=1e-9"], {}, "time.output_every_s: expected 0.001 <= output_every_s"),
    "dt tiny": (["time.dt_s=1e-6"], {}, "time.dt_s: expected 0.001 <= dt_s <= 3.6e+08 s"),
    "kmax small": (["time.kmax=0.5"], {}, "time.kmax: expected 1 <= kmax <= 1e+06"),
    "L0 huge": ([GAUSS, "initial.L0=1e3", "initial.width=0.3", "particles.enabled=false"], {},
                "initial.L0: expected 1 < L0 <= 100"),
    "width tiny": ([GAUSS, "initial.L0=4.0", "initial.width=1e-300", "particles.enabled=false"], {},
                   "initial.width: expected 1e-06 <= width <= 100"),
    "probe L_lo below 1": ([], _probe(L_lo=0.5), "probe[0].L_lo: expected 1 < L_lo <= 100"),
    "probe L_hi huge": ([], _probe(L_hi=1e300), "probe[0].L_hi: expected 1 < L_hi <= 100"),
    "probe mlt 25": ([], _probe(mlt_hi_h=25.0), "probe[0].mlt_hi_h: expected an MLT in [0, 24] h"),
    "D0 huge": (["radial.D_LL=power_law", "radial.D0_per_day=1e300"], {},
                "radial.D0_per_day: expected 1e-30 <= D0_per_day <= 1e+06 1/day"),
    "power huge": (["radial.power=1e3"], {}, "radial.power: expected -20 <= power <= 20"),
    "theta 2": (["radial.theta=2"], {}, "radial.theta: expected 0.5 <= theta <= 1"),
    "radial dt tiny": (["radial.dt_s=1e-9"], {}, "radial.dt_s: expected 0.001 <= dt_s"),
    "permutations 0": (["particles.permutations=0"], {}, "particles.permutations: expected 1 <= permutations <= 1e+06"),
    "permutations huge": (["particles.permutations=1000000000000"], {},
                          "particles.permutations: expected 1 <= permutations <= 1e+06"),
    "particles huge": (["particles.per_permutation=1000000000000"], {},
                       "particles.per_permutation: expected 1 <= per_permutation <= 1e+09"),
    "particle duration huge": (["particles.duration_h=1e9"], {}, "particles.duration_h: expected 0 < duration_h"),
    "RK4 step tiny": (["particles.dt_max_s=1e-6"], {}, "particles.dt_max_s: expected 0.001 <= dt_max_s"),
    "coarsen_L 0": (["particles.coarsen_L=0"], {}, "particles.coarsen_L: expected 1 <= coarsen_L <= 1e+06"),
    "coarsen_mlt huge": (["particles.coarsen_mlt=100000000"], {}, "particles.coarsen_mlt: expected 1 <= coarsen_mlt"),
    "L_escape huge": (["particles.L_escape=1e9"], {}, "particles.L_escape: expected 1 < L_escape <= 1000"),
    "seed negative": (["seed=-1"], {}, "seed: expected a value >= 0"),
    # the constraints between keys
    "L_max below L_min": (["grid.L_max=1.5"], {}, "grid.L_max: expected a value above L_min = 2"),
    "dt longer than the run": (["time.dt_s=9000"], {}, "time.dt_s: expected at most time.duration_h (7200 s)"),
    "cadence longer than the run": (["time.output_every_s=10800"], {},
                                    "time.output_every_s: expected at most time.duration_h (7200 s)"),
    "radial dt longer than the run": (["radial.dt_s=1e4"], {}, "radial.dt_s: expected at most time.duration_h"),
    "RK4 step longer than the tracking": (["particles.dt_max_s=5000"], {},
                                          "particles.dt_max_s: expected at most particles.duration_h (3600 s)"),
    "cadence longer than the tracking": (["particles.duration_h=0.25"], {},
                                         "time.output_every_s: expected at most particles.duration_h (900 s)"),
    "particles dropped inside the grid": (["particles.L_escape=5"], {},
                                          "particles.L_escape: expected at least grid.L_max = 6"),
    "probe outside the grid": ([], _probe(L_lo=7.0, L_hi=8.0), "probe[0].L_lo: the box 7 <= L <= 8 lies outside"),
    "default probe outside the grid": (["grid.L_min=4"], {}, "probe: the default probe (the paper's, L3.5_22MLT)"),
    # arrays that would not fit in memory (sizes far beyond any node's memory)
    "PDE cells": (["grid.dL=1e-5", "grid.n_mlt=1000000"], {}, "grid.n_mlt: the PDE on 4e+05 x 1000000 cells"),
    "output times": (["time.duration_h=1e5", "time.output_every_s=1e-3", "particles.enabled=false"], {},
                     "time.output_every_s (with duration_h = 100000): 360,000,000,001 output times needs"),
    "particle positions": (["particles.per_permutation=1000000000", "particles.duration_h=1e5"], {},
                           "particles.per_permutation: one permutation of 1,000,000,000 particles"),
    "updates of w": (["physics.update_s=1e-3", "particles.duration_h=1e5"], {},
                     "physics.update_s: one permutation of 300 particles"),
}


@pytest.fixture(scope="module")
def drift_refusals(tmp_path_factory):
    """Every case of DRIFT through the command line's main() in one process (fast): its exit
    code, its stderr and what is left in its own empty output directory."""
    root = tmp_path_factory.mktemp("drift_absurd")
    cases = {}
    for i, (case, (settings, replace, _)) in enumerate(DRIFT.items()):
        study = make_drift_study(root / f"study{i}", **replace)
        out = root / f"out{i}"
        out.mkdir()
        cases[case] = ["run", str(study), "-o", str(out / "run.h5"), "--quiet"] + [
            a for s in settings for a in ("--set", s)]
    code = (
        "import contextlib, io, json, os, sys\n"
        "from hpcbelt import cli\n"
        "res = {}\n"
        "for case, argv in json.loads(sys.stdin.read()).items():\n"
        "    err = io.StringIO()\n"
        "    with contextlib.redirect_stderr(err):\n"
        "        rc = cli.main(argv)\n"
        "    res[case] = [rc, err.getvalue(), sorted(os.listdir(os.path.dirname(argv[3])))]\n"
        "print(json.dumps(res))\n")
    r = subprocess.run([sys.executable, "-c", code], input=json.dumps(cases), capture_output=True, text=True,
                       timeout=600, env=mpi_env())
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout.splitlines()[-1])


@pytest.mark.parametrize("case", list(DRIFT))
def test_drift_key_out_of_range_is_one_line(drift_refusals, case):
    rc, err, left = drift_refusals[case]
    line = one_line(subprocess.CompletedProcess([], rc, "", err))
    assert DRIFT[case][2] in line, line
    assert "/study.toml: " in line                       # hpcbelt: error: <file>: <key>: ...
    if "needs" in line:
        assert "MiB of memory per rank" in line and "available on this node" in line, line
    assert left == [], left                              # no output, no lock, no temporary file


@pytest.mark.parametrize("case", ["L_max huge", "particle positions"])
def test_drift_refusal_same_on_three_ranks(tmp_path, case):
    """The real command under mpirun -n 3: one line, exit 2 on every rank, nothing written."""
    settings, replace, expected = DRIFT[case]
    study = make_drift_study(tmp_path / "s", **replace)
    out = tmp_path / "o"
    out.mkdir()
    r = hpcbelt("run", study, "-o", out / "run.h5", "--quiet", *[a for s in settings for a in ("--set", s)],
                ranks=3, timeout=120)
    assert expected in one_line(r)
    assert list(out.iterdir()) == []


def test_drift_run_file_too_big_for_the_disk(tmp_path):
    """Kept positions of 1e5 permutations: a few MiB of memory per permutation, but a run file
    several times the free space of the output's file system: refused before anything is
    written, with the MiB needed and free."""
    out_dir = tmp_path / "o"
    out_dir.mkdir()
    free = shutil.disk_usage(out_dir).free
    n_perm, n_rec = 100_000, 3                          # 1 h of tracking at the 30 min cadence
    n = int(4 * free / (n_perm * n_rec * 2 * 4)) + 1   # positions: perm x N x time x 2 float32
    study = make_drift_study(tmp_path / "s", **{"permutations = 5": f"permutations = {n_perm}",
                                                "per_permutation = 300": f"per_permutation = {n}\n"
                                                                         "keep_positions = true"})
    r = hpcbelt("run", study, "-o", out_dir / "run.h5", "--quiet", timeout=300)
    line = one_line(r)
    assert f"output {out_dir / 'run.h5'}: not enough free space for the run file's preallocated layout" in line
    assert "MiB needed" in line and "MiB free" in line
    assert list(out_dir.iterdir()) == []


def test_drift_initial_time_index_outside_the_file(tmp_path):
    """initial.time_index beyond the file's times is one line naming the key, not a traceback."""
    src = tmp_path / "F.h5"
    with h5py.File(src, "w") as fh:
        fh["F"] = np.ones((2, 4, 8))
        fh["L_grid"] = np.linspace(2.5, 5.5, 4)
        fh["mlt_h"] = (np.arange(8) + 0.5) * 3.0
    study = make_drift_study(tmp_path, **{'kind = "injection"': 'kind = "file"\npath = "F.h5"\ntime_index = 7',
                                          "enabled = true\npermutations": "enabled = false\npermutations"})
    r = hpcbelt("run", study, "-o", tmp_path / "o.h5", "--quiet")
    assert "initial.time_index: 7 is not a time of" in one_line(r)
    assert not (tmp_path / "o.h5").exists()
