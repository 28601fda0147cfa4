"""Aggregate a drift-diffusion run (Lejosne & Albert 2023): PDE, radial solver, test particles.

What is computed (all from the run file; layout in hpcbelt/drift/driver.py):
- the PDE's F at the probe boxes over time, and the test particles' mean over finished
  permutations with its standard error (their Fig 2);
- (L, MLT) maps of F at chosen hours from the PDE and the particles' mean (their Fig 3);
- the MLT average of the PDE's F (and of each permutation's F) against the radial-diffusion
  solution, with the difference per time (Sec. 3.1: once phase-mixed, the MLT average obeys
  the radial equation).

Streaming: the PDE's F is read in blocks of output times; the particles' F in blocks of
(times x L rows) holding *every* finished permutation, so each column's mean and standard error
come from one numpy reduction over the permutations, exactly as with one rank.  Blocks are sized
by the memory budget only (down to one (time, L) row of all permutations), dealt round-robin
over ranks, and their disjoint results are gathered on rank 0, which therefore holds no more
than the summary itself whatever the number of permutations.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

import numpy as np

from ..errors import InputError
from .runfile import _check_text, open_h5, read_metadata, read_root_attrs, runs_of

DRIFT_LAYOUTS = (1, 2)
DEFAULT_HOURS = (3.0, 10.0)


@dataclass
class DriftOptions:
    hours: tuple | None = None              # map hours (None: 3 and 10 h where the run reaches)
    memory_bytes: int = 256 * 2**20         # per-rank budget for blocks [bytes]
    checksum: bool = True


@dataclass
class DriftRun:
    path: str
    root: dict
    time_s: np.ndarray
    L_grid: np.ndarray
    L_edges: np.ndarray
    mlt_h: np.ndarray
    cell_measure: np.ndarray
    probes: list
    pde_done: bool
    has_radial: bool
    particles: dict | None                  # time_s, L_grid, mlt_h, n_perm, done (indices)


def inspect_drift(path) -> DriftRun:
    """Check the layout of a drift-diffusion run file and list finished permutations."""
    return read_metadata(path, _inspect)


def _ds(h5, name, where, shape=None):
    import h5py

    if name not in h5 or not isinstance(h5[name], h5py.Dataset):
        raise InputError(f"{where}: dataset '{name}' missing: not a complete drift-diffusion run file "
                         f"(see hpcbelt/drift/driver.py for the layout)")
    d = h5[name]
    if shape is not None and d.shape != tuple(shape):
        raise InputError(f"{where}: dataset '{name}' has shape {d.shape}, expected {tuple(shape)}")
    return d


def _inspect(h5, where) -> DriftRun:
    for name in h5:
        _check_text(name, f"{where}: object name {ascii(name)}")
    layout = int(h5.attrs.get("layout_version", -1))
    if layout not in DRIFT_LAYOUTS:
        raise InputError(f"{where}: layout_version = {layout}; this aggregator reads drift-diffusion layouts "
                         f"{', '.join(map(str, DRIFT_LAYOUTS))}")
    root = read_root_attrs(h5, ("kind", "title", "status", "hpcbelt_version", "git_commit", "seed", "end_time",
                                "study_config_json", "layout_version", "K_per_s"), where)
    t = _ds(h5, "time_s", where)[()].astype(float)
    L = _ds(h5, "pde/L_grid", where)[()].astype(float)
    mlt = _ds(h5, "pde/mlt_h", where)[()].astype(float)
    edges = _ds(h5, "pde/L_edges", where, (L.size + 1,))[()].astype(float)
    meas = _ds(h5, "pde/cell_measure", where, (L.size,))[()].astype(float)
    _ds(h5, "pde/F", where, (t.size, L.size, mlt.size))
    names = [n.decode("ascii", "replace") if isinstance(n, bytes) else str(n) for n in _ds(h5, "probe/name", where)[()]]
    probes = []
    for i, n in enumerate(names):
        box = {k: float(_ds(h5, f"probe/{k}", where, (len(names),))[i]) for k in ("L_lo", "L_hi", "mlt_lo_h", "mlt_hi_h")}
        probes.append({"name": n, **box})
    _ds(h5, "pde/probe_F", where, (len(names), t.size))
    if "pde/done" in h5:
        pde_done = bool(h5["pde/done"][()])
    else:                                   # layout 1: no flag; complete runs wrote everything
        pde_done = root.get("status") == "complete"
    has_radial = "radial" in h5
    if has_radial:
        _ds(h5, "radial/F", where, (t.size, L.size))
    parts = None
    if "particles" in h5:
        pt = _ds(h5, "particles/time_s", where)[()].astype(float)
        pL = _ds(h5, "particles/L_grid", where)[()].astype(float)
        pm = _ds(h5, "particles/mlt_h", where)[()].astype(float)
        done = _ds(h5, "particles/perm_done", where)[()]
        P = done.size
        _ds(h5, "particles/F", where, (P, pt.size, pL.size, pm.size))
        _ds(h5, "particles/probe_F", where, (P, len(names), pt.size))
        _ds(h5, "particles/number_in_grid", where, (P, pt.size))
        if not np.isin(done, (0, 1)).all():
            raise InputError(f"{where}: particles/perm_done holds values other than 0 and 1")
        parts = {"time_s": pt, "L_grid": pL, "mlt_h": pm, "n_perm": int(P),
                 "done": np.flatnonzero(done == 1).astype(np.int64)}
    return DriftRun(path=where, root=root, time_s=t, L_grid=L, L_edges=edges, mlt_h=mlt, cell_measure=meas,
                    probes=probes, pde_done=pde_done, has_radial=has_radial, particles=parts)


@dataclass
class DriftPlan:
    opts: DriftOptions
    hours: list
    hours_skipped: list
    snap_idx: list                          # PDE time index per hour
    p_snap_idx: list                        # particle time index per hour (-1: beyond the particles)
    pde_blocks: list = field(default_factory=list)      # (t0, t1)
    part_blocks: list = field(default_factory=list)     # (t0, t1, l0, l1) of the particle grid, all perms


def make_drift_plan(run: DriftRun, opts: DriftOptions) -> DriftPlan:
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
    plan = DriftPlan(opts=opts, hours=keep, hours_skipped=skipped, snap_idx=idx, p_snap_idx=pidx)
    half = opts.memory_bytes // 2
    if run.pde_done:
        per_t = 8 * run.L_grid.size * run.mlt_h.size * 3      # block, and two working copies
        nt = int(max(1, min(run.time_s.size, half // per_t)))
        plan.pde_blocks = [(t0, min(run.time_s.size, t0 + nt)) for t0 in range(0, run.time_s.size, nt)]
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
                plan.part_blocks.append((t0, min(n_t, t0 + nt), l0, min(nL, l0 + nl)))
    if not run.pde_done and (p is None or not p["done"].size):
        raise InputError(f"{run.path}: neither the PDE (pde/done = 0) nor any particle permutation "
                         f"(perm_done all 0) is finished: nothing to aggregate")
    return plan


def _finite(arr, what, path):
    if not np.isfinite(arr).all():
        raise InputError(f"{path}: {what} is marked finished but holds non-finite values: corrupted run file")


def mean_sem(x: np.ndarray):
    """Mean and standard error of the mean over axis 0, in float64 (NaN error for one sample)."""
    x = np.asarray(x, np.float64)
    n = x.shape[0]
    m = x.mean(axis=0)
    if n < 2:
        return m, np.full_like(m, np.nan)
    return m, np.sqrt(((x - m) ** 2).sum(axis=0) / (n - 1) / n)


def _pde_block(h5, run: DriftRun, plan: DriftPlan, block):
    t0, t1 = block
    F = np.empty((t1 - t0, run.L_grid.size, run.mlt_h.size))
    try:
        h5["pde/F"].read_direct(F, source_sel=np.s_[t0:t1])
    except (OSError, RuntimeError, ValueError, KeyError) as exc:
        raise InputError(f"{run.path}: cannot read pde/F (times {t0}..{t1 - 1}): {exc} (truncated or "
                         f"corrupted file?)") from None
    _finite(F, f"pde/F (times {t0}..{t1 - 1})", run.path)
    out = {"block": block, "mlt_mean": F.mean(axis=2), "mlt_std": F.std(axis=2)}
    out["snaps"] = {k: F[ti - t0].copy() for k, ti in enumerate(plan.snap_idx) if t0 <= ti < t1}
    return out


def _part_block(h5, run: DriftRun, plan: DriftPlan, block):
    from .runfile import _split

    t0, t1, l0, l1 = block
    p = run.particles
    idx = p["done"]
    F = np.empty((idx.size, t1 - t0, l1 - l0, p["mlt_h"].size), np.float32)
    first = l0 == 0                     # the block that also carries the per-time series
    probe = np.empty((idx.size, len(run.probes), t1 - t0)) if first else None
    num = np.empty((idx.size, t1 - t0)) if first else None
    row = 0
    try:
        for m0, m1 in _split(runs_of(idx)):
            n = m1 - m0
            h5["particles/F"].read_direct(F, source_sel=np.s_[m0:m1, t0:t1, l0:l1], dest_sel=np.s_[row:row + n])
            if first:
                h5["particles/probe_F"].read_direct(probe, source_sel=np.s_[m0:m1, :, t0:t1],
                                                    dest_sel=np.s_[row:row + n])
                h5["particles/number_in_grid"].read_direct(num, source_sel=np.s_[m0:m1, t0:t1],
                                                           dest_sel=np.s_[row:row + n])
            row += n
    except (OSError, RuntimeError, ValueError, KeyError) as exc:
        raise InputError(f"{run.path}: cannot read particles/* (times {t0}..{t1 - 1}): {exc} (truncated or "
                         f"corrupted file?)") from None
    for arr, what in ((F, "particles/F"), (probe, "particles/probe_F"), (num, "particles/number_in_grid")):
        if arr is not None and not np.isfinite(arr).all():
            bad = np.flatnonzero(~np.isfinite(arr.reshape(arr.shape[0], -1)).all(axis=1))[0]
            raise InputError(f"{run.path}: {what}: permutation {int(idx[bad])} is marked finished (perm_done = 1) "
                             f"but holds non-finite values: corrupted run file")
    out = {"block": block, "F": mean_sem(F), "mlt_mean": mean_sem(F.astype(np.float64).mean(axis=3))}
    if first:
        out["probe"], out["number"] = mean_sem(probe), mean_sem(num)
    return out


def aggregate_drift(run: DriftRun, plan: DriftPlan, comm) -> dict | None:
    from ..parallel import my_items
    from ..parallel import all_agree

    items = [("pde", b) for b in plan.pde_blocks] + [("part", b) for b in plan.part_blocks]
    mine = my_items(list(enumerate(items)), comm)

    def work():
        res = []
        with open_h5(run.path) as h5:
            for k, (kind, b) in mine:
                res.append((k, kind, _pde_block(h5, run, plan, b) if kind == "pde" else _part_block(h5, run, plan, b)))
        return res

    part = all_agree(comm, work)
    gathered = comm.gather(part, root=0)
    if comm.Get_rank() != 0:
        return None
    parts = sorted((x for p in gathered for x in p), key=lambda x: x[0])
    T, nL, nm = run.time_s.size, run.L_grid.size, run.mlt_h.size
    out = {}
    if run.pde_done:
        mm = np.full((T, nL), np.nan)
        ms = np.full((T, nL), np.nan)
        snaps = np.full((len(plan.snap_idx), nL, nm), np.nan)
        for _, kind, r in parts:
            if kind != "pde":
                continue
            t0, t1 = r["block"]
            mm[t0:t1], ms[t0:t1] = r["mlt_mean"], r["mlt_std"]
            for k, s in r["snaps"].items():
                snaps[k] = s
        out["pde"] = {"mlt_mean": mm, "mlt_std": ms, "snaps": snaps}
        with h5_open(run.path) as h5:
            out["pde"]["probe_F"] = h5["pde/probe_F"][()]
            _finite(out["pde"]["probe_F"], "pde/probe_F", run.path)
            if run.has_radial:
                rf = h5["radial/F"][()]
                _finite(rf, "radial/F", run.path)
                out["radial"] = rf
    p = run.particles
    if p is not None and p["done"].size:
        n_t, nL, nm = p["time_s"].size, p["L_grid"].size, p["mlt_h"].size
        shapes = {"F": (n_t, nL, nm), "mlt_mean": (n_t, nL), "probe": (len(run.probes), n_t), "number": (n_t,)}
        res = {k: (np.full(sh, np.nan), np.full(sh, np.nan)) for k, sh in shapes.items()}
        for _, kind, r in parts:
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


def h5_open(path):
    return open_h5(path)


def write_drift_summary(path, run: DriftRun, plan: DriftPlan, results: dict, mpi_size: int, identity: dict,
                        options_json: str) -> None:
    import h5py

    from .. import __version__
    from ..output import git_commit, now_iso
    from .runfile import SUMMARY_KIND
    from .summary import SUMMARY_LAYOUT_VERSION, _ds

    with h5py.File(path, "w") as h5:
        a = h5.attrs
        a["kind"] = SUMMARY_KIND
        a["summary_layout_version"] = SUMMARY_LAYOUT_VERSION
        a["source_kind"] = "drift_diffusion"
        a["description"] = ("Summary of an hpcbelt drift-diffusion run, made by 'hpcbelt aggregate': the PDE's F at "
                            "the probes, MLT averages against the radial solver, (L, MLT) maps, and the test "
                            "particles' mean and standard error over the finished permutations.")
        a["hpcbelt_version"] = __version__
        a["git_commit"] = git_commit()
        a["created"] = now_iso()
        a["mpi_size"] = int(mpi_size)
        for k, v in identity.items():
            a[k] = v
        for k in ("status", "title", "hpcbelt_version", "git_commit", "end_time", "study_config_json", "seed",
                  "K_per_s", "layout_version"):
            if k in run.root:
                a[f"source_{k}"] = run.root[k]
        a["options_json"] = options_json
        a["memory_budget_bytes_per_rank"] = int(plan.opts.memory_bytes)
        a["memory_bound"] = ("per rank: PDE blocks of whole output times, and particle blocks of all finished "
                             "permutations x (times x L rows), each <= memory_budget/2 with its working copies "
                             "(never less than one (time, L) row of all permutations); rank 0 also holds the "
                             "summary arrays")
        a["pde_done"] = bool(run.pde_done)
        n_used = results.get("particles", {}).get("n", 0)
        a["permutations_finished"] = int(n_used)
        a["permutations_total"] = int(run.particles["n_perm"]) if run.particles else 0
        a["all_finished"] = bool(run.pde_done and (run.particles is None or n_used == run.particles["n_perm"]))
        a["map_hours_skipped"] = json.dumps(plan.hours_skipped)
        a["standard_error"] = "sqrt(sample variance (ddof = 1) / n) over the finished permutations"
        a["mlt_average"] = ("plain mean over the MLT cells of a ring: every cell of a ring has the same measure "
                            "(1/L_lo - 1/L_hi) dphi, so this is the measure-weighted MLT average")

        ts = _ds(h5, "time_s", run.time_s, "s", "output times of the PDE and the radial solver")
        ts.make_scale("time_s")
        _ds(h5, "time_h", run.time_s / 3600.0, "h", "the same in hours")
        Lg = _ds(h5, "L_grid", run.L_grid, "1", "PDE cell centres in L")
        Lg.make_scale("L_grid")
        mg = _ds(h5, "mlt_h", run.mlt_h, "h", "PDE cell-centre MLT (0 = midnight)")
        mg.make_scale("mlt_h")
        _ds(h5, "L_edges", run.L_edges, "1", "PDE cell edges in L")
        _ds(h5, "cell_measure", run.cell_measure, "rad", "measure of each cell of a ring")
        pr = h5.create_group("probe")
        pr.create_dataset("name", data=np.array([p["name"] for p in run.probes], dtype=h5py.string_dtype()))
        pr["name"].attrs["units"] = "1"
        pr["name"].attrs["description"] = "probe names"
        for k, unit in (("L_lo", "1"), ("L_hi", "1"), ("mlt_lo_h", "h"), ("mlt_hi_h", "h")):
            _ds(pr, k, np.array([p[k] for p in run.probes]), unit, f"probe box {k}")
        mp = h5.create_group("maps")
        mp.attrs["description"] = "F at the requested hours (nearest output time)"
        _ds(mp, "hour_requested", np.asarray(plan.hours, float), "h", "requested hours")
        _ds(mp, "pde_time_s", run.time_s[np.asarray(plan.snap_idx, np.int64)] if plan.snap_idx else np.zeros(0), "s",
            "PDE output time used")
        if "pde" in results:
            r = results["pde"]
            g = h5.create_group("pde")
            _ds(g, "probe_F", r["probe_F"], "1", "PDE F averaged over each probe box (measure-weighted)",
                dims=(None, ts))
            _ds(g, "mlt_mean", r["mlt_mean"], "1", "MLT average of F at each L", dims=(ts, Lg))
            _ds(g, "mlt_std", r["mlt_std"], "1", "standard deviation of F over MLT at each L (phase mixing: "
                "0 once F no longer depends on MLT)", dims=(ts, Lg))
            _ds(mp, "pde_F", r["snaps"], "1", "PDE F(L, MLT) at the requested hours", dims=(None, Lg, mg))
            if "radial" in results:
                rf = results["radial"]
                rg = h5.create_group("radial")
                _ds(rg, "F", rf, "1", "radial diffusion solution (copied from the run)", dims=(ts, Lg))
                c = h5.create_group("comparison")
                c.attrs["description"] = "PDE MLT average minus the radial diffusion solution"
                d = r["mlt_mean"] - rf
                w = run.cell_measure[None, :]
                _ds(c, "mlt_mean_minus_radial", d, "1", "difference at each time and L", dims=(ts, Lg))
                _ds(c, "max_abs_difference", np.abs(d).max(axis=1), "1", "largest |difference| over L",
                    dims=(ts,))
                with np.errstate(invalid="ignore", divide="ignore"):
                    rel = np.sqrt((w * d * d).sum(axis=1) / (w * rf * rf).sum(axis=1))
                _ds(c, "relative_l2_difference", rel, "1",
                    "sqrt(sum w d^2 / sum w radial^2) with w the ring measure (1/L_lo - 1/L_hi)", dims=(ts,))
        if "particles" in results:
            p = run.particles
            r = results["particles"]
            g = h5.create_group("particles")
            g.attrs["permutations_used"] = r["n"]
            _ds(g, "permutations_used", p["done"], "1", "indices of the finished permutations averaged")
            pts = _ds(g, "time_s", p["time_s"], "s", "recording times of the particles")
            pts.make_scale("particles_time_s")
            pL = _ds(g, "L_grid", p["L_grid"], "1", "binning grid: L at the cell centres")
            pL.make_scale("particles_L_grid")
            pm = _ds(g, "mlt_h", p["mlt_h"], "h", "binning grid: MLT at the cell centres")
            pm.make_scale("particles_mlt_h")
            for key, name, desc, dims in (
                    ("probe", "probe_F", "F at each probe box", (None, pts)),
                    ("F", "F", "F on the binning grid", (pts, pL, pm)),
                    ("mlt_mean", "mlt_mean_F", "MLT average of each permutation's F", (pts, pL)),
                    ("number", "number_in_grid", "number of particles (measure units) in the grid", (pts,))):
                mean, err = r[key]
                _ds(g, f"{name}_mean", mean, "rad" if key == "number" else "1",
                    f"{desc}: mean over the finished permutations", dims=dims)
                _ds(g, f"{name}_sem", err, "rad" if key == "number" else "1",
                    f"{desc}: standard error of that mean", dims=dims)
            pidx = np.asarray(plan.p_snap_idx, np.int64)
            ok = pidx >= 0
            mF, eF = r["F"]
            maps = np.full((pidx.size,) + mF.shape[1:], np.nan)
            maps[ok] = mF[pidx[ok]]
            _ds(mp, "particles_F_mean", maps, "1", "particles' mean F at the requested hours (NaN: beyond the "
                "particle run)", dims=(None, pL, pm))
            _ds(mp, "particles_time_s", np.where(ok, p["time_s"][np.where(ok, pidx, 0)], np.nan), "s",
                "particle recording time used")
        h5.flush()


def options_json(opts: DriftOptions) -> str:
    return json.dumps(asdict(opts), sort_keys=True, default=lambda o: list(o) if isinstance(o, tuple) else str(o))
