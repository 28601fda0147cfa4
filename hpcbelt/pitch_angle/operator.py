"""Conservative finite-volume discretisation of the pitch-angle operator.

Grid: nodes a_i = i h, i = 0..N, h = dalpha, covering 0..90 deg.  Node i owns the control
volume [a_i - h/2, a_i + h/2] clipped to [0, 90 deg] (half cells at both ends).  With the
weight G(a) = T(a) sin 2a the equation is::

    V_i df_i/dt = F_{i+1/2} - F_{i-1/2} - V_i lambda_i f_i,
    F_{i+1/2}   = c_{i+1/2} (f_{i+1} - f_i),      c_{i+1/2} = D_{i+1/2} G(a_{i+1/2}) / h,

where V_i is the integral of G over the control volume (Gauss-Legendre quadrature, so the
half cells at 0 and 90 deg, where G vanishes, keep a positive volume).  The end faces carry no
flux (G = 0 there: the boundary condition df/da = 0 of the paper), so with no loss
sum_i V_i f_i, the discrete integral of f T sin 2a da, is conserved to round-off.

D at faces is the arithmetic mean of the two node values.  The loss term uses the fraction of
each control volume inside the loss cone::

    lambda_i = (1/V_i) * integral over (cell and a < a_LC) of G(a) / tau_L(a) da,

which equals 1/tau_L at nodes well inside the loss cone, is zero well outside, and moves
smoothly with a_LC under grid refinement (a node-based switch would jump by one cell).

The operator A = M^-1 K - diag(lambda) (M = diag V) is similar to the symmetric tridiagonal
M^-1/2 K M^-1/2 - diag(lambda), which is what the ``exact`` integrator diagonalises.

Graded grid (``spacing = "graded"``, :func:`graded_nodes_deg`).  Inside the loss cone f falls
off over sqrt(D tau_L) ~ 0.01-0.06 deg, far below the uniform spacing: the uniform grid's
slowest decay rate converges only at first order, by an amount that depends on where a_LC falls
in its cell.  The graded grid puts a cell face exactly on a_LC (two nodes at a_LC -+ d0, so
every cell is wholly inside or outside the loss cone and lambda is exactly 1/tau_L or 0 per
cell) and lets the node spacing grow geometrically away from it on both sides::

    s(d) = min(h, delta + d ln(r)),      d = |a - a_LC|,

from about ``min_dalpha_deg`` = delta at the face by the factor ``growth`` = r per cell up to
h = ``dalpha_deg``.  Beyond that every multiple of h is a node, as on the uniform grid (0, 30,
90 deg...), and inside the graded zone every multiple of 5 deg (of h if h > 5) is one too.  The
same finite volumes as above are used, with the faces halfway between nodes (cell of node i =
[(a_{i-1} + a_i)/2, (a_i + a_{i+1})/2]) and c_{i+1/2} = D_{i+1/2} G(a_{i+1/2}) / (a_{i+1} - a_i):
the scheme stays conservative, M-matrix and symmetrisable, so both integrators and the explicit
limit work unchanged.  Refining the graded grid means halving h and delta and taking the square
root of r (the node density 1/s doubles everywhere): the layer is then resolved and the error
falls at second order.
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
    dalpha_rad: float            # h (graded grid: the spacing away from the loss cone)
    volume: np.ndarray           # V_i, integral of G over the control volume (N+1,)
    face_weight: np.ndarray      # G(a_{i+1/2}) / h at the N interior faces (N,)
    loss_rate_per_s: np.ndarray  # lambda_i (N+1,)
    loss_cone_deg: float
    spacing: str = "uniform"     # "uniform" (dalpha_rad is the spacing) or "graded" (the far spacing)
    face_rad: np.ndarray | None = None   # interior faces a_{i+1/2} (N,); None: midpoints of the nodes

    @property
    def n(self) -> int:
        return self.alpha_deg.size

    @property
    def alpha_rad(self) -> np.ndarray:
        return np.radians(self.alpha_deg)

    @property
    def faces_rad(self) -> np.ndarray:
        """The N interior cell faces [rad]."""
        if self.face_rad is not None:
            return self.face_rad
        a = self.alpha_rad
        return 0.5 * (a[1:] + a[:-1])

    def content(self, f) -> np.ndarray:
        """Discrete integral of f T sin 2a da (the conserved quantity with loss off)."""
        return np.asarray(f) @ self.volume


SPACINGS = ("uniform", "graded")
DEFAULT_MIN_DALPHA_DEG = 0.005   # graded grid: spacing at the loss-cone face [deg]
DEFAULT_GROWTH = 1.25            # graded grid: ratio of neighbouring cells near the face
# Below 1e-3 deg the eigenvalues of the exact method lose accuracy: their absolute round-off is
# eps max|S| ~ eps D / delta^2, and exp(w t) over 30 days turns that into a relative error in f.
MIN_DALPHA_RANGE_DEG = (1e-3, 90.0)
GROWTH_RANGE = (1.01, 2.0)       # up to 2: still second order (smooth mapping), few extra nodes
ROUND_ANGLE_DEG = 5.0            # in the graded zone every multiple of this is a node


class GridError(ValueError):
    """A grid that cannot be built; ``key`` is the [grid] key to change."""

    def __init__(self, message: str, key: str):
        super().__init__(message)
        self.key = key


def _cells_of(dalpha_deg: float) -> int:
    n_cells = 90.0 / dalpha_deg
    if abs(n_cells - round(n_cells)) > 1e-9 * n_cells:
        raise GridError(f"90 deg is not a multiple of dalpha_deg = {dalpha_deg}", "dalpha_deg")
    return int(round(n_cells))


def graded_extra_nodes(dalpha_deg: float, min_dalpha_deg: float, growth: float) -> float:
    """Upper bound on how many more nodes the graded grid has than the uniform one (before any
    array is made): two graded zones of ln(h / delta) / ln(r) cells each, plus the anchors."""
    h, delta, g = float(dalpha_deg), float(min_dalpha_deg), np.log(growth)
    return 2.0 * (max(np.log(h / delta), 0.0) / g + 2.0) + 90.0 / ROUND_ANGLE_DEG


def graded_nodes_deg(dalpha_deg: float, loss_cone_deg: float, min_dalpha_deg: float = DEFAULT_MIN_DALPHA_DEG,
                     growth: float = DEFAULT_GROWTH) -> np.ndarray:
    """Node angles [deg] of the graded grid (see the module docstring); 0 and 90 included.

    The spacing function s(d) = min(h, delta + d ln r) of the distance d to the loss cone
    defines the node density 1/s; Phi(d) = integral of 1/s is the node number counted from the
    face.  The two nodes next to the face sit at Phi = 1/2 on either side (so the face between
    them is a_LC); anchors (the first multiple of h where s has reached h, the multiples of 5 deg
    in between, 0 and 90 deg) are nodes, and each stretch between anchors gets
    max(1, round(Delta Phi)) cells equally spaced in Phi (stretched by at most 1/(2 Delta Phi)).
    Beyond the graded zone every multiple of h is a node.  With loss_cone_deg = 0 (no loss
    cone, no layer) this is the uniform grid.
    """
    h_in = float(dalpha_deg)
    n_cells = _cells_of(h_in)
    uniform = np.arange(n_cells + 1) * (90.0 / n_cells)
    lc = float(loss_cone_deg)
    if lc <= 0:
        return uniform
    h = 90.0 / n_cells
    delta = float(min_dalpha_deg)
    if not 0 < delta <= h:
        raise GridError(f"expected 0 < min_dalpha_deg <= dalpha_deg = {h:g} deg, got {delta:g}", "min_dalpha_deg")
    if not growth > 1:
        raise GridError(f"expected growth > 1, got {growth:g}", "growth")
    g = float(np.log(growth))
    d_star = (h - delta) / g                          # where s(d) reaches h
    phi_star = np.log(h / delta) / g

    def phi(d):
        d = np.asarray(d, float)
        return np.where(d <= d_star, np.log1p(g * np.minimum(d, d_star) / delta) / g,
                        phi_star + (d - d_star) / h)

    def dist(p):
        p = np.asarray(p, float)
        return np.where(p <= phi_star, delta * np.expm1(g * np.minimum(p, phi_star)) / g,
                        d_star + (p - phi_star) * h)

    d0 = float(dist(0.5))
    if lc - d0 <= 0 or lc + d0 >= 90:
        raise GridError(f"the loss cone ({lc:g} deg) is within min_dalpha_deg = {delta:g} deg of 0 or 90 deg: "
                        "use a smaller min_dalpha_deg or spacing = 'uniform'", "min_dalpha_deg")
    nodes = []
    for side in (-1, 1):                              # towards 0 deg, towards 90 deg
        # the transition: the first multiple of h (going away from the face) past the graded
        # zone and at least one cell from the face node; the end (0 or 90) if there is none
        ks = (np.arange(int(np.floor(lc / h)), -1, -1) if side < 0
              else np.arange(int(np.ceil(lc / h)), n_cells + 1))
        d_k = np.abs(uniform[ks] - lc)
        ok = np.flatnonzero((d_k >= d_star) & (phi(d_k) >= 1.5))
        k_trans = int(ks[ok[0]]) if ok.size else (0 if side < 0 else n_cells)
        d_trans = abs(uniform[k_trans] - lc)
        # round angles strictly inside the graded zone: multiples of 5 deg (of h if coarser), at
        # least half a cell from the face node and, unless on the uniform grid, a cell from the
        # transition (no sliver cell there)
        step = max(ROUND_ANGLE_DEG, h)
        rounds = np.arange(1, int(round(90.0 / step))) * step
        d_r = side * (rounds - lc)
        on_uniform = np.abs(rounds / h - np.round(rounds / h)) < 1e-9
        keep = ((d_r > 0) & (d_r < d_trans) & (phi(np.abs(d_r)) >= 1.0)
                & (on_uniform | (phi(d_trans) - phi(np.abs(d_r)) >= 1.0)))
        order = np.argsort(d_r[keep])
        anchors = list(zip(d_r[keep][order].tolist(), rounds[keep][order].tolist()))
        anchors.append((d_trans, float(uniform[k_trans])))         # exact angles for the anchors
        side_nodes = [lc + side * d0]
        p_prev = 0.5
        for d_a, a_a in anchors:
            p_a = float(phi(d_a))
            n = max(1, int(round(p_a - p_prev)))
            inner = p_prev + (p_a - p_prev) * np.arange(1, n) / n
            side_nodes.extend((lc + side * dist(inner)).tolist())
            side_nodes.append(a_a)
            p_prev = p_a
        beyond = uniform[:k_trans] if side < 0 else uniform[k_trans + 1:]
        nodes.append(np.concatenate([np.asarray(side_nodes), beyond]))
    out = np.unique(np.concatenate(nodes))
    if out[0] != 0.0 or out[-1] != 90.0 or np.any(np.diff(out) <= 0):  # pragma: no cover - construction bug
        raise ValueError("graded grid construction failed")
    return out


def make_grid(dalpha_deg: float, loss_cone_deg: float, L: float, energy_MeV: float,
              earth_radius_m: float | None = None, bounce=None, *, spacing: str = "uniform",
              min_dalpha_deg: float = DEFAULT_MIN_DALPHA_DEG, growth: float = DEFAULT_GROWTH) -> Grid:
    """Build the grid for spacing ``dalpha_deg`` (90 must be a multiple of it).

    ``spacing = "graded"`` refines towards the loss-cone angle (:func:`graded_nodes_deg`, with
    ``min_dalpha_deg`` and ``growth``); ``"uniform"`` is the paper's grid (bit for bit as before).
    ``bounce`` replaces T(a) (used by tests that need the analytic Legendre case T = const).
    """
    if spacing == "graded":
        return grid_from_nodes(graded_nodes_deg(dalpha_deg, loss_cone_deg, min_dalpha_deg, growth),
                               loss_cone_deg, L, energy_MeV, earth_radius_m, bounce,
                               far_dalpha_deg=90.0 / _cells_of(dalpha_deg))
    if spacing != "uniform":
        raise GridError(f"expected one of {', '.join(map(repr, SPACINGS))}, got {spacing!r}", "spacing")
    n_cells = _cells_of(dalpha_deg)
    h = np.pi / 2 / n_cells
    alpha_deg = np.arange(n_cells + 1) * (90.0 / n_cells)
    alpha = np.radians(alpha_deg)
    G = (lambda a: weight(a)) if bounce is None else (lambda a: bounce(a) * np.sin(2 * a))
    lo = np.clip(alpha - h / 2, 0.0, np.pi / 2)
    hi = np.clip(alpha + h / 2, 0.0, np.pi / 2)
    volume = _integrate(G, lo, hi)
    face_weight = G(alpha[:-1] + h / 2) / h

    loss = _loss_rates(G, lo, hi, volume, loss_cone_deg, L, energy_MeV, earth_radius_m)
    return Grid(alpha_deg, h, volume, face_weight, loss, float(loss_cone_deg))


def _loss_rates(G, lo, hi, volume, loss_cone_deg, L, energy_MeV, earth_radius_m):
    """lambda_i: integral of G / tau_L over the part of each cell inside the loss cone, / V_i."""
    lc = np.radians(loss_cone_deg)
    loss = np.zeros_like(volume)
    if lc > 0:
        kw = {} if earth_radius_m is None else {"earth_radius_m": earth_radius_m}
        rate = lambda a: G(a) / loss_time_s(a, L, energy_MeV, **kw)  # noqa: E731
        hi_lc = np.minimum(hi, lc)
        inside = hi_lc > lo
        loss[inside] = _integrate(rate, lo[inside], hi_lc[inside]) / volume[inside]
    return loss


def grid_from_nodes(alpha_deg, loss_cone_deg: float, L: float, energy_MeV: float,
                    earth_radius_m: float | None = None, bounce=None, far_dalpha_deg: float | None = None) -> Grid:
    """The finite volumes of any increasing node set from 0 to 90 deg (faces halfway between
    nodes; a face within 1e-9 deg of the loss-cone angle is put exactly on it)."""
    alpha_deg = np.asarray(alpha_deg, float)
    if alpha_deg[0] != 0.0 or alpha_deg[-1] != 90.0 or np.any(np.diff(alpha_deg) <= 0):
        raise ValueError("grid nodes must increase strictly from 0 to 90 deg")
    alpha = np.radians(alpha_deg)
    G = (lambda a: weight(a)) if bounce is None else (lambda a: bounce(a) * np.sin(2 * a))
    faces = 0.5 * (alpha[1:] + alpha[:-1])
    lc = np.radians(loss_cone_deg)
    j = int(np.argmin(np.abs(faces - lc)))
    if loss_cone_deg > 0 and abs(faces[j] - lc) < np.radians(1e-9):
        faces[j] = lc
    lo = np.concatenate([[0.0], faces])
    hi = np.concatenate([faces, [np.pi / 2]])
    volume = _integrate(G, lo, hi)
    face_weight = G(faces) / np.diff(alpha)
    loss = _loss_rates(G, lo, hi, volume, loss_cone_deg, L, energy_MeV, earth_radius_m)
    h = np.radians(far_dalpha_deg) if far_dalpha_deg is not None else float(np.diff(alpha).max())
    return Grid(alpha_deg, float(h), volume, face_weight, loss, float(loss_cone_deg), "graded", faces)


def face_coefficients(grid: Grid, daa_nodes: np.ndarray) -> np.ndarray:
    """c_{i+1/2} = D_{i+1/2} G_{i+1/2} / (a_{i+1} - a_i) for one profile (N,) or a stack (..., N)."""
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
