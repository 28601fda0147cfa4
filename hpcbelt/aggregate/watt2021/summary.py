"""The summary file of a pitch-angle run (written by rank 0 under a temporary name).

Layout (a contract with the figures, the report and any later reader; summary_layout_version 1)::

    /time_s, /time_days            (time,)          s / day; time_s is a dimension scale
    /alpha_deg                     (alpha,)         deg, dimension scale
    /<exp>/members_used            (n_used,)        indices of the finished members aggregated
    /<exp>/members_damaged         (n_damaged,)     finished members left out as damaged (--skip-damaged)
    /<exp>/f/<stat>                (time, alpha)    f over finished members; stat in
                                                    mean, min, p05, p25, median, p75, p95, max
    /<exp>/daa_integral/<stat>     (time, alpha)    the same for the running integral of D_aa dt
    /<exp>/pdf/counts              (time, bin)      members per log10 f bin at pdf@alpha_deg
    /<exp>/pdf/density             (time, bin)      counts / (n_used * bin width)  [1/decade]
    /<exp>/pdf/column_max1         (time, bin)      counts / max over bins of that time
    /<exp>/pdf/below|above|nonpositive (time,)      members outside the bins / with f <= 0
    /<exp>/bootstrap/median_ci_low|high (time,)     bootstrap interval of the median f at pdf angle
    /<exp>/convergence/ensemble_size (size,)
    /<exp>/convergence/median_first_n (size, day)   median of the first n finished members
    /<exp>/convergence/subset_median_low|high (size, day)  spread of medians of random n-subsets
    /pdf_bin_edges_log10f          (bin + 1,)       log10 of f in the run's f units
    /snapshots/day_requested, time_s, time_index (day,)
    /snapshots/<exp>/<stat>        (day, alpha)     f statistics at the snapshot days
    /ratios/alpha_deg (r,), /ratios/experiments (e,)
    /ratios/median_f               (e, e, day, r)   median f of row experiment / of column experiment
    /ratios/constant_runs          (day, r)         f(mean_inputs) / f(mean_of_profiles), if both ran
    /ratios/constant_runs_at_pdf_alpha (time,)      the same ratio at every output time
    /figure_data/fig3/<role>       (time <= fig3 days, alpha)  f of one member (raw, no floor)
    /database/daa_mean, daa_of_mean_inputs (alpha,)  copied from the run
    /database/file/...             the database distribution (Fig 1) when the file was readable
    /mechanism                     attrs: available (reason if not), alpha_deg, gap_deg, nodes_below_gap,
                                   rate_mean_profile_per_day, reference_experiment (:mod:`.mechanism`)
    /mechanism/<exp>/f_mean, f_median, f_geometric_mean (time,)  f at mechanism alpha_deg [f units]
    /mechanism/<exp>/f_<stat>_over_reference (time,)  the same over f of the <D> run [1]
    /mechanism/<exp>/{commuting,rest}/{mean,p05,median,p95} (time,)  random experiments: ln f split [1];
                                   attr rate_of_mean_propagator_per_day (the ensemble mean's decay rate)
    /energies/...                  a run over energies only: f at the PDF angle and the last time against
                                   energy, ensembles over the <D> run (:mod:`.energies`)

A run over energies (one group ``<experiment>_E<energy>MeV`` per experiment and energy) is
summarised group by group as above (``/<exp>`` is then each group); ``/database`` holds the
run's per-energy profiles (``daa_mean_by_energy``, ``daa_of_mean_inputs_by_energy``, energy x
alpha, with ``energy_MeV``), and ``daa_mean``, ``daa_of_mean_inputs`` and the distribution
(Fig 1) of the first energy, named by the attribute ``energy_MeV``.

Root attributes: the common header of every summary (:func:`hpcbelt.aggregate.files.summary_header`:
where the data came from -- source_path, size, mtime, sha256, the run's status, study
configuration, code version -- the options, the memory budget and the MPI size), then what is
particular to a pitch-angle run: percentile method, memory bound, f units and how many finished
members each experiment contributed.  Every summary also says what was left out as damaged
(``skip_damaged``, ``items_skipped_damaged``, ``items_skipped_damaged_json``:
:func:`hpcbelt.aggregate.damage.summary_attrs`); here per experiment too (``members_damaged``,
``members_damaged_json``).  A damaged member left out counts as finished (members_finished,
all_members_finished: what the run file says) but not as used.
"""

