"""Oblique whistler-mode waves: resonance sum and wave-normal integral (Glauert & Horne 2005).

Local coefficient (G&H05 eqs. 8, 11 with the intensity of eq. 5b and the normalisation of
eq. 15), written in the normalised variables of :mod:`.field_aligned` -- x = omega/Omega_e,
y = c k / Omega_e, Omega_e = ``|Omega_e|`` local, X = tan(psi) the wave-normal tangent::

    D_aa / p^2 = pi R Omega_e / (gamma^2 beta^2 rho dx)
                 sum_{n=-N..N} integral X g(X) dX sum_roots
                 x^2 cos^2 psi [(-n/(gamma x) - sin^2 a) / cos a]^2 shape(x) Phi_n^2
                 / ( n'(x) |beta mu - (dx/dy)_X / cos psi| )

    n'(x) = integral g(X) X y^2 (dy/dx)_X (1 + X^2)^(-3/2) dX        (G&H05 eq. 15)

with R = (B_w / B)^2, shape and rho as in :mod:`.spectrum`, Phi_n^2 of G&H05 eq. A13 (Lyons
1974) and the resonance (G&H05 eq. 9, electrons, signed Omega_sigma = -Omega_e)::

    x - y cos(psi) beta mu = -n / gamma,   psi in [0, pi] (cos psi < 0: k antiparallel to B).

n = -1 is the normal cyclotron resonance, n = 0 the Landau resonance.

Normalisation.  The constant is written so that, per unit power in the resonant direction, a
wave-normal distribution narrowed to psi -> 0 reproduces Summers (2005) eq. 33 exactly
(Phi_{-1}^2 -> 1/2 there); each direction's term is then multiplied by the fraction of the
observed power B_w^2 it carries (``direction_power_fraction``, w_fwd = w_bwd = w).

Which fraction is right.  G&H05 eq. 15 normalises ``|B_k|^2`` with 1 / (2 pi^2) times an integral
over X = tan(psi) >= 0 only (one hemisphere of k space), and the resonance sum takes both
signs of k_par (PIRAN, RB-ENVIRONMENT/PIRAN, implements it that way: roots with k_par > 0 and
< 0 at the same X, one normalisation).  Writing the power as
B_w^2 = integral d^3k / (2 pi)^3 ``|B_k|^2`` / V over the whole k sphere, with a distribution
symmetric in k_par, gives exactly 1 / (4 pi^2) x 2 x (hemisphere integral) = eq. 15: the
observed total B_w^2 is shared equally, half travelling each way.  Taking eqs. 11 and 15
literally therefore gives half of Summers' value in the narrow limit, i.e. w = 0.5, which is
what a PADIE database computed from measured (total) intensities contains.  Summers (2005)
applies the whole B_w^2 to the resonant direction (w = 1; the LANL Lgm_SummersDiffCoeff code
adds both directions with full power each).  Since the instruments measure the total power
of bidirectional plasmaspheric hiss, w = 0.5 is the consistent choice and the default;
tests/dxx/test_oblique.py checks the narrow limit for both.

Cold electron-proton plasma (Stix parameters, electrons Omega = -Omega_e, protons
+eps Omega_e, omega_pp^2 = eps omega_pe^2), whistler branch: n^2 = (B - sgn(D) F) / (2A)
(continuous in psi with n^2 = R at psi = 0 on both sides of the crossover x = eps), in the
rationalised forms 2C / (B + F) or 2C / (B - F) that stay accurate near the resonance cone.

Landau resonance near the mirror point.  For a local pitch angle close to 90 deg the Landau
resonance omega = k_par v_par needs the large refractive index n cos(psi) = 1 / (beta cos a)
that the dense plasmasphere provides at every hiss frequency (x ~ X^2 beta^2 cos^2 a cos psi,
i.e. a = 88-89.7 deg at L = 3, 0.5 MeV).  Every particle whose mirror point lies inside the wave
region therefore meets it, within ~0.05 deg of latitude of the mirror point, and the bounce
average turns it into a diffusion coefficient that is weak but non-zero at every a0 above the
cyclotron cut-off and peaks near 89 deg.  In the mapped angle t = acos(lat / lat_m) of the
bounce quadrature the contribution is a bump of width ~0.01 at t ~ 0.02-0.045, narrower than
the spacing pi / (2 n_lat) of the uniform map (0.016 at 96 nodes), which left the n = 0 term
wrong by up to 100 % at 96 nodes (converged only at 384).  The n = 0 term is therefore summed
on its own n_lat nodes, graded towards the mirror point (t = (pi/2) s^3,
:func:`~hpcbelt.dxx.geometry.bounce_weights_graded`: 7 nodes on the bump at 96), which brings
it within 0.2 % of its converged value at 96 nodes (~0.05 % from 25 to 89 deg; 48 nodes: < 5 %;
tools/bench_landau.py, tests/dxx/test_oblique.py).  The cyclotron terms keep the uniform map
(on which they are converged to ~0.1 % at 96 nodes; the graded one is no better for them), so
cyclotron-only profiles, the default database's, are unchanged; a profile with the Landau term
costs ~20 % more CPU than before (its n = 0 roots are now found).

With the Landau term there is no true resonance gap.  Watt et al. (2021, Fig. 1) report
the opposite for their PADIE database: "a region at ~75 deg where the resonant condition is
not satisfied, and so there is no diffusion", f above 75 deg staying at its initial value for
30 days, and D "rarely greater than 1e-5 1/s across all pitch angles" (with the Landau term,
the peak near 89 deg exceeds that in 27 % of the default database's profiles).  Resolving this contribution is also where bounce-averaged
quasi-linear theory is least safe: the resonance lies where v_par -> 0 and the mirror force
changes v_par during the interaction.  ``landau=False`` (key ``oblique.include_landau``)
therefore sums the cyclotron resonances only; the default database uses it, the calculator's
default keeps the Landau term.

Roots in frequency are bracketed on a scan grid (log-uniform in Hz over the band, split at
x = eps where the branch changes) and refined by the Illinois method on the exact resonance
function.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from ..dipole import b_ratio
from .geometry import MIRROR_GRADING, bounce_weights, bounce_weights_graded
from .plasma import EPS, Q_OVER_M


# --------------------------------------------------------------------------------------
# cold plasma
# --------------------------------------------------------------------------------------

@numba.njit(cache=True)
def stix(x, xp2, eps):
    """Stix R, L, P, S at normalised frequency x; xp2 = (omega_pe / Omega_e)^2."""
    r = 1.0 - xp2 * (1.0 + eps) / ((x - 1.0) * (x + eps))
    l = 1.0 - xp2 * (1.0 + eps) / ((x + 1.0) * (x - eps))
    p = 1.0 - xp2 * (1.0 + eps) / (x * x)
    return r, l, p, 0.5 * (r + l)


@numba.njit(cache=True)
def refractive_index2(x, cos_t, xp2, eps):
    """Whistler-branch n^2 = (c k / omega)^2 at wave-normal angle psi (cos_t = cos psi).

    Returns -1.0 where the branch does not propagate (beyond the resonance cone, n^2 <= 0).
    """
    r, l, p, s = stix(x, xp2, eps)
    d = 0.5 * (r - l)
    c2 = cos_t * cos_t
    s2 = 1.0 - c2
    a = s * s2 + p * c2
    b = r * l * s2 + p * s * (1.0 + c2)
    c = p * r * l
    f2 = (r * l - p * s) ** 2 * s2 * s2 + 4.0 * p * p * d * d * c2
    f = math.sqrt(max(f2, 0.0))
    den = b + f if d > 0.0 else b - f
    if den == 0.0:
        return -1.0
    n2 = 2.0 * c / den
    if not (n2 > 0.0) or not math.isfinite(n2):
        return -1.0
    return n2


@numba.njit(cache=True)
def wave_number(x, cos_t, xp2, eps):
    """y = c k / Omega_e = x n on the whistler branch, or -1 where there is none."""
    n2 = refractive_index2(x, cos_t, xp2, eps)
    if n2 <= 0.0:
        return -1.0
    return x * math.sqrt(n2)


@numba.njit(cache=True)
def dy_dx(x, cos_t, xp2, eps):
    """(dy/dx) at fixed psi by a central difference (relative step 1e-6); -1 if undefined."""
    h = 1e-6 * x
    yp = wave_number(x + h, cos_t, xp2, eps)
    ym = wave_number(x - h, cos_t, xp2, eps)
    if yp <= 0.0 or ym <= 0.0:
        return -1.0
    return (yp - ym) / (2.0 * h)


# --------------------------------------------------------------------------------------
# Bessel functions J_0..J_m by Miller's backward recurrence
# --------------------------------------------------------------------------------------

@numba.njit(cache=True)
def bessel_j_orders(m, z, out):
    """Fill out[0..m] with J_k(z), k = 0..m, for real z (any sign).

    Backward recurrence J_{k-1} = (2k/z) J_k - J_{k+1} from an order well above max(m, |z|),
    normalised with J_0 + 2 sum J_{2k} = 1 (Abramowitz & Stegun 9.1.46); J_k(-z) =
    (-1)^k J_k(z).
    """
    az = abs(z)
    if az < 1e-12:
        out[0] = 1.0
        for k in range(1, m + 1):
            out[k] = 0.0
        return
    start = 2 * ((max(m, int(az)) + 20 + int(math.sqrt(40.0 * max(m, int(az)) + 40.0))) // 2)
    jp1 = 0.0
    j = 1e-30
    norm = 0.0
    for k in range(start, 0, -1):
        jm1 = 2.0 * k / az * j - jp1
        jp1 = j
        j = jm1
        if abs(j) > 1e250:          # rescale to avoid overflow
            j *= 1e-250
            jp1 *= 1e-250
            norm *= 1e-250
            for q in range(m + 1):
                out[q] *= 1e-250
        if k - 1 <= m:
            out[k - 1] = j
        if (k - 1) % 2 == 0 and k - 1 > 0:
            norm += 2.0 * j
    norm += j   # J_0
    for k in range(m + 1):
        out[k] /= norm
        if z < 0.0 and k % 2 == 1:
            out[k] = -out[k]


@numba.njit(cache=True)
def bessel_j(order, jpos):
    """J_order for any integer order from the table jpos[k] = J_k (k >= 0)."""
    if order >= 0:
        return jpos[order]
    k = -order
    return jpos[k] if k % 2 == 0 else -jpos[k]


# --------------------------------------------------------------------------------------
# G&H05 eq. A13
# --------------------------------------------------------------------------------------

@numba.njit(cache=True)
def phi2(n, n2, r, l, p, s, sin_p, cos_p, cot_a, jpos):
    """Phi_{n,k}^2 of G&H05 eq. A13 (Lyons 1974) with cos_p signed (psi in [0, pi])."""
    jn = bessel_j(n, jpos)
    jnm1 = bessel_j(n - 1, jpos)
    jnp1 = bessel_j(n + 1, jpos)
    ms = n2 - s
    t1 = (n2 - l) / ms * jnp1 + (n2 - r) / ms * jnm1
    t2 = (n2 * sin_p * sin_p - p) / (2.0 * n2)
    t3 = cot_a * sin_p * cos_p * jn
    num = t1 * t2 + t3
    t4 = (r - l) / (2.0 * ms)
    t5 = (p - n2 * sin_p * sin_p) / n2
    t6 = p * cos_p / n2
    return num * num / (t4 * t4 * t5 * t5 + t6 * t6)


# --------------------------------------------------------------------------------------
# local D_aa
# --------------------------------------------------------------------------------------

@numba.njit(cache=True)
def _resonance(x, n, sgn, cos_t, bm, gamma, xp2, eps):
    """h(x) = x + n/gamma - y(x) (sgn cos psi) beta mu; nan where the branch is absent."""
    y = wave_number(x, cos_t, xp2, eps)
    if y <= 0.0:
        return np.nan
    return x + n / gamma - y * sgn * cos_t * bm


@numba.njit(cache=True)
def _nprime(x, tn, tw, ycol, xp2, eps):
    """n'(x) = integral g X y^2 (dy/dx)_X (1 + X^2)^(-3/2) dX (G&H05 eq. 15, normalised).

    ``tw`` holds w_t X_t g(X_t); ``ycol`` the wave numbers at x for each node (-1: none).
    """
    acc = 0.0
    for t in range(tn.size):
        if ycol[t] <= 0.0:
            continue
        ct = 1.0 / math.sqrt(1.0 + tn[t] * tn[t])
        yx = dy_dx(x, ct, xp2, eps)
        if yx > 0.0:
            acc += tw[t] * ycol[t] ** 2 * yx * ct * ct * ct
    return acc


@numba.njit(cache=True)
def local_daa(mu, omega_e, xp2, power_ratio, x_m, dx, x_lc, x_uc, rho, gamma, beta, eps,
              tn, tw, n_res, x_scan, w_fwd, w_bwd, landau=True):
    """Local D_aa / p^2 [1/s] for oblique whistler waves (module docstring formula).

    Parameters
    ----------
    mu : float
        cos(local pitch angle), 0 < mu < 1.
    omega_e, xp2, power_ratio : float
        Local |Omega_e| [rad/s], (omega_pe/Omega_e)^2 and (B_w / B)^2.
    x_m, dx, x_lc, x_uc, rho : float
        Spectrum in units of the local Omega_e and its normalisation.
    gamma, beta, eps : float
        Lorentz factor, v/c, m_e/m_p.
    tn, tw : ndarray
        Wave-normal nodes X_t = tan(psi_t) and weights w_t X_t g(X_t) of the X integral.
    n_res : int
        Resonances n = -n_res..n_res.
    landau : bool
        Include the Landau resonance n = 0 (False: cyclotron resonances only; see the
        module docstring, "Landau resonance near the mirror point").
    x_scan : ndarray
        Increasing scan frequencies (units of the local Omega_e) spanning [x_lc, x_uc].
    w_fwd, w_bwd : float
        Power fractions for k parallel / antiparallel to B.
    """
    if mu <= 0.0 or mu > 1.0:
        return 0.0
    sin_a = math.sqrt(max(1.0 - mu * mu, 0.0))
    if sin_a < 1e-12:
        sin_a = 1e-12           # alpha = 0: the Landau term vanishes as sin^2 a anyway
    cot_a = mu / sin_a
    bm = beta * mu
    nt = tn.size
    ns = x_scan.size
    # wave numbers on the scan grid; the normalisation n'(x) on it is filled lazily (only
    # scan points next to a resonant root need it), -1 = not yet computed
    yg = np.empty((nt, ns))
    for t in range(nt):
        ct = 1.0 / math.sqrt(1.0 + tn[t] * tn[t])
        for j in range(ns):
            yg[t, j] = wave_number(x_scan[j], ct, xp2, eps)
    nprime = np.full(ns, -1.0)
    jpos = np.empty(n_res + 2)
    acc = 0.0
    for t in range(nt):
        ct = 1.0 / math.sqrt(1.0 + tn[t] * tn[t])
        st = tn[t] * ct
        for si in range(2):
            sgn = 1.0 if si == 0 else -1.0
            wdir = w_fwd if sgn > 0 else w_bwd
            if wdir == 0.0:
                continue
            cp = sgn * ct
            # h_j = x_j + n/gamma - y_j cp beta mu changes sign only if n/gamma lies within
            # the range of q_j = y_j cp beta mu - x_j: scan only those n
            qmin = np.inf
            qmax = -np.inf
            for j in range(ns):
                if yg[t, j] > 0.0:
                    q = yg[t, j] * cp * bm - x_scan[j]
                    qmin = min(qmin, q)
                    qmax = max(qmax, q)
            if qmin > qmax:
                continue
            n_lo = max(-n_res, int(math.floor(gamma * qmin)))
            n_hi = min(n_res, int(math.ceil(gamma * qmax)))
            for n in range(n_lo, n_hi + 1):
                if n == 0 and not landau:
                    continue
                for j in range(ns - 1):
                    ya = yg[t, j]
                    yb = yg[t, j + 1]
                    if ya <= 0.0 or yb <= 0.0:
                        continue
                    xa = x_scan[j]
                    xb = x_scan[j + 1]
                    if xa < eps and xb > eps:
                        continue          # the branch changes at the crossover
                    ha = xa + n / gamma - ya * cp * bm
                    hb = xb + n / gamma - yb * cp * bm
                    if ha == 0.0:
                        xr = xa
                    elif ha * hb > 0.0:
                        continue
                    else:
                        # Illinois (modified regula falsi) on the exact resonance function
                        fa = ha
                        fb = hb
                        xr = xa
                        side = 0
                        ok = True
                        for _ in range(60):
                            xr = (xa * fb - xb * fa) / (fb - fa)
                            fr = _resonance(xr, n, sgn, ct, bm, gamma, xp2, eps)
                            if not math.isfinite(fr):
                                ok = False
                                break
                            if fr * fb > 0.0:
                                xb = xr
                                fb = fr
                                if side == -1:
                                    fa *= 0.5
                                side = -1
                            elif fr * fa > 0.0:
                                xa = xr
                                fa = fr
                                if side == 1:
                                    fb *= 0.5
                                side = 1
                            else:
                                break
                            if abs(xb - xa) <= 1e-13 * xr:
                                break
                        if not ok:
                            continue
                    if xr < x_lc or xr > x_uc:
                        continue
                    y = wave_number(xr, ct, xp2, eps)
                    yx = dy_dx(xr, ct, xp2, eps)
                    if y <= 0.0 or yx <= 0.0:
                        continue
                    # n'(x) between scan points: linear in log-log
                    j0 = j
                    for jj in range(j0, j0 + 2):
                        if nprime[jj] < 0.0:
                            nprime[jj] = _nprime(x_scan[jj], tn, tw, yg[:, jj], xp2, eps)
                    if nprime[j0] <= 0.0 or nprime[j0 + 1] <= 0.0:
                        continue
                    wgt = math.log(xr / x_scan[j0]) / math.log(x_scan[j0 + 1] / x_scan[j0])
                    npr = math.exp((1.0 - wgt) * math.log(nprime[j0])
                                   + wgt * math.log(nprime[j0 + 1]))
                    singular = abs(bm - 1.0 / (yx * cp))
                    if singular == 0.0:
                        continue
                    r, l, p, s = stix(xr, xp2, eps)
                    n2 = (y / xr) ** 2
                    # Bessel argument k_perp p_perp / (m Omega_sigma), Omega_sigma = -Omega_e
                    z = -y * st * gamma * beta * sin_a
                    bessel_j_orders(abs(n) + 1, z, jpos)
                    ph = phi2(n, n2, r, l, p, s, st, cp, cot_a, jpos)
                    br = (-n / (gamma * xr) - sin_a * sin_a) / mu
                    g = math.exp(-((xr - x_m) / dx) ** 2)
                    acc += (wdir * tw[t] * xr * xr * ct * ct * br * br * g * ph
                            / (npr * singular))
    return math.pi * power_ratio * omega_e / (gamma * gamma * beta * beta * rho * dx) * acc


@numba.njit(cache=True)
def _path_sum(lat, wgt, mus, b_eq_T, omega_pe, bw2_T2, f_m, df, f_lc, f_uc, rho, gamma, beta,
              eps, q_over_m, w_fwd, w_bwd, tn, tw, n_res, f_scan, x_scan, landau):
    """sum_j wgt_j D_local(lat_j) over one node set (``x_scan`` is a work array)."""
    two_pi = 2.0 * math.pi
    acc = 0.0
    for j in range(lat.size):
        mu = mus[j]
        if mu <= 0.0 or wgt[j] == 0.0:
            continue
        b = b_eq_T * b_ratio(lat[j])
        omega_e = q_over_m * b
        f_ce = omega_e / two_pi
        for k in range(f_scan.size):
            x_scan[k] = f_scan[k] / f_ce
        xp2 = (omega_pe / omega_e) ** 2
        d = local_daa(mu, omega_e, xp2, bw2_T2 / (b * b), f_m / f_ce, df / f_ce,
                      f_lc / f_ce, f_uc / f_ce, rho, gamma, beta, eps, tn, tw, n_res,
                      x_scan, w_fwd, w_bwd, landau)
        acc += wgt[j] * d
    return acc


@numba.njit(cache=True)
def bounce_averaged_profile(alpha0, n_lat, lat_w, b_eq_T, omega_pe, bw2_T2, f_m, df, f_lc,
                            f_uc, rho, gamma, beta, eps, q_over_m, w_fwd, w_bwd, tn, tw, n_res,
                            f_scan, landau=True):
    """Bounce-averaged <D_aa>/p^2 [1/s] for oblique waves on a grid of alpha0 [rad].

    Same bounce average and plasma model as
    :func:`hpcbelt.dxx.field_aligned.bounce_averaged_profile`; ``f_scan`` [Hz] is the root
    scan grid, ``tn``/``tw`` the wave-normal quadrature (see :func:`local_daa`).

    Two latitude quadratures of ``n_lat`` nodes each (module docstring, "Landau resonance
    near the mirror point"): the cyclotron resonances n = +-1..+-N on the nodes of
    :func:`~hpcbelt.dxx.geometry.bounce_weights` (uniform in the mapped angle), the Landau
    term n = 0 (``landau``) on those of :func:`~hpcbelt.dxx.geometry.bounce_weights_graded`,
    clustered towards the mirror point.  The result is the sum of the two parts, so the
    cyclotron-only profile (``landau=False``) plus the Landau-only one (``n_res = 0``) is the
    full profile exactly.
    """
    out = np.zeros(alpha0.size)
    x_scan = np.empty(f_scan.size)
    for i in range(alpha0.size):
        acc = 0.0
        if n_res > 0:
            lat, wgt, mus = bounce_weights(alpha0[i], n_lat, lat_w)
            acc += _path_sum(lat, wgt, mus, b_eq_T, omega_pe, bw2_T2, f_m, df, f_lc, f_uc, rho,
                             gamma, beta, eps, q_over_m, w_fwd, w_bwd, tn, tw, n_res, f_scan,
                             x_scan, False)
        if landau:
            lat, wgt, mus = bounce_weights_graded(alpha0[i], n_lat, lat_w, MIRROR_GRADING)
            acc += _path_sum(lat, wgt, mus, b_eq_T, omega_pe, bw2_T2, f_m, df, f_lc, f_uc, rho,
                             gamma, beta, eps, q_over_m, w_fwd, w_bwd, tn, tw, 0, f_scan,
                             x_scan, True)
        out[i] = acc
    return out


def wave_normal_quadrature(X_m: float, X_w: float, X_min: float, X_max: float, n: int):
    """Gauss-Legendre nodes X_t on [X_min, X_max] and weights w_t X_t g(X_t)."""
    u, w = np.polynomial.legendre.leggauss(n)
    X = X_min + 0.5 * (u + 1.0) * (X_max - X_min)
    W = 0.5 * (X_max - X_min) * w
    g = np.exp(-(((X - X_m) / X_w) ** 2))
    return X, W * X * g


def scan_frequencies(f_lc: float, f_uc: float, n: int) -> np.ndarray:
    """Log-uniform scan grid [Hz] over the band, endpoints included."""
    return np.geomspace(f_lc, f_uc, n)


def bounce_averaged_profile_cfg(cfg, alpha0, b_eq_T, omega_pe, bw2_T2, gamma, beta):
    """Call :func:`bounce_averaged_profile` with the settings of a DxxConfig."""
    sp = cfg.spectrum
    ob = cfg.oblique
    tn, tw = wave_normal_quadrature(ob.X_m, ob.X_w, ob.X_min, ob.X_max, ob.n_wave_normal)
    w = cfg.direction_power_fraction
    return bounce_averaged_profile(
        alpha0, cfg.n_lat, math.radians(sp.lat_max_deg), b_eq_T, omega_pe, bw2_T2, sp.f_m_Hz,
        sp.df_Hz, sp.f_lc_Hz, sp.f_uc_Hz, sp.rho(), gamma, beta, EPS, Q_OVER_M, w, w, tn, tw,
        ob.n_resonance, scan_frequencies(sp.f_lc_Hz, sp.f_uc_Hz, ob.n_freq_scan),
        ob.include_landau)
