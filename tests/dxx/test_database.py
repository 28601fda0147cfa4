"""Synthetic generator, table interpolation, pairs checks, file format, MPI invariance."""

import dataclasses
import json
import shutil
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

from hpcbelt import daa_database
from hpcbelt.dxx import calculator as C
from hpcbelt.dxx import table as T
from hpcbelt.dxx.cli import main as dxx_main
from hpcbelt.dxx.synthetic import SyntheticSettings, generate
from hpcbelt.errors import InputError

ROOT = Path(__file__).resolve().parents[2]
SMALL = ["--n-lat", "32", "--alpha-step-deg", "5", "--method", "table",
         "--set", "table.dlog10_X=0.05", "--set", "table.dB_rel=0.1", "--quiet"]


def test_synthetic_is_seedable_and_has_the_stated_statistics():
    s = SyntheticSettings(n_profiles=20000, seed=7)
    a, b = generate(s), generate(s)
    assert np.array_equal(a.X, b.X) and np.array_equal(a.Y, b.Y)
    assert not np.array_equal(a.Y, generate(dataclasses.replace(s, seed=8)).Y)
    ln, ls = np.log10(a.n_e_m3), np.log10(a.Y)
    assert 10 ** np.median(ln) == pytest.approx(1.1e9, rel=0.02)
    assert np.std(ln) == pytest.approx(0.15, rel=0.03)
    assert 10 ** np.median(ls) == pytest.approx(5e-7, rel=0.05)
    assert np.std(ls) == pytest.approx(0.6, rel=0.03)
    assert np.corrcoef(ln, ls)[0, 1] == pytest.approx(0.3, abs=0.03)
    assert np.std(a.B_eq_nT) / 1100 == pytest.approx(0.02, rel=0.05)
    lo, hi = np.percentile(a.X, [2.5, 97.5])          # dxx.md: X spans about 6.8-13.2
    assert 6.5 < lo < 7.2 and 12.8 < hi < 14.0


def test_ar1_time_series_has_the_lag_correlation():
    s = SyntheticSettings(n_profiles=20000, seed=3, time_series="ar1", correlation_time_min=20,
                          cadence_min=2)
    z = np.log10(generate(s).n_e_m3)
    r1 = np.corrcoef(z[:-1], z[1:])[0, 1]
    assert r1 == pytest.approx(np.exp(-0.1), abs=0.02)


def test_table_interpolation_is_exact_at_nodes_and_keeps_zeros():
    grid = T.TableGrid(X=np.array([5.0, 10.0]), B_eq_nT=np.array([1000.0, 1200.0]))
    table = np.array([[[1.0, 0.0], [4.0, 2.0]], [[2.0, 0.0], [8.0, 0.0]]])
    got = T.interpolate_table(grid, table, np.array([5.0, 10.0, np.sqrt(50.0)]),
                                     np.array([1000.0, 1200.0, 1000.0]))
    np.testing.assert_allclose(got[0], [1.0, 0.0])
    np.testing.assert_allclose(got[1], [8.0, 0.0])
    np.testing.assert_allclose(got[2], [2.0, 1.0])   # geometric in D, linear where a 0


def test_table_interpolation_error_near_cutoff(cfg_fa):
    """Worst case (midway between nodes, default spacing 0.008 in log10 X and 4 % in B_eq)
    of the geometric interpolation, measured on the field-aligned model: the relative error
    is < 1.5 % wherever D > 1e-3 of its maximum, including the steep fall at the cut-off
    angle (linear weights give 4.5 % in X and 42 % in B_eq there)."""
    cfg = dataclasses.replace(cfg_fa, n_lat=48)
    X0, B0 = 9.3, 1100.0
    X1 = X0 * 10 ** cfg.table_dlog10_X
    B1 = B0 * (1 + cfg.table_dB_rel)
    grid = T.TableGrid(X=np.array([X0, X1]), B_eq_nT=np.array([B0, B1]))
    table = np.array([[C.unit_profile(cfg, x, b) for x in grid.X] for b in grid.B_eq_nT])
    Xm, Bm = np.sqrt(X0 * X1), 0.5 * (B0 + B1)
    exact = C.unit_profile(cfg, Xm, Bm)
    got = T.interpolate_table(grid, table, np.array([Xm]), np.array([Bm]))[0]
    m = exact > 1e-3 * exact.max()
    assert np.max(abs(got[m] / exact[m] - 1)) < 0.015
    assert np.max(abs(got - exact)) < 3e-3 * exact.max()   # measured 2.5e-3


