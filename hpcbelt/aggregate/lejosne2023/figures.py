"""Figures like Lejosne & Albert (2023), drawn from a drift-diffusion summary only (Agg).

Each ``plot_*`` takes the open summary and returns ``(figure, data)`` with the arrays drawn;
:data:`FIGURES` names them for :func:`hpcbelt.aggregate.files.make_figures`.
MLT is drawn as the polar angle phi = 2 pi MLT / 24 from midnight, counter-clockwise (eastward),
with midnight to the right (X = L cos phi points to midnight, as in the run files).
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from ...plotting import cell_edges


def plot_fig2(h5):
    """F at each probe box against time: PDE, and the particles' mean +- one standard error."""
    names = [n.decode() if isinstance(n, bytes) else n for n in h5["probe/name"][()]]
    fig = Figure(figsize=(7.5, 3.4 * max(len(names), 1)))
    axes = fig.subplots(max(len(names), 1), 1, squeeze=False)[:, 0]
    data = {}
    for i, (ax, name) in enumerate(zip(axes, names)):
        if "pde" in h5:
            y = h5["pde/probe_F"][i]
            ax.plot(h5["time_h"][()], y, color="black", lw=1.4, label="drift-diffusion PDE")
            data[f"{name}/pde"] = y
        if "particles" in h5:
            t = h5["particles/time_s"][()] / 3600.0
            m, e = h5["particles/probe_F_mean"][i], h5["particles/probe_F_sem"][i]
            n = int(h5["particles"].attrs["permutations_used"])
            ax.plot(t, m, color="tab:red", lw=1.2, label=f"test particles: mean of {n} permutations")
            ax.fill_between(t, m - e, m + e, color="tab:red", alpha=0.3, lw=0, label="+- 1 standard error")
            data[f"{name}/particles_mean"], data[f"{name}/particles_sem"] = m, e
        lo, hi = h5["probe/L_lo"][i], h5["probe/L_hi"][i]
        a, b = h5["probe/mlt_lo_h"][i], h5["probe/mlt_hi_h"][i]
        ax.set_title(f"F at {name}: {lo:g} <= L <= {hi:g}, {a % 24:g} - {b % 24:g} MLT", fontsize=9)
        ax.set_xlabel("time [h]")
        ax.set_ylabel("F [1]")
        ax.legend(fontsize=7, loc="upper right")
    fig.tight_layout()
    return fig, data


def _polar(ax, L_grid, mlt_h, F, vmax):
    phi_e = cell_edges(mlt_h) * 2 * np.pi / 24.0
    L_e = cell_edges(L_grid)
    mesh = ax.pcolormesh(phi_e, L_e, F, cmap="viridis", vmin=0.0, vmax=vmax, shading="flat")
    ax.set_xticks(np.arange(4) * np.pi / 2)
    ax.set_xticklabels(["00", "06", "12", "18"])
    ax.set_ylim(0, L_e[-1])
    return mesh


def plot_fig3(h5):
    """(L, MLT) maps of F at the requested hours: PDE (left) and the particles' mean (right)."""
    mp = h5["maps"]
    hours = mp["hour_requested"][()]
    has_p = "particles_F_mean" in mp
    ncol = 1 + int(has_p)
    fig = Figure(figsize=(4.6 * ncol, 4.2 * max(hours.size, 1)))
    data = {}
    if hours.size == 0:
        fig.add_subplot(1, 1, 1).set_title("no map hour within the run")
        return fig, data
    vmax = 1.0
    for k, hr in enumerate(hours):
        if "pde_F" in mp:
            ax = fig.add_subplot(hours.size, ncol, k * ncol + 1, projection="polar")
            F = mp["pde_F"][k]
            mesh = _polar(ax, h5["L_grid"][()], h5["mlt_h"][()], F, vmax)
            ax.set_title(f"PDE, t = {mp['pde_time_s'][k] / 3600:.3g} h", fontsize=9)
            data[f"{hr:g}/pde"] = F
            fig.colorbar(mesh, ax=ax, shrink=0.7, label="F")
        if has_p:
            ax = fig.add_subplot(hours.size, ncol, k * ncol + 2, projection="polar")
            F = mp["particles_F_mean"][k]
            if np.isfinite(F).any():
                mesh = _polar(ax, h5["particles/L_grid"][()], h5["particles/mlt_h"][()], F, vmax)
                n = int(h5["particles"].attrs["permutations_used"])
                ax.set_title(f"particles, mean of {n}, t = {mp['particles_time_s'][k] / 3600:.3g} h", fontsize=9)
                fig.colorbar(mesh, ax=ax, shrink=0.7, label="F")
            else:
                ax.set_title(f"particles: no record at {hr:g} h", fontsize=9)
            data[f"{hr:g}/particles"] = F
    fig.tight_layout()
    return fig, data


def plot_mlt_vs_radial(h5):
    """MLT-averaged F against the radial-diffusion solution at five times, and their difference."""
    fig = Figure(figsize=(11, 4.0))
    ax, ax2 = fig.subplots(1, 2)
    data = {}
    if "pde" not in h5:
        ax.set_title("PDE not finished: no MLT average")
        return fig, data
    th = h5["time_h"][()]
    L = h5["L_grid"][()]
    picks = np.unique(np.round(np.linspace(0, th.size - 1, 5)).astype(int))
    colours = ["tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple"]
    for c, k in zip(colours, picks):
        y = h5["pde/mlt_mean"][k]
        ax.plot(L, y, color=c, lw=1.6, label=f"{th[k]:.3g} h")
        data[f"{th[k]:.3g}/pde"] = y
        if "radial" in h5:
            r = h5["radial/F"][k]
            ax.plot(L, r, color=c, ls="--", lw=1.2)
            data[f"{th[k]:.3g}/radial"] = r
        if "particles" in h5:
            pt = h5["particles/time_s"][()] / 3600.0
            j = int(np.argmin(np.abs(pt - th[k])))
            if abs(pt[j] - th[k]) < 1e-6:
                ax.plot(h5["particles/L_grid"][()], h5["particles/mlt_mean_F_mean"][j], "o", ms=3, color=c)
    ax.set_xlabel("L")
    ax.set_ylabel("F averaged over MLT [1]")
    ax.set_title("MLT average (solid; dots: particles) vs radial diffusion (dashed)", fontsize=9)
    ax.legend(fontsize=7, loc="lower center", ncol=len(picks), handlelength=1.2, columnspacing=0.8)
    if "comparison" in h5:
        d = h5["comparison/relative_l2_difference"][()]
        ax2.plot(th, d, color="black", label="relative L2 difference (measure-weighted)")
        s = h5["comparison/max_abs_difference"][()]
        ax2.plot(th, s, color="tab:gray", ls="--", label="max |difference| over L")
        data["relative_l2"], data["max_abs"] = d, s
        ax2.set_yscale("log")
    ax2.set_xlabel("time [h]")
    ax2.set_ylabel("PDE MLT average - radial")
    ax2.set_title("difference against time", fontsize=9)
    ax2.legend(fontsize=7, loc="upper right")
    fig.tight_layout()
    return fig, data


FIGURES = {
    "fig2_probe_F": plot_fig2,
    "fig3_L_mlt_maps": plot_fig3,
    "mlt_average_vs_radial": plot_mlt_vs_radial,
}

