"""A short Markdown report of the key numbers of a pitch-angle summary (read from the summary)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np


def _g(x) -> str:
    return "n/a" if x is None or not np.isfinite(x) else f"{x:.4g}"


def _header(a, summary_path, elapsed_s, kind: str) -> list:
    """Title and provenance lines common to both reports (``a``: the summary's root attributes)."""
    ident = f"sha256 `{a['source_sha256']}`" if a["source_sha256"] else "sha256 not computed"
    took = f" in {elapsed_s:.1f} s" if elapsed_s is not None else ""
    return [f"# Aggregation of `{a['source_path']}`{kind}", "",
            f"- run: {a.get('source_title', '')!s} - status `{a.get('source_status', '?')}`, "
            f"written by hpcbelt {a.get('source_hpcbelt_version', '?')}",
            f"- file: {a['source_size_bytes']} bytes, modified {a['source_mtime']}, {ident}",
            f"- aggregated by hpcbelt {a['hpcbelt_version']} on {a['mpi_size']} MPI rank(s){took}, "
            f"{a['created']}; summary `{Path(summary_path).name}`"]


def pitch_angle_report(summary_path, figures: dict | None = None, elapsed_s: float | None = None) -> str:
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
        lines = _header(a, summary_path, elapsed_s, "")
        if not a["all_members_finished"]:
            lines.append("- **unfinished run**: only the finished members (member_done = 1) are aggregated")
        skipped = json.loads(a["days_skipped"])
        if skipped:
            lines.append(f"- days beyond the end of the run, skipped: {', '.join(f'{d:g}' for d in skipped)}")
        lines += ["", "## Members", "", "| experiment | mode | switch every | finished / total |", "|---|---|---|---|"]
        for n in names:
            g = h5[n]
            sw = float(g.attrs["switch_every_s"])
            sw_s = "-" if not np.isfinite(sw) else (f"{sw / 3600:g} h" if sw >= 3600 else f"{sw / 60:g} min")
            lines.append(f"| {n} | {g.attrs['mode']} | {sw_s} | {int(g.attrs['members_used'])} / {total[n]} |")

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
    if figures:
        lines += ["", "## Figures", ""]
        for name, p in figures.items():
            lines.append(f"- `{p}`")
    return "\n".join(lines) + "\n"


def drift_report(summary_path, figures: dict | None = None, elapsed_s: float | None = None) -> str:
    import h5py

    with h5py.File(summary_path, "r") as h5:
        a = h5.attrs
        lines = _header(a, summary_path, elapsed_s, " (drift-diffusion)")
        lines.append(f"- PDE finished: {'yes' if a['pde_done'] else '**no** (PDE parts left out)'}; particle "
                     f"permutations finished: {a['permutations_finished']} / {a['permutations_total']}")
        if not a["all_finished"]:
            lines.append("- **unfinished run**: only finished parts are aggregated")
        names = [n.decode() if isinstance(n, bytes) else n for n in h5["probe/name"][()]]
        th = h5["time_h"][()]
        lines += ["", "## F at the probes", "", "| probe | time [h] | PDE | particles mean +- s.e. |", "|---|---|---|---|"]
        for i, n in enumerate(names):
            for hr in (1.0, 3.0, 6.0, 10.0, 15.0, 18.0):
                if hr > th[-1] + 1e-9:
                    continue
                k = int(np.argmin(np.abs(th - hr)))
                pde = _g(h5["pde/probe_F"][i, k]) if "pde" in h5 else "n/a"
                part = "n/a"
                if "particles" in h5:
                    pt = h5["particles/time_s"][()] / 3600.0
                    j = int(np.argmin(np.abs(pt - hr)))
                    if abs(pt[j] - hr) < 1e-6:
                        part = (f"{_g(h5['particles/probe_F_mean'][i, j])} +- "
                                f"{_g(h5['particles/probe_F_sem'][i, j])}")
                lines.append(f"| {n} | {th[k]:g} | {pde} | {part} |")
        if "comparison" in h5:
            rel = h5["comparison/relative_l2_difference"][()]
            lines += ["", "## MLT average of the PDE against radial diffusion", "",
                      "| time [h] | relative L2 difference | max abs difference |", "|---|---|---|"]
            for hr in (1.0, 3.0, 6.0, 10.0, 15.0, 20.0, 24.0):
                if hr > th[-1] + 1e-9:
                    continue
                k = int(np.argmin(np.abs(th - hr)))
                lines.append(f"| {th[k]:g} | {_g(rel[k])} | {_g(h5['comparison/max_abs_difference'][k])} |")
    if figures:
        lines += ["", "## Figures", ""]
        for name, p in figures.items():
            lines.append(f"- `{p}`")
    return "\n".join(lines) + "\n"
