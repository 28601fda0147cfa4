"""Dipole geometry (hpcbelt.dipole: field line, mirror latitude, loss cone; the two Lorentz
factors) and the bounce-average quadrature (hpcbelt.dxx.geometry)."""

import math

import numpy as np
import pytest
from scipy.integrate import quad

from hpcbelt import constants, dipole
from hpcbelt.dipole import b_ratio, mirror_latitude
from hpcbelt.dxx.geometry import (MIRROR_GRADING, bounce_nodes, bounce_nodes_graded,
                                  bounce_time, bounce_weights, bounce_weights_graded,
                                  cos_local_pitch)


@pytest.mark.parametrize("a0_deg", [0.5, 5.0, 8.62, 20.0, 45.0, 70.0, 89.0])
def test_mirror_latitude_solves_mirror_condition(a0_deg):
    a0 = math.radians(a0_deg)
    lat_m = mirror_latitude(a0)
    assert math.sin(a0) ** 2 * b_ratio(lat_m) == pytest.approx(1.0, rel=1e-12)
    assert cos_local_pitch(a0, 0.0) == pytest.approx(math.cos(a0), rel=1e-14)


def test_loss_cone_at_L3_100km():
    # physics.md: a_LC = 8.62 deg at L = 3 for a 100 km mirror altitude (R_E = 6371 km).
    lat_m = math.acos(math.sqrt((1.0 + 100.0 / 6371.0) / 3.0))
    a_lc = math.degrees(math.asin(math.sqrt(1.0 / b_ratio(lat_m))))
    assert a_lc == pytest.approx(8.62, abs=0.005)
    assert mirror_latitude(math.radians(a_lc)) == pytest.approx(lat_m, rel=1e-10)
    # the study's loss cone is the same field line: the two forms of B(lat)/B_eq agree
    assert dipole.loss_cone_deg_from_altitude(3.0, 100.0, 6.371e6) == pytest.approx(a_lc, rel=1e-13)


@pytest.mark.parametrize("lat_deg", [0.0, 1e-3, 10.0, 35.0, 60.0, 80.0])
def test_field_line_ratio_forms_agree(lat_deg):
    lat = math.radians(lat_deg)
    ratio = b_ratio(lat)
    assert dipole.b_ratio_of_cos2(math.cos(lat) ** 2) == pytest.approx(ratio, rel=1e-12)
    assert dipole.b_ratio_minus_one(lat) == pytest.approx(ratio - 1.0, rel=1e-9, abs=1e-15)


def test_loss_cone_of_a_field_line_below_the_altitude_is_a_value_error():
    with pytest.raises(ValueError, match="does not reach altitude"):
        dipole.loss_cone_deg_from_altitude(1.01, 100.0)


def test_the_two_lorentz_factors_have_distinct_names_and_agree():
    # 200 keV at L = 3: the invariant's gamma is the energy's gamma
    M = dipole.first_invariant_J_per_T(200.0, 3.0)
    assert dipole.lorentz_factor_of_invariant(M, 3.0) == pytest.approx(
        constants.lorentz_factor_of_energy(0.2), rel=1e-12)
    assert constants.lorentz_factor is constants.lorentz_factor_of_energy      # old names
    assert dipole.lorentz_factor is dipole.lorentz_factor_of_invariant


def _t_reference(a0):
    """T(a0) by adaptive quadrature with the substitution lat = lat_m sin(phi)."""
    lat_m = mirror_latitude(a0)

    def f(phi):
        lat = lat_m * math.sin(phi)
        ca = cos_local_pitch(a0, lat)
        return (math.cos(lat) * math.sqrt(1 + 3 * math.sin(lat) ** 2) / ca
                * lat_m * math.cos(phi)) if ca > 0 else 0.0

    return quad(f, 0.0, 0.5 * math.pi, epsabs=0, epsrel=1e-11, limit=200)[0]


@pytest.mark.parametrize("a0_deg", [1.0, 10.0, 30.0, 60.0, 85.0])
def test_bounce_time_matches_adaptive_quadrature(a0_deg):
    # Tolerance 1e-8: the mapped midpoint rule is spectrally accurate on this smooth integrand.
    a0 = math.radians(a0_deg)
    assert bounce_time(a0, 64) == pytest.approx(_t_reference(a0), rel=1e-8)


