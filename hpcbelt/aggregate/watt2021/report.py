"""A short Markdown report of the key numbers of a pitch-angle summary (read from the summary),
and the one-line account of what was aggregated."""

from __future__ import annotations

import json

import numpy as np

from ...pitch_angle.runfile import MEMBER_DONE
from ..files import report_figures, report_header


def _g(x) -> str:
    return "n/a" if x is None or not np.isfinite(x) else f"{x:.4g}"


def used(run) -> tuple[str, bool]:
    """("drand_2min 60/60, ...", whether any member is unfinished) for the command's summary line."""
    text = ", ".join(f"{ex.name} {ex.n_done}/{ex.members}" for ex in run.experiments)
    return text, not all(ex.n_done == ex.members for ex in run.experiments)


def _energies(h5) -> list[str]:
    """A run over energies: the ensembles and the constant runs over the <D> run against energy."""
    if "energies" not in h5:
        return []
    g = h5["energies"]
    E = g["energy_MeV"][()]
    lines = ["", f"## Against energy: f({g.attrs['alpha_deg']:g} deg, {g.attrs['time_days']:g} d) over the "
             f"<D(X_i, Y_i)> run ({g.attrs['reference_experiment'] or 'none'})", "",
             "Median over the finished members [5th, 95th percentile], each over the reference run at the "
             "same energy.", "",
             "| experiment | " + " | ".join(f"{e:g} MeV" for e in E) + " |", "|---" * (E.size + 1) + "|"]
    for n in g:
        if not isinstance(g[n], type(g)):
            continue
        e = g[n]
        cells = [f"{_g(m)} [{_g(lo)}, {_g(hi)}]" for m, lo, hi in
                 zip(e["median_over_reference"][()], e["p05_over_reference"][()], e["p95_over_reference"][()])]
        lines.append(f"| {n} | " + " | ".join(cells) + " |")
    if "constant_runs" in g:
        lines.append("| constant runs D(<X>,<Y>) / <D> | " + " | ".join(_g(v) for v in g["constant_runs"][()])
                     + " |")
    lines.append("| <D> run f | " + " | ".join(_g(v) for v in g["reference_f"][()]) + " |")
    return lines


def _mechanism(h5, names) -> list[str]:
    """The mechanism section (issue 13): statistics over the <D> run at the end, and the rates."""
    if "mechanism" not in h5:
        return []
    g = h5["mechanism"]
    if not g.attrs["available"]:
        return ["", f"Mechanism diagnostics not computed: {g.attrs['reason']}"]
    if "gap_deg" in g.attrs:
        rates = (f"Decay rates below the gap ({g.attrs['gap_deg']:g} deg): <D> run "
                 f"{g.attrs['rate_mean_profile_per_day']:.4g} /day")
    else:                    # a run over energies: each energy's own gap and <D> run
        rates = "Decay rates below the gap, " + ", ".join(
            f"{e:g} MeV: <D> run {r:.4g} /day (gap {a:g} deg)" for e, r, a in
            zip(g["energy_MeV"][()], g["rate_mean_profile_per_day"][()], g["gap_deg"][()]))
    lines = ["", f"## Mechanism at {g.attrs['alpha_deg']:g} deg (end of run)", "",
             f"{rates}; the ensemble mean under iid switching can never decay faster (Jensen).", "",
             "| experiment | mean / <D> run | median / <D> run | geometric mean / <D> run | "
             "rate of the mean /day | commuting part, median | rest, median [5, 95 %] |",
             "|---|---|---|---|---|---|---|"]
    for n in names:
        if n not in g:
            continue
        e = g[n]
        ratio = [_g(e[f"f_{k}_over_reference"][-1]) if f"f_{k}_over_reference" in e else "-"
                 for k in ("mean", "median", "geometric_mean")]
        rate = _g(e.attrs["rate_of_mean_propagator_per_day"]) if "rate_of_mean_propagator_per_day" in e.attrs else "-"
        com = _g(e["commuting/median"][-1]) if "commuting" in e else "-"
        rest = (f"{_g(e['rest/median'][-1])} [{_g(e['rest/p05'][-1])}, {_g(e['rest/p95'][-1])}]"
                if "rest" in e else "-")
        lines.append(f"| {n} | {' | '.join(ratio)} | {rate} | {com} | {rest} |")
    return lines


