"""The summary file of a drift-diffusion run (written by rank 0 under a temporary name).

Layout (a contract with the figures, the report and any later reader; summary_layout_version 1)::

    /time_s, /time_h               (time,)               PDE output times; time_s is a dimension scale
    /L_grid, /mlt_h                (L,), (mlt,)          PDE cell centres, dimension scales
    /L_edges, /cell_measure        (L + 1,), (L,)        PDE cell edges and the measure of a cell of each ring
    /probe/name, L_lo, L_hi, mlt_lo_h, mlt_hi_h (probe,) the probe boxes
    /maps/hour_requested, pde_time_s (hour,)             the map hours and the PDE time used
    /maps/pde_F                    (hour, L, mlt)        PDE F at those hours (if the PDE is done)
    /maps/particles_F_mean, particles_time_s             the particles' mean F at those hours (NaN beyond them)
    /pde/probe_F                   (probe, time)         PDE F averaged over each probe box
    /pde/mlt_mean, mlt_std         (time, L)             MLT average and spread of the PDE's F
    /radial/F                      (time, L)             the radial solution (copied from the run)
    /comparison/mlt_mean_minus_radial (time, L), max_abs_difference, relative_l2_difference (time,)
    /particles/permutations_used   (n_used,)             indices of the finished permutations averaged
    /particles/permutations_damaged (n_damaged,)         finished permutations left out as damaged (--skip-damaged)
    /particles/time_s, L_grid, mlt_h                     recording times and binning grid (dimension scales)
    /particles/<name>_mean, <name>_sem                   mean over the finished permutations and its
                                                         standard error; name in probe_F (probe, time),
                                                         F (time, L, mlt), mlt_mean_F (time, L),
                                                         number_in_grid (time,)

Root attributes: the common header of every summary (:func:`hpcbelt.aggregate.files.summary_header`:
where the data came from, the options, the memory budget and the MPI size), then what is
particular to a drift-diffusion run: what is finished (pde_done, permutations_finished /
permutations_total, all_finished; permutations_used, permutations_damaged), the map hours
skipped, and how the statistics are defined.  A damaged permutation left out with
``--skip-damaged`` counts as finished (what the run file says) but not as used; the common
header lists it (``items_skipped_damaged_json``).
"""

from __future__ import annotations

import json

import numpy as np

from ...drift.runfile import DriftRun
from ...output import open_unbuffered
from .. import damage, files
from .plan import Plan


