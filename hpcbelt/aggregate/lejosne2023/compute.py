"""The statistics of a drift-diffusion run, streamed in blocks and divided over MPI ranks.

What is computed (all from the run file, read through :mod:`hpcbelt.drift.runfile`):

- the PDE's F at the probe boxes over time, and the test particles' mean over finished
  permutations with its standard error (their Fig 2);
- (L, MLT) maps of F at chosen hours from the PDE and the particles' mean (their Fig 3);
- the MLT average of the PDE's F (and of each permutation's F) against the radial-diffusion
  solution (Sec. 3.1: once phase-mixed, the MLT average obeys the radial equation).

First (before the plan) the driver checks every finished item against its stored checksum and
values (:data:`SCREEN`, :mod:`hpcbelt.aggregate.damage`): a damaged one is refused, or with
``--skip-damaged`` a damaged permutation is taken out of ``particles["done"]`` -- the run the
plan, every block and the summary see -- as if its perm_done were 0; a damaged PDE is refused.
The blocks of :mod:`.plan` are independent: they are dealt round-robin over the ranks and their
disjoint results gathered on rank 0 in block order (:func:`hpcbelt.parallel.deal_and_gather`),
which therefore holds no more than the summary itself whatever the number of permutations.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from ...drift import runfile
from ...drift.runfile import DriftRun
from ...output import open_h5
from ...parallel import deal_and_gather
from .. import damage
from .plan import Plan


def mean_sem(x: np.ndarray):
    """Mean and standard error of the mean over axis 0, in float64 (NaN error for one sample)."""
    x = np.asarray(x, np.float64)
    n = x.shape[0]
    m = x.mean(axis=0)
    if n < 2:
        return m, np.full_like(m, np.nan)
    return m, np.sqrt(((x - m) ** 2).sum(axis=0) / (n - 1) / n)


def _pde_block(h5, run: DriftRun, plan: Plan, block) -> dict:
    """MLT mean and standard deviation of the PDE's F over output times t0..t1-1, and the maps in it."""
    t0, t1 = block
    F = runfile.read_pde_frames(h5, run, t0, t1)
    out = {"block": block, "mlt_mean": F.mean(axis=2), "mlt_std": F.std(axis=2)}
    out["snaps"] = {k: F[ti - t0].copy() for k, ti in enumerate(plan.snap_idx) if t0 <= ti < t1}
    return out


def _part_block(h5, run: DriftRun, plan: Plan, block) -> dict:
    """Mean and standard error over the finished permutations of one (times x L rows) block."""
    t0, t1, l0, l1 = block
    first = l0 == 0                     # the block that also carries the per-time series
    F, probe, num = runfile.read_particle_block(h5, run, t0, t1, l0, l1, series=first)
    out = {"block": block, "F": mean_sem(F), "mlt_mean": mean_sem(F.astype(np.float64).mean(axis=3))}
    if first:
        out["probe"], out["number"] = mean_sem(probe), mean_sem(num)
    return out


def _items(run: DriftRun) -> list:
    """The finished PDE (never skipped: the maps and the comparison are of one solution) and every
    finished permutation, in file order."""
    at = f"{run.group}: " if run.group else ""        # a study over energies: the energy's group
    items = [damage.Item(f"{at}PDE", "pde", 0, skippable=False, where=run.group)] if run.pde_done else []
    if run.particles is not None:
        items += [damage.Item(f"{at}permutation {int(p)}", "particles", int(p), where=run.group)
                  for p in run.particles["done"]]
    return items


def _problem(h5, item: damage.Item) -> str | None:
    g = h5[item.where] if item.where else h5
    return runfile.pde_problem(g) if item.group == "pde" else runfile.perm_problem(g, item.index)


def _without(run: DriftRun, items) -> DriftRun:
    """The run with these permutations counted as unfinished (as if their perm_done were 0)."""
    drop = {int(it.index) for it in items if it.group == "particles"}
    p = dict(run.particles)
    p["done"] = np.array([i for i in p["done"] if int(i) not in drop], np.int64)
    return replace(run, particles=p)


SCREEN = damage.Screen(items=_items, problem=_problem, without=_without)


def compute(run: DriftRun, plan: Plan, comm) -> dict | None:
    """Every block of ``plan`` over the ranks of ``comm``; the assembled results on rank 0 (None elsewhere).

    ``{"pde": {mlt_mean, mlt_std, snaps, probe_F}, "radial": F, "particles": {F, mlt_mean, probe,
    number: (mean, sem), n}}``, each part present when the run has it finished.
    """
    items = [("pde", b) for b in plan.pde_blocks] + [("part", b) for b in plan.part_blocks]

    def one(h5, item):
        kind, b = item
        return kind, (_pde_block if kind == "pde" else _part_block)(h5, run, plan, b)

    parts = deal_and_gather(comm, items, one, context=lambda: open_h5(run.path))
    if parts is None:
        return None
    T, nL, nm = run.time_s.size, run.L_grid.size, run.mlt_h.size
    out = {}
    if run.pde_done:
        mm = np.full((T, nL), np.nan)
        ms = np.full((T, nL), np.nan)
        snaps = np.full((len(plan.snap_idx), nL, nm), np.nan)
        for kind, r in parts:
            if kind != "pde":
                continue
            t0, t1 = r["block"]
            mm[t0:t1], ms[t0:t1] = r["mlt_mean"], r["mlt_std"]
            for k, s in r["snaps"].items():
                snaps[k] = s
        out["pde"] = {"mlt_mean": mm, "mlt_std": ms, "snaps": snaps}
        with open_h5(run.path) as h5:
            series = runfile.read_pde_series(h5, run)
        out["pde"]["probe_F"] = series["probe_F"]
        if run.has_radial:
            out["radial"] = series["radial_F"]
    p = run.particles
    if p is not None and p["done"].size:
        n_t, nL, nm = p["time_s"].size, p["L_grid"].size, p["mlt_h"].size
        shapes = {"F": (n_t, nL, nm), "mlt_mean": (n_t, nL), "probe": (len(run.probes), n_t), "number": (n_t,)}
        res = {k: (np.full(sh, np.nan), np.full(sh, np.nan)) for k, sh in shapes.items()}
        for kind, r in parts:
            if kind != "part":
                continue
            t0, t1, l0, l1 = r["block"]
            for i in range(2):
                res["F"][i][t0:t1, l0:l1] = r["F"][i]
                res["mlt_mean"][i][t0:t1, l0:l1] = r["mlt_mean"][i]
                if "probe" in r:
                    res["probe"][i][:, t0:t1] = r["probe"][i]
                    res["number"][i][t0:t1] = r["number"][i]
        res["n"] = int(p["done"].size)
        out["particles"] = res
    return out
