"""Ensemble statistics on blocks of members: pure numpy, no MPI, no file I/O.

Every function here works on one block of data that is already in memory, and the result for
one (time, pitch angle) column depends only on that column's values in member order, so the
same statistics come out whatever the block shape or the number of MPI ranks.
"""

from __future__ import annotations

import numpy as np

# Percentiles stored for every (time, pitch angle); 0 and 100 are the minimum and maximum.
QUANTILES = (
    ("min", 0.0),
    ("p05", 5.0),
    ("p25", 25.0),
    ("median", 50.0),
    ("p75", 75.0),
    ("p95", 95.0),
    ("max", 100.0),
)
STAT_NAMES = ("mean",) + tuple(name for name, _ in QUANTILES)
PERCENTILE_METHOD = "linear"   # numpy's default (Hyndman & Fan type 7)


def block_stats(x: np.ndarray) -> dict[str, np.ndarray]:
    """Mean and the :data:`QUANTILES` over axis 0 (members) of ``x``.

    ``x`` is overwritten (partitioned in place) to avoid a second copy of the block: peak
    memory is the block itself plus the outputs.
    """
    out = {"mean": x.mean(axis=0)}
    q = np.percentile(x, [v for _, v in QUANTILES], axis=0, method=PERCENTILE_METHOD,
                      overwrite_input=True)
    for i, (name, _) in enumerate(QUANTILES):
        out[name] = np.ascontiguousarray(q[i])
    return out


def column_histogram(values: np.ndarray, edges: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray,
                                                                        np.ndarray]:
    """Histogram of log10(values) per row, over axis 0 of ``values`` (members, time).

    Returns (counts (time, bin), below (time,), above (time,), nonpositive (time,)): values
    with log10 below the first edge, above the last edge, and values <= 0 (no logarithm).
    A value on the last edge belongs to the last bin (numpy.histogram convention).
    """
    v = np.asarray(values, float)
    n_t = v.shape[1]
    nb = edges.size - 1
    counts = np.zeros((n_t, nb), np.int64)
    below = np.zeros(n_t, np.int64)
    above = np.zeros(n_t, np.int64)
    nonpos = np.zeros(n_t, np.int64)
    for t in range(n_t):
        col = v[:, t]
        pos = col > 0
        nonpos[t] = col.size - int(pos.sum())
        lg = np.log10(col[pos])
        below[t] = int((lg < edges[0]).sum())
        above[t] = int((lg > edges[-1]).sum())
        counts[t] = np.histogram(lg, bins=edges)[0]
    return counts, below, above, nonpos


def normalise_columns(counts: np.ndarray, n_members: int, edges: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(density, column_max1) from per-column counts (time, bin).

    density: counts / (n_members * bin width), so each column integrates over log10 f to the
    fraction of members inside the bin range (1 when none fall outside).
    column_max1: counts divided by the column's largest count (0 where a column is empty).
    """
    width = np.diff(edges)
    density = counts / (float(n_members) * width[None, :])
    peak = counts.max(axis=1, keepdims=True).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        max1 = np.where(peak > 0, counts / np.where(peak > 0, peak, 1.0), 0.0)
    return density, max1


def bootstrap_median_ci(values: np.ndarray, n_boot: int, rng: np.random.Generator, confidence: float,
                        max_elements: int) -> tuple[float, float]:
    """Percentile-bootstrap confidence interval of the median of ``values`` (1-D).

    Resamples of the same size as ``values`` are drawn with replacement ``n_boot`` times, in
    batches of at most ``max_elements`` drawn values (memory bound).  Returns (low, high) at
    the two-sided ``confidence`` level.
    """
    n = values.size
    if n_boot <= 0 or n == 0:
        return float("nan"), float("nan")
    batch = max(1, min(n_boot, max_elements // max(n, 1)))
    meds = np.empty(n_boot)
    done = 0
    while done < n_boot:
        b = min(batch, n_boot - done)
        idx = rng.integers(0, n, size=(b, n))
        meds[done:done + b] = np.median(values[idx], axis=1)
        done += b
    tail = 50.0 * (1.0 - confidence)
    lo, hi = np.percentile(meds, [tail, 100.0 - tail])
    return float(lo), float(hi)


def default_ensemble_sizes(n: int, count: int = 12) -> np.ndarray:
    """About ``count`` log-spaced ensemble sizes from 1 to ``n`` (always including n)."""
    if n <= 0:
        return np.zeros(0, np.int64)
    sizes = np.unique(np.round(np.geomspace(1, n, min(count, n))).astype(np.int64))
    return sizes


def median_vs_size(values: np.ndarray, sizes: np.ndarray, n_sub: int, rng: np.random.Generator,
                   confidence: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """How the ensemble median settles as members are added.

    Returns, for each size k: the median of the first k members (file order, as the ensemble
    grows), and the (low, high) percentiles at ``confidence`` of the medians of ``n_sub``
    random subsets of k members drawn without replacement.
    """
    first = np.array([np.median(values[:k]) for k in sizes]) if sizes.size else np.zeros(0)
    lo = np.full(sizes.size, np.nan)
    hi = np.full(sizes.size, np.nan)
    tail = 50.0 * (1.0 - confidence)
    n = values.size
    if n_sub > 0:
        for i, k in enumerate(sizes):
            meds = np.array([np.median(values[rng.choice(n, size=int(k), replace=False)])
                             for _ in range(n_sub)])
            lo[i], hi[i] = np.percentile(meds, [tail, 100.0 - tail])
    return first, lo, hi


def plan_blocks(n_members: int, n_time: int, n_alpha: int, budget_bytes: int,
                itemsize: int = 8) -> list[tuple[int, int, int, int]]:
    """Split (time, alpha) into blocks whose (members x time x alpha) slab fits ``budget_bytes``.

    Whole pitch-angle rows are kept when one time of all members fits; otherwise the alpha
    axis is split too, down to a single (time, alpha) column of all members, which is the
    smallest unit an exact percentile needs.  Returns [(t0, t1, a0, a1), ...] in time order;
    the plan depends only on the sizes and the budget, never on the number of ranks.
    """
    per_value = max(n_members, 1) * itemsize
    if per_value * n_alpha <= budget_bytes:
        na = n_alpha
        nt = int(min(n_time, max(1, budget_bytes // (per_value * n_alpha))))
    else:
        na = int(max(1, budget_bytes // per_value))
        nt = 1
    blocks = []
    for t0 in range(0, n_time, nt):
        for a0 in range(0, n_alpha, na):
            blocks.append((t0, min(n_time, t0 + nt), a0, min(n_alpha, a0 + na)))
    return blocks
