"""The unit-intensity table of a database build, its interpolation, and observation pairs.

Because D is exactly linear in the intensity Y (with spectrum shape, X and B_eq fixed),
every observation's profile is D_i(a0) = Y_i D1(a0; X_i, B_eq,i), where D1 is the profile
for Y = 1 nT^2/Hz.  D1 is tabulated on a grid uniform in log X and in B_eq spanning the
pairs, and interpolated bilinearly in (log X, B_eq) *in log D1* (geometric weights), which
follows the near-exponential fall of D at the cut-off angle far better than linear weights;
where a corner is exactly 0 (no resonance) the weights fall back to linear in D1 so that
zeros stay zeros.  See tests/dxx/test_database.py for the measured interpolation error.

The observations come from the synthetic generator or from a CSV of pairs
(:func:`read_pairs_csv`).  The database file they end up in -- its format, checks and
writer -- is :mod:`hpcbelt.daa_database`.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import InputError


# --------------------------------------------------------------------------------------
# table grid and interpolation
# --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class TableGrid:
    """Nodes of the unit-intensity table: X uniform in log10, B_eq uniform."""

    X: np.ndarray
    B_eq_nT: np.ndarray

    @property
    def nodes(self) -> list[tuple[float, float]]:
        """(X, B_eq) of every table entry, B-major: entry k = iB * nX + iX."""
        return [(float(x), float(b)) for b in self.B_eq_nT for x in self.X]


def table_grid(X: np.ndarray, B_eq_nT: np.ndarray, dlog10_X: float, dB_rel: float) -> TableGrid:
    """The smallest grid with spacing <= ``dlog10_X`` in log10 X and <= ``dB_rel`` (relative
    to the mean B_eq) in B_eq that spans [min, max] of the pairs exactly."""
    lo, hi = float(np.min(X)), float(np.max(X))
    nx = max(2, int(math.ceil(math.log10(hi / lo) / dlog10_X - 1e-9)) + 1) if hi > lo else 1
    xg = np.geomspace(lo, hi, nx) if nx > 1 else np.array([lo])
    blo, bhi = float(np.min(B_eq_nT)), float(np.max(B_eq_nT))
    span = (bhi - blo) / (0.5 * (bhi + blo))
    nb = max(2, int(math.ceil(span / dB_rel - 1e-9)) + 1) if bhi > blo else 1
    bg = np.linspace(blo, bhi, nb) if nb > 1 else np.array([blo])
    return TableGrid(X=xg, B_eq_nT=bg)


def _bracket(grid: np.ndarray, v: np.ndarray, log: bool):
    """Lower index and weight of ``v`` in ``grid`` (clipped to the grid)."""
    if grid.size == 1:
        return np.zeros(v.size, dtype=np.int64), np.zeros(v.size)
    g = np.log(grid) if log else grid
    x = np.log(v) if log else v
    j = np.clip(np.searchsorted(g, x, side="right") - 1, 0, g.size - 2)
    w = np.clip((x - g[j]) / (g[j + 1] - g[j]), 0.0, 1.0)
    return j, w


def referenced_nodes(grid: TableGrid, X: np.ndarray, B_eq_nT: np.ndarray) -> np.ndarray:
    """Sorted flat indices (iB * nX + iX, the order of :attr:`TableGrid.nodes`) of every node
    :func:`interpolate_table` reads for these pairs: the four corners of each pair's cell,
    zero weights included (a corner of weight 0 still decides geometric or linear weights).
    Nodes no pair's cell touches never enter a profile, so a build need not compute them."""
    ix, ix1, wx, ib, ib1, wb = _cells(grid, X, B_eq_nT)
    nx = grid.X.size
    flat = np.concatenate([b_ * nx + x_ for b_ in (ib, ib1) for x_ in (ix, ix1)])
    return np.unique(flat)


def _cells(grid: TableGrid, X, B_eq_nT):
    """Each pair's table cell: lower and upper corner indices and weights in log X and B_eq."""
    ix, wx = _bracket(grid.X, np.asarray(X, float), log=True)
    ib, wb = _bracket(grid.B_eq_nT, np.asarray(B_eq_nT, float), log=False)
    return (ix, np.minimum(ix + 1, grid.X.size - 1), wx,
            ib, np.minimum(ib + 1, grid.B_eq_nT.size - 1), wb)