from __future__ import annotations

import json

import numpy as np

from ...pitch_angle.runfile import MEMBER_DONE
from .. import stats
from ...daa_database import WINDOW_DECADES, database_distribution
from ...output import open_unbuffered
from .. import damage
from ..files import dataset, write_attrs
from . import energies, mechanism
from .compute import fig3_data, snapshot_and_ratios

STAT_DESCRIPTIONS = {
    "mean": "arithmetic mean over the finished members",
    "min": "minimum over the finished members (0th percentile)",
    "p05": "5th percentile over the finished members",
    "p25": "25th percentile over the finished members",
    "median": "median (50th percentile) over the finished members",
    "p75": "75th percentile over the finished members",
    "p95": "95th percentile over the finished members",
    "max": "maximum over the finished members (100th percentile)",
}


def write_summary(path, run, plan, results: dict, header: dict) -> None:
    """Write the whole summary to ``path`` (rank 0; the caller renames it into place).

    ``header`` holds the root attributes every summary starts with.  The small rank-0 reads
    are made here: the Fig 3 members from the run file and the database distribution (Fig 1)
    from the database file the run names.
    """

    fig3 = fig3_data(run, plan)
    ratios = snapshot_and_ratios(run, plan, results)
    db_dist = (database_distribution(run.database, energy_MeV=run.energies_MeV[0]) if run.multi_energy
               else database_distribution(run.database))
    mech = mechanism.diagnostics(run, plan, results)
    by_energy = energies.table(run, plan, results)
    damaged = damage.skipped_by_group(header)
    with open_unbuffered(path, "w") as h5:      # a full disk is reported, not lost at close
        write_attrs(h5, header)
        write_attrs(h5, _root_attrs(run, plan, damaged))
        ts, al = _axes(h5, run, results)
        for ex in run.experiments:
            _experiment(h5, ex, results["exp"][ex.name], run, plan, ts, al, damaged.get(ex.name, []))
        _snapshots(h5, run, plan, results, al)
        _ratios(h5, run, plan, ratios, ts)
        _fig3(h5, run, plan, fig3, al)
        _database(h5, run, db_dist, al)
        mechanism.write(h5, run, mech, ts)
        energies.write(h5, run, by_energy)
        h5.flush()


def _root_attrs(run, plan, damaged: dict) -> dict:
    finished = {ex.name: ex.n_done + len(damaged.get(ex.name, [])) for ex in run.experiments}
    return {
        "description": ("Ensemble statistics of an hpcbelt pitch-angle run, made by 'hpcbelt aggregate'. "
                        f"Statistics are over the finished members only ({MEMBER_DONE} = 1); "
                        "see members_used in each experiment group."),
        "f_units": run.f_units,
        "percentile_method": (f"numpy.percentile method='{stats.PERCENTILE_METHOD}' (linear interpolation "
                              f"between order statistics, Hyndman & Fan type 7)"),
        "memory_bound": ("per rank: member slabs <= memory_budget/2 (all finished members x a block of "
                         "times x pitch angles, 8 bytes each), bootstrap batches <= memory_budget/4, plus "
                         "the rank's share of the summary arrays; never less than one (time, alpha) "
                         "column of all finished members"),
        "experiments": json.dumps([ex.name for ex in run.experiments]),
        "members_finished_json": json.dumps(finished),
        "members_total_json": json.dumps({ex.name: ex.members for ex in run.experiments}),
        "members_used_json": json.dumps({ex.name: ex.n_done for ex in run.experiments}),
        "members_damaged_json": json.dumps({ex.name: len(damaged.get(ex.name, [])) for ex in run.experiments}),
        "all_members_finished": bool(all(finished[ex.name] == ex.members for ex in run.experiments)),
        "pdf_alpha_deg": float(run.alpha_deg[plan.ia]),
        "days_skipped": json.dumps(plan.days_skipped),
    }


