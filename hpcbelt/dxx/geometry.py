"""Dipole geometry along one field line, as the bounce average needs it.

Everything here is dimensionless (field ratios, angles in radians) and independent of the
wave model.  The latitude quadrature lives here too, because its nodes are chosen to make
the bounce integrand smooth near the mirror point.

References
----------
Glauert, S. A., and R. B. Horne (2005), JGR 110, A04206 (G&H05), section 4.
Lyons, L. R., R. M. Thorne and C. F. Kennel (1972) / Lyons (1974) for the bounce average.
"""

from __future__ import annotations

import math

import numba
import numpy as np


@numba.njit(cache=True)
def b_ratio(lat):
    """Dipole field strength along a field line relative to the equator.

    Parameters
    ----------
    lat : float
        Magnetic latitude [rad].

    Returns
    -------
    float
        B(lat) / B_eq = sqrt(1 + 3 sin^2 lat) / cos^6 lat.
    """
    s = math.sin(lat)
    c = math.cos(lat)
    return math.sqrt(1.0 + 3.0 * s * s) / (c * c * c * c * c * c)


@numba.njit(cache=True)
def mirror_latitude(alpha0):
    """Mirror latitude of a particle with equatorial pitch angle ``alpha0``.

    Solves u^6 + 3 s^4 u - 4 s^4 = 0 for u = cos^2 lat_m, s = sin alpha0 (G&H05 eq. 28),
    which is sin^2 alpha0 = B_eq / B(lat_m) written in u.  The left side increases
    monotonically on [0, 1] from -4 s^4 to 1 - s^4, so a safeguarded Newton iteration
    (bisection fallback) always converges.

    Parameters
    ----------
    alpha0 : float
        Equatorial pitch angle [rad], 0 <= alpha0 <= pi/2.

    Returns
    -------
    float
        Mirror latitude [rad]; pi/2 for alpha0 = 0 and 0 for alpha0 = pi/2.
    """
    s = math.sin(alpha0)
    s4 = s * s * s * s
    if s4 <= 0.0:
        return 0.5 * math.pi
    if s4 >= 1.0:
        return 0.0
    lo = 0.0
    hi = 1.0
    u = 0.5
    for _ in range(200):
        u2 = u * u
        f = u2 * u2 * u2 + 3.0 * s4 * u - 4.0 * s4
        if f > 0.0:
            hi = u
        else:
            lo = u
        fp = 6.0 * u2 * u2 * u + 3.0 * s4
        un = u - f / fp
        if un <= lo or un >= hi:
            un = 0.5 * (lo + hi)
        if abs(un - u) <= 1e-15 * max(u, 1e-300):
            u = un
            break
        u = un
    return math.acos(math.sqrt(u))


@numba.njit(cache=True)
def cos_local_pitch(alpha0, lat):
    """Cosine of the local pitch angle at ``lat`` (first adiabatic invariant conserved).

    sin^2 alpha = sin^2 alpha0 B(lat) / B_eq; the result is clipped at 0 at and beyond the
    mirror point.
    """
    s0 = math.sin(alpha0)
    s2 = s0 * s0 * b_ratio(lat)
    if s2 >= 1.0:
        return 0.0
    return math.sqrt(1.0 - s2)


@numba.njit(cache=True)
def bounce_nodes(lat_top, n):
    """Midpoint quadrature nodes on [0, lat_top] mapped by lat = lat_top sin(phi).

    The map clusters nodes towards ``lat_top``; with ``lat_top`` the mirror latitude it
    cancels the inverse-square-root singularity of 1/cos(alpha) in the bounce integrand
    (d lat = lat_top cos(phi) d phi vanishes like the square root of the distance to the
    mirror point), so the midpoint rule in phi converges fast and never evaluates the
    integrand at the mirror point itself.

    Parameters
    ----------
    lat_top : float
        Upper latitude [rad].
    n : int
        Number of nodes.

    Returns
    -------
    lat, weight : ndarray
        Latitudes [rad] and weights such that sum(weight * q(lat)) ~ integral_0^lat_top q dlat.
    """
    lat = np.empty(n)
    w = np.empty(n)
    h = 0.5 * math.pi / n
    for j in range(n):
        phi = (j + 0.5) * h
        lat[j] = lat_top * math.sin(phi)
        w[j] = lat_top * math.cos(phi) * h
    return lat, w


@numba.njit(cache=True)
def bounce_time(alpha0, n):
    """Normalised quarter bounce time T(alpha0) by quadrature.

    T(alpha0) = integral_0^lat_m cos(lat) sqrt(1 + 3 sin^2 lat) / cos(alpha(lat)) dlat
    (G&H05 eq. 25 up to the constant L R_E / v), ~ 1.30 - 0.56 sin(alpha0).
    At alpha0 = pi/2 the integral has zero length but a finite limit, pi / (3 sqrt 2)
    (harmonic motion about the equator, B/B_eq ~ 1 + 4.5 lat^2), which is returned.
    """
    if alpha0 >= 0.5 * math.pi:
        return math.pi / (3.0 * math.sqrt(2.0))
    lat_m = mirror_latitude(alpha0)
    lat, w = bounce_nodes(lat_m, n)
    t = 0.0
    for j in range(n):
        ca = cos_local_pitch(alpha0, lat[j])
        if ca <= 0.0:
            continue
        s = math.sin(lat[j])
        t += w[j] * math.cos(lat[j]) * math.sqrt(1.0 + 3.0 * s * s) / ca
    return t


@numba.njit(cache=True)
def bounce_average_of(q_func_values, alpha0, lat, w, t_bounce):
    """Bounce average of a local quantity sampled at ``lat`` with weights ``w``.

    <Q> = (1 / T) integral Q cos(lat) sqrt(1 + 3 sin^2 lat) / cos(alpha) dlat, the time
    average over a bounce (Lyons 1974).  The diffusion coefficient uses it with
    Q = D_aa (d alpha0 / d alpha)^2, which reduces to G&H05 eq. 24.
    """
    acc = 0.0
    for j in range(lat.size):
        ca = cos_local_pitch(alpha0, lat[j])
        if ca <= 0.0:
            continue
        s = math.sin(lat[j])
        acc += w[j] * q_func_values[j] * math.cos(lat[j]) * math.sqrt(1.0 + 3.0 * s * s) / ca
    return acc / t_bounce
