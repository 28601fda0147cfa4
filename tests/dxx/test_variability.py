"""Per-observation wave parameters (hpcbelt.dxx.variability): draws, reproducibility, the
calculator path against the existing driver, and the Jensen mechanism the paper-like database
relies on."""

import dataclasses
import math

import numpy as np
import pytest

from hpcbelt.dxx import driver, variability as V
from hpcbelt.dxx.config import DxxConfig, load
from hpcbelt.dxx.synthetic import SyntheticSettings, generate
from hpcbelt.errors import InputError


@pytest.fixture(scope="module")
def cfg():
    """An oblique, cyclotron-only model on a coarse grid (a profile in ~10 ms)."""
    c = DxxConfig.from_doc(load({"wave": {"model": "oblique"}, "grid": {"alpha_step_deg": 5.0, "n_lat": 32},
                                 "spectrum": {"f_m_Hz": 400.0, "df_Hz": 200.0},
                                 "oblique": {"n_resonance": 2, "n_wave_normal": 8, "include_landau": False}}))
    return c


def obs_of(n, seed=7):
    return generate(SyntheticSettings(n_profiles=n, seed=seed))


def test_defaults_vary_nothing_and_build_equals_the_driver(cfg):
    """With every source off, each profile is the one the existing driver computes for the same
    observation (method direct): the same calculator call, bit for bit."""
    obs = obs_of(4)
    s = V.VariabilitySettings()
    assert s.active == ()
    par = V.draw(cfg, obs, s)
    assert np.all(par["f_m_Hz"] == cfg.spectrum.f_m_Hz) and np.all(par["X_w"] == cfg.oblique.X_w)
    mine = V.build(cfg, obs, s)
    ref = driver.build(dataclasses.replace(cfg, table_method="direct"), obs)
    np.testing.assert_array_equal(mine.daa, ref.daa)
    np.testing.assert_array_equal(mine.daa_of_mean_inputs, ref.daa_of_mean_inputs)


def test_draws_reproducible_independent_and_observations_untouched(cfg):
    """Same seed: same parameters; switching a source on leaves the other sources' values and
    the observations exactly as they were (separate generator, all columns always drawn)."""
    obs = obs_of(500)
    a = V.draw(cfg, obs, V.VariabilitySettings(f_m_sigma_log10=0.1, df_follows_f_m=False))
    b = V.draw(cfg, obs, V.VariabilitySettings(f_m_sigma_log10=0.1, df_follows_f_m=False, lat_max_sigma_deg=5.0))
    np.testing.assert_array_equal(a["f_m_Hz"], b["f_m_Hz"])
    assert np.all(a["lat_max_deg"] == cfg.spectrum.lat_max_deg) and np.std(b["lat_max_deg"]) > 1.0
    c = V.draw(cfg, obs, V.VariabilitySettings(f_m_sigma_log10=0.1, df_follows_f_m=False, seed=2))
    assert not np.array_equal(a["f_m_Hz"], c["f_m_Hz"])
    again = obs_of(500)
    np.testing.assert_array_equal(again.Y, obs.Y)


def test_distributions_and_correlation_with_intensity(cfg):
    """Median and spread of log10 f_m, the clip, lat_max's normal spread and the correlation with
    log10 Y, against the requested values within 4 standard errors of n = 20000 draws."""
    n = 20000
    obs = obs_of(n)
    r = -0.5
    s = V.VariabilitySettings(f_m_sigma_log10=0.1, f_m_min_Hz=150.0, f_m_max_Hz=900.0, df_follows_f_m=True,
                              lat_max_sigma_deg=6.0, lat_max_min_deg=1.0, lat_max_max_deg=90.0,
                              corr_log_Y_f_m=r)
    p = V.draw(cfg, obs, s)
    lg = np.log10(p["f_m_Hz"])
    se_med = 1.2533 * 0.1 / math.sqrt(n)
    assert abs(np.median(lg) - math.log10(400.0)) < 4 * se_med
    assert abs(lg.std() - 0.1) < 4 * 0.1 / math.sqrt(2 * n)
    np.testing.assert_allclose(p["df_Hz"] / p["f_m_Hz"], 0.5, rtol=1e-12)      # df follows f_m
    ly = np.log10(obs.Y)
    rho = np.corrcoef(lg, ly)[0, 1]
    assert abs(rho - r) < 4 * (1 - r * r) / math.sqrt(n)
    assert abs(p["lat_max_deg"].mean() - 45.0) < 4 * 6.0 / math.sqrt(n)
    clipped = V.draw(cfg, obs, dataclasses.replace(s, f_m_sigma_log10=0.3, f_m_max_Hz=600.0))["f_m_Hz"]
    assert clipped.min() >= 150.0 and clipped.max() == 600.0


def test_bad_settings_are_input_errors():
    with pytest.raises(InputError, match="f_m_sigm"):
        V.VariabilitySettings.from_doc({"f_m_sigm": 0.1})
    with pytest.raises(InputError, match="f_m_min_Hz < f_m_max_Hz"):
        V.VariabilitySettings.from_doc({"f_m_min_Hz": 700.0})
    with pytest.raises(InputError, match="corr_log_Y_f_m"):
        V.VariabilitySettings.from_doc({"corr_log_Y_f_m": 1.0})


def test_peak_frequency_spread_raises_the_mean_above_the_mean_input_profile(cfg):
    """Jensen: with X, Y, B_eq fixed and only f_m spread, <D(f_m)> > D(<f_m>) at every angle
    where D(<f_m>) > 0, and the excess grows where the resonant frequency is far above the
    252 Hz at which Y is given (60 deg against 30 deg).  Independent of the Fig. 1 calibration."""
    n = 40
    obs = obs_of(n)
    one = dataclasses.replace(obs, X=np.full(n, obs.X[0]), Y=np.full(n, 1e-8), B_eq_nT=np.full(n, 1100.0))
    res = V.build(cfg, one, V.VariabilitySettings(f_m_sigma_log10=0.12, df_follows_f_m=False))
    a = res.alpha_deg
    m, d0 = res.daa.mean(axis=0), res.daa_of_mean_inputs
    pos = d0 > 1e-3 * d0.max()
    assert np.all(m[pos] > d0[pos])
    r = m / np.where(d0 > 0, d0, 1)
    assert r[a == 60][0] > r[a == 30][0] > 1.0


def test_fig1_statistics_tail_ratio_on_known_samples():
    """upper_tail_ratio: 1 for a symmetric sample, > 1 for a right-skewed one (log-normal in
    log space, i.e. exp of a normal)."""
    z = np.random.default_rng(3).standard_normal(200001)
    assert abs(V.upper_tail_ratio(z) - 1.0) < 0.02
    assert V.upper_tail_ratio(np.exp(0.5 * z)) > 1.5