def _axes(h5, run, results):
    """The time and pitch-angle scales and the PDF bin edges; returns the two scales."""
    ts = dataset(h5, "time_s", run.time_s, "s", "output times of the run since its start")
    ts.make_scale("time_s")
    dataset(h5, "time_days", run.time_s / 86400.0, "day", "output times of the run since its start")
    al = dataset(h5, "alpha_deg", run.alpha_deg, "deg", "equatorial pitch angle (the run's grid nodes)")
    al.make_scale("alpha_deg")
    eb = dataset(h5, "pdf_bin_edges_log10f", results["edges"], f"log10({run.f_units})",
                 "bin edges of log10 f for the column-normalised PDFs")
    eb.attrs["automatic"] = bool(results["edges_auto"])
    eb.attrs["rule"] = ("automatic: from the smallest to the largest finished-member f at the PDF angle "
                        "over all experiments and times, widened to 0.1 decade" if results["edges_auto"]
                        else "given with --bins LO,HI,N")
    return ts, al


def _experiment(h5, ex, r: dict, run, plan, ts, al, damaged: list) -> None:
    """One experiment's group: statistics, PDF, bootstrap interval and convergence."""
    g = h5.create_group(ex.name)
    g.attrs["mode"] = ex.mode
    g.attrs["switch_every_s"] = ex.switch_every_s
    g.attrs["description"] = ex.description
    g.attrs["members_in_run"] = ex.members
    g.attrs["members_finished"] = ex.n_done + len(damaged)
    g.attrs["members_used"] = ex.n_done
    g.attrs["members_damaged"] = len(damaged)
    dataset(g, "members_used", ex.done, "1", "indices of the finished members that were aggregated")
    dataset(g, "members_damaged", np.asarray(damaged, np.int64), "1",
            "indices of finished members left out of every statistic as if unfinished (--skip-damaged): "
            f"their data fail their checksum ({MEMBER_DONE} = 1 but changed since written) or hold non-finite "
            "or negative values")
    if not ex.n_done:
        g.attrs["note"] = "no finished member: no statistics"
        return
    for q, unit, what in (("f", run.f_units, "phase-space density f"),
                          ("daa_integral", "1", "running time integral of D_aa dt")):
        sg = g.create_group(q)
        for s in stats.STAT_NAMES:
            dataset(sg, s, r[q][s], unit, f"{what}: {STAT_DESCRIPTIONS[s]} at each time and pitch angle",
                    dims=(ts, al))
    _pdf(g, ex, r, run, plan, ts)
    _bootstrap(g, r, run, plan, ts)
    _convergence(g, ex, r, run, plan)


def _pdf(g, ex, r: dict, run, plan, ts) -> None:
    pg = g.create_group("pdf")
    pg.attrs["alpha_deg"] = float(run.alpha_deg[plan.ia])
    pg.attrs["n_members"] = ex.n_done
    pg.attrs["normalisation"] = (
        "column-normalised: each output time (row) is a histogram of log10 f over the finished "
        "members at alpha_deg. density = counts / (n_members * bin width in decades), so each row "
        "integrates over log10 f to the fraction of members inside the bin range (1 when below, "
        "above and nonpositive are 0). column_max1 = counts / largest count of that row.")
    counts, below, above, nonpos = r["hist"]
    dataset(pg, "counts", counts, "1", "finished members per bin of log10 f", dims=(ts, None))
    dataset(pg, "density", r["pdf_density"], "1/decade", "probability density of log10 f per output time",
            dims=(ts, None))
    dataset(pg, "column_max1", r["pdf_max1"], "1", "counts scaled to a maximum of 1 per output time",
            dims=(ts, None))
    dataset(pg, "below", below, "1", "members with log10 f below the first bin edge", dims=(ts,))
    dataset(pg, "above", above, "1", "members with log10 f above the last bin edge", dims=(ts,))
    dataset(pg, "nonpositive", nonpos, "1", "members with f <= 0 (no logarithm)", dims=(ts,))


