"""The (L, MLT) plane of the Lejosne & Albert (2023) study: grid, measure, boxes, regions, edges.

Shared by the drift-diffusion PDE (:mod:`hpcbelt.drift`), the radial solver
(:mod:`hpcbelt.radial`) and the test particles (:mod:`hpcbelt.particles`), which all sit above
this module; it imports nothing of theirs.

Grid
----
Cells are uniform in L (width ``dL``) and in MLT (``n_mlt`` cells over 24 h, the first one
starting at 00:00 MLT).  Values on the grid are cell averages.  MLT ``h`` is the angle
``phi = 2 pi h / 24`` from midnight, eastward.

The measure
-----------
F is the phase-space density of the canonical coordinates (physics.md part B): the number
of particles in a region is the integral of ``F L^-2 dL dphi``.  The measure of the cell
``[L_lo, L_hi] x [phi_lo, phi_hi]`` is therefore ``(1/L_lo - 1/L_hi) dphi`` exactly, and
every conservation budget, particle weight and probe average in hpcbelt uses it.

Boxes
-----
A :class:`Box` is ``L_lo <= L <= L_hi`` times an MLT interval from ``mlt_lo_h`` to
``mlt_hi_h`` that may wrap through midnight (``mlt_lo_h > mlt_hi_h``).  Probe boxes (where F is
averaged) and the regions of the paper's injection are boxes.

Problems with arguments raise ValueError; the study layer names the key.
"""

from __future__ import annotations

import math
from dataclasses import astuple, dataclass, field

import numpy as np

TWO_PI = 2.0 * math.pi

# Kinds of the inner and outer L edge: "fixed" holds F at a given value on the edge itself (L_min
# or L_max; value 0: absorbing), "zero_flux" closes the edge (issue 17: the value was once held
# half a cell outside, at a ghost-cell centre).
BOUNDARY_KINDS = ("fixed", "zero_flux")


def measure_L(L_lo, L_hi):
    """Integral of ``L^-2 dL`` over ``[L_lo, L_hi]``."""
    return 1.0 / np.asarray(L_lo, dtype=float) - 1.0 / np.asarray(L_hi, dtype=float)


def mlt_span_h(mlt_lo_h, mlt_hi_h):
    """Length in hours of the MLT interval from ``mlt_lo_h`` to ``mlt_hi_h`` (wrapping through
    midnight; equal ends mean the whole day)."""
    return (mlt_hi_h - mlt_lo_h) % 24.0 or 24.0


def mlt_to_phi(mlt_h):
    """The angle from midnight in [0, 2 pi) of an MLT in hours."""
    return (mlt_h % 24.0) * TWO_PI / 24.0


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
            raise ValueError(f"need 0 < L_min < L_max, got L_min={self.L_min}, L_max={self.L_max}")
        if not self.dL > 0.0:
            raise ValueError(f"dL: expected a positive cell width, got {self.dL}")
        n = (self.L_max - self.L_min) / self.dL
        if abs(n - round(n)) > 1e-6 * max(1.0, n) or round(n) < 2:
            raise ValueError(f"(L_max - L_min) / dL = {n:g} must be an integer >= 2")
        if int(self.n_mlt) < 4:
            raise ValueError(f"n_mlt: expected an integer >= 4, got {self.n_mlt}")
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
    def ring_measure(self):
        """Measure ``(1/L_lo - 1/L_hi) dphi`` of one cell of each ring, shape (n_L,)."""
        return self.measure_L * self.dphi

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
            raise ValueError(f"coarsening factors ({factor_L}, {factor_mlt}) must divide the grid size "
                             f"({self.n_L}, {self.n_mlt})")
        return Grid(self.L_min, self.L_max, self.dL * factor_L, self.n_mlt // factor_mlt)


@dataclass(frozen=True)
class Box:
    """An (L, MLT) box ``L_lo <= L <= L_hi`` x ``mlt_lo_h .. mlt_hi_h`` (MLT may wrap through midnight).

    Unpacks as ``(L_lo, L_hi, mlt_lo_h, mlt_hi_h)``.
    """

    L_lo: float
    L_hi: float
    mlt_lo_h: float
    mlt_hi_h: float

    def __iter__(self):
        return iter(astuple(self))

    @classmethod
    def of(cls, box) -> "Box":
        """A Box from a Box or a 4-sequence ``(L_lo, L_hi, mlt_lo_h, mlt_hi_h)``."""
        return box if isinstance(box, cls) else cls(*(float(v) for v in box))

    @property
    def span_h(self):
        """Length of the MLT interval [h]."""
        return mlt_span_h(self.mlt_lo_h, self.mlt_hi_h)

    @property
    def phi_lo(self):
        return mlt_to_phi(self.mlt_lo_h)

    @property
    def phi_hi(self):
        return mlt_to_phi(self.mlt_hi_h)

    @property
    def measure(self):
        """Integral of ``L^-2 dL dphi`` over the box."""
        return (1.0 / self.L_lo - 1.0 / self.L_hi) * self.span_h * np.pi / 12.0

    def weights(self, grid: Grid):
        """:func:`box_weights` of this box on ``grid``."""
        return box_weights(grid, self.L_lo, self.L_hi, self.mlt_lo_h, self.mlt_hi_h)


# The paper's probe (their Fig. 2): L = 3.5 +- 0.05, 22:00 +- 00:15 MLT.
PAPER_PROBE_NAME = "L3.5_22MLT"
PAPER_PROBE = Box(3.45, 3.55, 21.75, 22.25)

# The paper's initial region (Sec. 4.1): F = 1 inside, 0 outside.  3.8 <= L <= 7 at every MLT,
# and 2.5 <= L < 3.8 between 22:15 and 01:45 MLT.
INJECTION_REGIONS = (
    Box(3.8, 7.0, 0.0, 24.0),
    Box(2.5, 3.8, 22.25, 1.75),
)


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
    a = mlt_to_phi(mlt_lo_h)
    b = mlt_to_phi(mlt_hi_h)
    intervals = [(a, b)] if b > a else [(a, TWO_PI), (0.0, b)]
    lo_e, hi_e = phi_edges[:-1], phi_edges[1:]
    out = np.zeros(len(lo_e))
    for (p, q) in intervals:
        out += np.clip(np.minimum(hi_e, q) - np.maximum(lo_e, p), 0.0, None)
    return out


def check_boundary(kinds) -> tuple:
    """``kinds`` as a tuple (inner, outer) of :data:`BOUNDARY_KINDS`; ValueError otherwise."""
    kinds = tuple(kinds)
    if len(kinds) != 2:
        raise ValueError(f"boundary: expected two kinds (L_min, L_max), got {kinds!r}")
    for k in kinds:
        if k not in BOUNDARY_KINDS:
            raise ValueError(f"boundary: expected one of {BOUNDARY_KINDS}, got {k!r}")
    return kinds