def report(summary_path, figures: dict | None = None, elapsed_s: float | None = None) -> str:
    """The Markdown report of a pitch-angle summary: members, f at the snapshot days, the ratio of
    the constant runs, the time-integrated D_aa and the PDF bins (all read from the summary)."""
    import h5py

    with h5py.File(summary_path, "r") as h5:
        a = h5.attrs
        names = json.loads(a["experiments"])
        total = json.loads(a["members_total_json"])
        alpha = h5["alpha_deg"][()]
        a_deg = float(a["pdf_alpha_deg"])
        ia = int(np.argmin(np.abs(alpha - a_deg)))
        sg = h5["snapshots"]
        days = sg["day_requested"][()]
        ti = sg["time_index"][()]
        t_days = h5["time_days"][()]
        lines = report_header(a, summary_path, elapsed_s, "")
        if not a["all_members_finished"]:
            lines.append(f"- **unfinished run**: only the finished members ({MEMBER_DONE} = 1) are aggregated")
        skipped = json.loads(a["days_skipped"])
        if skipped:
            lines.append(f"- days beyond the end of the run, skipped: {', '.join(f'{d:g}' for d in skipped)}")
        lines += ["", "## Members", "", "| experiment | mode | switch every | finished / total |", "|---|---|---|---|"]
        for n in names:
            g = h5[n]
            sw = float(g.attrs["switch_every_s"])
            sw_s = "-" if not np.isfinite(sw) else (f"{sw / 3600:g} h" if sw >= 3600 else f"{sw / 60:g} min")
            bad = int(g.attrs.get("members_damaged", 0))
            note = f" ({bad} damaged, left out)" if bad else ""
            lines.append(f"| {n} | {g.attrs['mode']} | {sw_s} | {int(g.attrs['members_used'])} / {total[n]}{note} |")

        lines += ["", f"## f({alpha[ia]:g} deg) [{a['f_units']}]", "",
                  "Median over the finished members [5th, 95th percentile]; last column: "
                  "bootstrap interval of the median at the last snapshot day.", ""]
        head = "| experiment | " + " | ".join(f"day {d:g}" for d in days) + " | median interval |"
        lines += [head, "|---" * (len(days) + 2) + "|"]
        for n in names:
            if "f" not in h5[n]:
                lines.append(f"| {n} | no finished member |")
                continue
            cells = []
            for d, t in enumerate(ti):
                med = h5[f"{n}/f/median"][t, ia]
                lo, hi = h5[f"{n}/f/p05"][t, ia], h5[f"{n}/f/p95"][t, ia]
                cells.append(f"{_g(med)} [{_g(lo)}, {_g(hi)}]" if h5[n].attrs["members_used"] > 1 else _g(med))
            ci = ""
            if len(ti) and h5[n].attrs["members_used"] > 1:
                b = h5[f"{n}/bootstrap"]
                ci = (f"{_g(b['median_ci_low'][ti[-1]])} .. {_g(b['median_ci_high'][ti[-1]])} "
                      f"({100 * b.attrs['confidence']:g} %)")
            lines.append(f"| {n} | " + " | ".join(cells) + f" | {ci} |")

        if "constant_runs" in h5["ratios"]:
            c = h5["ratios/constant_runs"]
            ra = h5["ratios/alpha_deg"][()]
            lines += ["", f"## Ratio of the constant runs: f({c.attrs['numerator']}) / f({c.attrs['denominator']})",
                      "", "| day | " + " | ".join(f"{x:g} deg" for x in ra) + " |", "|---" * (len(ra) + 1) + "|"]
            for d in range(len(days)):
                lines.append(f"| {days[d]:g} | " + " | ".join(_g(v) for v in c[()][d]) + " |")

        ens = [n for n in names if h5[n].attrs["mode"] == "random" and "f" in h5[n]]
        if ens or names:
            lines += ["", f"## Mean time-integrated D_aa at {alpha[ia]:g} deg (integral of D_aa dt, dimensionless)",
                      "", "| experiment | " + " | ".join(f"day {d:g}" for d in days) + " | end of run |",
                      "|---" * (len(days) + 2) + "|"]
            for n in names:
                if "f" not in h5[n]:
                    continue
                m = h5[f"{n}/daa_integral/mean"][:, ia]
                lines.append(f"| {n} | " + " | ".join(_g(m[t]) for t in ti) + f" | {_g(m[-1])} |")
            if len(ens) >= 2:
                m0 = h5[f"{ens[0]}/daa_integral/mean"][-1, ia]
                m1 = h5[f"{ens[1]}/daa_integral/mean"][-1, ia]
                lines.append("")
                lines.append(f"Ratio {ens[1]} / {ens[0]} at the end of the run ({t_days[-1]:g} days): {_g(m1 / m0)}")

        lines += _mechanism(h5, names)
        lines += _energies(h5)

        edges = h5["pdf_bin_edges_log10f"][()]
        lines += ["", "## PDFs", "",
                  f"Column-normalised PDFs of log10 f at {alpha[ia]:g} deg: {edges.size - 1} bins from "
                  f"{edges[0]:g} to {edges[-1]:g} ({'automatic' if h5['pdf_bin_edges_log10f'].attrs['automatic'] else 'given'})."]
        out_of_range = sum(int(h5[f"{n}/pdf/{k}"][()].sum()) for n in names if "pdf" in h5[n]
                           for k in ("below", "above", "nonpositive"))
        lines.append(f"Member-times outside the bins or with f <= 0: {out_of_range}.")
        if h5["database"].attrs.get("file_readable", False):
            fg = h5["database/file"]
            match = "same file as the run" if fg.attrs["sha256_matches_run"] else "**differs from the run's**"
            lines += ["", f"Database: {fg.attrs['path']} ({fg.attrs['n_profiles']} profiles, {match})."]
        else:
            lines += ["", f"Database file not read: {h5['database'].attrs.get('file_note', '')}"]
    return "\n".join(lines + report_figures(figures)) + "\n"
