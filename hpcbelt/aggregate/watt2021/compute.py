"""The statistics of a pitch-angle run: streamed over its members in bounded memory, divided
over MPI ranks.

Work decomposition
------------------
Before the plan is made, the driver reads every finished member whole, over the ranks, and
checks it against the checksum the run stored when it wrote it and that f is finite and >= 0
(:data:`SCREEN`, :mod:`hpcbelt.aggregate.damage`): a damaged member stops the aggregation with
one line naming it, or with ``--skip-damaged`` is taken out of ``ex.done`` -- the run every
pass below, the plan (blocks, ensemble sizes, Fig 3 members) and the summary see -- as if its
member_done were 0.

Pass 1 walks every experiment in blocks of (time, pitch angle) holding *all finished members*
(exact percentiles need every member of a column).  Blocks are sized by the per-rank memory
budget only (:func:`stats.plan_blocks`), dealt round-robin over ranks and gathered on rank 0
in block order (:func:`hpcbelt.parallel.deal_and_gather`).  Because the block plan and every
random stream (bootstrap, subsets) depend only on the file and the options, any number of
ranks gives the same numbers.

Pass 2 (only when the PDF bins are automatic) reads the one pitch-angle column of every finished
member in member blocks and histograms log10 f with bins chosen from the pass-1 minimum and
maximum; with ``--bins`` given, the histogram is made in pass 1 and pass 2 is skipped.

Memory bound per rank: about ``memory_bytes`` for the member slab and its working copies
(slab <= memory_bytes / 2, bootstrap batches <= memory_bytes / 4), plus this rank's share of the
summary arrays.  The one exception: a single (time, pitch angle) column of all finished members
(8 bytes per member) is the smallest slab an exact percentile can use, so with more than
memory_bytes / 16 members the slab is that column.  Rank 0 also holds the whole summary:
about 18 x n_time x n_alpha x 8 bytes per experiment, independent of the member count.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from ...errors import InputError
from ...output import open_h5
from ...parallel import deal_and_gather
from ...pitch_angle.runfile import (F, DAA_INTEGRAL, PitchAngleRun, dataset_path, member_problem,
                                    read_member_column, read_slab)
from .. import damage, stats
from .plan import SECONDS_PER_DAY, Plan


def _rng(seed: int, *keys: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([int(seed), *[int(k) for k in keys]]))


def _pass1_block(h5, run: PitchAngleRun, plan: Plan, e: int, block, buf_cache: dict) -> dict:
    """Statistics of one (time, alpha) block of one experiment over its finished members."""
    ex = run.experiments[e]
    t0, t1, a0, a1 = block
    shape = (ex.n_done, t1 - t0, a1 - a0)
    buf = buf_cache.get(shape)
    if buf is None:
        buf_cache.clear()
        buf = buf_cache[shape] = np.empty(shape)
    opts = plan.opts
    out = {"block": block}
    read_slab(h5, dataset_path(ex.name, F), ex, t0, t1, a0, a1, buf)
    col = None
    if a0 <= plan.ia < a1:
        col = buf[:, :, plan.ia - a0].copy()       # (n_done, nt) in member order
    out["f"] = stats.block_stats(buf)
    read_slab(h5, dataset_path(ex.name, DAA_INTEGRAL), ex, t0, t1, a0, a1, buf)
    out["daa_integral"] = stats.block_stats(buf)
    if col is not None:
        max_el = max(1, opts.memory_bytes // 4 // 24)
        lo = np.full(t1 - t0, np.nan)
        hi = np.full(t1 - t0, np.nan)
        for j in range(t1 - t0):
            lo[j], hi[j] = stats.bootstrap_median_ci(col[:, j], opts.n_boot, _rng(opts.seed, e, t0 + j, 1),
                                                     opts.confidence, max_el)
        out["boot"] = (lo, hi)
        conv = {}
        for d, ti in enumerate(plan.snap_index):
            if t0 <= ti < t1:
                conv[d] = stats.median_vs_size(col[:, ti - t0], plan.sizes[ex.name], opts.n_sub,
                                               _rng(opts.seed, e, ti, 2), opts.confidence)
        out["conv"] = conv
        if plan.edges is not None:
            out["hist"] = stats.column_histogram(col, plan.edges)
    return out


def _pass2_block(h5, run: PitchAngleRun, plan: Plan, e: int, rows, edges) -> tuple:
    ex = run.experiments[e]
    r0, r1 = rows
    col = np.empty((r1 - r0, run.n_time))
    read_member_column(h5, dataset_path(ex.name, F), ex, r0, r1, plan.ia, col)
    return stats.column_histogram(col, edges)


def compute(run: PitchAngleRun, plan: Plan, comm) -> dict | None:
    """Compute every statistic (all ranks); returns the assembled results on rank 0, None elsewhere."""
    rank = comm.Get_rank()
    results = _pass1(run, plan, comm)
    edges = None
    if rank == 0:
        edges = plan.edges if plan.edges is not None else auto_edges(results, run, plan)
        results["edges"] = edges
        results["edges_auto"] = plan.edges is None
    edges = comm.bcast(edges, root=0)
    if plan.edges is None:
        hist = _pass2(run, plan, comm, edges)
        if rank == 0:
            for e, h in hist.items():
                results["exp"][run.experiments[e].name]["hist"] = h
    if rank == 0:
        for ex in run.experiments:
            r = results["exp"][ex.name]
            if ex.n_done and "hist" in r:
                r["pdf_density"], r["pdf_max1"] = stats.normalise_columns(r["hist"][0], ex.n_done, edges)
    return results


# ------------------------------------------------------------------------------------------
# Damaged members (hpcbelt.aggregate.damage): checked by the driver before the plan is made
# ------------------------------------------------------------------------------------------

def _items(run: PitchAngleRun) -> list:
    """Every finished member of every experiment, in file order."""
    return [damage.Item(f"{ex.name} member {int(m)}", ex.name, int(m)) for ex in run.experiments for m in ex.done]


def _problem(h5, item: damage.Item) -> str | None:
    return member_problem(h5, item.group, item.index)


def _without(run: PitchAngleRun, items) -> PitchAngleRun:
    """The run with these members counted as unfinished (as if their member_done were 0)."""
    drop = {}
    for it in items:
        drop.setdefault(it.group, set()).add(int(it.index))
    exps = [replace(ex, done=np.array([m for m in ex.done if int(m) not in drop[ex.name]], np.int64))
            if ex.name in drop else ex for ex in run.experiments]
    return replace(run, experiments=exps)


SCREEN = damage.Screen(items=_items, problem=_problem, without=_without)


def _pass1(run: PitchAngleRun, plan: Plan, comm) -> dict | None:
    """Pass 1 over the (experiment, block) items; the assembled statistics on rank 0."""
    items = [(e, b) for e, ex in enumerate(run.experiments) for b in plan.blocks[ex.name]]
    cache = {}     # this rank's slab buffer, reused from block to block while the shape holds

    def block(h5, item):
        e, b = item
        return e, _pass1_block(h5, run, plan, e, b, cache)

    parts = deal_and_gather(comm, items, block, context=lambda: open_h5(run.path))
    cache.clear()
    if parts is None:
        return None
    return _assemble(run, plan, parts)


def _pass2(run: PitchAngleRun, plan: Plan, comm, edges) -> dict | None:
    """Pass 2: the histogram of the chosen column in member blocks; {experiment number: (counts,
    below, above, nonpositive)} summed over blocks, on rank 0."""
    slab = max(1, (plan.opts.memory_bytes // 2) // (8 * run.n_time))
    items = [(e, (r0, min(ex.n_done, r0 + slab))) for e, ex in enumerate(run.experiments)
             for r0 in range(0, ex.n_done, slab)]

    def block(h5, item):
        e, rows = item
        return e, _pass2_block(h5, run, plan, e, rows, edges)

    parts = deal_and_gather(comm, items, block,
                            context=lambda: open_h5(run.path, chunk_cache_bytes=_chunk_cache(run)))
    if parts is None:
        return None
    hist = {}
    for e, counts in parts:
        if e in hist:
            for acc, add in zip(hist[e], counts):
                acc += add
        else:
            hist[e] = [c.copy() for c in counts]
    return {e: tuple(h) for e, h in hist.items()}


def _chunk_cache(run: PitchAngleRun) -> int:
    """A chunk cache that holds two of the run file's chunks (one member's whole series)."""
    return max(2**20, 2 * 8 * run.n_time * run.n_alpha)


def _assemble(run: PitchAngleRun, plan: Plan, parts: list) -> dict:
    """Put the gathered blocks back into (time, alpha) arrays per experiment."""
    T, A = run.n_time, run.n_alpha
    out = {"exp": {}}
    for ex in run.experiments:
        r = {"n_done": ex.n_done}
        if ex.n_done:
            for q in ("f", "daa_integral"):
                r[q] = {s: np.full((T, A), np.nan) for s in stats.STAT_NAMES}
            r["boot_lo"] = np.full(T, np.nan)
            r["boot_hi"] = np.full(T, np.nan)
            k = plan.sizes[ex.name].size
            D = len(plan.snap_index)
            r["conv_first"] = np.full((k, D), np.nan)
            r["conv_lo"] = np.full((k, D), np.nan)
            r["conv_hi"] = np.full((k, D), np.nan)
            if plan.edges is not None:
                nb = plan.edges.size - 1
                r["hist"] = (np.zeros((T, nb), np.int64), np.zeros(T, np.int64), np.zeros(T, np.int64),
                             np.zeros(T, np.int64))
        out["exp"][ex.name] = r
    for e, res in parts:
        ex = run.experiments[e]
        r = out["exp"][ex.name]
        t0, t1, a0, a1 = res["block"]
        for q in ("f", "daa_integral"):
            for s, arr in res[q].items():
                r[q][s][t0:t1, a0:a1] = arr
        if "boot" in res:
            r["boot_lo"][t0:t1], r["boot_hi"][t0:t1] = res["boot"]
            for d, (first, lo, hi) in res["conv"].items():
                r["conv_first"][:, d], r["conv_lo"][:, d], r["conv_hi"][:, d] = first, lo, hi
            if "hist" in res:
                for acc, part in zip(r["hist"], res["hist"]):
                    acc[t0:t1] = part
    return out


def auto_edges(results: dict, run: PitchAngleRun, plan: Plan) -> np.ndarray:
    """Bins covering every finished member's log10 f at the chosen angle, all experiments alike.

    The range is the smallest and largest value over all times (pass-1 min and max), widened
    outwards to a multiple of 0.1 decade.  Where the minimum is <= 0 (no logarithm) the smallest
    positive percentile of that time is used; such values are counted as 'nonpositive'.
    """
    lows, highs = [], []
    for ex in run.experiments:
        if not ex.n_done:
            continue
        st = results["exp"][ex.name]["f"]
        for name in ("min", "p05", "p25", "median", "p75", "p95", "max"):
            col = st[name][:, plan.ia]
            pos = col[col > 0]
            if pos.size:
                lows.append(np.log10(pos.min()))
                break
        mx = st["max"][:, plan.ia]
        mx = mx[mx > 0]
        if mx.size:
            highs.append(np.log10(mx.max()))
    if not lows or not highs:
        return np.linspace(-1.0, 1.0, plan.opts.n_bins + 1)
    lo = math.floor(min(lows) * 10.0 - 1e-9) / 10.0
    hi = math.ceil(max(highs) * 10.0 + 1e-9) / 10.0
    if hi - lo < 0.2:
        lo, hi = lo - 0.5, hi + 0.5
    return np.linspace(lo, hi, plan.opts.n_bins + 1)


def fig3_data(run: PitchAngleRun, plan: Plan) -> dict:
    """f(alpha, t) over the first ``fig3_days`` for the Fig 3 members (rank 0, small reads)."""
    n = int(np.searchsorted(run.time_s, plan.opts.fig3_days * SECONDS_PER_DAY, side="right"))
    n = max(1, min(n, run.n_time))
    out = {}
    with open_h5(run.path) as h5:
        for role, (name, m) in plan.fig3.items():
            try:
                arr = h5[dataset_path(name, F)][m, :n, :]
            except (OSError, RuntimeError, ValueError, KeyError) as exc:
                raise InputError(f"{run.path}: cannot read {name}/{F} member {m}: {exc}") from None
            out[role] = {"experiment": name, "member": m, "f": arr}
    out["n_time"] = n
    return out


def snapshot_and_ratios(run: PitchAngleRun, plan: Plan, results: dict) -> dict:
    """Slices of the statistics at the snapshot days, and ratios of medians between experiments."""
    names = [ex.name for ex in run.experiments if ex.n_done]
    ti = np.array(plan.snap_index, np.int64)
    ra = np.array(plan.ratio_ia, np.int64)
    E, D, R = len(names), ti.size, ra.size
    med = np.full((E, D, R), np.nan)
    for i, n in enumerate(names):
        med[i] = results["exp"][n]["f"]["median"][np.ix_(ti, ra)]
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = med[:, None, :, :] / med[None, :, :, :]
    const = None
    modes = {ex.mode: ex.name for ex in run.experiments if ex.n_done}
    if "mean_inputs" in modes and "mean_of_profiles" in modes:
        a = results["exp"][modes["mean_inputs"]]["f"]["median"]
        b = results["exp"][modes["mean_of_profiles"]]["f"]["median"]
        with np.errstate(divide="ignore", invalid="ignore"):
            const = {"numerator": modes["mean_inputs"], "denominator": modes["mean_of_profiles"],
                     "at_days": (a[np.ix_(ti, ra)] / b[np.ix_(ti, ra)]),
                     "at_alpha_over_time": a[:, plan.ia] / b[:, plan.ia]}
    return {"names": names, "median_ratio": ratio, "constant": const}
