"""The bounce average along one dipole field line: local pitch angle, quadrature, weights.

Everything here is dimensionless (field ratios, angles in radians) and independent of the
wave model.  The field line itself -- B(lat)/B_eq and the mirror latitude -- is
:mod:`hpcbelt.dipole` (:func:`~hpcbelt.dipole.b_ratio`, :func:`~hpcbelt.dipole.b_ratio_minus_one`,
:func:`~hpcbelt.dipole.mirror_latitude`), shared with the pitch-angle study's loss cone.
The latitude quadrature lives here, because its nodes are chosen to make the bounce
integrand smooth near the mirror point.

Two node sets, both midpoint rules in a mapped variable with lat = lat_top cos(t),
t = pi/2 - phi the angular distance from the mirror point in the map's variable:

* :func:`bounce_nodes` / :func:`bounce_weights`: t uniform (lat = lat_top sin(phi)).  It
  cancels the 1/cos(alpha) singularity, is spectrally accurate for the bounce time and is used
  for the bounce time and the cyclotron resonances (and the field-aligned model).
* :func:`bounce_nodes_graded` / :func:`bounce_weights_graded`: t = (pi/2) s^p, s uniform,
  p = :data:`MIRROR_GRADING` = 3: the spacing in t is p s^(p-1) times the uniform map's,
  i.e. much finer near the mirror point (s -> 0) and p times coarser at the equator (s = 1).
  The Landau (n = 0) term of the oblique model uses it: its contribution is a bump of width
  ~0.01 in t (~0.05 deg of latitude, local pitch angle 87-89.5 deg) at t ~ 0.02-0.045,
  narrower than the uniform spacing pi / (2 n) = 0.016 of 96 nodes (1-2 nodes on it: errors of
  up to 100 %); the graded map puts 7 nodes there at n = 96 (error < 0.2 %,
  tools/bench_landau.py).

References
----------
Glauert, S. A., and R. B. Horne (2005), JGR 110, A04206 (G&H05), section 4.
Lyons, L. R., R. M. Thorne and C. F. Kennel (1972) / Lyons (1974) for the bounce average.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from ..dipole import b_ratio_minus_one, mirror_latitude


@numba.njit(cache=True)
def cos_local_pitch(alpha0, lat):
    """Cosine of the local pitch angle at ``lat`` (first adiabatic invariant conserved).

    sin^2 alpha = sin^2 alpha0 B(lat) / B_eq, i.e. cos^2 alpha = cos^2 alpha0
    - sin^2 alpha0 (B/B_eq - 1), evaluated without cancellation; clipped at 0 at and beyond
    the mirror point.
    """
    c2 = math.cos(alpha0) ** 2 - math.sin(alpha0) ** 2 * b_ratio_minus_one(lat)
    if c2 <= 0.0:
        return 0.0
    return math.sqrt(c2)


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


#: Exponent p of the graded map t = (pi/2) s^p of :func:`bounce_nodes_graded` (the Landau
#: term's quadrature).  Measured (tools/bench_landau.py, n = 0 term alone, default database
#: spectrum, n_e 0.87-3e9 m^-3, 20-89 deg): at 96 nodes the largest error is 0.35 % for p = 2,
#: 0.15 % for p = 3 and 0.18 % for p = 4; at 48 nodes 24 %, 4.7 % and 2.2 % (the uniform map,
#: p = 1: 104 % at 96, 0.6 % at 384).  p = 3 is the most accurate at the default 96 nodes and
#: keeps the equatorial spacing within 3x of the uniform map's (the Landau term near 89 deg is
#: spread over the whole path).
MIRROR_GRADING = 3


@numba.njit(cache=True)
def bounce_nodes_graded(lat_top, n, power):
    """Midpoint nodes in s on [0, 1] mapped by lat = lat_top cos(t), t = (pi/2) s^power.

    ``power`` = 1 is the node set of :func:`bounce_nodes` (equal up to round-off).  Larger
    powers cluster the nodes towards ``lat_top``: the spacing in t is power s^(power-1) times
    the uniform map's.  The factor sin(t) of the weight lat_top sin(t) dt/ds cancels the
    1/cos(alpha) ~ 1/t singularity of the bounce integrand at a mirror point ``lat_top`` as on
    the uniform map; no node lies on ``lat_top``.

    Parameters
    ----------
    lat_top : float
        Upper latitude [rad].
    n : int
        Number of nodes.
    power : float
        Exponent p >= 1 of the map.

    Returns
    -------
    lat, weight : ndarray
        Latitudes [rad], increasing, and weights such that
        sum(weight * q(lat)) ~ integral_0^lat_top q dlat.
    """
    lat = np.empty(n)
    w = np.empty(n)
    h = 1.0 / n
    for j in range(n):
        s = (n - j - 0.5) * h          # j = 0 is the node farthest from lat_top
        sp1 = s ** (power - 1.0)
        t = 0.5 * math.pi * sp1 * s
        lat[j] = lat_top * math.cos(t)
        w[j] = lat_top * math.sin(t) * 0.5 * math.pi * power * sp1 * h
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


@numba.njit(cache=True)
def bounce_weights(alpha0, n, lat_w):
    """Latitude nodes and weights of the bounce-averaged diffusion coefficient.

    Returns ``lat``, ``weight`` and ``mu`` = cos(local pitch angle) such that

        <D>(alpha0) = sum_j weight_j D_local(lat_j)

    is G&H05 eq. 24 (Lyons 1974):

        <D> = (1/T(alpha0)) integral_0^{min(lat_m, lat_w)} D cos(alpha) cos^7(lat)
              / cos^2(alpha0) dlat,

    i.e. the time average over a bounce of D_local (d alpha0 / d alpha)^2.  The waves fill
    |lat| <= ``lat_w``; T uses its own ``n`` nodes up to the mirror point.  For
    alpha0 >= pi/2 the path has zero length and all weights are 0.

    Parameters
    ----------
    alpha0 : float
        Equatorial pitch angle [rad].
    n : int
        Number of nodes.
    lat_w : float
        Latitude extent of the waves [rad].
    """
    if alpha0 >= 0.5 * math.pi:
        return np.zeros(n), np.zeros(n), np.zeros(n)
    lat_m = mirror_latitude(alpha0)
    top = min(lat_m, lat_w)
    lat, w = bounce_nodes(top, n)
    mu = _bounce_weights_on(alpha0, n, lat, w)
    return lat, w, mu


@numba.njit(cache=True)
def bounce_weights_graded(alpha0, n, lat_w, power):
    """:func:`bounce_weights` on the graded nodes of :func:`bounce_nodes_graded`.

    The same bounce average (G&H05 eq. 24, normalised by the same T(alpha0) of
    :func:`bounce_time` with ``n`` uniform-map nodes), with ``n`` nodes clustered towards
    min(lat_m, lat_w) by the map t = (pi/2) s^power.  For resonances confined to the last
    ~0.05 deg of latitude before the mirror point (the oblique model's Landau term).
    """
    if alpha0 >= 0.5 * math.pi:
        return np.zeros(n), np.zeros(n), np.zeros(n)
    lat_m = mirror_latitude(alpha0)
    top = min(lat_m, lat_w)
    lat, w = bounce_nodes_graded(top, n, power)
    mu = _bounce_weights_on(alpha0, n, lat, w)
    return lat, w, mu


@numba.njit(cache=True)
def _bounce_weights_on(alpha0, n, lat, w):
    """Scale the dlat weights ``w`` in place into bounce-average weights; return mu."""
    mu = np.empty(n)
    c0 = math.cos(alpha0)
    scale = 1.0 / (c0 * c0 * bounce_time(alpha0, n))
    for j in range(n):
        m = cos_local_pitch(alpha0, lat[j])
        mu[j] = m
        cl = math.cos(lat[j])
        cl2 = cl * cl
        w[j] = w[j] * m * cl2 * cl2 * cl2 * cl * scale
    return mu