def _bootstrap(g, r: dict, run, plan, ts) -> None:
    opts = plan.opts
    bg = g.create_group("bootstrap")
    bg.attrs.update({"alpha_deg": float(run.alpha_deg[plan.ia]), "n_resamples": opts.n_boot,
                     "confidence": opts.confidence, "seed": opts.seed,
                     "method": "percentile bootstrap: resample the finished members with "
                               "replacement, take the median, report the (1-c)/2 and (1+c)/2 "
                               "percentiles of the resampled medians; stream per output time "
                               "from SeedSequence([seed, experiment number, time index, 1])"})
    dataset(bg, "median_ci_low", r["boot_lo"], run.f_units, "lower end of the median's interval", dims=(ts,))
    dataset(bg, "median_ci_high", r["boot_hi"], run.f_units, "upper end of the median's interval", dims=(ts,))


def _convergence(g, ex, r: dict, run, plan) -> None:
    opts = plan.opts
    cg = g.create_group("convergence")
    cg.attrs.update({"alpha_deg": float(run.alpha_deg[plan.ia]), "n_subsets": opts.n_sub,
                     "confidence": opts.confidence,
                     "day_requested": np.asarray(plan.snap_days, float),
                     "time_index": np.asarray(plan.snap_index, np.int64),
                     "method": "median of the first n finished members (file order), and the "
                               "(1-c)/2, (1+c)/2 percentiles of the medians of n_subsets random "
                               "n-member subsets drawn without replacement"})
    dataset(cg, "ensemble_size", plan.sizes[ex.name], "1", "number of members")
    dataset(cg, "median_first_n", r["conv_first"], run.f_units, "median f of the first n members")
    dataset(cg, "subset_median_low", r["conv_lo"], run.f_units, "low percentile of subset medians")
    dataset(cg, "subset_median_high", r["conv_hi"], run.f_units, "high percentile of subset medians")


def _snapshots(h5, run, plan, results: dict, al) -> None:
    sg = h5.create_group("snapshots")
    ti = np.asarray(plan.snap_index, np.int64)
    dataset(sg, "day_requested", np.asarray(plan.snap_days, float), "day", "requested snapshot days")
    dataset(sg, "time_s", run.time_s[ti] if ti.size else np.zeros(0), "s", "output time used (nearest)")
    dataset(sg, "time_index", ti, "1", "index into time_s")
    for ex in run.experiments:
        if not ex.n_done:
            continue
        eg = sg.create_group(ex.name)
        for s in stats.STAT_NAMES:
            dataset(eg, s, results["exp"][ex.name]["f"][s][ti], run.f_units,
                    f"f at the snapshot days: {STAT_DESCRIPTIONS[s]}", dims=(None, al))


def _ratios(h5, run, plan, ratios: dict, ts) -> None:
    import h5py

    rg = h5.create_group("ratios")
    dataset(rg, "alpha_deg", run.alpha_deg[np.asarray(plan.ratio_ia, np.int64)], "deg",
            "pitch angles of the ratios (nearest grid nodes)")
    dataset(rg, "day_requested", np.asarray(plan.snap_days, float), "day", "days of the ratios")
    rg.create_dataset("experiments", data=np.array(ratios["names"], dtype=h5py.string_dtype()))
    rg["experiments"].attrs["units"] = "1"
    rg["experiments"].attrs["description"] = "experiment names, the order of both axes of median_f"
    dataset(rg, "median_f", ratios["median_ratio"], "1",
            "median f of experiment i divided by median f of experiment j, [i, j, day, alpha]")
    c = ratios["constant"]
    if c is None:
        return
    d = dataset(rg, "constant_runs", c["at_days"], "1",
                "f of the constant D(<X>,<Y>) run divided by f of the constant <D(X_i,Y_i)> run, "
                "[day, alpha]")
    d.attrs["numerator"], d.attrs["denominator"] = c["numerator"], c["denominator"]
    d = dataset(rg, "constant_runs_at_pdf_alpha", c["at_alpha_over_time"], "1",
                "the same ratio at the PDF pitch angle at every output time", dims=(ts,))
    d.attrs["alpha_deg"] = float(run.alpha_deg[plan.ia])


