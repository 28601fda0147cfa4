"""Aggregate a pitch-angle run: statistics over members in bounded memory, divided over MPI ranks.

Work decomposition
------------------
Pass 1 walks every experiment in blocks of (time, pitch angle) holding *all finished members*
(exact percentiles need every member of a column).  Blocks are sized by the per-rank memory
budget only (:func:`stats.plan_blocks`), dealt round-robin over ranks, and each block's
statistics are gathered on rank 0.  Because the block plan and every random stream (bootstrap,
subsets) depend only on the file and the options, any number of ranks gives the same numbers.

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

import json
import math
from dataclasses import asdict, dataclass, field

import numpy as np

from ..errors import InputError
from . import stats
from .runfile import PitchAngleRun, open_h5, read_member_column, read_slab

DEFAULT_DAYS = (2.0, 10.0, 30.0)
DEFAULT_RATIO_ALPHAS = (30.0, 45.0, 60.0, 70.0)
SECONDS_PER_DAY = 86400.0


@dataclass
class Options:
    """What to aggregate and how; every field is stored in the summary (options_json)."""

    alpha_deg: float = 30.0                 # pitch angle of the PDFs, bootstrap and convergence [deg]
    days: tuple | None = None               # snapshot days (None: 2, 10, 30 where the run reaches)
    bins: tuple | None = None               # (lo, hi, n) in log10 f; None: automatic range
    n_bins: int = 80                        # number of bins of the automatic range
    ratio_alphas_deg: tuple = DEFAULT_RATIO_ALPHAS
    n_boot: int = 1000                      # bootstrap resamples of the median (0: none)
    n_sub: int = 200                        # random subsets per ensemble size (0: none)
    confidence: float = 0.90                # two-sided level of the intervals
    ensemble_sizes: tuple | None = None     # None: about 12 log-spaced sizes from 1 to n
    seed: int = 0                           # seed of the bootstrap and subset streams
    memory_bytes: int = 256 * 2**20         # per-rank budget for member slabs [bytes]
    fig3_experiment: str | None = None      # random experiment shown in Fig 3 (None: longest dt)
    fig3_member: int | None = None          # its member (None: first finished)
    fig3_days: float = 5.0                  # time span of Fig 3 [day]
    floor_f: float = 100.0                  # floor applied to f in Fig 3 (as in the paper)
    checksum: bool = True                   # sha256 of the run file in the summary


@dataclass
class Plan:
    """Options resolved against one run file (indices on its grids); same on every rank."""

    opts: Options
    ia: int                                  # index of the chosen pitch angle
    snap_days: list                          # requested days kept
    snap_index: list                         # their output-time indices
    days_skipped: list                       # requested days beyond the run
    ratio_ia: list
    blocks: dict = field(default_factory=dict)   # experiment name -> [(t0, t1, a0, a1)]
    sizes: dict = field(default_factory=dict)    # experiment name -> ensemble sizes
    edges: np.ndarray | None = None              # explicit bin edges (log10 f), else None
    fig3: dict = field(default_factory=dict)     # role -> (experiment, member)


def _nearest(grid: np.ndarray, value: float) -> int:
    return int(np.argmin(np.abs(grid - value)))


def make_plan(run: PitchAngleRun, opts: Options) -> Plan:
    """Check the options against the run; InputError names the option and the allowed range."""
    a = run.alpha_deg
    t_days = run.time_s / SECONDS_PER_DAY

    def angle(value, flag):
        if not (a[0] - 1e-9 <= value <= a[-1] + 1e-9):
            raise InputError(f"{flag} {value:g}: outside the run's pitch-angle grid "
                             f"{a[0]:g}..{a[-1]:g} deg")
        return _nearest(a, value)

    ia = angle(opts.alpha_deg, "--alpha-deg")
    ratio_ia = [angle(v, "--ratio-alpha-deg") for v in opts.ratio_alphas_deg]
    step = float(np.median(np.diff(t_days))) if t_days.size > 1 else 0.0
    days = DEFAULT_DAYS if opts.days is None else tuple(opts.days)
    keep, idx, skipped = [], [], []
    for d in days:
        if d < 0:
            raise InputError(f"--days {d:g}: expected days >= 0")
        if d > t_days[-1] + 0.5 * step + 1e-9:
            if opts.days is not None:
                raise InputError(f"--days {d:g}: beyond the end of the run ({t_days[-1]:g} days)")
            skipped.append(float(d))
            continue
        keep.append(float(d))
        idx.append(_nearest(t_days, d))
    if opts.n_boot < 0 or opts.n_sub < 0:
        raise InputError("--bootstrap and --subsets: expected counts >= 0")
    if not 0.0 < opts.confidence < 1.0:
        raise InputError(f"--confidence {opts.confidence:g}: expected a level between 0 and 1")
    if opts.memory_bytes < 1024:
        raise InputError(f"--memory-mb: expected at least 1 KiB, got {opts.memory_bytes} bytes")
    edges = None
    if opts.bins is not None:
        lo, hi, n = opts.bins
        if not (hi > lo and int(n) >= 1):
            raise InputError(f"--bins {lo:g},{hi:g},{n}: expected LO < HI and N >= 1 (log10 f)")
        edges = np.linspace(float(lo), float(hi), int(n) + 1)
    elif opts.n_bins < 1:
        raise InputError("--n-bins: expected at least 1")

    plan = Plan(opts=opts, ia=ia, snap_days=keep, snap_index=idx, days_skipped=skipped,
                ratio_ia=ratio_ia, edges=edges)
    slab_budget = opts.memory_bytes // 2
    for ex in run.experiments:
        # an experiment without finished members (e.g. not selected in a --experiments run) has no blocks
        plan.blocks[ex.name] = (stats.plan_blocks(ex.n_done, run.n_time, run.n_alpha, slab_budget)
                                if ex.n_done else [])
        if opts.ensemble_sizes is None:
            sizes = stats.default_ensemble_sizes(ex.n_done)
        else:
            sizes = np.array(sorted({int(k) for k in opts.ensemble_sizes if 1 <= int(k) <= ex.n_done}),
                             np.int64)
        plan.sizes[ex.name] = sizes
    if not any(ex.n_done for ex in run.experiments):
        raise InputError(f"{run.path}: no finished member in any experiment (member_done all 0): "
                         f"nothing to aggregate")

    # Fig 3: one member of a random experiment (the slowest switching, like the paper's 6 h) and
    # the two constant runs.
    if opts.fig3_experiment is not None:
        shown = run.experiment(opts.fig3_experiment)
        if not shown.n_done:
            raise InputError(f"--fig3-experiment {shown.name}: no finished member")
    else:
        randoms = [ex for ex in run.experiments if ex.mode == "random" and ex.n_done]
        shown = max(randoms, key=lambda e: np.nan_to_num(e.switch_every_s, nan=-1.0)) if randoms else None
    if shown is not None:
        m = int(shown.done[0])
        if opts.fig3_member is not None:
            if opts.fig3_member not in set(shown.done.tolist()):
                raise InputError(f"--fig3-member {opts.fig3_member}: not a finished member of {shown.name}")
            m = int(opts.fig3_member)
        plan.fig3["random"] = (shown.name, m)
    elif opts.fig3_member is not None:
        raise InputError(f"--fig3-member {opts.fig3_member}: the run has no random experiment with a finished "
                         f"member")
    for mode in ("mean_of_profiles", "mean_inputs"):
        for ex in run.experiments:
            if ex.mode == mode and ex.n_done:
                plan.fig3[mode] = (ex.name, int(ex.done[0]))
                break
    return plan


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
    read_slab(h5, f"{ex.name}/f", ex, t0, t1, a0, a1, buf)
    col = None
    if a0 <= plan.ia < a1:
        col = buf[:, :, plan.ia - a0].copy()       # (n_done, nt) in member order
    out["f"] = stats.block_stats(buf)
    read_slab(h5, f"{ex.name}/daa_integral", ex, t0, t1, a0, a1, buf)
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
    read_member_column(h5, f"{ex.name}/f", ex, r0, r1, plan.ia, col)
    return stats.column_histogram(col, edges)


def aggregate(run: PitchAngleRun, plan: Plan, comm) -> dict | None:
    """Compute every statistic; returns the assembled results on rank 0 (None elsewhere)."""
    from ..parallel import all_agree, my_items

    rank = comm.Get_rank()
    items = [(e, b) for e, ex in enumerate(run.experiments) for b in range(len(plan.blocks[ex.name]))]
    mine = my_items(items, comm)

    def pass1():
        res = []
        cache = {}
        with open_h5(run.path) as h5:
            for e, b in mine:
                res.append((e, b, _pass1_block(h5, run, plan, e, plan.blocks[run.experiments[e].name][b],
                                               cache)))
        return res

    part = all_agree(comm, pass1)
    gathered = comm.gather(part, root=0)
    del part
    results = None
    if rank == 0:
        results = _assemble(run, plan, [x for p in gathered for x in p])
        del gathered
        edges = plan.edges
        if edges is None:
            edges = auto_edges(results, run, plan)
        results["edges"] = edges
        results["edges_auto"] = plan.edges is None
    edges = comm.bcast(results["edges"] if rank == 0 else None, root=0)

    if plan.edges is None:
        # pass 2: histogram of the chosen column, member blocks over ranks
        slab = max(1, (plan.opts.memory_bytes // 2) // (8 * run.n_time))
        items2 = [(e, (r0, min(ex.n_done, r0 + slab))) for e, ex in enumerate(run.experiments)
                  for r0 in range(0, ex.n_done, slab)]
        mine2 = my_items(items2, comm)

        def pass2():
            out = []
            if not mine2:
                return out
            with open_h5(run.path, chunk_cache_bytes=_chunk_cache(run)) as h5:
                for e, rows in mine2:
                    out.append((e, _pass2_block(h5, run, plan, e, rows, edges)))
            return out

        part2 = all_agree(comm, pass2)
        gathered2 = comm.gather(part2, root=0)
        if rank == 0:
            hist = {}
            for p in gathered2:
                for e, (c, b, a, z) in p:
                    if e in hist:
                        for acc, add in zip(hist[e], (c, b, a, z)):
                            acc += add
                    else:
                        hist[e] = [c.copy(), b.copy(), a.copy(), z.copy()]
            for e, h in hist.items():
                results["exp"][run.experiments[e].name]["hist"] = tuple(h)
    if rank == 0:
        for ex in run.experiments:
            r = results["exp"][ex.name]
            if ex.n_done and "hist" in r:
                c = r["hist"][0]
                r["pdf_density"], r["pdf_max1"] = stats.normalise_columns(c, ex.n_done, edges)
    return results


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
    for e, _b, res in parts:
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
                arr = h5[f"{name}/f"][m, :n, :]
            except (OSError, RuntimeError, ValueError, KeyError) as exc:
                raise InputError(f"{run.path}: cannot read {name}/f member {m}: {exc}") from None
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


def options_json(opts: Options) -> str:
    d = asdict(opts)
    return json.dumps(d, sort_keys=True, default=lambda o: list(o) if isinstance(o, tuple) else str(o))
