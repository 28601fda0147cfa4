"""
Aggregating a run: ensemble statistics, the paper's figures and the report
==========================================================================

:func:`hpcbelt.aggregate` (``hpcbelt aggregate`` on the command line, also under ``mpirun``)
turns a run file into a summary: percentiles of f and of the time-integrated D over the
finished members at every time and angle, the column-normalised PDFs of Fig. 4c-d, a bootstrap
interval of the median, how the median converges with the ensemble size, and ratios between
the experiments. With ``figures=`` it also draws the paper's figures as PNG files, and it
writes a Markdown report of the key numbers. Memory stays within ``memory_mb`` per rank
however many members the run has.

This script runs the Watt et al. (2021) study with 10 members per ensemble (30 days), then
reads everything back from the summary with :func:`hpcbelt.open_summary`.
"""

# %%
# A small run to summarise
# ------------------------

import tomllib
from pathlib import Path

import matplotlib.pyplot as plt

import hpcbelt
from hpcbelt.examples import copy_example

work = Path("watt2021_summary_small")
copy_example("watt2021", work, overwrite=True)
doc = tomllib.loads((work / "watt2021.toml").read_text())
for experiment in doc["experiment"]:
    if experiment["mode"] == "random":
        experiment["members"] = 10
run_file = hpcbelt.run(hpcbelt.load_study(doc, base_dir=work), work / "watt2021.h5",
                       overwrite=True)

# %%
# Aggregate it
# ------------
# The options are those of ``hpcbelt aggregate --help`` by name: here the snapshot days and a
# smaller bootstrap than the default.

summary_file = hpcbelt.aggregate(run_file, work / "watt2021_summary.h5",
                                 figures=work / "figures", days=(2, 10, 30), bootstrap=200)
summary = hpcbelt.open_summary(summary_file)
print(summary["drand_6h"]["f"])

# %%
# The statistics, read from the summary
# -------------------------------------
# ``<experiment>/f/<stat>`` holds f over the finished members, stat in mean, min, p05, p25,
# median, p75, p95, max; ``<experiment>/bootstrap`` the interval of the median at the PDF angle.

days = summary.time_s / 86400.0
fig, ax = plt.subplots(figsize=(8, 4), layout="constrained")
for name, color in (("drand_2min", "tab:blue"), ("drand_6h", "tab:orange")):
    stats = summary[name]["f"]
    ax.fill_between(days, stats["p05"].sel(alpha_deg=30.0), stats["p95"].sel(alpha_deg=30.0),
                    color=color, alpha=0.2)
    ax.semilogy(days, stats["median"].sel(alpha_deg=30.0), color=color,
                label=f"{name}: median, 5-95 %")
    ci = summary[name]["bootstrap"]
    ax.fill_between(days, ci["median_ci_low"], ci["median_ci_high"], color=color, alpha=0.5,
                    label=f"{name}: {ci.attrs['confidence']:.0%} interval of the median")
for name, style in (("mean_of_profiles", "k-"), ("mean_inputs", "k--")):
    ax.semilogy(days, summary[name]["f"]["median"].sel(alpha_deg=30.0), style, label=name)
ax.set(xlabel="time [days]", ylabel="f(30 deg)", title="from the summary file")
ax.legend(fontsize=8)
plt.show()

# %%
# The figures hpcbelt draws
# -------------------------
# ``figures=`` wrote the paper's figures (Watt et al. 2021 Figs. 1, 3, 4, S1 and the ensemble
# convergence) as PNG files; here is the Fig. 4 it made.

pngs = sorted((work / "figures").glob("*.png"))
print("\n".join(p.name for p in pngs))
fig4 = next(p for p in pngs if "fig4" in p.name)
fig, ax = plt.subplots(figsize=(10, 6), layout="constrained")
ax.imshow(plt.imread(fig4))
ax.set_axis_off()
plt.show()

# %%
# The report
# ----------
# The Markdown report sits beside the summary (``--report`` to put it elsewhere).

report = summary_file.with_suffix(".md")
print("\n".join(report.read_text().splitlines()[:25]))
summary.close()
