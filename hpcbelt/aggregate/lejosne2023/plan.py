"""The options of a drift-diffusion aggregation checked against one run file: the map hours on
its time grids, and the blocks the statistics are computed in.

Blocks are sized by the memory budget only: the PDE's F in blocks of whole output times, the
particles' F in blocks of (times x L rows) holding *every* finished permutation, so that each
column's mean and standard error come from one numpy reduction over the permutations -- the
same numbers whatever the block size or the number of ranks.  The smallest particle block is
one (time, L) row of all finished permutations.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ...drift.runfile import PART_DONE, PDE_DONE, DriftRun
from ...errors import InputError
from .options import DEFAULT_HOURS, Options


@dataclass
class Plan:
    """Options resolved against one run file; same on every rank."""

    opts: Options
    hours: list                             # requested hours kept
    hours_skipped: list                     # default hours beyond the run
    snap_idx: list                          # PDE time index per hour
    p_snap_idx: list                        # particle time index per hour (-1: beyond the particles)
    pde_blocks: list = field(default_factory=list)      # (t0, t1)
    part_blocks: list = field(default_factory=list)     # (t0, t1, l0, l1) of the particle grid, all perms


def plan(run: DriftRun, opts: Options) -> Plan:
    """Check ``opts`` against ``run`` (InputError naming the flag) and cut the work into blocks."""
    if opts.memory_bytes < 1024:
        raise InputError(f"--memory-mb: expected at least 1 KiB, got {opts.memory_bytes} bytes")
    th = run.time_s / 3600.0
    hours = DEFAULT_HOURS if opts.hours is None else tuple(opts.hours)
    keep, idx, pidx, skipped = [], [], [], []
    step = float(np.median(np.diff(th))) if th.size > 1 else 0.0
    for h in hours:
        if h < 0 or h > th[-1] + 0.5 * step + 1e-9:
            if opts.hours is not None:
                raise InputError(f"--hours {h:g}: outside the run (0..{th[-1]:g} h)")
            skipped.append(float(h))
            continue
        keep.append(float(h))
        idx.append(int(np.argmin(np.abs(th - h))))
        if run.particles is not None:
            ph = run.particles["time_s"] / 3600.0
            pstep = float(np.median(np.diff(ph))) if ph.size > 1 else 0.0
            pidx.append(int(np.argmin(np.abs(ph - h))) if h <= ph[-1] + 0.5 * pstep + 1e-9 else -1)
        else:
            pidx.append(-1)
    out = Plan(opts=opts, hours=keep, hours_skipped=skipped, snap_idx=idx, p_snap_idx=pidx)
    half = opts.memory_bytes // 2
    if run.pde_done:
        per_t = 8 * run.L_grid.size * run.mlt_h.size * 3      # block, and two working copies
        nt = int(max(1, min(run.time_s.size, half // per_t)))
        out.pde_blocks = [(t0, min(run.time_s.size, t0 + nt)) for t0 in range(0, run.time_s.size, nt)]
    p = run.particles
    if p is not None and p["done"].size:
        n_done, n_t, nL, nm = p["done"].size, p["time_s"].size, p["L_grid"].size, p["mlt_h"].size
        per_value = 4 + 8 + 8 + 8                             # f4 read, f8 copy, deviations, squares
        row = n_done * nm * per_value                         # one (time, L) row of all permutations
        if row * nL <= half:
            nl = nL
            nt = int(max(1, min(n_t, half // (row * nL))))
        else:
            nl = int(max(1, half // row))
            nt = 1
        for t0 in range(0, n_t, nt):
            for l0 in range(0, nL, nl):
                out.part_blocks.append((t0, min(n_t, t0 + nt), l0, min(nL, l0 + nl)))
    if not run.pde_done and (p is None or not p["done"].size):
        raise InputError(f"{run.path}: neither the PDE ({PDE_DONE} = 0) nor any particle permutation "
                         f"({PART_DONE} all 0) is finished: nothing to aggregate")
    return out
