"""Why the time scale of variability matters (issue 13): the mechanism diagnostics of a summary.

For a pitch-angle run whose database file is still readable (and is the one the run used, by
sha256), rank 0 computes, at the summary's PDF angle:

* for every experiment, the arithmetic mean, median and geometric mean of f over the finished
  members, and each over f of the constant <D(X_i, Y_i)> run (``mean_of_profiles``) when the run
  has one;
* the spectral decay rates below the gap (:mod:`hpcbelt.pitch_angle.spectral`): the <D> run's
  asymptotic rate and, per random experiment, that of the ensemble *mean* under iid switching at
  its switch_every_s.  The bound rate(mean) <= rate(<D>) always holds: only the median or the
  geometric mean can end below the <D> run;
* per random experiment, the split of each member's ln f(t) / f(0) into the commuting part (the
  sum of each segment's own slowest-mode loss) and the rest (the loss or gain at the switches),
  as percentiles over the members at every output time.

A run over energies (one group per experiment and energy, :mod:`hpcbelt.pitch_angle.runfile`)
is diagnosed energy by energy, each group against the <D> run and the gap of its own energy:
the group-level results are as above, and the gap, the <D> run's rate and the reference run,
which are attributes of the ``mechanism`` group for one energy, become attributes of each
group (``gap_deg``, ``nodes_below_gap``, ``rate_mean_profile_per_day``,
``reference_experiment``) and datasets over ``energy_MeV`` in the ``mechanism`` group.

The study is rebuilt from the run's own study text and overrides (``study_toml``,
``study_overrides``) with the database the run recorded, so the grid and the profiles are exactly the run's.  Without the database, the group says why
(``available`` = False, ``reason``) and the rest of the summary is unaffected.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import numpy as np

from ...errors import InputError
from ...output import open_h5
from ...pitch_angle import spectral
from ...pitch_angle.runfile import F, PROFILE_INDEX, dataset_path, read_member_column

SECONDS_PER_DAY = 86400.0
QUANTILES = (("p05", 5.0), ("median", 50.0), ("p95", 95.0))


def _study(run):
    """The run's study, rebuilt from its validated configuration, or (None, reason)."""
    from ...config import StudyFile
    from ...pitch_angle.study import load_study

    db_path = run.database.get("path", "")
    if not db_path or not Path(db_path).is_file():
        return None, f"database file {db_path or '(none recorded)'} not found"
    try:
        with open_h5(run.path) as h5:
            text = h5.attrs["study_toml"]
            overrides = json.loads(h5.attrs.get("study_overrides", "[]"))
        text = text.decode() if isinstance(text, bytes) else str(text)
        study_path = Path(run.root.get("study_file", run.path))
        source = StudyFile(study_path, text, tomllib.loads(text))
        study = load_study(source, [*overrides, f'database.path="{Path(db_path).resolve()}"'])
    except (InputError, KeyError, ValueError, TypeError, OSError, tomllib.TOMLDecodeError) as exc:
        return None, f"cannot rebuild the run's study: {exc}"
    if study.database.sha256 != run.database.get("sha256", ""):
        return None, f"database file {db_path} is not the one the run used (sha256 differs)"
    if study.grid.n != run.n_alpha or not np.allclose(study.grid.alpha_deg, run.alpha_deg, rtol=0, atol=1e-9):
        return None, "the rebuilt study's pitch-angle grid differs from the run's"
    return study, ""


def _column(h5, ex, ia: int, n_time: int) -> np.ndarray:
    out = np.empty((ex.n_done, n_time))
    read_member_column(h5, dataset_path(ex.name, F), ex, 0, ex.n_done, ia, out)
    return out


