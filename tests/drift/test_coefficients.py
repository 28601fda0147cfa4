"""Coefficient and dipole-kinematics values against the checked numbers of physics.md part B.

Tolerances: the paper and physics.md quote 3 significant figures, so we ask for agreement to
half a unit in the last quoted digit (e.g. 21.5 +- 0.05 MeV/G).
"""

import numpy as np
import pytest

from hpcbelt import constants as C
from hpcbelt import dipole
from hpcbelt.drift import coefficients as co

W_MV = 0.5
T_S = 200.0


def test_first_invariant_200keV_L3():
    assert dipole.first_invariant_MeV_per_G(200.0, 3.0) == pytest.approx(21.5, abs=0.05)


def test_lorentz_factor_consistent_with_energy():
    M = dipole.first_invariant_J_per_T(200.0, 3.0)
    assert dipole.lorentz_factor(M, 3.0) == pytest.approx(C.lorentz_factor(0.2), rel=1e-12)
    assert dipole.kinetic_energy_keV(M, 3.0) == pytest.approx(200.0, rel=1e-12)
    # at fixed M the energy falls outward (betatron): lower at L = 3.5
    assert dipole.kinetic_energy_keV(M, 3.5) < 200.0


def test_drift_periods():
    M = dipole.first_invariant_J_per_T(200.0, 3.0)
    assert dipole.drift_period_h(M, 3.0) == pytest.approx(1.30, abs=0.005)
    assert dipole.drift_period_h(M, 3.0, corotation=False) == pytest.approx(1.37, abs=0.005)
    assert dipole.drift_period_h(M, 3.5) == pytest.approx(1.58, abs=0.005)


def test_numba_drift_frequency_matches_numpy():
    M = dipole.first_invariant_J_per_T(200.0, 3.0)
    for L in (2.0, 3.0, 3.5, 7.0):
        a = dipole.drift_angular_frequency_nb(L, M, C.EARTH_RADIUS_DRIFT_M,
                                              C.EARTH_EQUATORIAL_FIELD_NT * 1e-9,
                                              C.EARTH_ROTATION_RAD_PER_S)
        assert a == pytest.approx(dipole.drift_angular_frequency_rad_per_s(M, L), rel=1e-12)


def test_K_value():
    K = co.diffusion_constant_K_per_s(W_MV, T_S)
    assert K == pytest.approx(6.85e-10, abs=0.005e-10)
    assert K * co.SECONDS_PER_DAY == pytest.approx(5.9e-5, abs=0.05e-5)


def test_drift_averaged_D_LL():
    K = co.diffusion_constant_K_per_s(W_MV, T_S)
    assert co.drift_averaged_D_LL_per_s(3.0, K) * 86400 == pytest.approx(0.0216, abs=0.00005)
    # 2.96e-5 L^6 per day
    assert co.drift_averaged_D_LL_per_s(1.0, K) * 86400 == pytest.approx(2.96e-5, abs=0.005e-5)


def test_local_coefficients_structure():
    K = co.diffusion_constant_K_per_s(W_MV, T_S)
    L = np.linspace(2, 7, 11)[:, None]
    phi = np.linspace(0, 2 * np.pi, 37)[None, :]
    dll, dpp, dlp = co.local_diffusion_coefficients(L, phi, K)
    # singular matrix (Eq. 24) and MLT average of D_LL equals Eq. 21
    np.testing.assert_allclose(dll * dpp, dlp ** 2, rtol=1e-12, atol=1e-40)
    phis = np.linspace(0, 2 * np.pi, 400, endpoint=False)
    avg = co.local_diffusion_coefficients(3.0, phis, K)[0].mean()
    assert avg == pytest.approx(co.drift_averaged_D_LL_per_s(3.0, K), rel=1e-12)
    # D_yy (Eq. 27) is D_LL / sin^2 phi: the radial projection of the y diffusion
    x, y = L * np.cos(phi), L * np.sin(phi)
    np.testing.assert_allclose(co.D_yy_per_s(x, y, K) * np.sin(phi) ** 2, dll, rtol=1e-10)
    # Eq. 11 moments are twice the Eq. 12 coefficients
    m = co.second_moments_per_s(L, phi, W_MV, T_S)
    np.testing.assert_allclose(m[0], 2 * dll, rtol=1e-12)


def test_transport_coefficients_white_noise():
    ldot, phidot = co.transport_coefficients(3.0, 1.0, 0.0, 1e-3)
    assert ldot == 0.0 and phidot == 1e-3
    ldot, _ = co.transport_coefficients(3.0, np.pi / 2, 1e-4, 1e-3)
    assert ldot == pytest.approx(27 * 1e-4 / (3e-5 * 6.37e6))


# --- beyond T << drift period (issue 15): K_eff = S_w(Omega) / (2 B_E^2 R_E^2) ---------------

