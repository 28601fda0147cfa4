"""Radial diffusion ``dF/dt = L^2 d/dL (D_LL / L^2 dF/dL)`` (Eq. 22-23 of Lejosne & Albert 2023).

Finite volumes in the measure ``L^-2 dL`` (the drift-averaged version of the measure of
:mod:`hpcbelt.lmlt`): with ``m_i = 1/L_lo - 1/L_hi`` the cell measure and
``c_{i+1/2} = D_LL(L_{i+1/2}) / (L_{i+1/2}^2 dL)`` the face conductance,

    m_i dF_i/dt = c_{i+1/2} (F_{i+1} - F_i) - c_{i-1/2} (F_i - F_{i-1}),

which conserves ``sum m_i F_i`` exactly except for the two boundary fluxes.

Boundaries (:data:`hpcbelt.lmlt.BOUNDARY_KINDS`): ``"fixed"`` holds ``F = F_b`` ON the edge
(L_min or L_max): the edge face has the conductance ``D_LL / (L_edge^2 dL/2)``, half a cell
from the first centre, and the edge flux booked in ``lost_lo`` / ``lost_hi`` uses the same
conductance, so the budget ``number(F0) = number(F) + lost_lo + lost_hi`` stays exact.
``"zero_flux"`` closes the edge.  Until issue 17 a fixed value sat at a ghost-cell centre, half
a cell outside the edge, which made the whole solution first order in dL (1.5e-2, 4.0e-3,
1.0e-3, 2.5e-4 of the peak at 30, 120, 480, 1920 cells on the issue's test; now 5.2e-3,
3.2e-4, 2.0e-5, 1.3e-6: second order, ``tools/bench_radial_order.py``).

Time stepping is the theta method, the matrix factorised once per :meth:`RadialDiffusion.advance`:

* ``theta = 0.5``, Crank-Nicolson (the default), second order in time, with a Rannacher
  start-up: the first ``startup_steps = 2`` steps are each done as two backward-Euler half
  steps.  Plain Crank-Nicolson keeps the grid-scale part of a sharp initial F (the paper's
  injection, a spike) as an oscillation that flips sign every step when ``D dt / dL^2 >> 1``:
  excess total variation 0.08 after 5 min of the injection at the study's dt = 60 s, and a
  one-cell spike going to -0.5 of its peak at dt = 300 s.  The start-up damps that part
  (by ``(1 + lambda dt/2)^-4``) and keeps second order.
* ``theta = 1``, backward Euler: first order in time; the matrix is an M-matrix, so F >= 0 for
  any step and any data (a guarantee, where Crank-Nicolson's non-negativity is measured).

Why Crank-Nicolson is the default (measured with ``tools/bench_radial_order.py`` on the issue's
Gaussian problem and on sharp fronts): at equal accuracy it is 15-20x cheaper than backward Euler
at 1e-3 of the peak and ~100x cheaper at 1e-4 (backward Euler needs dt = 300 s resp. 30 s,
Crank-Nicolson with its start-up 1 h resp. 30 min); with the start-up it stayed non-negative
and free of new extrema (excess total variation at round-off, at every output) on the
injection and on one-cell spikes at L = 2.01 to 7.98, for dL = 0.1 to 0.00625 and dt = 10 s to
4 h.  Take theta = 1 where a proof of F >= 0 matters more than accuracy.  (The drift study
passes its own ``[radial] theta`` key; the start-up applies there too whenever theta < 1.)

Bad arguments raise ValueError.
"""

import numba
import numpy as np

from hpcbelt.lmlt import check_boundary

DEFAULT_THETA = 0.5          # Crank-Nicolson (see the module docstring)