def interpolate_table(grid: TableGrid, table: np.ndarray, X: np.ndarray,
                      B_eq_nT: np.ndarray) -> np.ndarray:
    """D1 at each pair: bilinear in (log X, B_eq), geometric in D1 where all corners > 0.

    ``table`` has shape (nB, nX, n_alpha).  Returns (n_pairs, n_alpha).
    """
    ix, ix1, wx, ib, ib1, wb = _cells(grid, X, B_eq_nT)
    corners = (table[ib, ix], table[ib, ix1], table[ib1, ix], table[ib1, ix1])
    weights = ((1 - wb) * (1 - wx), (1 - wb) * wx, wb * (1 - wx), wb * wx)
    lin = sum(w[:, None] * c for w, c in zip(weights, corners))
    positive = np.all([c > 0 for c in corners], axis=0)
    with np.errstate(divide="ignore"):
        logs = sum(w[:, None] * np.log(np.where(positive, c, 1.0))
                   for w, c in zip(weights, corners))
    return np.where(positive, np.exp(logs), lin)


# --------------------------------------------------------------------------------------
# pairs from CSV
# --------------------------------------------------------------------------------------

MAX_X = 1e3          # omega_pe / Omega_e at the equator (observed: 1 to ~30)
MAX_Y = 1e3          # nT^2/Hz at the reference frequency (observed hiss: below 1e-2)
MAX_B = 1e6          # nT (the dipole field at the equator of L = 1 is 31,000 nT)


def read_pairs_csv(path: str | Path, default_B_eq_nT: float):
    """Read ``X, Y[, B_eq_nT]`` columns; every bad row is reported (row numbers from 1 for the
    first data row, i.e. file line - 1), and nothing is returned if any is bad.

    Returns (X, Y, B_eq_nT) float arrays.
    """
    p = Path(path)
    if not p.is_file():
        raise InputError(f"pairs file {p}: not found")
    try:
        with open(p, newline="", encoding="utf-8") as fh:
            rows = list(csv.reader(fh))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise InputError(f"pairs file {p}: cannot read ({exc})") from None
    rows = [r for r in rows if r and not (len(r) == 1 and not r[0].strip())]
    if not rows:
        raise InputError(f"pairs file {p}: empty; expected a header line with columns X, Y "
                         "(optional B_eq_nT)")
    header = [h.strip() for h in rows[0]]
    for need in ("X", "Y"):
        if need not in header:
            raise InputError(f"pairs file {p}: no column '{need}' in header {header}; expected "
                             "columns X (omega_pe/Omega_e at the equator), Y (intensity at the "
                             "reference frequency, nT^2/Hz), optional B_eq_nT")
    ix, iy = header.index("X"), header.index("Y")
    ib = header.index("B_eq_nT") if "B_eq_nT" in header else None
    X, Y, B, problems = [], [], [], []
    # the upper bounds keep the resonance and bounce integrals in floating-point range (an X
    # of 1e300 overflows the resonance condition, a Y of 1e300 gives an infinite D)
    rules = (("X", f"finite 1 < X <= {MAX_X:g}", lambda v: math.isfinite(v) and 1.0 < v <= MAX_X),
             ("Y", f"finite 0 <= Y <= {MAX_Y:g} nT^2/Hz", lambda v: math.isfinite(v) and 0.0 <= v <= MAX_Y),
             ("B_eq_nT", f"finite 0 < B_eq_nT <= {MAX_B:g}", lambda v: math.isfinite(v) and 0.0 < v <= MAX_B))
    for k, r in enumerate(rows[1:], start=1):
        vals = []
        for (name, expect, ok), i in zip(rules, (ix, iy, ib)):
            if i is None:
                v = float(default_B_eq_nT)
            else:
                text = r[i].strip() if i < len(r) else ""
                try:
                    v = float(text)
                except ValueError:
                    problems.append(f"row {k}: {name} = {text or '(empty)'!r} is not a number "
                                    f"(expected {expect})")
                    vals.append(math.nan)
                    continue
            if not ok(v):
                problems.append(f"row {k}: {name} = {v} (expected {expect})")
            vals.append(v)
        X.append(vals[0])
        Y.append(vals[1])
        B.append(vals[2])
    if not X:
        raise InputError(f"pairs file {p}: no data rows")
    if problems:
        shown = "; ".join(problems[:20])
        more = f"; ... {len(problems) - 20} more" if len(problems) > 20 else ""
        raise InputError(f"pairs file {p}: {len(problems)} bad value(s), nothing written: "
                         f"{shown}{more}")
    return np.array(X), np.array(Y), np.array(B)