def test_pairs_csv_bad_rows_are_reported_and_nothing_is_written(tmp_path, capsys):
    bad = tmp_path / "pairs.csv"
    bad.write_text("X,Y,B_eq_nT\n9.2,1e-6,1100\nnan,1e-6,1100\n0.9,1e-6,1100\n9,-1e-7,1100\n")
    with pytest.raises(InputError) as exc:
        T.read_pairs_csv(bad, 1100.0)
    msg = str(exc.value)
    assert "row 2: X = nan" in msg and "row 3: X = 0.9" in msg and "row 4: Y = -1e-07" in msg
    assert "row 1" not in msg
    out = tmp_path / "db.h5"
    rc = dxx_main(["build", "--pairs", str(bad), "-o", str(out), "--quiet"])
    assert rc == 2 and not out.exists()
    assert "row 3" in capsys.readouterr().err
    (tmp_path / "nocol.csv").write_text("X,Z\n9,1\n")
    with pytest.raises(InputError, match="no column 'Y'"):
        T.read_pairs_csv(tmp_path / "nocol.csv", 1100.0)


def test_build_from_pairs_writes_the_contract_format(tmp_path):
    pairs = tmp_path / "pairs.csv"
    pairs.write_text("X,Y\n9.2,1e-6\n8.0,4e-7\n11.0,2e-6\n")
    out = tmp_path / "db.h5"
    assert dxx_main(["build", "--pairs", str(pairs), "-o", str(out), "--n-lat", "32",
                     "--quiet"]) == 0
    with h5py.File(out, "r") as fh:
        assert fh.attrs["format"] == "hpcbelt.daa_database"
        assert fh.attrs["format_version"] == 1
        for k in ("L", "energy_MeV", "wave_model", "description", "hpcbelt_version"):
            assert k in fh.attrs
        units = {"alpha_deg": "deg", "daa": "1/s", "daa_of_mean_inputs": "1/s",
                 "daa_mean": "1/s", "X": "1", "Y": "nT^2/Hz", "B_eq_nT": "nT"}
        for k, u in units.items():
            assert fh[k].attrs["units"] == u and fh[k].dtype == np.float64
        a = fh["alpha_deg"][()]
        d = fh["daa"][()]
        assert a.shape == (91,) and a[0] == 0 and a[-1] == 90
        assert d.shape == (3, 91) and np.all(np.isfinite(d)) and np.all(d >= 0)
        np.testing.assert_array_equal(fh["B_eq_nT"][()], 1100.0)
        np.testing.assert_allclose(fh["daa_mean"][()], d.mean(axis=0))
        prov = json.loads(fh.attrs["provenance"])
        assert prov["command"].startswith("hpcbelt dxx build --pairs")
        assert prov["method_used"] == "direct"
        # the three pairs are computed directly, so each row is the calculator's profile
        np.testing.assert_array_equal(d[0], C.profile(
            dataclasses.replace(_cfg(prov), n_lat=32), 9.2, 1e-6, 1100.0))
        np.testing.assert_array_equal(fh["daa_of_mean_inputs"][()], C.profile(
            _cfg(prov), np.mean([9.2, 8.0, 11.0]), np.mean([1e-6, 4e-7, 2e-6]), 1100.0))
    from hpcbelt.daa_database import load    # the solver's loader accepts it
    assert load(out).n_profiles == 3


def _cfg(prov):
    from hpcbelt.dxx.config import DxxConfig
    return DxxConfig.from_doc(prov["settings"])


@pytest.mark.skipif(shutil.which("mpirun") is None, reason="mpirun not installed")
def test_mpi_rank_count_does_not_change_the_file(tmp_path):
    """1, 2 and 3 ranks give identical datasets and attributes (the file has no timestamps)."""
    digests = []
    for n in (1, 2, 3):
        d = tmp_path / f"n{n}"
        d.mkdir()
        cmd = [sys.executable, "-m", "hpcbelt.dxx", "build", "-o", "db.h5",
               "--n-profiles", "25", *SMALL]
        if n > 1:
            cmd = ["mpirun", "--allow-run-as-root", "--oversubscribe", "-n", str(n), *cmd]
        env = {**__import__("os").environ, "PYTHONPATH": str(ROOT)}
        subprocess.run(cmd, cwd=d, check=True, env=env, timeout=300)
        digests.append(daa_database.content_digest(d / "db.h5"))
    assert digests[0] == digests[1] == digests[2]