def write_summary(path, run: DriftRun, plan: Plan, results: dict, header: dict) -> None:
    """Write the whole summary to ``path`` (rank 0; the caller renames it into place).

    ``header`` holds the root attributes every summary starts with
    (:func:`hpcbelt.aggregate.files.summary_header`); what follows is this kind's.
    """
    import h5py

    with open_unbuffered(path, "w") as h5:      # a full disk is reported, not lost at close
        files.write_attrs(h5, header)
        a = h5.attrs
        a["description"] = ("Summary of an hpcbelt drift-diffusion run, made by 'hpcbelt aggregate': the PDE's F at "
                            "the probes, MLT averages against the radial solver, (L, MLT) maps, and the test "
                            "particles' mean and standard error over the finished permutations.")
        a["memory_bound"] = ("per rank: PDE blocks of whole output times, and particle blocks of all finished "
                             "permutations x (times x L rows), each <= memory_budget/2 with its working copies "
                             "(never less than one (time, L) row of all permutations); rank 0 also holds the "
                             "summary arrays")
        a["pde_done"] = bool(run.pde_done)
        n_used = results.get("particles", {}).get("n", 0)
        bad = damage.skipped_by_group(header).get("particles", [])
        a["permutations_finished"] = int(n_used) + len(bad)
        a["permutations_used"] = int(n_used)
        a["permutations_damaged"] = len(bad)
        a["permutations_total"] = int(run.particles["n_perm"]) if run.particles else 0
        a["all_finished"] = bool(run.pde_done and (run.particles is None
                                                   or n_used + len(bad) == run.particles["n_perm"]))
        a["map_hours_skipped"] = json.dumps(plan.hours_skipped)
        a["standard_error"] = "sqrt(sample variance (ddof = 1) / n) over the finished permutations"
        a["mlt_average"] = ("plain mean over the MLT cells of a ring: every cell of a ring has the same measure "
                            "(1/L_lo - 1/L_hi) dphi, so this is the measure-weighted MLT average")

        ts = files.dataset(h5, "time_s", run.time_s, "s", "output times of the PDE and the radial solver")
        ts.make_scale("time_s")
        files.dataset(h5, "time_h", run.time_s / 3600.0, "h", "the same in hours")
        Lg = files.dataset(h5, "L_grid", run.L_grid, "1", "PDE cell centres in L")
        Lg.make_scale("L_grid")
        mg = files.dataset(h5, "mlt_h", run.mlt_h, "h", "PDE cell-centre MLT (0 = midnight)")
        mg.make_scale("mlt_h")
        files.dataset(h5, "L_edges", run.L_edges, "1", "PDE cell edges in L")
        files.dataset(h5, "cell_measure", run.cell_measure, "rad", "measure of each cell of a ring")
        pr = h5.create_group("probe")
        pr.create_dataset("name", data=np.array([p["name"] for p in run.probes], dtype=h5py.string_dtype()))
        pr["name"].attrs["units"] = "1"
        pr["name"].attrs["description"] = "probe names"
        for k, unit in (("L_lo", "1"), ("L_hi", "1"), ("mlt_lo_h", "h"), ("mlt_hi_h", "h")):
            files.dataset(pr, k, np.array([p[k] for p in run.probes]), unit, f"probe box {k}")
        mp = h5.create_group("maps")
        mp.attrs["description"] = "F at the requested hours (nearest output time)"
        files.dataset(mp, "hour_requested", np.asarray(plan.hours, float), "h", "requested hours")
        used_t = run.time_s[np.asarray(plan.snap_idx, np.int64)] if plan.snap_idx else np.zeros(0)
        files.dataset(mp, "pde_time_s", used_t, "s", "PDE output time used")
        if "pde" in results:
            r = results["pde"]
            g = h5.create_group("pde")
            files.dataset(g, "probe_F", r["probe_F"], "1", "PDE F averaged over each probe box (measure-weighted)",
                          dims=(None, ts))
            files.dataset(g, "mlt_mean", r["mlt_mean"], "1", "MLT average of F at each L", dims=(ts, Lg))
            files.dataset(g, "mlt_std", r["mlt_std"], "1", "standard deviation of F over MLT at each L (phase mixing: "
                          "0 once F no longer depends on MLT)", dims=(ts, Lg))
            files.dataset(mp, "pde_F", r["snaps"], "1", "PDE F(L, MLT) at the requested hours", dims=(None, Lg, mg))
            if "radial" in results:
                rf = results["radial"]
                rg = h5.create_group("radial")
                files.dataset(rg, "F", rf, "1", "radial diffusion solution (copied from the run)", dims=(ts, Lg))
                c = h5.create_group("comparison")
                c.attrs["description"] = "PDE MLT average minus the radial diffusion solution"
                d = r["mlt_mean"] - rf
                w = run.cell_measure[None, :]
                files.dataset(c, "mlt_mean_minus_radial", d, "1", "difference at each time and L", dims=(ts, Lg))
                files.dataset(c, "max_abs_difference", np.abs(d).max(axis=1), "1", "largest |difference| over L",
                              dims=(ts,))
                with np.errstate(invalid="ignore", divide="ignore"):
                    rel = np.sqrt((w * d * d).sum(axis=1) / (w * rf * rf).sum(axis=1))
                files.dataset(c, "relative_l2_difference", rel, "1",
                              "sqrt(sum w d^2 / sum w radial^2) with w the ring measure (1/L_lo - 1/L_hi)", dims=(ts,))
        if "particles" in results:
            p = run.particles
            r = results["particles"]
            g = h5.create_group("particles")
            g.attrs["permutations_used"] = r["n"]
            files.dataset(g, "permutations_used", p["done"], "1", "indices of the finished permutations averaged")
            g.attrs["permutations_damaged"] = len(bad)
            files.dataset(g, "permutations_damaged", np.asarray(bad, np.int64), "1",
                          "indices of finished permutations left out of every statistic as if unfinished "
                          "(--skip-damaged): their data fail their checksum or hold non-finite or negative values")
            pts = files.dataset(g, "time_s", p["time_s"], "s", "recording times of the particles")
            pts.make_scale("particles_time_s")
            pL = files.dataset(g, "L_grid", p["L_grid"], "1", "binning grid: L at the cell centres")
            pL.make_scale("particles_L_grid")
            pm = files.dataset(g, "mlt_h", p["mlt_h"], "h", "binning grid: MLT at the cell centres")
            pm.make_scale("particles_mlt_h")
            for key, name, desc, dims in (
                    ("probe", "probe_F", "F at each probe box", (None, pts)),
                    ("F", "F", "F on the binning grid", (pts, pL, pm)),
                    ("mlt_mean", "mlt_mean_F", "MLT average of each permutation's F", (pts, pL)),
                    ("number", "number_in_grid", "number of particles (measure units) in the grid", (pts,))):
                mean, err = r[key]
                files.dataset(g, f"{name}_mean", mean, "rad" if key == "number" else "1",
                              f"{desc}: mean over the finished permutations", dims=dims)
                files.dataset(g, f"{name}_sem", err, "rad" if key == "number" else "1",
                              f"{desc}: standard error of that mean", dims=dims)
            pidx = np.asarray(plan.p_snap_idx, np.int64)
            ok = pidx >= 0
            mF, eF = r["F"]
            maps = np.full((pidx.size,) + mF.shape[1:], np.nan)
            maps[ok] = mF[pidx[ok]]
            files.dataset(mp, "particles_F_mean", maps, "1", "particles' mean F at the requested hours "
                          "(NaN: beyond the particle run)", dims=(None, pL, pm))
            files.dataset(mp, "particles_time_s", np.where(ok, p["time_s"][np.where(ok, pidx, 0)], np.nan), "s",
                          "particle recording time used")
        h5.flush()
