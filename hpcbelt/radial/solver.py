"""Radial diffusion ``dF/dt = L^2 d/dL (D_LL / L^2 dF/dL)`` (Eq. 22-23 of Lejosne & Albert 2023).

Finite volumes in the measure ``L^-2 dL`` (the drift-averaged version of the measure of
:mod:`hpcbelt.lmlt`): with ``m_i = 1/L_lo - 1/L_hi`` the cell measure and
``c_{i+1/2} = D_LL(L_{i+1/2}) / (L_{i+1/2}^2 dL)`` the face conductance,

    m_i dF_i/dt = c_{i+1/2} (F_{i+1} - F_i) - c_{i-1/2} (F_i - F_{i-1}),

which conserves ``sum m_i F_i`` exactly except for the two boundary fluxes.  Time stepping is
the theta method: theta = 1 is backward Euler (default: unconditionally stable, keeps F >= 0
for any step because the matrix is an M-matrix), theta = 0.5 is Crank-Nicolson (second order
in time, but can oscillate or go slightly negative at sharp fronts when ``dt`` is large).

Boundaries (:data:`hpcbelt.lmlt.BOUNDARY_KINDS`): ``"fixed"`` puts a ghost cell of value ``F_b``
one cell beyond the edge (so F tends to F_b at the ghost centre, half a cell outside),
``"zero_flux"`` closes the edge.  Bad arguments raise ValueError.
"""

import numba
import numpy as np

from hpcbelt.lmlt import check_boundary


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
        Boundary face conductances (0 for zero flux).
    F_lo, F_hi : float
        Ghost values beyond the inner and outer edges.
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
        Ghost values for ``"fixed"`` edges.
    theta : float
        1 (backward Euler) or 0.5 (Crank-Nicolson); anything in [0.5, 1].
    """

    def __init__(self, L_edges, D_LL_per_s, boundary=("fixed", "fixed"), boundary_values=(0.0, 0.0),
                 theta=1.0):
        boundary = check_boundary(boundary)
        if not 0.5 <= theta <= 1.0:
            raise ValueError(f"theta: expected a value in [0.5, 1], got {theta}")
        e = np.asarray(L_edges, dtype=float)
        self.L_edges = e
        self.L_centres = 0.5 * (e[1:] + e[:-1])
        dL = e[1:] - e[:-1]
        self.m = 1.0 / e[:-1] - 1.0 / e[1:]
        faces = e[1:-1]
        self.c = D_LL_per_s(faces) / (faces ** 2 * 0.5 * (dL[1:] + dL[:-1]))
        self.c_lo = 0.0 if boundary[0] == "zero_flux" else float(D_LL_per_s(e[0]) / (e[0] ** 2 * dL[0]))
        self.c_hi = 0.0 if boundary[1] == "zero_flux" else float(D_LL_per_s(e[-1]) / (e[-1] ** 2 * dL[-1]))
        self.F_lo, self.F_hi = (float(v) for v in boundary_values)
        self.theta = float(theta)
        self.lost_lo = 0.0   # cumulative number that left through the inner edge
        self.lost_hi = 0.0

    def number(self, F):
        """``sum m_i F_i``: the drift-averaged number of particles (per radian of MLT)."""
        return float(np.dot(self.m, F))

    def advance(self, F, duration_s, dt_s):
        """Advance F (modified in place) by ``duration_s`` with steps of at most ``dt_s``."""
        n = max(1, int(np.ceil(duration_s / dt_s - 1e-9)))
        dt = duration_s / n
        tmp = np.empty_like(F)
        for _ in range(n):
            lo, hi = theta_step(F, self.m, self.c, self.c_lo, self.c_hi, self.F_lo, self.F_hi, dt,
                                self.theta, tmp)
            self.lost_lo += lo
            self.lost_hi += hi
            F[:] = tmp
        return F

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
