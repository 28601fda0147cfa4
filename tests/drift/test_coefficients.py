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
