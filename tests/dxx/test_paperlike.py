"""The shipped paper-like database (inputs/hiss_L3_0.5MeV_paperlike.h5) against each statement
Watt et al. (2021, GRL 48, e2020GL089962, Sec. 2.1 and 3) make about their Fig. 1.

Each test quotes the statement, turns it into a number and states the tolerance; the constant
runs use the exact propagators of the pitch-angle solver on the study's grid.  The file must
also be the one its build config describes (settings in its provenance = the config's)."""

import json
import tomllib
from pathlib import Path

import numpy as np
import pytest

from hpcbelt import daa_database
from hpcbelt.dxx.variability import fig1_statistics, upper_tail_ratio

ROOT = Path(__file__).resolve().parents[2]
DB = ROOT / "inputs" / "hiss_L3_0.5MeV_paperlike.h5"
CONFIG = ROOT / "inputs" / "hiss_L3_0.5MeV_paperlike.toml"


@pytest.fixture(scope="module")
def db():
    return daa_database.load(DB)


@pytest.fixture(scope="module")
def st(db):
    return fig1_statistics(db.alpha_deg, db.daa, db.daa_of_mean_inputs)


@pytest.fixture(scope="module")
def runs(db):
    """f after 30 days of the constant <D> and D(<X>,<Y>) runs (f0 = 5e3, loss cone at 100 km)."""
    from hpcbelt.dipole import loss_cone_deg_from_altitude
    from hpcbelt.pitch_angle.operator import make_grid
    from hpcbelt.pitch_angle.solver import propagators

    g = make_grid(1.0, loss_cone_deg_from_altitude(3.0, 100.0), 3.0, 0.5)
    prof = np.vstack([db.mean_on_grid(g.alpha_deg), np.interp(g.alpha_deg, db.alpha_deg, db.daa_of_mean_inputs)])
    return g.alpha_deg, propagators(g, prof, 30 * 86400.0) @ np.full(g.n, 5e3)


def test_file_is_what_its_config_builds(db):
    """The provenance holds the config's settings and the rebuild command of the config's header."""
    import sys
    sys.path.insert(0, str(ROOT / "tools"))
    from shape_sources import load_config

    import h5py

    doc, _, _, var = load_config(CONFIG)
    with h5py.File(DB, "r") as fh:
        prov = json.loads(fh.attrs["provenance"])
    want = json.loads(json.dumps(doc))
    have = prov["settings"]
    # [physics] may gain optional keys as the schema grows (e.g. an energy list): compare the ones
    # that shape this file; every other table exactly
    assert {k: have["physics"][k] for k in ("L", "energy_MeV", "B_eq_nT")} == \
        {k: want["physics"][k] for k in ("L", "energy_MeV", "B_eq_nT")}
    assert {k: v for k, v in have.items() if k != "physics"} == {k: v for k, v in want.items() if k != "physics"}
    assert prov["variability"] == var.as_dict()
    assert prov["command"] in CONFIG.read_text()
    assert db.n_profiles == tomllib.loads(CONFIG.read_text())["synthetic"]["n_profiles"] == 2377


def test_mean_profile_exceeds_mean_input_profile_at_all_angles_about_twice_below_60(st, db):
    """"At all pitch angles <D(Xi,Yi)> > D(<Xi>,<Yi>) and for a < 60 deg, <D(Xi,Yi)> ~ 2
    D(<Xi>,<Yi>)"; "<D> is positive over a slightly larger range".  Checked at every angle where
    either is positive (0 and 90 deg excluded: both vanish there); "~2" read as within a factor
    1.5 of 2 at every angle 5-59 deg (the paper reads it off a log-scale figure)."""
    a, r = st["alpha_deg"], st["ratio_mean_over_mean_inputs"]
    m, mi = st["mean_per_s"], db.daa_of_mean_inputs
    some = ((m > 0) | (mi > 0)) & (a > 0) & (a < 90)
    assert np.all(m[some] > mi[some]), a[some][~(m[some] > mi[some])]
    assert np.count_nonzero(m > 0) >= np.count_nonzero(mi > 0)
    low = (a >= 5) & (a < 60)
    assert np.all((r[low] > 2 / 1.5) & (r[low] < 2 * 1.5)), r[low]


