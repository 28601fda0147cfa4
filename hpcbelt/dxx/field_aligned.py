"""Field-aligned whistler-mode waves: local and bounce-averaged D_aa (Summers 2005).

Notation of Summers (2005, JGR 110, A08213) and Summers, Ni & Meredith (2007, JGR 112,
A04206), all local to one point on the field line:

    x = omega / Omega_e, y = c k / Omega_e          (normalised frequency and wave number)
    gamma = E + 1 (E kinetic energy in m_e c^2), beta = v / c, mu = cos(alpha)
    eps = m_e / m_p, alpha* = (Omega_e / omega_pe)^2, b = (1 + eps) / alpha*
    a = s lambda / gamma = -1 / gamma               (R mode s = +1, electrons lambda = -1)

Cold electron-proton dispersion relation of the R mode (Summers 2005 eq. 25):

    y^2 = x^2 [1 - b / ((x - 1)(x + eps))]

First-order cyclotron resonance (Summers 2005 eq. 24):  y = (x + a) / (beta mu).

Only first-order resonance exists for parallel propagation.  Squaring the resonance and
eliminating y gives a quartic in x (Summers 2005 eqs. A1, derived again here):

    (x + a)^2 (x - 1)(x + eps) = beta^2 mu^2 x^2 [(x - 1)(x + eps) - b]

Each real root in the wave band with 0 < x < 1 is a resonant wave; the sign of y tells
the propagation direction (y < 0: counter-streaming to the electron, the usual case).
"""

from __future__ import annotations

import math

import numba
import numpy as np

from ..dipole import b_ratio
from .geometry import bounce_weights


@numba.njit(cache=True)
def quartic_coefficients(beta_mu, a, eps, b):
    """Coefficients (highest power first) of the resonance quartic in x.

    Expanding (x + a)^2 (x^2 + (eps - 1) x - eps) - c x^2 (x^2 + (eps - 1) x - eps - b),
    c = (beta mu)^2, term by term (Summers 2005 eq. A1 with s = +1).
    """
    c = beta_mu * beta_mu
    out = np.empty(5)
    out[0] = 1.0 - c
    out[1] = (1.0 - c) * (eps - 1.0) + 2.0 * a
    out[2] = a * a + 2.0 * a * (eps - 1.0) - eps + c * (eps + b)
    out[3] = a * a * (eps - 1.0) - 2.0 * a * eps
    out[4] = -a * a * eps
    return out


@numba.njit(cache=True)
def dispersion_y2(x, eps, b):
    """y^2 = (c k / Omega_e)^2 of the cold e-p R mode at normalised frequency x (eq. 25)."""
    p = (x - 1.0) * (x + eps)
    return x * x * (1.0 - b / p)


@numba.njit(cache=True)
def group_velocity_over_c(x, y, eps, b):
    """F = dx/dy, the group velocity over c, signed like y (Summers 2005 eq. 26 equivalent).

    From y^2(x) of eq. 25: d(y^2)/dx = 2x - b (2x P - x^2 P') / P^2 with
    P = (x - 1)(x + eps), P' = 2x + eps - 1, and F = 2y / (d(y^2)/dx).
    """
    p = (x - 1.0) * (x + eps)
    dp = 2.0 * x + eps - 1.0
    dy2 = 2.0 * x - b * (2.0 * x * p - x * x * dp) / (p * p)
    return 2.0 * y / dy2


@numba.njit(cache=True)
def resonant_roots(beta_mu, a, eps, b, x_lo, x_hi):
    """Real roots of the resonance quartic with x_lo <= x <= x_hi and 0 < x < 1.

    Returns an array of 4 slots and the number of valid roots filled in.  Roots are
    accepted when their imaginary part is below 1e-9 of their modulus (a tangent,
    double root is a set of measure zero in the pitch-angle integral).
    """
    coef = quartic_coefficients(beta_mu, a, eps, b)
    z = np.roots(coef.astype(np.complex128))
    out = np.zeros(4)
    k = 0
    for i in range(z.size):
        xr = z[i].real
        if abs(z[i].imag) > 1e-9 * abs(z[i]):
            continue
        if xr <= 0.0 or xr >= 1.0 or xr < x_lo or xr > x_hi:
            continue
        out[k] = xr
        k += 1
    return out, k