def diagnostics(run, plan, results: dict) -> dict:
    """The mechanism diagnostics (rank 0); ``{"available": False, "reason": ...}`` without the database."""
    study, reason = _study(run)
    if study is None:
        return {"available": False, "reason": reason}
    if not run.multi_energy:
        out = _one_energy(run, plan, results, study.grid, study.profiles, study.database.n_profiles,
                          run.experiments, {ex.name: ex for ex in study.experiments})
        out["available"] = True
        return out
    out = {"available": True, "alpha_deg": float(run.alpha_deg[plan.ia]), "exp": {}, "energies": []}
    by_name = {ex.name: ex for ex in study.experiments}
    for sl in study.slices:
        groups = [ex for ex in run.experiments if ex.energy_MeV == sl.energy_MeV]
        one = _one_energy(run, plan, results, sl.grid, sl.profiles, study.database.n_profiles, groups,
                          {ex.name: by_name[ex.base] for ex in groups})
        common = {k: one[k] for k in ("nodes_below_gap", "gap_deg", "rate_mean_profile_per_day", "reference")}
        for name, r in one["exp"].items():
            r["energy"] = common
        out["exp"].update(one["exp"])
        out["energies"].append((sl.energy_MeV, common))
    return out


def _one_energy(run, plan, results: dict, grid, profiles, n_db: int, experiments, by_name: dict) -> dict:
    """The diagnostics of the groups ``experiments`` of one energy (grid and profiles of that energy);
    ``by_name`` maps each group to the study's experiment."""
    ia = plan.ia
    nb = spectral.below_gap(grid, profiles[n_db])
    out = {"nodes_below_gap": nb,
           "gap_deg": float(grid.alpha_deg[nb]) if nb < grid.n else float("nan"),
           "rate_mean_profile_per_day": spectral.rate_of_mean_profile(grid, profiles[n_db], nb)
           * SECONDS_PER_DAY, "alpha_deg": float(run.alpha_deg[ia]), "exp": {}}
    ref = next((ex.name for ex in experiments if ex.mode == "mean_of_profiles" and ex.n_done), None)
    out["reference"] = ref or ""
    ref_f = results["exp"][ref]["f"]["median"][:, ia] if ref else None
    random = [ex for ex in experiments if ex.n_done and ex.mode == "random"]
    rates = spectral.segment_rates(grid, profiles[:n_db], nb) if random else None
    # every switching interval's mean propagator from one eigen-decomposition of each row
    taus = sorted({float(ex.switch_every_s) for ex in random})
    mean_rate = dict(zip(taus, spectral.rates_of_mean_propagator(grid, profiles[:n_db], taus, nb)))
    with open_h5(run.path) as h5:
        for ex in experiments:
            if not ex.n_done:
                continue
            col = _column(h5, ex, ia, run.n_time)        # for the geometric mean and the split
            with np.errstate(divide="ignore"):
                logs = np.log(col)
            stats = results["exp"][ex.name]["f"]             # pass 1's mean and median (exact)
            r = {"mean": stats["mean"][:, ia], "median": stats["median"][:, ia],
                 "geometric_mean": np.exp(logs.mean(axis=0))}
            if ref_f is not None:
                with np.errstate(divide="ignore", invalid="ignore"):
                    for k in ("mean", "median", "geometric_mean"):
                        r[f"{k}_over_reference"] = r[k] / ref_f
            if ex.mode == "random":
                r["rate_of_mean_propagator_per_day"] = mean_rate[float(ex.switch_every_s)] * SECONDS_PER_DAY
                rows = h5[dataset_path(ex.name, PROFILE_INDEX)][()][ex.done]
                commuting, rest = spectral.decompose(logs, run.time_s, by_name[ex.name].seg_t,
                                                     rows.astype(np.int64), rates)
                for part, arr in (("commuting", commuting), ("rest", rest)):
                    r[part] = {"mean": arr.mean(axis=0),
                               **{k: np.percentile(arr, q, axis=0) for k, q in QUANTILES}}
            out["exp"][ex.name] = r
    return out