def test_storm_population_mixture_statistics():
    """storm_fraction = 0 reproduces the single-population draws exactly; with a storm
    population each part has its own medians, spreads and correlation, and the pooled
    correlation turns negative when the storm part pairs low density with strong waves."""
    base = SyntheticSettings(n_profiles=40000, seed=5)
    a = generate(base)
    b = generate(dataclasses.replace(base, storm_n_e_median_m3=1e8))   # fraction still 0
    assert np.array_equal(a.X, b.X) and np.array_equal(a.Y, b.Y)
    s = dataclasses.replace(base, n_e_median_m3=1.73e9, n_e_sigma_log10=0.05,
                            S_median_nT2_Hz=2.5e-7, S_sigma_log10=0.5, corr_log_n_log_S=0.3,
                            storm_fraction=0.5, storm_n_e_median_m3=0.87e9,
                            storm_n_e_sigma_log10=0.12, storm_S_median_nT2_Hz=1e-6,
                            storm_S_sigma_log10=0.5, storm_corr_log_n_log_S=0.0)
    o = generate(s)
    ln, ls = np.log10(o.n_e_m3), np.log10(o.Y)
    # membership is recoverable from the draws: the quiet part keeps the base normals
    zn = np.log10(a.n_e_m3 / 1.1e9) / 0.15                 # the shared normal z_n
    quiet = np.isclose(o.n_e_m3, 1.73e9 * 10 ** (0.05 * zn), rtol=1e-9)
    assert quiet.mean() == pytest.approx(0.5, abs=0.01)
    st = ~quiet
    assert 10 ** np.median(ln[quiet]) == pytest.approx(1.73e9, rel=0.01)
    assert 10 ** np.median(ln[st]) == pytest.approx(0.87e9, rel=0.02)
    assert np.std(ln[quiet]) == pytest.approx(0.05, rel=0.03)
    assert np.std(ln[st]) == pytest.approx(0.12, rel=0.03)
    assert 10 ** np.median(ls[quiet]) == pytest.approx(2.5e-7, rel=0.05)
    assert 10 ** np.median(ls[st]) == pytest.approx(1e-6, rel=0.05)
    assert np.corrcoef(ln[quiet], ls[quiet])[0, 1] == pytest.approx(0.3, abs=0.03)
    assert np.corrcoef(ln[st], ls[st])[0, 1] == pytest.approx(0.0, abs=0.03)
    assert np.corrcoef(ln, ls)[0, 1] < -0.3
    lo, hi = np.percentile(o.n_e_m3, [5, 95])             # the paper's 0.5-2e9 m^-3
    assert 0.5e9 < lo < 0.7e9 and 1.9e9 < hi < 2.1e9


def test_default_database_matches_its_config_and_generator():
    """inputs/hiss_L3_0.5MeV.h5 was built from inputs/hiss_L3_0.5MeV.toml: same settings in
    the provenance (power split 0.5, storm mixture, justification) and the same (X, Y, B_eq)
    from the generator; the mean profile is the mean of the rows.  (The full rebuild, bit for
    bit, is the documented command; it takes ~1-2 min and is not run here.)"""
    from hpcbelt.config import read_toml, validate
    from hpcbelt.dxx.config import full_schema
    toml = ROOT / "inputs" / "hiss_L3_0.5MeV.toml"
    db = ROOT / "inputs" / "hiss_L3_0.5MeV.h5"
    doc = validate(read_toml(toml)[0], full_schema(), str(toml))
    with h5py.File(db, "r") as fh:
        prov = json.loads(fh.attrs["provenance"])
        assert prov["settings"] == json.loads(json.dumps(doc))
        assert prov["settings"]["wave"]["direction_power_fraction"] == 0.5
        assert prov["settings"]["synthetic"]["storm_fraction"] > 0
        assert "Watt et al. (2021" in prov["settings"]["synthetic"]["justification"]
        assert prov["command"] == ("hpcbelt dxx build --config inputs/hiss_L3_0.5MeV.toml -o "
                                   "inputs/hiss_L3_0.5MeV.h5 --overwrite --quiet")
        obs = generate(SyntheticSettings(**doc["synthetic"]))
        # the generator's transcendental functions may differ in the last bits between numpy / libm
        # builds (seen on another machine: 55 of 2,377 X values, <= 4e-16 relative); a different
        # seed or setting changes every value at O(1), so 1e-13 still pins the generator
        np.testing.assert_allclose(fh["X"][()], obs.X, rtol=1e-13, atol=0)
        np.testing.assert_allclose(fh["Y"][()], obs.Y, rtol=1e-13, atol=0)
        np.testing.assert_allclose(fh["B_eq_nT"][()], obs.B_eq_nT, rtol=1e-13, atol=0)
        d = fh["daa"][()]
        np.testing.assert_allclose(fh["daa_mean"][()], d.mean(axis=0), rtol=1e-12)
        assert fh.attrs["wave_model"] == "oblique"