@numba.njit(cache=True)
def local_daa(mu, omega_e, alpha_star, power_ratio, x_m, dx, x_lc, x_uc, rho, gamma, beta,
              eps, direction_weight_fwd, direction_weight_bwd):
    """Local pitch-angle diffusion coefficient D_aa / p^2 [1/s] for field-aligned waves.

    Summers (2005) eq. 33 with the asymmetric-band normalisation rho of Summers et al.
    (2007) eq. 3:

        D = (pi/2) (1/rho) Omega_e / gamma^2 sum_j R (1 - x_j mu / (y_j beta))^2
            |F_j| / (dx |beta mu - F_j|) exp(-((x_j - x_m)/dx)^2)

    where R = (B_w / B)^2 is ``power_ratio`` (total wave power over local B^2).  Each root
    is weighted by the fraction of power travelling in its direction: y > 0 (k along B)
    takes ``direction_weight_fwd``, y < 0 ``direction_weight_bwd`` (for mu > 0).

    Parameters
    ----------
    mu : float
        cos(local pitch angle), 0 < mu <= 1.
    omega_e : float
        Local non-relativistic electron gyrofrequency [rad/s].
    alpha_star : float
        (Omega_e / omega_pe)^2, local.
    power_ratio : float
        (B_w / B_local)^2.
    x_m, dx, x_lc, x_uc : float
        Spectrum peak, width and band edges in units of the local Omega_e.
    rho : float
        Band normalisation, integral of the shape in units of dx.
    gamma, beta : float
        Lorentz factor and v/c of the electron.
    eps : float
        m_e / m_p.
    direction_weight_fwd, direction_weight_bwd : float
        Fraction of the power applied to waves with k parallel / antiparallel to B.

    Returns
    -------
    float
        D_aa / p^2 [1/s], 0 when nothing resonates.
    """
    if mu <= 0.0:
        return 0.0  # v_par = 0: only x = 1/gamma resonates, far above the hiss band
    a = -1.0 / gamma
    b = (1.0 + eps) / alpha_star
    bm = beta * mu
    roots, nroot = resonant_roots(bm, a, eps, b, x_lc, x_uc)
    acc = 0.0
    for j in range(nroot):
        x = roots[j]
        y = (x + a) / bm
        if y == 0.0:
            continue
        wdir = direction_weight_fwd if y > 0.0 else direction_weight_bwd
        if wdir == 0.0:
            continue
        f = group_velocity_over_c(x, y, eps, b)
        denom = abs(bm - f)
        if denom == 0.0:
            continue
        t = 1.0 - x * mu / (y * beta)
        g = math.exp(-((x - x_m) / dx) ** 2)
        acc += wdir * t * t * abs(f) / (dx * denom) * g
    return 0.5 * math.pi / rho * omega_e / (gamma * gamma) * power_ratio * acc


@numba.njit(cache=True)
def bounce_averaged_profile(alpha0, n_lat, lat_w, b_eq_T, omega_pe, bw2_T2, f_m, df, f_lc,
                            f_uc, rho, gamma, beta, eps, q_over_m, w_fwd, w_bwd):
    """Bounce-averaged <D_aa>/p^2 [1/s] on a grid of equatorial pitch angles.

    G&H05 eq. 24 (Lyons 1974):

        <D>(a0) = (1/T(a0)) integral_0^{min(lat_m, lat_w)} D(a(lat), lat)
                  cos(a) cos^7(lat) / cos^2(a0) dlat

    with the nodes and weights of :func:`~hpcbelt.dxx.geometry.bounce_weights`.  Density is constant
    along the field line (G&H05), frequencies are fixed in Hz, and the wave power B_w^2 is
    the same at every latitude |lat| <= lat_w.

    Parameters
    ----------
    alpha0 : ndarray
        Equatorial pitch angles [rad] in [0, pi/2].
    n_lat : int
        Latitude nodes per integral.
    lat_w : float
        Latitude extent of the waves [rad].
    b_eq_T : float
        Equatorial field [T].
    omega_pe : float
        Plasma frequency [rad/s] (constant along the line).
    bw2_T2 : float
        Total wave power B_w^2 [T^2].
    f_m, df, f_lc, f_uc : float
        Spectrum [Hz].
    rho : float
        Band normalisation (see :class:`~hpcbelt.dxx.spectrum.WaveSpectrum.rho`).
    gamma, beta, eps : float
        Lorentz factor, v/c, m_e/m_p.
    q_over_m : float
        e / m_e [C/kg].
    w_fwd, w_bwd : float
        Power fractions for the two propagation directions.

    Returns
    -------
    ndarray
        <D_aa>/p^2 [1/s], one per ``alpha0``; exactly 0 at alpha0 = pi/2 (the bounce
        path has zero length and nothing in the band resonates with v_par = 0).
    """
    out = np.zeros(alpha0.size)
    two_pi = 2.0 * math.pi
    for i in range(alpha0.size):
        lat, wgt, mus = bounce_weights(alpha0[i], n_lat, lat_w)
        acc = 0.0
        for j in range(n_lat):
            mu = mus[j]
            if mu <= 0.0 or wgt[j] == 0.0:
                continue
            b = b_eq_T * b_ratio(lat[j])
            omega_e = q_over_m * b
            f_ce = omega_e / two_pi
            alpha_star = (omega_e / omega_pe) ** 2
            d = local_daa(mu, omega_e, alpha_star, bw2_T2 / (b * b), f_m / f_ce, df / f_ce,
                          f_lc / f_ce, f_uc / f_ce, rho, gamma, beta, eps, w_fwd, w_bwd)
            acc += wgt[j] * d
        out[i] = acc
    return out