def test_weakest_and_most_variable_at_60_to_75(st):
    """"Where the diffusion coefficient is weakest (60 <~ a <~ 75 deg), the variability is
    highest": the spread of log10 D (std over profiles with D > 0) at every angle of 62-75 deg
    exceeds its largest value at 10-55 deg, and the median D at every angle of 65-75 deg is below
    its smallest value at 10-55 deg.  (On this file the median at 60-63 deg, ~1e-7 1/s, still
    exceeds the 6.7e-8 at 10 deg; the default database's median is weakest from 66 deg.)"""
    a, med, sd = st["alpha_deg"], st["median_per_s"], st["sd_log10"]
    main = (a >= 10) & (a <= 55)
    assert med[(a >= 65) & (a <= 75)].max() < med[main].min()
    assert sd[(a >= 62) & (a <= 75)].min() > sd[main].max()


def test_no_diffusion_near_75_deg(st, runs):
    """"There is a region at a ~ 75 deg where the resonant condition is not satisfied, and so
    there is no diffusion", and "f(a > 75 deg) remains at the initial condition": the constant
    <D> run keeps f(79-90 deg) at 5e3 within 1 % for 30 days, and <D> at 78-80 deg is below 1e-3
    of its peak.  (The edge is at 78 deg here -- f(78 deg) falls to 4.1e3 -- and 77 deg in the
    default database, against the paper's "~75": the passes peaking at 600 Hz reach 1-3 deg
    further.)"""
    a, f = runs
    assert np.all(np.abs(f[0][a >= 79] / 5e3 - 1) < 0.01)
    m = st["mean_per_s"]
    near = (st["alpha_deg"] >= 78) & (st["alpha_deg"] <= 80)
    assert np.all(m[near] < 1e-3 * m.max())


def test_rarely_above_1e_minus_5(st):
    """"The diffusion coefficient is rarely greater than 1e-5 1/s ... across all pitch angles":
    read as fewer than 2 % of all (profile, angle) values and fewer than 5 % of the profiles
    exceeding it anywhere (the default database: 1.4 % and 4.5 %)."""
    assert st["fraction_values_above_1e-5"] < 0.02
    assert st["fraction_profiles_above_1e-5"] < 0.05


def test_heavy_upper_tail_of_log10_D_at_45_deg(db, st):
    """"The deviations from standard normal quantiles toward the right-hand side of the plot
    indicate the presence of a statistically heavy tail" (Fig. 1c, a = 45 deg).  Statistic: the
    upper-tail ratio (q99 - q50)/(q50 - q01) of log10 D; the reference is its distribution for
    normal samples of the same size (2000 seeded Monte Carlo samples): the database's value must
    exceed their 99.9th percentile, and the q95 version must exceed 1 as well."""
    n = int(np.count_nonzero(db.daa[:, int(np.argmin(np.abs(db.alpha_deg - 45)))] > 0))
    rng = np.random.default_rng(45)
    ref = np.array([upper_tail_ratio(rng.standard_normal(n)) for _ in range(2000)])
    assert st["tail_ratio_45"] > np.quantile(ref, 0.999), (st["tail_ratio_45"], np.quantile(ref, 0.999))
    assert st["tail_ratio_45_q95"] > 1.0


def test_constant_runs_about_3_3_apart_at_30_deg_after_30_days(runs):
    """"The ratio of f(a = 30 deg) solutions of the two constant numerical experiments after 30
    days is around 3.3": within 3.3 +- 15 % (the paper gives one significant figure and a "~")."""
    a, f = runs
    j = int(np.argmin(np.abs(a - 30)))
    ratio = f[1][j] / f[0][j]
    assert 2.8 < ratio < 3.8, ratio


def test_profiles_own_rates_average_below_the_mean_profile_rate(db):
    """lambda_max is convex in the operator (a maximum of linear functionals v^T S v), and S is
    linear in D, so E[lambda_max(S_k)] >= lambda_max(S(<D>)): the profiles' own slowest-mode decay
    rates average no more than the <D> run's (below the gap).  This is why the commuting part of
    slow switching is slower than the <D> run; on this file the gap is wide in every profile, so
    the mean own rate is < 10 % of the <D> run's (checked: the inequality, and the factor)."""
    from hpcbelt.dipole import loss_cone_deg_from_altitude
    from hpcbelt.pitch_angle import spectral as sp
    from hpcbelt.pitch_angle.operator import make_grid

    g = make_grid(1.0, loss_cone_deg_from_altitude(3.0, 100.0), 3.0, 0.5)
    d = db.on_grid(g.alpha_deg)
    nb = sp.below_gap(g, d.mean(axis=0))
    own = sp.segment_rates(g, d, nb)
    mean_rate = sp.rate_of_mean_profile(g, d.mean(axis=0), nb)
    assert own.mean() <= mean_rate * (1 + 1e-12)
    assert own.mean() < 0.1 * mean_rate