def write(h5, run, diag: dict, ts) -> None:
    """The ``mechanism`` group of the summary (layout in :mod:`.summary`)."""
    from ..files import dataset

    g = h5.create_group("mechanism")
    g.attrs["available"] = bool(diag["available"])
    if not diag["available"]:
        g.attrs["reason"] = diag["reason"]
        return
    g.attrs["description"] = ("why the switching interval matters (issue 13): f statistics at alpha_deg over "
                              "the <D> run, spectral decay rates below the gap, and each member's ln f split "
                              "into the commuting part and the rest")
    g.attrs["alpha_deg"] = diag["alpha_deg"]
    g.attrs["gap_rule"] = (f"first angle above the peak of <D> where it falls below "
                           f"{spectral.GAP_FRACTION:g} of the peak; rates are for the block below it, closed there")
    if "energies" in diag:
        g.attrs["per_energy"] = True
        g.attrs["per_energy_note"] = ("run over energies: every group is diagnosed with the grid, profiles, gap and "
                                      "<D> run of its own energy; see the group attributes and the datasets over "
                                      "energy_MeV")
        en = [e for e, _ in diag["energies"]]
        dataset(g, "energy_MeV", np.array(en, float), "MeV", "energies of the run")
        dataset(g, "gap_deg", np.array([c["gap_deg"] for _, c in diag["energies"]], float), "deg",
                "the gap of the <D> profile at each energy (gap_rule)")
        dataset(g, "nodes_below_gap", np.array([c["nodes_below_gap"] for _, c in diag["energies"]], np.int64),
                "1", "grid nodes below the gap at each energy")
        dataset(g, "rate_mean_profile_per_day",
                np.array([c["rate_mean_profile_per_day"] for _, c in diag["energies"]], float), "1/day",
                "asymptotic decay rate of the <D> run below the gap at each energy")
    else:
        g.attrs["nodes_below_gap"] = int(diag["nodes_below_gap"])
        g.attrs["gap_deg"] = diag["gap_deg"]
        g.attrs["rate_mean_profile_per_day"] = diag["rate_mean_profile_per_day"]
        g.attrs["reference_experiment"] = diag["reference"]
    for name, r in diag["exp"].items():
        e = g.create_group(name)
        if "energy" in r:
            c = r["energy"]
            e.attrs["nodes_below_gap"] = int(c["nodes_below_gap"])
            e.attrs["gap_deg"] = c["gap_deg"]
            e.attrs["rate_mean_profile_per_day"] = c["rate_mean_profile_per_day"]
            e.attrs["reference_experiment"] = c["reference"]
        for k, desc in (("mean", "arithmetic mean"), ("median", "median"),
                        ("geometric_mean", "geometric mean, exp(mean(ln f))")):
            dataset(e, f"f_{k}", r[k], run.f_units, f"{desc} of f over the finished members at alpha_deg",
                    dims=(ts,))
            if f"{k}_over_reference" in r:
                dataset(e, f"f_{k}_over_reference", r[f"{k}_over_reference"], "1",
                        f"{desc} of f over f of the reference_experiment run", dims=(ts,))
        if "rate_of_mean_propagator_per_day" in r:
            e.attrs["rate_of_mean_propagator_per_day"] = r["rate_of_mean_propagator_per_day"]
            e.attrs["rate_note"] = ("-ln(top eigenvalue of E[exp(A tau)]) / tau below the gap: the asymptotic "
                                    "decay rate of the ensemble mean; never above rate_mean_profile_per_day")
            for part, desc in (("commuting", "sum over segments of each segment's own slowest-mode loss, "
                                             "-rate_k x time in segment"),
                               ("rest", "ln f(t)/f(0) minus the commuting part: the loss (< 0) or gain at "
                                        "the switches, and the initial state's faster modes")):
                pg = e.create_group(part)
                pg.attrs["description"] = desc
                for k, arr in r[part].items():
                    dataset(pg, k, arr, "1", f"{k} over the finished members of the {part} part of ln f",
                            dims=(ts,))