@numba.njit(cache=True)
def theta_step(F, m, c, c_lo, c_hi, F_lo, F_hi, dt, theta, out):
    """One theta-method step of the conservative radial operator (Thomas algorithm).

    Parameters
    ----------
    F : (n,) float array
        Cell averages at the start of the step.
    m : (n,) float array
        Cell measures ``1/L_lo - 1/L_hi``.
    c : (n-1,) float array
        Interior face conductances ``D_LL / (L^2 dL)`` at faces 1..n-1 [1/s].
    c_lo, c_hi : float
        Edge face conductances: 0 for zero flux, ``D_LL / (L_edge^2 dL/2)`` for a fixed value.
    F_lo, F_hi : float
        Values held on the inner and outer edges (unused where the conductance is 0).
    dt : float
        Time step [s].
    theta : float
        1 for backward Euler, 0.5 for Crank-Nicolson.
    out : (n,) float array
        Receives F at the end of the step.

    Returns
    -------
    (float, float)
        Number of particles (sum of m F) that left through the inner and the outer edge
        during the step, with the same theta weighting as the scheme.
    """
    n = F.shape[0]
    a = np.empty(n)   # sub-diagonal
    b = np.empty(n)   # diagonal
    d = np.empty(n)   # super-diagonal
    r = np.empty(n)   # right-hand side
    ex = 1.0 - theta
    for i in range(n):
        cl = c_lo if i == 0 else c[i - 1]
        cr = c_hi if i == n - 1 else c[i]
        Fl = F_lo if i == 0 else F[i - 1]
        Fr = F_hi if i == n - 1 else F[i + 1]
        flux = cr * (Fr - F[i]) - cl * (F[i] - Fl)
        r[i] = m[i] * F[i] + dt * ex * flux
        b[i] = m[i] + dt * theta * (cl + cr)
        a[i] = -dt * theta * cl
        d[i] = -dt * theta * cr
    # the ghost values are known: move them to the right-hand side
    r[0] += dt * theta * c_lo * F_lo
    r[n - 1] += dt * theta * c_hi * F_hi
    a[0] = 0.0
    d[n - 1] = 0.0
    # Thomas algorithm (diagonally dominant, no pivoting needed)
    for i in range(1, n):
        w = a[i] / b[i - 1]
        b[i] -= w * d[i - 1]
        r[i] -= w * r[i - 1]
    out[n - 1] = r[n - 1] / b[n - 1]
    for i in range(n - 2, -1, -1):
        out[i] = (r[i] - d[i] * out[i + 1]) / b[i]
    out_lo = dt * c_lo * (theta * (out[0] - F_lo) + ex * (F[0] - F_lo))
    out_hi = dt * c_hi * (theta * (out[n - 1] - F_hi) + ex * (F[n - 1] - F_hi))
    return out_lo, out_hi


@numba.njit(cache=True)
def theta_steps(F, m, c, c_lo, c_hi, F_lo, F_hi, dt, theta, n_steps, lost_lo, lost_hi):
    """``n_steps`` steps of :func:`theta_step` (F modified in place), the matrix factorised once.

    The arithmetic is that of :func:`theta_step` called step after step with its edge fluxes
    added to running totals (same operations in the same order), so F and the totals are
    bitwise the same; only the per-step overhead goes.

    Parameters
    ----------
    F, m, c, c_lo, c_hi, F_lo, F_hi, dt, theta
        As :func:`theta_step` (F is advanced in place).
    n_steps : int
        Number of steps.
    lost_lo, lost_hi : float
        Running totals of what left through the inner and outer edge before these steps.

    Returns
    -------
    (float, float)
        The running totals after the steps.
    """
    n = F.shape[0]
    ex = 1.0 - theta
    cl = np.empty(n)
    cr = np.empty(n)
    b = np.empty(n)   # diagonal after elimination
    w = np.empty(n)   # elimination multipliers
    d = np.empty(n)   # super-diagonal
    for i in range(n):
        cl[i] = c_lo if i == 0 else c[i - 1]
        cr[i] = c_hi if i == n - 1 else c[i]
        b[i] = m[i] + dt * theta * (cl[i] + cr[i])
        d[i] = -dt * theta * cr[i]
    d[n - 1] = 0.0
    w[0] = 0.0
    for i in range(1, n):
        w[i] = (-dt * theta * cl[i]) / b[i - 1]
        b[i] -= w[i] * d[i - 1]
    r = np.empty(n)
    out_lo = lost_lo
    out_hi = lost_hi
    for _ in range(n_steps):
        for i in range(n):
            Fl = F_lo if i == 0 else F[i - 1]
            Fr = F_hi if i == n - 1 else F[i + 1]
            flux = cr[i] * (Fr - F[i]) - cl[i] * (F[i] - Fl)
            r[i] = m[i] * F[i] + dt * ex * flux
        r[0] += dt * theta * c_lo * F_lo
        r[n - 1] += dt * theta * c_hi * F_hi
        for i in range(1, n):
            r[i] -= w[i] * r[i - 1]
        F0_old = F[0]
        Fn_old = F[n - 1]
        F[n - 1] = r[n - 1] / b[n - 1]
        for i in range(n - 2, -1, -1):
            F[i] = (r[i] - d[i] * F[i + 1]) / b[i]
        out_lo += dt * c_lo * (theta * (F[0] - F_lo) + ex * (F0_old - F_lo))
        out_hi += dt * c_hi * (theta * (F[n - 1] - F_hi) + ex * (Fn_old - F_hi))
    return out_lo, out_hi


