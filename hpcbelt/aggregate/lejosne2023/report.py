"""The Markdown report of a drift-diffusion summary, and the line saying what was aggregated."""

from __future__ import annotations

import numpy as np

from .. import files


def _g(x) -> str:
    return "n/a" if x is None or not np.isfinite(x) else f"{x:.4g}"


def used(run) -> tuple[str, bool]:
    """("PDE done, permutations 6/6", whether anything is unfinished) for the command's summary line."""
    p = run.particles
    text = (f"PDE {'done' if run.pde_done else 'not finished'}"
            + (f", permutations {p['done'].size}/{p['n_perm']}" if p else ""))
    return text, not run.pde_done or (p is not None and p["done"].size < p["n_perm"])


def report(summary_path, figures: dict | None = None, elapsed_s: float | None = None) -> str:
    """The Markdown report of a drift-diffusion summary: what is finished, F at the probes (PDE and
    particles) at a few hours, and the MLT average against radial diffusion (all read from the summary)."""
    import h5py

    with h5py.File(summary_path, "r") as h5:
        a = h5.attrs
        lines = files.report_header(a, summary_path, elapsed_s, " (drift-diffusion)")
        bad = int(a.get("permutations_damaged", 0))
        lines.append(f"- PDE finished: {'yes' if a['pde_done'] else '**no** (PDE parts left out)'}; particle "
                     f"permutations finished: {a['permutations_finished']} / {a['permutations_total']}"
                     + (f" ({bad} damaged, left out: {a['permutations_finished'] - bad} averaged)" if bad else ""))
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
    return "\n".join(lines + files.report_figures(figures)) + "\n"