def _fig3(h5, run, plan, fig3: dict, al) -> None:
    opts = plan.opts
    fg = h5.create_group("figure_data/fig3")
    fg.attrs["floor_f"] = opts.floor_f
    fg.attrs["days"] = opts.fig3_days
    fg.attrs["description"] = ("f(alpha, t) of single members over the first days (raw values; the "
                               "figure applies the floor)")
    for role, v in fig3.items():
        if role == "n_time":
            continue
        d = dataset(fg, role, v["f"], run.f_units, f"f of {v['experiment']} member {v['member']}",
                    dims=(None, al))
        d.attrs["experiment"] = v["experiment"]
        d.attrs["member"] = v["member"]


def _database(h5, run, db_dist: dict, al) -> None:
    """The run's two average profiles, and the database's distribution when its file was readable."""
    dg = h5.create_group("database")
    for k in ("path", "sha256", "n_profiles"):
        if k in run.database:
            dg.attrs[k] = run.database[k]
    for k, desc in (("daa_mean", "<D(X_i, Y_i)>: mean of all database profiles, on the model grid"),
                    ("daa_of_mean_inputs", "D(<X>, <Y>): profile from the mean inputs, on the model grid")):
        if k in run.database:
            dataset(dg, k, run.database[k], "1/s", desc, dims=(al,))
    if run.multi_energy:          # every energy's profiles; the first energy's as the single-energy names
        dg.attrs["energy_MeV"] = run.energies_MeV[0]
        en = dataset(dg, "energy_MeV", np.array(run.energies_MeV, float), "MeV", "energies of the run")
        en.make_scale("energy_MeV")
        for k, desc in (("daa_mean", "<D(X_i, Y_i)>: mean of all database profiles"),
                        ("daa_of_mean_inputs", "D(<X>, <Y>): profile from the mean inputs")):
            if k + "_by_energy" in run.database:
                arr = run.database[k + "_by_energy"]
                dataset(dg, k + "_by_energy", arr, "1/s", f"{desc} at each energy, on the model grid "
                        "[energy, alpha]", dims=(en, al))
                dataset(dg, k, arr[0], "1/s", f"{desc} at the first energy (energy_MeV), on the model grid",
                        dims=(al,))
    dg.attrs["file_readable"] = bool(db_dist.get("readable", False))
    if not db_dist.get("readable"):
        dg.attrs["file_note"] = db_dist.get("reason", "")
        return
    fgp = dg.create_group("file")
    fgp.attrs["path"] = db_dist["path"]
    fgp.attrs["sha256"] = db_dist["sha256"]
    fgp.attrs["sha256_matches_run"] = db_dist["sha256_matches_run"]
    fgp.attrs["n_profiles"] = db_dist["n_profiles"]
    fgp.attrs["normalisation"] = ("column-normalised: for each database pitch angle, counts / "
                                  "(n_profiles * bin width); profiles with D = 0 are in 'zeros', positive D below the "
                                  f"first bin edge (at most {WINDOW_DECADES:g} decades under the "
                                  "largest D) in no bin")
    dataset(fgp, "alpha_deg", db_dist["alpha_deg"], "deg", "the database's own pitch-angle grid")
    dataset(fgp, "bin_edges_log10_daa", db_dist["edges"], "log10(1/s)", "bin edges of log10 D_aa")
    dataset(fgp, "counts", db_dist["counts"], "1", "profiles per bin [alpha, bin]")
    dataset(fgp, "density", db_dist["density"], "1/decade", "column-normalised PDF [alpha, bin]")
    dataset(fgp, "zeros", db_dist["zeros"], "1", "profiles with D_aa = 0 at each angle")
    dataset(fgp, "daa_mean", db_dist["daa_mean_db_grid"], "1/s", "mean profile on the database grid")
    q = dataset(fgp, "qq_sample_log10_daa", db_dist["qq_sample_log10"], "log10(1/s)",
                "sorted log10 D_aa > 0 at qq_alpha_deg (quantile-quantile plot)")
    q.attrs["qq_alpha_deg"] = db_dist["qq_alpha_deg"]
    dataset(fgp, "qq_normal_quantiles", db_dist["qq_normal"], "1", "standard normal quantiles at (i - 0.5) / n")