class RadialDiffusion:
    """Radial-diffusion solver on uniform L cells.

    Parameters
    ----------
    L_edges : (n+1,) array
        Cell edges in L (uniform).
    D_LL_per_s : callable
        ``D_LL(L)`` [1/s], evaluated at the cell faces.
    boundary : (str, str)
        Kinds at L_min and L_max, each ``"fixed"`` or ``"zero_flux"``.
    boundary_values : (float, float)
        Values F_b held on the ``"fixed"`` edges (on L_min and L_max themselves).
    theta : float
        0.5 (Crank-Nicolson, the default) or 1 (backward Euler); anything in [0.5, 1].
    startup_steps : int
        With theta < 1, the first ``startup_steps`` steps after construction are each replaced
        by two backward-Euler half steps (Rannacher start-up: damps the grid-scale content of
        a sharp initial F, which Crank-Nicolson alone keeps as a sign-flipping oscillation);
        0 gives plain Crank-Nicolson.  Ignored for theta = 1.
    """

    def __init__(self, L_edges, D_LL_per_s, boundary=("fixed", "fixed"), boundary_values=(0.0, 0.0),
                 theta=DEFAULT_THETA, startup_steps=2):
        boundary = check_boundary(boundary)
        if not 0.5 <= theta <= 1.0:
            raise ValueError(f"theta: expected a value in [0.5, 1], got {theta}")
        if int(startup_steps) != startup_steps or startup_steps < 0:
            raise ValueError(f"startup_steps: expected an integer >= 0, got {startup_steps}")
        e = np.asarray(L_edges, dtype=float)
        self.L_edges = e
        self.L_centres = 0.5 * (e[1:] + e[:-1])
        dL = e[1:] - e[:-1]
        self.m = 1.0 / e[:-1] - 1.0 / e[1:]
        faces = e[1:-1]
        self.c = D_LL_per_s(faces) / (faces ** 2 * 0.5 * (dL[1:] + dL[:-1]))
        # a fixed value sits ON the edge: the edge face is half a cell from the first centre
        self.c_lo = self.c_hi = 0.0
        if boundary[0] == "fixed":
            self.c_lo = float(D_LL_per_s(e[0]) / (e[0] ** 2 * 0.5 * dL[0]))
        if boundary[1] == "fixed":
            self.c_hi = float(D_LL_per_s(e[-1]) / (e[-1] ** 2 * 0.5 * dL[-1]))
        self.F_lo, self.F_hi = (float(v) for v in boundary_values)
        self.theta = float(theta)
        self.startup_left = int(startup_steps) if self.theta < 1.0 else 0
        self.lost_lo = 0.0   # cumulative number that left through the inner edge
        self.lost_hi = 0.0

    def number(self, F):
        """``sum m_i F_i``: the drift-averaged number of particles (per radian of MLT)."""
        return float(np.dot(self.m, F))

    def advance(self, F, duration_s, dt_s):
        """Advance F (modified in place) by ``duration_s`` with steps of at most ``dt_s``.

        The first ``startup_steps`` steps of the solver's life (theta < 1) are backward-Euler
        half-step pairs; every later step is a theta step.
        """
        n = max(1, int(np.ceil(duration_s / dt_s - 1e-9)))
        dt = duration_s / n
        k = min(n, self.startup_left)
        if k:
            self._steps(F, 0.5 * dt, 1.0, 2 * k)
            self.startup_left -= k
        if n > k:
            self._steps(F, dt, self.theta, n - k)
        return F

    def _steps(self, F, dt, theta, n):
        self.lost_lo, self.lost_hi = theta_steps(F, self.m, self.c, self.c_lo, self.c_hi, self.F_lo,
                                                 self.F_hi, dt, theta, n, self.lost_lo, self.lost_hi)

    def run(self, F0, duration_s, dt_s, output_every_s):
        """Integrate from F0 and return ``(time_s, F[time, L])`` at the output cadence."""
        n_out = int(round(duration_s / output_every_s))
        if abs(n_out * output_every_s - duration_s) > 1e-6 * duration_s:
            raise ValueError(f"output_every_s: {output_every_s} s must divide the duration "
                             f"{duration_s} s")
        F = np.array(F0, dtype=float)
        out = np.empty((n_out + 1, F.size))
        out[0] = F
        for k in range(n_out):
            self.advance(F, output_every_s, dt_s)
            out[k + 1] = F
        return output_every_s * np.arange(n_out + 1), out
