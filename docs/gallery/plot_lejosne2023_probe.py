"""
Lejosne & Albert (2023): drift-periodic peaks at a probe, and their phase mixing
================================================================================

Equatorial 200 keV electrons in a dipole, driven by a random electric potential
V = -C/r + w(t) r cos(phi) with w white noise held for T = 200 s (W = 0.5 mV/m). Particles are
injected at 3.8 <= L <= 7 at every MLT and, closer in (2.5 <= L < 3.8), only between 22:15 and
01:45 MLT. At the paper's probe (L = 3.5, 22:00 MLT) the injected population passes once per
drift period: peaks that damp and widen as radial and azimuthal diffusion mix the drift phases.

One study file runs the three descriptions side by side: the drift-diffusion PDE in (L, MLT)
(their Eq. 28), radial diffusion of the MLT average (Eq. 22) and test particles tracked
through permutations of one white-noise sequence (Eq. 8). This script runs the shipped study
on a grid four times coarser in L and three times coarser in MLT, for 12 hours instead of 24,
with 40 permutations of 5,000 particles instead of 200 of 10,000, and draws the paper's
Fig. 2 (F at the probe) and Fig. 3 (snapshots of F) from the run file.
"""

# %%
# Copy the example and make it small
# ----------------------------------
# Overrides are ``{"table.key": value}``, as ``--set table.key=value`` on the command line;
# the run file stores them beside the study file's text.

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

import hpcbelt
from hpcbelt.examples import copy_example

work = Path("lejosne2023_small")
copy_example("lejosne2023", work, overwrite=True)

study = hpcbelt.load_study(work / "lejosne2023.toml", overrides={
    "grid.dL": 0.1, "grid.n_mlt": 96,
    "time.duration_h": 12.0,
    "particles.permutations": 40, "particles.per_permutation": 5000,
    "particles.duration_h": 12.0, "particles.coarsen_L": 1, "particles.coarsen_mlt": 2,
})

# %%
# Run it (serially, in-process) and open the file
# -----------------------------------------------

run_file = hpcbelt.run(study, work / "lejosne2023.h5", overwrite=True)
run = hpcbelt.open_run(run_file)
print(run["pde"])

# %%
# Fig. 2: F at the probe from the PDE, the particles and radial diffusion
# -----------------------------------------------------------------------
# The particles' F at the probe is the mean over the permutations; the band is two standard
# errors of that mean. Radial diffusion knows no MLT: its value at the probe is the MLT
# average the PDE tends to once the drift phases are mixed.

probe = run["probe"]
L_lo, L_hi = float(probe["L_lo"][0]), float(probe["L_hi"][0])
hours = run.time_s / 3600.0

pde_probe = run["pde"]["probe_F"].isel(probe_F_dim_0=0)
particles = run["particles"]
p_probe = particles["probe_F"].isel(probe_F_dim_1=0)              # (perm, particles_time_s)
p_mean = p_probe.mean("perm")
p_sem = p_probe.std("perm") / np.sqrt(p_probe.sizes["perm"])
p_hours = particles["particles_time_s"] / 3600.0
radial = run["radial"]["F"].sel(L_grid=slice(L_lo - 0.05, L_hi + 0.05)).mean("L_grid")

fig, ax = plt.subplots(figsize=(9, 4), layout="constrained")
ax.fill_between(p_hours, p_mean - 2 * p_sem, p_mean + 2 * p_sem, color="tab:orange", alpha=0.3)
ax.plot(p_hours, p_mean, color="tab:orange", label="test particles (mean, 2 s.e.)")
ax.plot(hours, pde_probe, color="tab:blue", label="drift-diffusion PDE (Eq. 28)")
ax.plot(hours, radial, "k--", label="radial diffusion (Eq. 22)")
ax.set(xlabel="time [h]", ylabel="F at the probe",
       title=f"F at L = {L_lo:g}-{L_hi:g}, {str(probe['name'].values[0])}")
ax.legend()
plt.show()

# %%
# Fig. 3: F in the (L, MLT) plane at 3 h and at 10 h
# --------------------------------------------------
# At 3 h the injection has been wound into a spiral by the L-dependent drift; by 10 h F
# hardly depends on MLT any more (noon at the top, dusk on the left, as in the paper).

F = run["pde"]["F"]
mlt = F.mlt_h.values
phi = np.append(mlt, mlt[0] + 24.0) * 2 * np.pi / 24.0        # closed in MLT
L = F.L_grid.values
fig, axes = plt.subplots(1, 2, figsize=(9, 4.4), subplot_kw={"projection": "polar"},
                         layout="constrained")
for ax, hour in zip(axes, (3.0, 10.0)):
    frame = F.sel(time_s=hour * 3600.0, method="nearest").values     # (L, mlt)
    frame = np.concatenate([frame, frame[:, :1]], axis=1)
    mesh = ax.pcolormesh(phi, L, frame, vmin=0.0, vmax=1.0, cmap="magma", shading="nearest")
    ax.set_theta_zero_location("S")                               # midnight at the bottom
    ax.set_thetagrids((0, 90, 180, 270), ("00 MLT", "06", "12", "18"))
    ax.set_rlim(0, L.max())
    ax.set_title(f"{hour:g} h")
fig.colorbar(mesh, ax=axes, label="F", shrink=0.8)
plt.show()

# %%
# Phase mixed: the MLT average against radial diffusion
# ------------------------------------------------------

mlt_mean = F.isel(time_s=-1).mean("mlt_h")
fig, ax = plt.subplots(figsize=(7, 3.6), layout="constrained")
ax.plot(L, mlt_mean, label="PDE, MLT average")
ax.plot(L, run["radial"]["F"].isel(time_s=-1), "k--", label="radial diffusion")
ax.set(xlabel="L", ylabel="F", title=f"after {float(hours[-1]):g} h")
ax.legend()
plt.show()
print("largest |MLT average - radial| at the end:",
      float(abs(mlt_mean - run["radial"]["F"].isel(time_s=-1)).max()))
run.close()
