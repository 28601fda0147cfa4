"""Numba kernels of the equatorial test-particle tracker (Eq. 8 of Lejosne & Albert 2023).

Eq. 8 in the equatorial plane, in Cartesian coordinates ``X = L cos phi``, ``Y = L sin phi``
(Earth radii, X towards midnight): the fluctuating E x B velocity ``r^3 w / (B_E R_E^3)``
points along ``sin(phi) e_r + cos(phi) e_phi = e_y`` (Sec. 3.2), so

    dX/dt = -Omega(L) Y
    dY/dt =  Omega(L) X + L^3 w / (B_E R_E)

with ``Omega(L) = 3 M / (gamma e R_E^2 L^2) + Omega_E`` and ``gamma = sqrt(1 + 2 M B_E / (m_e c^2 L^3))``.
No trigonometric function is needed.  ``w`` is piecewise constant; the integrator (classical
RK4) steps exactly onto every update of ``w`` and every recording time, so the right-hand
side is smooth inside every step.
"""

import math

import numba
import numpy as np

# everything but "no NaNs/infs" (escaped particles are NaN)
_FASTMATH = {"contract", "afn", "arcp", "reassoc", "nsz"}
# numba's default ("python") error model tests every float division for a zero divisor so it can
# raise ZeroDivisionError; that branch alone keeps LLVM from vectorising the particle loop.  The
# divisors here (sqrt(L^4 + c_gamma L), the step counts) are never zero, and an escaped particle
# is NaN either way, so the "numpy" model (IEEE result, no test) changes no result: 4.7x faster
# per particle-step on this AVX2 machine (tools/bench_drift.py)
_ERRORS = "numpy"


@numba.njit(cache=True, inline="always", fastmath=_FASTMATH, error_model=_ERRORS)
def _rhs(X, Y, a, c_grad, c_gamma, omega_E):
    """Right-hand side of Eq. 8 in (X, Y); ``a = w / (B_E R_E)`` [1/s].

    ``gamma L^2 = sqrt(1 + c_gamma / L^3) L^2 = sqrt(L^4 + c_gamma L)``: two square roots and one
    division per evaluation (1.29x the speed of the form with two divisions; round-off only)."""
    L2 = X * X + Y * Y
    L = math.sqrt(L2)
    omega = c_grad / math.sqrt(L2 * L2 + c_gamma * L) + omega_E
    return -omega * Y, omega * X + L2 * L * a


@numba.njit(cache=True, fastmath=_FASTMATH, error_model=_ERRORS)
def track(X0, Y0, w_seqs, seq_of, iv_dt, iv_nsub, iv_seg, iv_rec, n_rec, c_grad, c_gamma, omega_E,
          inv_BE_RE, L_escape, out):
    """Integrate Eq. 8 for every particle over a list of intervals, recording positions.

    Parameters
    ----------
    X0, Y0 : (N,) float arrays
        Initial positions [Earth radii], ``X = L cos(phi)``, ``Y = L sin(phi)``.
    w_seqs : (n_seq, n_seg) float array
        Sequences of the fluctuation ``w`` [V/m], one value per update interval.
    seq_of : (N,) int array
        Which sequence drives each particle.
    iv_dt : (n_iv,) float array
        Length of each integration interval [s]; intervals end on every update of ``w`` and
        on every recording time.
    iv_nsub : (n_iv,) int array
        Number of equal RK4 steps in each interval.
    iv_seg : (n_iv,) int array
        Index of the ``w`` value in force during each interval.
    iv_rec : (n_iv,) int array
        Recording index at the end of each interval, or -1.
    n_rec : int
        Number of recordings (index 0 is the initial position, recorded here too).
    c_grad : float
        ``3 M / (e R_E^2)`` [rad/s]: gradient-drift frequency at L = 1 without the gamma factor.
    c_gamma : float
        ``2 M B_E / (m_e c^2)``: so that ``gamma = sqrt(1 + c_gamma / L^3)``.
    omega_E : float
        Corotation angular velocity (0 to switch off) [rad/s].
    inv_BE_RE : float
        ``1 / (B_E R_E)`` [1 / (T m)].
    L_escape : float
        A particle found beyond this L at the end of an interval is dropped (NaN from then
        on): with ``w`` held fixed, ``dL/dt`` grows like ``L^3`` and the motion blows up in
        finite time far out, where the model has no meaning anyway.
    out : (N, n_rec, 2) float array
        Receives (X, Y) at every recording.

    Notes
    -----
    The particle loop is innermost so that LLVM vectorises it: four particles per AVX2
    instruction, square roots and divisions included, once numba's zero-divisor test is off
    (``error_model="numpy"``, see ``_ERRORS``).  Floating-point contraction/reassociation are allowed but not
    "no NaN" (escaped particles are NaN), so results are deterministic for a given build
    and identical whichever MPI rank computes a permutation.
    """
    N = X0.shape[0]
    X = X0.copy()
    Y = Y0.copy()
    a = np.empty(N)
    for p in range(N):
        out[p, 0, 0] = X[p]
        out[p, 0, 1] = Y[p]
    esc2 = L_escape * L_escape
    for j in range(iv_dt.shape[0]):
        for p in range(N):
            a[p] = w_seqs[seq_of[p], iv_seg[j]] * inv_BE_RE
        h = iv_dt[j] / iv_nsub[j]
        for _ in range(iv_nsub[j]):
            for p in range(N):
                x = X[p]
                y = Y[p]
                ap = a[p]
                k1x, k1y = _rhs(x, y, ap, c_grad, c_gamma, omega_E)
                k2x, k2y = _rhs(x + 0.5 * h * k1x, y + 0.5 * h * k1y, ap, c_grad, c_gamma, omega_E)
                k3x, k3y = _rhs(x + 0.5 * h * k2x, y + 0.5 * h * k2y, ap, c_grad, c_gamma, omega_E)
                k4x, k4y = _rhs(x + h * k3x, y + h * k3y, ap, c_grad, c_gamma, omega_E)
                X[p] = x + h / 6.0 * (k1x + 2.0 * k2x + 2.0 * k3x + k4x)
                Y[p] = y + h / 6.0 * (k1y + 2.0 * k2y + 2.0 * k3y + k4y)
        for p in range(N):
            if not (X[p] * X[p] + Y[p] * Y[p] <= esc2):
                X[p] = math.nan
                Y[p] = math.nan
        r = iv_rec[j]
        if r >= 0:
            for p in range(N):
                out[p, r, 0] = X[p]
                out[p, r, 1] = Y[p]