def test_bounce_time_limits():
    # T(0) = integral_0^{pi/2} cos(l) sqrt(1 + 3 sin^2 l) dl; T(90) = pi / (3 sqrt 2).
    t0 = quad(lambda l: math.cos(l) * math.sqrt(1 + 3 * math.sin(l) ** 2), 0, math.pi / 2)[0]
    assert bounce_time(0.0, 64) == pytest.approx(t0, rel=1e-7)
    assert bounce_time(math.radians(89.999), 64) == pytest.approx(math.pi / (3 * math.sqrt(2)),
                                                                  rel=1e-5)
    # the fit used by the pitch-angle solver (physics.md) to its stated ~1 % accuracy
    for a in (0.0, 30.0, 60.0, 89.0):
        s = math.sin(math.radians(a))
        assert bounce_time(math.radians(a), 64) == pytest.approx(
            1.3802 - 0.3198 * (s + math.sqrt(s)), rel=0.011)


@pytest.mark.parametrize("a0_deg", [3.0, 10.0, 30.0, 60.0, 85.0])
def test_bounce_average_of_constant_is_that_constant(a0_deg):
    """A local D whose equatorial equivalent D (d a0/d a)^2 is constant averages to it.

    The weights carry cos(a) cos^7(lat) / cos^2(a0) (G&H05 eq. 24); multiplying a local
    D_aa = Q (d a / d a0)^2 = Q tan^2 a / tan^2 a0 must give back Q for waves filling the
    whole field line.  Tolerance 1e-9 (quadrature, see test_bounce_time...).
    """
    a0 = math.radians(a0_deg)
    q = 3.7e-5
    lat, w, mu = bounce_weights(a0, 128, 0.5 * math.pi)
    tan2 = (1 - mu ** 2) / np.maximum(mu, 1e-300) ** 2
    d_local = q * tan2 / math.tan(a0) ** 2
    assert np.sum(w * d_local) == pytest.approx(q, rel=1e-9)


def test_bounce_average_with_limited_wave_extent():
    """Waves only up to lat_w < lat_m: the average is Q times the fraction of bounce time.

    Tolerance 1e-4: with lat_w below the mirror point the mapped midpoint rule is only
    second order (h = pi / (2 n)), ~1e-5 at n = 128.
    """
    a0 = math.radians(5.0)
    lat_w = math.radians(20.0)
    lat, w, mu = bounce_weights(a0, 128, lat_w)
    d_local = (1 - mu ** 2) / mu ** 2 / math.tan(a0) ** 2
    frac = quad(lambda l: math.cos(l) * math.sqrt(1 + 3 * math.sin(l) ** 2)
                / cos_local_pitch(a0, l), 0, lat_w)[0] / _t_reference(a0)
    assert np.sum(w * d_local) == pytest.approx(frac, rel=1e-4)
    assert bounce_weights(0.5 * math.pi, 16, lat_w)[1].sum() == 0.0


def test_graded_nodes_reduce_to_the_uniform_map_and_integrate_the_bounce_average():
    """The graded map of the Landau term (tests/dxx/test_oblique.py, issue 17).

    p = 1 gives the nodes of bounce_nodes (round-off); p = MIRROR_GRADING integrates the
    bounce average of a constant equatorial D to 1e-4 (second order: 3e-5 measured at 96
    nodes; the uniform map is spectral there), and puts the nodes where the Landau term is:
    7 of 96 within t = acos(lat / lat_m) in [0.02, 0.045] (the uniform map: 1-2)."""
    l1, w1 = bounce_nodes(0.6, 96)
    lg, wg = bounce_nodes_graded(0.6, 96, 1.0)
    np.testing.assert_allclose(lg, l1, rtol=1e-14, atol=1e-15)
    np.testing.assert_allclose(wg, w1, rtol=1e-12)
    for a0_deg in (10.0, 30.0, 60.0, 85.0):
        a0 = math.radians(a0_deg)
        lat, w, mu = bounce_weights_graded(a0, 96, 0.5 * math.pi, MIRROR_GRADING)
        tan2 = (1 - mu ** 2) / np.maximum(mu, 1e-300) ** 2
        assert np.sum(w * tan2 / math.tan(a0) ** 2) == pytest.approx(1.0, rel=1e-4)
    assert bounce_weights_graded(0.5 * math.pi, 16, 1.0, MIRROR_GRADING)[1].sum() == 0.0
    a0 = math.radians(30.0)
    lat_m = mirror_latitude(a0)

    def on_the_bump(lat):
        t = np.arccos(np.clip(lat / lat_m, -1.0, 1.0))
        return int(np.sum((t >= 0.02) & (t <= 0.045)))

    assert on_the_bump(bounce_weights_graded(a0, 96, 1.0, MIRROR_GRADING)[0]) == 7
    assert on_the_bump(bounce_weights(a0, 96, 1.0)[0]) <= 2
