"""Conservative finite-volume discretisation of the pitch-angle operator.

Grid: nodes a_i = i h, i = 0..N, h = dalpha, covering 0..90 deg.  Node i owns the control
volume [a_i - h/2, a_i + h/2] clipped to [0, 90 deg] (half cells at both ends).  With the
weight G(a) = T(a) sin 2a the equation is

    V_i df_i/dt = F_{i+1/2} - F_{i-1/2} - V_i lambda_i f_i,
    F_{i+1/2}   = c_{i+1/2} (f_{i+1} - f_i),      c_{i+1/2} = D_{i+1/2} G(a_{i+1/2}) / h,

where V_i is the integral of G over the control volume (Gauss-Legendre quadrature, so the
half cells at 0 and 90 deg, where G vanishes, keep a positive volume).  The end faces carry no
flux (G = 0 there: the boundary condition df/da = 0 of the paper), so with no loss
sum_i V_i f_i, the discrete integral of f T sin 2a da, is conserved to round-off.

D at faces is the arithmetic mean of the two node values.  The loss term uses the fraction of
each control volume inside the loss cone:

    lambda_i = (1/V_i) * integral over (cell and a < a_LC) of G(a) / tau_L(a) da,

which equals 1/tau_L at nodes well inside the loss cone, is zero well outside, and moves
smoothly with a_LC under grid refinement (a node-based switch would jump by one cell).

The operator A = M^-1 K - diag(lambda) (M = diag V) is similar to the symmetric tridiagonal
M^-1/2 K M^-1/2 - diag(lambda), which is what the ``exact`` integrator diagonalises.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .physics import bounce_function, loss_time_s

_GL_X, _GL_W = np.polynomial.legendre.leggauss(16)


def _integrate(func, lo, hi):
    """Gauss-Legendre (16 points) of ``func`` over each interval [lo_i, hi_i] (vectorised)."""
    lo = np.asarray(lo, float)[:, None]
    hi = np.asarray(hi, float)[:, None]
    x = 0.5 * (hi + lo) + 0.5 * (hi - lo) * _GL_X[None, :]
    return (0.5 * (hi - lo) * _GL_W[None, :] * func(x)).sum(axis=1)


def weight(alpha_rad):
    """G(a) = T(a) sin 2a, the Jacobian weight of the bounce-averaged equation."""
    return bounce_function(alpha_rad) * np.sin(2.0 * alpha_rad)


@dataclass(frozen=True)
class Grid:
    """Pitch-angle grid, cell volumes and loss rates; everything the kernels need but D."""

    alpha_deg: np.ndarray        # node angles (N+1,)
    dalpha_rad: float            # h
    volume: np.ndarray           # V_i, integral of G over the control volume (N+1,)
    face_weight: np.ndarray      # G(a_{i+1/2}) / h at the N interior faces (N,)
    loss_rate_per_s: np.ndarray  # lambda_i (N+1,)
    loss_cone_deg: float

    @property
    def n(self) -> int:
        return self.alpha_deg.size

    @property
    def alpha_rad(self) -> np.ndarray:
        return np.radians(self.alpha_deg)

    def content(self, f) -> np.ndarray:
        """Discrete integral of f T sin 2a da (the conserved quantity with loss off)."""
        return np.asarray(f) @ self.volume


def make_grid(dalpha_deg: float, loss_cone_deg: float, L: float, energy_MeV: float,
              earth_radius_m: float | None = None, bounce=None) -> Grid:
    """Build the grid for spacing ``dalpha_deg`` (90 must be a multiple of it).

    ``bounce`` replaces T(a) (used by tests that need the analytic Legendre case T = const).
    """
    n_cells = 90.0 / dalpha_deg
    if abs(n_cells - round(n_cells)) > 1e-9 * n_cells:
        raise ValueError(f"90 deg is not a multiple of dalpha_deg = {dalpha_deg}")
    n_cells = int(round(n_cells))
    h = np.pi / 2 / n_cells
    alpha_deg = np.arange(n_cells + 1) * (90.0 / n_cells)
    alpha = np.radians(alpha_deg)
    G = (lambda a: weight(a)) if bounce is None else (lambda a: bounce(a) * np.sin(2 * a))
    lo = np.clip(alpha - h / 2, 0.0, np.pi / 2)
    hi = np.clip(alpha + h / 2, 0.0, np.pi / 2)
    volume = _integrate(G, lo, hi)
    face_weight = G(alpha[:-1] + h / 2) / h

    lc = np.radians(loss_cone_deg)
    if lc > 0:
        kw = {} if earth_radius_m is None else {"earth_radius_m": earth_radius_m}
        rate = lambda a: G(a) / loss_time_s(a, L, energy_MeV, **kw)  # noqa: E731
        hi_lc = np.minimum(hi, lc)
        inside = hi_lc > lo
        loss = np.zeros_like(alpha)
        loss[inside] = _integrate(rate, lo[inside], hi_lc[inside]) / volume[inside]
    else:
        loss = np.zeros_like(alpha)
    return Grid(alpha_deg, h, volume, face_weight, loss, float(loss_cone_deg))


def face_coefficients(grid: Grid, daa_nodes: np.ndarray) -> np.ndarray:
    """c_{i+1/2} = D_{i+1/2} G_{i+1/2} / h for one profile (N,) or a stack (..., N)."""
    d = np.asarray(daa_nodes, float)
    return 0.5 * (d[..., 1:] + d[..., :-1]) * grid.face_weight


def apply_operator(grid: Grid, daa_nodes: np.ndarray, f: np.ndarray) -> np.ndarray:
    """df/dt for state ``f`` with profile ``daa_nodes`` (reference implementation, numpy)."""
    c = face_coefficients(grid, daa_nodes)
    flux = c * np.diff(f)
    div = np.zeros_like(f)
    div[:-1] += flux
    div[1:] -= flux
    return div / grid.volume - grid.loss_rate_per_s * f


def symmetric_tridiagonal(grid: Grid, daa_nodes: np.ndarray):
    """Diagonal and off-diagonal of S = M^-1/2 K M^-1/2 - diag(lambda) for each profile.

    ``daa_nodes`` may be (N+1,) or (P, N+1); returns arrays shaped (..., N+1) and (..., N).
    """
    c = face_coefficients(grid, daa_nodes)
    v = grid.volume
    diag = np.zeros(c.shape[:-1] + (v.size,))
    diag[..., :-1] -= c
    diag[..., 1:] -= c
    diag = diag / v - grid.loss_rate_per_s
    off = c / np.sqrt(v[:-1] * v[1:])
    return diag, off


def explicit_dt_limit(grid: Grid, daa_nodes: np.ndarray) -> float:
    """Largest dt [s] for which a forward-Euler diffusion step keeps every weight >= 0.

    With dt <= V_i / (c_{i-1/2} + c_{i+1/2}) for every i, the new f_i is a non-negative
    combination of old values: the step is stable (max norm) and preserves f >= 0.
    ``daa_nodes`` may be a stack of profiles: the limit is taken over all of them.
    """
    c = face_coefficients(grid, np.atleast_2d(daa_nodes)).max(axis=0)
    out = np.zeros(grid.n)
    out[:-1] += c
    out[1:] += c
    with np.errstate(divide="ignore"):
        lim = np.where(out > 0, grid.volume / np.where(out > 0, out, 1.0), np.inf)
    return float(lim.min())
