"""The (L, MLT) grid shared by the drift-diffusion PDE, the radial solver and the particle binning.

Cells are uniform in L (width ``dL``) and in MLT (``n_mlt`` cells over 24 h, the first one
starting at 00:00 MLT).  Values are cell averages.

The measure
-----------
F is the phase-space density of the canonical coordinates (physics.md part B): the number
of particles in a region is the integral of ``F L^-2 dL dphi``.  The measure of cell
``[L_lo, L_hi] x [phi_lo, phi_hi]`` is therefore ``(1/L_lo - 1/L_hi) dphi`` exactly, and
every conservation budget, particle weight and probe average in hpcbelt uses it.
"""

import math
from dataclasses import dataclass, field

import numpy as np

from hpcbelt.errors import InputError

TWO_PI = 2.0 * math.pi


def measure_L(L_lo, L_hi):
    """Integral of ``L^-2 dL`` over ``[L_lo, L_hi]``."""
    return 1.0 / np.asarray(L_lo, dtype=float) - 1.0 / np.asarray(L_hi, dtype=float)


@dataclass(frozen=True)
class Grid:
    """Uniform cell-centred grid in L and MLT.

    Parameters
    ----------
    L_min, L_max : float
        Domain edges in L.
    dL : float
        Cell width in L; ``(L_max - L_min) / dL`` must be (close to) an integer.
    n_mlt : int
        Number of MLT cells over 24 h (288 = 5 min of MLT).
    """

    L_min: float
    L_max: float
    dL: float
    n_mlt: int = 288
    n_L: int = field(init=False)

    def __post_init__(self):
        if not (0.0 < self.L_min < self.L_max):
            raise InputError(f"grid: need 0 < L_min < L_max, got L_min={self.L_min}, L_max={self.L_max}")
        if not self.dL > 0.0:
            raise InputError(f"grid.dL: expected a positive cell width, got {self.dL}")
        n = (self.L_max - self.L_min) / self.dL
        if abs(n - round(n)) > 1e-6 * max(1.0, n) or round(n) < 2:
            raise InputError(f"grid.dL: (L_max - L_min) / dL = {n:g} must be an integer >= 2")
        if int(self.n_mlt) < 4:
            raise InputError(f"grid.n_mlt: expected an integer >= 4, got {self.n_mlt}")
        object.__setattr__(self, "n_L", int(round(n)))
        object.__setattr__(self, "n_mlt", int(self.n_mlt))

    # --- L -----------------------------------------------------------------------------
    @property
    def L_edges(self):
        return self.L_min + self.dL * np.arange(self.n_L + 1)

    @property
    def L_centres(self):
        return self.L_min + self.dL * (np.arange(self.n_L) + 0.5)

    @property
    def measure_L(self):
        """Integral of ``L^-2 dL`` over each L cell, shape (n_L,)."""
        e = self.L_edges
        return measure_L(e[:-1], e[1:])

    # --- MLT ---------------------------------------------------------------------------
    @property
    def dphi(self):
        return TWO_PI / self.n_mlt

    @property
    def phi_edges(self):
        return self.dphi * np.arange(self.n_mlt + 1)

    @property
    def phi_centres(self):
        return self.dphi * (np.arange(self.n_mlt) + 0.5)

    @property
    def mlt_h(self):
        """MLT of the cell centres [h]."""
        return self.phi_centres * 24.0 / TWO_PI

    @property
    def cell_measure(self):
        """Measure ``(1/L_lo - 1/L_hi) dphi`` of every cell, shape (n_L, n_mlt)."""
        return np.repeat((self.measure_L * self.dphi)[:, None], self.n_mlt, axis=1)

    def number(self, F):
        """Number of particles ``sum F dmu`` represented by a cell-average array F (n_L, n_mlt)."""
        return float(np.sum(F * (self.measure_L * self.dphi)[:, None]))

    def coarsened(self, factor_L, factor_mlt):
        """The grid with cells merged in groups of ``factor_L`` x ``factor_mlt`` (same edges)."""
        if self.n_L % factor_L or self.n_mlt % factor_mlt:
            raise InputError(f"particles binning: coarsening factors ({factor_L}, {factor_mlt}) must divide "
                             f"the grid size ({self.n_L}, {self.n_mlt})")
        return Grid(self.L_min, self.L_max, self.dL * factor_L, self.n_mlt // factor_mlt)


def box_weights(grid, L_lo, L_hi, mlt_lo_h, mlt_hi_h):
    """Measure of the overlap of each cell with an (L, MLT) box, shape (n_L, n_mlt).

    The MLT interval may wrap through midnight (``mlt_lo_h > mlt_hi_h``).  The measure-weighted
    average of cell-average data over the box is ``sum(w F) / sum(w)``.
    """
    e = grid.L_edges
    lo = np.clip(e[:-1], L_lo, L_hi)
    hi = np.clip(e[1:], L_lo, L_hi)
    wl = measure_L(lo, hi) if L_hi > L_lo else np.zeros(grid.n_L)
    wl = np.where(hi > lo, wl, 0.0)
    wp = mlt_overlap(grid.phi_edges, mlt_lo_h, mlt_hi_h)
    return wl[:, None] * wp[None, :]


def mlt_overlap(phi_edges, mlt_lo_h, mlt_hi_h):
    """Length in radians of the overlap of each MLT cell with ``[mlt_lo_h, mlt_hi_h]`` (wrapping)."""
    a = (mlt_lo_h % 24.0) * TWO_PI / 24.0
    b = (mlt_hi_h % 24.0) * TWO_PI / 24.0
    intervals = [(a, b)] if b > a else [(a, TWO_PI), (0.0, b)]
    lo_e, hi_e = phi_edges[:-1], phi_edges[1:]
    out = np.zeros(len(lo_e))
    for (p, q) in intervals:
        out += np.clip(np.minimum(hi_e, q) - np.maximum(lo_e, p), 0.0, None)
    return out
