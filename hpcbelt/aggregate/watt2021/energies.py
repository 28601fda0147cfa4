"""The ``energies`` group of the summary of a run over energies (its figure:
:func:`.figures.plot_energies`).

A study over energies (``[physics] energy_MeV`` a list) writes one group per experiment and
energy (:mod:`hpcbelt.pitch_angle.runfile`); the summary keeps every group's statistics as for
one energy, and this group puts them side by side against energy at the summary's PDF angle
(``--alpha-deg``, 30 deg by default) and the run's last output time (30 days for the paper's
duration):

    /energies/energy_MeV                   (energy,)  MeV
    /energies/reference_f                  (energy,)  f of the <D(X_i, Y_i)> run (mode mean_of_profiles)
    /energies/constant_runs                (energy,)  f(mean_inputs run) / f(mean_of_profiles run)
    /energies/<experiment>/{median,p05,p95,mean}_f (energy,)  f statistics over the finished members
    /energies/<experiment>/{median,p05,p95,mean}_over_reference (energy,)  the same / reference_f

with one ``<experiment>`` subgroup per random experiment of the study (its dt is the attribute
``switch_every_s``).  A statistic is NaN where its group has no finished member, and a ratio
NaN where there is no reference run.  Every number is read from the per-group statistics of
pass 1 (exact percentiles over the finished members), so this group adds no pass over the file.
"""

from __future__ import annotations

import json

import numpy as np

STATS = ("median", "p05", "p95", "mean")


def table(run, plan, results: dict) -> dict | None:
    """The numbers of the ``energies`` group (rank 0), or None for a single-energy run."""
    if not run.multi_energy:
        return None
    energies = np.array(run.energies_MeV, float)
    ia, it = plan.ia, run.n_time - 1
    at = {}                          # (base experiment, energy index) -> group
    for ex in run.experiments:
        k = int(np.argmin(np.abs(energies - ex.energy_MeV)))
        at[(ex.base, k)] = ex
    bases = list(dict.fromkeys(ex.base for ex in run.experiments))

    def value(ex, stat):
        if ex is None or not ex.n_done:
            return np.nan
        return float(results["exp"][ex.name]["f"][stat][it, ia])

    def column(base, stat):
        return np.array([value(at.get((base, k)), stat) for k in range(energies.size)])

    def first(mode):
        return next((b for b in bases if at[(b, 0)].mode == mode), None) if bases else None

    ref, inputs = first("mean_of_profiles"), first("mean_inputs")
    ref_f = column(ref, "median") if ref else np.full(energies.size, np.nan)
    out = {"energy_MeV": energies, "alpha_deg": float(run.alpha_deg[ia]), "time_s": float(run.time_s[it]),
           "reference": ref or "", "reference_f": ref_f, "constant": None, "random": {}}
    with np.errstate(divide="ignore", invalid="ignore"):
        if ref and inputs:
            out["constant"] = {"numerator": inputs, "denominator": ref,
                               "ratio": column(inputs, "median") / ref_f}
        for b in bases:
            ex0 = at[(b, 0)]
            if ex0.mode != "random":
                continue
            r = {"switch_every_s": float(ex0.switch_every_s),
                 "groups": [at[(b, k)].name if (b, k) in at else "" for k in range(energies.size)]}
            for s in STATS:
                r[f"{s}_f"] = column(b, s)
                r[f"{s}_over_reference"] = r[f"{s}_f"] / ref_f
            out["random"][b] = r
    return out


def write(h5, run, tab: dict | None) -> None:
    """The ``energies`` group (module docstring); nothing for a single-energy run."""
    from ..files import dataset

    if tab is None:
        return
    g = h5.create_group("energies")
    g.attrs["description"] = ("a run over energies: f at alpha_deg and the run's last output time for every "
                              "energy, and each random experiment's ensemble statistics over f of the "
                              "<D(X_i, Y_i)> run (reference_experiment) at the same energy; the observations "
                              "drawn are the same at every energy")
    g.attrs["alpha_deg"] = tab["alpha_deg"]
    g.attrs["time_s"] = tab["time_s"]
    g.attrs["time_days"] = tab["time_s"] / 86400.0
    g.attrs["reference_experiment"] = tab["reference"]
    es = dataset(g, "energy_MeV", tab["energy_MeV"], "MeV", "electron kinetic energy")
    es.make_scale("energy_MeV")
    dataset(g, "reference_f", tab["reference_f"], run.f_units,
            "f of the constant <D(X_i, Y_i)> run (mode mean_of_profiles) at alpha_deg, time_s", dims=(es,))
    if tab["constant"] is not None:
        c = tab["constant"]
        d = dataset(g, "constant_runs", c["ratio"], "1",
                    "f of the constant D(<X>,<Y>) run over f of the constant <D(X_i,Y_i)> run at alpha_deg, "
                    "time_s", dims=(es,))
        d.attrs["numerator"], d.attrs["denominator"] = c["numerator"], c["denominator"]
    words = {"median": "median", "p05": "5th percentile", "p95": "95th percentile", "mean": "arithmetic mean"}
    for base, r in tab["random"].items():
        e = g.create_group(base)
        e.attrs["mode"] = "random"
        e.attrs["switch_every_s"] = r["switch_every_s"]
        e.attrs["groups_json"] = json.dumps(r["groups"])
        for s in STATS:
            dataset(e, f"{s}_f", r[f"{s}_f"], run.f_units,
                    f"{words[s]} of f over the finished members at alpha_deg, time_s", dims=(es,))
            dataset(e, f"{s}_over_reference", r[f"{s}_over_reference"], "1",
                    f"{words[s]} of f over the finished members divided by reference_f", dims=(es,))