@numba.njit(cache=True)
def bin_positions(pos, weight, L_min, dL, n_L, n_mlt, inv_cell_measure, F):
    """Distribution function implied by weighted particles, per recording, on an (L, MLT) grid.

    ``F[t, i, j] = sum(weights of particles in cell (i, j) at recording t) / measure(i, j)``,
    with the measure ``L^-2 dL dphi`` (so particles placed with density L^-2 per dL dphi
    and weight ``measure / N`` give F = 1).  Particles outside ``[L_min, L_min + n_L dL)`` are
    not counted.

    Parameters
    ----------
    pos : (N, n_rec, 2) float array
        Positions (X, Y) from :func:`track`.
    weight : (N,) float array
        Measure carried by each particle.
    L_min, dL : float
        Grid origin and cell width in L.
    n_L, n_mlt : int
        Grid size.
    inv_cell_measure : (n_L,) float array
        ``1 / ((1/L_lo - 1/L_hi) dphi)`` for each ring.
    F : (n_rec, n_L, n_mlt) float array
        Output (overwritten).
    """
    N, n_rec, _ = pos.shape
    two_pi = 2.0 * math.pi
    F[:, :, :] = 0.0
    # recordings outer, particles inner: each F[t] (a few kB) stays in cache while it is filled;
    # every cell still receives its particles in index order, so the sums are the same bits
    for t in range(n_rec):
        for p in range(N):
            X = pos[p, t, 0]
            Y = pos[p, t, 1]
            L = math.sqrt(X * X + Y * Y)
            if not (L >= L_min and L < L_min + n_L * dL):     # also drops NaN (escaped)
                continue
            i = int((L - L_min) / dL)
            if i >= n_L:
                i = n_L - 1
            phi = math.atan2(Y, X)
            if phi < 0.0:
                phi += two_pi
            j = int(phi / two_pi * n_mlt)
            if j >= n_mlt:
                j = n_mlt - 1
            F[t, i, j] += weight[p] * inv_cell_measure[i]


@numba.njit(cache=True)
def box_sum(pos, weight, L_lo, L_hi, phi_lo, phi_hi, out):
    """Sum of particle weights inside an (L, phi) box at each recording (phi box may wrap).

    ``phi_lo``/``phi_hi`` are in [0, 2 pi); if ``phi_lo > phi_hi`` the box wraps through 0.
    """
    N, n_rec, _ = pos.shape
    two_pi = 2.0 * math.pi
    for t in range(n_rec):
        out[t] = 0.0
    for p in range(N):
        for t in range(n_rec):
            X = pos[p, t, 0]
            Y = pos[p, t, 1]
            L = math.sqrt(X * X + Y * Y)
            if not (L >= L_lo and L < L_hi):                  # also drops NaN (escaped)
                continue
            phi = math.atan2(Y, X)
            if phi < 0.0:
                phi += two_pi
            if phi_lo <= phi_hi:
                inside = phi_lo <= phi < phi_hi
            else:
                inside = phi >= phi_lo or phi < phi_hi
            if inside:
                out[t] += weight[p]