def _drive_variance(w_segments, starts, omega, phase, t_end):
    """Per sample, integral over [0, t_end] of w(s) sin(Omega s + phase) ds for a piecewise
    constant w (value w_segments[:, j] from starts[:, j] to starts[:, j + 1]), exactly."""
    lo = np.clip(starts[:, :-1], 0.0, t_end)
    hi = np.clip(starts[:, 1:], 0.0, t_end)
    seg = (np.cos(omega * lo + phase[:, None]) - np.cos(omega * hi + phase[:, None])) / omega
    return (w_segments * seg).sum(axis=1)


@pytest.mark.parametrize("omega_T", [0.5, 3.0, 8.0])
def test_finite_update_factor_against_monte_carlo_of_the_drive(omega_T):
    """The variance of the radial drive integral of w(s) sin(Omega s + phi) ds over t grows as
    t S_w(Omega) / 2 (steps 2-3 of the coefficients module's derivation): sampled with 20,000
    piecewise-constant sequences (random update phase and drift phase), exact segment integrals,
    t = 200 T. Statistical error of a variance from N samples: sqrt(2/N) = 1 %; edge terms
    O(T / t) = 0.5 %; tolerance 5 %. At Omega T = 8 the factor is 0.036: the drop is resolved."""
    rng = np.random.default_rng(15)
    N, T, n_seg = 20_000, 1.0, 202
    omega = omega_T / T
    starts = (np.arange(n_seg + 1)[None, :] - rng.uniform(0, T, (N, 1))) * T
    w = rng.normal(0.0, 1.0, (N, n_seg))                      # W = 1
    phase = rng.uniform(0, 2 * np.pi, N)
    t_end = 200.0 * T
    got = np.var(_drive_variance(w, starts, omega, phase, t_end)) / t_end
    expect = 1.0 * T * co.finite_update_factor(omega, T) / 2.0
    assert got == pytest.approx(expect, rel=0.05)


def test_ou_factor_against_monte_carlo_of_the_drive():
    """The same for an Ornstein-Uhlenbeck w (exact update over dt = tau_c / 20): the drive's
    variance rate is W^2 tau_c / (1 + Omega^2 tau_c^2) (= S_w / 2), at Omega tau_c = 2 where the
    factor is 0.2.  The trapezoid rule in time errs by O((Omega dt)^2) = 1e-2; N = 4,000 gives a
    2 % statistical error; tolerance 7 %."""
    rng = np.random.default_rng(16)
    N, tau_c = 4000, 1.0
    omega = 2.0 / tau_c
    dt = tau_c / 20
    n = int(100 * tau_c / dt)
    rho = np.exp(-dt / tau_c)
    w = rng.normal(0.0, 1.0, N)
    phase = rng.uniform(0, 2 * np.pi, N)
    acc = np.zeros(N)
    prev = w * np.sin(phase)
    for k in range(1, n + 1):
        w = rho * w + np.sqrt(1 - rho * rho) * rng.normal(0.0, 1.0, N)
        cur = w * np.sin(omega * k * dt + phase)
        acc += 0.5 * dt * (prev + cur)
        prev = cur
    got = np.var(acc) / (n * dt)
    assert got == pytest.approx(tau_c * co.ou_factor(omega, tau_c), rel=0.07)


def test_finite_update_coefficients_reduce_to_the_papers_as_omega_T_vanishes():
    """Omega T -> 0: K_eff = K of Eq. 12 to round-off, hence Eq. 21's 0.0216 /day at L = 3; the
    OU process with T = 2 tau_c gives the same K; coefficients = 'paper' ignores Omega."""
    K = co.diffusion_constant_K_per_s(0.5, 200.0)
    tiny = np.array([1e-12, 1e-10])
    np.testing.assert_allclose(co.effective_K_per_s(0.5, tiny, coefficients="finite_update", update_s=200.0),
                               K, rtol=1e-15)
    np.testing.assert_allclose(co.effective_K_per_s(0.5, tiny, coefficients="finite_update",
                                                    noise="ornstein_uhlenbeck", correlation_s=100.0), K, rtol=1e-15)
    big = np.array([1e-3, 1e-2])
    np.testing.assert_array_equal(co.effective_K_per_s(0.5, big, update_s=200.0), K)
    d = co.drift_averaged_D_LL_per_s(3.0, co.effective_K_per_s(0.5, 1e-12, coefficients="finite_update",
                                                              update_s=200.0)) * 86400
    assert d == pytest.approx(0.0216, rel=2e-3)
    # the drop: (2 / (Omega T))^2 sin^2(Omega T / 2) -- e.g. 0.0358 at Omega T = 8
    assert co.finite_update_factor(8.0 / 200.0, 200.0) == pytest.approx((np.sin(4.0) / 4.0) ** 2, rel=1e-14)


@pytest.mark.parametrize("kw,needle", [({"coefficients": "nope", "update_s": 1.0}, "coefficients"),
                                       ({"noise": "pink", "update_s": 1.0}, "noise"),
                                       ({"update_s": 0.0}, "update_s"),
                                       ({"noise": "ornstein_uhlenbeck"}, "correlation_s")])
def test_effective_K_names_a_bad_argument(kw, needle):
    with pytest.raises(ValueError, match=needle):
        co.effective_K_per_s(0.5, 1e-3, **kw)