def test_default_database_has_the_properties_the_paper_reports():
    """The shipped synthetic database against what Watt et al. (2021) say of theirs (Sec. 2.1,
    Fig. 1), the targets of its calibration (inputs/hiss_L3_0.5MeV.toml):
    * "rarely greater than 1e-5 1/s across all pitch angles": under 10 % of the profiles
      exceed it anywhere (4.5 % do);
    * "a region at ~75 deg where the resonant condition is not satisfied": above 80 deg D is 0
      or, just above the cut-off, too small to move anything in 30 days (D t / (1 deg)^2 < 1e-3);
    * "where the diffusion coefficient is weakest (60-75 deg) the variability is highest": the
      10-90 % range of D at 70 deg spans over twice the decades it does at 30 deg (8.3 vs 1.8),
      and the median falls by over 10x from 45 to 70 deg;
    * heavy-tailed: mean / median of D(30 deg) between 2 and 4 (dxx.md: ~2-3);
    * <D(X_i, Y_i)> > D(<X>, <Y>) below 45 deg and at the cut-off (68-76 deg).  (The paper has
      it at every angle and ~2x below 60 deg; ours is 1.35x below 40 deg and below 1 at
      50-66 deg: see the README, "The default database".)"""
    with h5py.File(ROOT / "inputs" / "hiss_L3_0.5MeV.h5", "r") as fh:
        a = fh["alpha_deg"][()]
        d = fh["daa"][()]
        mean = fh["daa_mean"][()]
        d0 = fh["daa_of_mean_inputs"][()]
    assert np.mean(d.max(axis=1) > 1e-5) < 0.10
    thirty_days = 30 * 86400.0
    assert np.max(d[:, a >= 80]) * thirty_days / np.radians(1.0) ** 2 < 1e-3
    j = {x: int(np.argmin(abs(a - x))) for x in (30, 45, 70)}

    def spread(col):                # decades between the 10th and 90th percentiles
        q10, q90 = np.percentile(col, [10, 90])
        return np.log10(q90 / q10)
    assert spread(d[:, j[70]]) > 2 * spread(d[:, j[30]])
    assert np.median(d[:, j[70]]) < 0.1 * np.median(d[:, j[45]])
    assert 2.0 < mean[j[30]] / np.median(d[:, j[30]]) < 4.0
    low = (a >= 5) & (a <= 40)
    cut = (a >= 68) & (a <= 76)
    assert np.all(mean[low] > 1.2 * d0[low]) and np.all(mean[cut] > d0[cut])


def test_default_database_constant_runs_match_the_paper_in_kind():
    """The two constant-D experiments of the paper on the default database, solved exactly
    (one propagator each): f above the gap keeps its initial value for 30 days (their Sec. 3:
    "f(alpha > 75 deg) remains at the initial condition"; tolerance 1e-9 relative); f(30 deg)
    ends a factor 2-5 apart (their 3.3, our 2.8), lower with <D(X_i, Y_i)>, and is between
    1 and 1e3 (a lifetime of days, as D of order 1e-6 1/s implies), not drained."""
    from hpcbelt.pitch_angle.operator import make_grid
    from hpcbelt.pitch_angle.physics import loss_cone_deg_from_altitude
    from hpcbelt.pitch_angle.solver import propagators

    with h5py.File(ROOT / "inputs" / "hiss_L3_0.5MeV.h5", "r") as fh:
        mean = fh["daa_mean"][()]
        d0 = fh["daa_of_mean_inputs"][()]
    grid = make_grid(1.0, loss_cone_deg_from_altitude(3.0, 100.0), 3.0, 0.5)
    f0 = np.full(grid.n, 5e3)
    f_mean, f_d0 = (propagators(grid, p[None], 30 * 86400.0)[0] @ f0 for p in (mean, d0))
    hi = grid.alpha_deg >= 80
    np.testing.assert_allclose(f_mean[hi], 5e3, rtol=1e-9)
    np.testing.assert_allclose(f_d0[hi], 5e3, rtol=1e-9)
    j30 = 30
    assert 1.0 < f_mean[j30] < 1e3
    assert 2.0 < f_d0[j30] / f_mean[j30] < 5.0
