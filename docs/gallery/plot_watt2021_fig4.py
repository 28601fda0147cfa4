"""
Watt et al. (2021), Fig. 4: stochastic ensembles against the two constant-D runs
================================================================================

The pitch-angle study of Watt et al. (2021): electrons at L = 3 and 0.5 MeV diffuse in pitch
angle under plasmaspheric hiss and are lost in the loss cone. In the two *stochastic*
experiments a whole D_aa profile is drawn at random from a database of observation-specific
profiles and held for 2 minutes (``drand_2min``) or 6 hours (``drand_6h``); the two *constant*
runs use the mean of all profiles, <D(X_i, Y_i)> (``mean_of_profiles``), or the one profile
computed from the mean inputs, D(<X>, <Y>) (``mean_inputs``).

This script runs the shipped study with 20 members per ensemble instead of 60 (the paper's
30 days, its 1 degree grid and the shipped synthetic database are kept), then draws Fig. 4 of
the paper from the run file: (a) the median and the 5-95 % range of f at 30 degrees, (b) the
mean time-integrated D_aa at 30 degrees, (c, d) the column-normalised distribution of
log10 f(30 deg) over the members at each time.
"""

# %%
# Copy the example and make it small
# ----------------------------------
# ``copy_example`` writes the study file and the database it reads into a directory of ours
# (the same as ``hpcbelt examples copy watt2021 watt2021_small`` on the command line).
# :func:`hpcbelt.load_study` takes a file or a plain dict with the same keys; here we read the
# file, reduce the members of the random experiments and pass the dict, with ``base_dir``
# saying where relative paths (the database) are to be found.

import tomllib
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

import hpcbelt
from hpcbelt.examples import copy_example

work = Path("watt2021_small")
copy_example("watt2021", work, overwrite=True)

doc = tomllib.loads((work / "watt2021.toml").read_text())
for experiment in doc["experiment"]:
    if experiment["mode"] == "random":
        experiment["members"] = 20
study = hpcbelt.load_study(doc, base_dir=work)

# %%
# Run it
# ------
# In-process and serial (``comm=None``); the same study under ``mpirun -n N hpcbelt run``
# gives the same file, bit for bit, whatever N.

run_file = hpcbelt.run(study, work / "watt2021.h5", overwrite=True)

# %%
# Open the run file
# -----------------
# :func:`hpcbelt.open_run` returns an ``xarray.DataTree``: one node per experiment, with the
# dimension scales (member, time_s, alpha_deg) as coordinates and units as attributes. Nothing
# is read until it is selected.

run = hpcbelt.open_run(run_file)
print(run["drand_6h"])

# %%
# Fig. 4a and 4b: f(30 deg, t) and the time-integrated D
# ------------------------------------------------------

days = run.time_s / 86400.0
colors = {"drand_2min": "tab:blue", "drand_6h": "tab:orange"}

fig, (ax_f, ax_d) = plt.subplots(1, 2, figsize=(10, 4), layout="constrained")
for name, color in colors.items():
    f30 = run[name]["f"].sel(alpha_deg=30.0)                  # (member, time_s)
    ax_f.fill_between(days, *f30.quantile([0.05, 0.95], "member"), color=color, alpha=0.25)
    ax_f.semilogy(days, f30.median("member"), color=color, label=f"{name}: median, 5-95 %")
    d30 = run[name]["daa_integral"].sel(alpha_deg=30.0)
    ax_d.plot(days, d30.mean("member"), color=color, label=f"{name}: mean")
    ax_d.fill_between(days, *d30.quantile([0.05, 0.95], "member"), color=color, alpha=0.25)
for name, style in (("mean_of_profiles", "-"), ("mean_inputs", "--")):
    ax_f.semilogy(days, run[name]["f"].sel(alpha_deg=30.0).isel(member=0), "k" + style,
                  label=f"{name} (constant D)")
f_units = run["drand_6h"]["f"].attrs["units"]
ax_f.set(xlabel="time [days]", ylabel=f"f(30 deg) [{f_units}]", title="(a) f at 30 deg")
ax_d.set(xlabel="time [days]", ylabel="integral of D_aa dt at 30 deg",
         title="(b) time-integrated D_aa")
ax_f.legend(fontsize=8)
ax_d.legend(fontsize=8)
plt.show()

# %%
# Both ensembles see the same time-integrated diffusion (b), but they do not lose particles
# alike (a): with 2-minute switching the ensemble collapses onto the <D(X_i, Y_i)> run, with
# 6-hour switching it spreads over an order of magnitude. (On this synthetic database the 6 h
# median ends above the 2 min one; in the paper it ended below: see the README's "dt sweep".)
#
# Fig. 4c and 4d: the distribution over the members
# -------------------------------------------------
# At each output time, a histogram of log10 f(30 deg) over the members, normalised to a
# maximum of 1 in each column.

edges = np.linspace(0.5, 4.0, 36)
centres = 0.5 * (edges[1:] + edges[:-1])
fig, axes = plt.subplots(1, 2, figsize=(10, 3.6), sharey=True, layout="constrained")
for ax, name in zip(axes, colors):
    logf = np.log10(run[name]["f"].sel(alpha_deg=30.0).values)    # (member, time)
    counts = np.stack([np.histogram(column, edges)[0] for column in logf.T], axis=1)
    column_max = np.maximum(counts.max(axis=0, keepdims=True), 1)
    mesh = ax.pcolormesh(days, centres, counts / column_max, cmap="viridis", shading="nearest")
    ax.set(xlabel="time [days]", title=f"({'c' if name == 'drand_2min' else 'd'}) {name}")
axes[0].set_ylabel("log10 f(30 deg)")
fig.colorbar(mesh, ax=axes, label="members / column maximum")
plt.show()

# %%
# Where the numbers are
# ---------------------
# The end state, read from the same tree: the median f(30 deg) of each experiment at 30 days.

for name in run.children:
    if "f" in run[name]:
        final = run[name]["f"].sel(alpha_deg=30.0).isel(time_s=-1)
        print(f"{name:>17s}: median f(30 deg, 30 d) = {float(final.median('member')):7.2f}"
              f"   ({int(run[name]['finished'].sum())} members)")
run.close()
