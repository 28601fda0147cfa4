"""The options of a pitch-angle aggregation checked against one run file: indices on its
grids, the time and pitch-angle blocks of pass 1, the ensemble sizes and the Fig 3 members."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ...errors import InputError
from ...pitch_angle.runfile import MEMBER_DONE, PitchAngleRun
from .. import stats
from .options import DEFAULT_DAYS, Options

SECONDS_PER_DAY = 86400.0


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


def plan(run: PitchAngleRun, opts: Options) -> Plan:
    """Check the options against the run; InputError names the option and the allowed range."""
    a = run.alpha_deg

    def angle(value, flag):
        if not (a[0] - 1e-9 <= value <= a[-1] + 1e-9):
            raise InputError(f"{flag} {value:g}: outside the run's pitch-angle grid "
                             f"{a[0]:g}..{a[-1]:g} deg")
        return _nearest(a, value)

    ia = angle(opts.alpha_deg, "--alpha-deg")
    ratio_ia = [angle(v, "--ratio-alpha-deg") for v in opts.ratio_alphas_deg]
    keep, idx, skipped = _snapshot_days(run, opts)
    _check_counts(opts)
    edges = None
    if opts.bins is not None:
        lo, hi, n = opts.bins
        if not (hi > lo and int(n) >= 1):
            raise InputError(f"--bins {lo:g},{hi:g},{n}: expected LO < HI and N >= 1 (log10 f)")
        edges = np.linspace(float(lo), float(hi), int(n) + 1)
    elif opts.n_bins < 1:
        raise InputError("--n-bins: expected at least 1")

    p = Plan(opts=opts, ia=ia, snap_days=keep, snap_index=idx, days_skipped=skipped,
             ratio_ia=ratio_ia, edges=edges)
    slab_budget = opts.memory_bytes // 2
    for ex in run.experiments:
        # an experiment without finished members (e.g. not selected in a --experiments run) has no blocks
        p.blocks[ex.name] = (stats.plan_blocks(ex.n_done, run.n_time, run.n_alpha, slab_budget)
                             if ex.n_done else [])
        if opts.ensemble_sizes is None:
            sizes = stats.default_ensemble_sizes(ex.n_done)
        else:
            sizes = np.array(sorted({int(k) for k in opts.ensemble_sizes if 1 <= int(k) <= ex.n_done}),
                             np.int64)
        p.sizes[ex.name] = sizes
    if not any(ex.n_done for ex in run.experiments):
        raise InputError(f"{run.path}: no finished member in any experiment ({MEMBER_DONE} all 0): "
                         f"nothing to aggregate")
    top = max(ex.n_done for ex in run.experiments)
    if opts.ensemble_sizes is not None and max(opts.ensemble_sizes) > top:
        raise InputError(f"--ensemble-sizes {','.join(map(str, opts.ensemble_sizes))}: at most {top}, the "
                         f"largest number of finished members of an experiment in {run.path}")
    p.fig3 = _fig3_members(run, opts)
    return p


def _snapshot_days(run: PitchAngleRun, opts: Options):
    """(days kept, their output-time indices, default days beyond the run)."""
    t_days = run.time_s / SECONDS_PER_DAY
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
    return keep, idx, skipped


def _check_counts(opts: Options) -> None:
    if opts.n_boot < 0 or opts.n_sub < 0:
        raise InputError("--bootstrap and --subsets: expected counts >= 0")
    if not 0.0 < opts.confidence < 1.0:
        raise InputError(f"--confidence {opts.confidence:g}: expected a level between 0 and 1")
    if opts.memory_bytes < 1024:
        raise InputError(f"--memory-mb: expected at least 1 KiB, got {opts.memory_bytes} bytes")


def _fig3_members(run: PitchAngleRun, opts: Options) -> dict:
    """Fig 3: one member of a random experiment (the slowest switching, like the paper's 6 h)
    and the first finished member of each of the two constant runs."""
    fig3 = {}
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
        fig3["random"] = (shown.name, m)
    elif opts.fig3_member is not None:
        raise InputError(f"--fig3-member {opts.fig3_member}: the run has no random experiment with a finished "
                         f"member")
    for mode in ("mean_of_profiles", "mean_inputs"):
        for ex in run.experiments:
            if ex.mode == mode and ex.n_done:
                fig3[mode] = (ex.name, int(ex.done[0]))
                break
    return fig3
