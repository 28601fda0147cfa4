"""Figures like Watt et al. (2021), drawn from a pitch-angle summary file only (Agg, no pyplot state).

Every ``plot_*`` function takes the open summary (h5py File) and returns ``(figure, data)``:
``data`` maps a short name to the exact array drawn, so tests can check what a figure shows and
a reader can re-plot it.  :data:`FIGURES` names them; :func:`hpcbelt.aggregate.files.make_figures`
saves them as PNG.
"""

from __future__ import annotations

import json

import numpy as np
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure

from ...plotting import cell_edges

ENSEMBLE_COLOURS = ("tab:orange", "tab:red", "tab:purple", "tab:brown", "tab:olive", "tab:cyan", "tab:pink")
CONSTANT_STYLES = {"mean_of_profiles": "-", "mean_inputs": "--", "profile": ":"}


def _experiments(h5) -> list[str]:
    names = json.loads(h5.attrs["experiments"])
    return [n for n in names if n in h5 and "f" in h5[n]]


def _label(h5, name) -> str:
    d = h5[name].attrs.get("description", "")
    return f"{name} ({d})" if d else name


def _ensembles(h5):
    return [n for n in _experiments(h5) if h5[n].attrs["mode"] == "random"]


def _constants(h5):
    return [n for n in _experiments(h5) if h5[n].attrs["mode"] != "random"]


def _style(h5, name, k_ensemble: dict):
    mode = h5[name].attrs["mode"]
    if mode == "random":
        i = k_ensemble.setdefault(name, len(k_ensemble))
        return {"color": ENSEMBLE_COLOURS[i % len(ENSEMBLE_COLOURS)], "ls": "-"}
    return {"color": "black", "ls": CONSTANT_STYLES.get(mode, "-.")}


def _f_units(h5) -> str:
    return str(h5.attrs.get("f_units", ""))


def plot_fig1(h5):
    """Database profiles: column-normalised PDF of log10 D_aa with the two averages (their Fig 1).

    Drawn by the one Fig 1 plot, :func:`hpcbelt.dxx.plot.plot_fig1` (also ``hpcbelt dxx plot``),
    from the distribution the summary stored under ``database/file``.
    """
    from ...dxx.plot import plot_fig1 as draw

    dg = h5["database"]
    if dg.attrs.get("file_readable", False):
        fg = dg["file"]
        dist = {"readable": True, "alpha_deg": fg["alpha_deg"][()], "edges": fg["bin_edges_log10_daa"][()],
                "density": fg["density"][()], "n_profiles": fg.attrs["n_profiles"],
                "sha256_matches_run": fg.attrs.get("sha256_matches_run", True),
                "qq_alpha_deg": fg["qq_sample_log10_daa"].attrs["qq_alpha_deg"],
                "qq_sample_log10": fg["qq_sample_log10_daa"][()], "qq_normal": fg["qq_normal_quantiles"][()]}
    else:
        dist = {"readable": False, "reason": dg.attrs.get("file_note", "")}
    return draw(dist, h5["alpha_deg"][()], dg["daa_mean"][()] if "daa_mean" in dg else None,
                dg["daa_of_mean_inputs"][()] if "daa_of_mean_inputs" in dg else None)


def plot_fig3(h5):
    """f(alpha, t) over the first days for one random member and the constant runs, floor applied."""
    fg = h5["figure_data/fig3"]
    floor = float(fg.attrs["floor_f"])
    roles = [r for r in ("random", "mean_of_profiles", "mean_inputs") if r in fg]
    data = {}
    fig = Figure(figsize=(4.5 * max(len(roles), 1), 4.0))
    axes = fig.subplots(1, max(len(roles), 1), squeeze=False)[0]
    if not roles:
        axes[0].set_title("no member available for Fig 3")
        return fig, data
    t_days = h5["time_days"][()]
    alpha = h5["alpha_deg"][()]
    vmax = max(float(fg[r][()].max()) for r in roles)
    norm = LogNorm(vmin=floor, vmax=max(vmax, floor * 10))
    titles = {"random": "(a) one member of", "mean_of_profiles": "(b) constant", "mean_inputs": "(c) constant"}
    mesh = None
    for ax, role in zip(axes, roles):
        f = fg[role][()]
        n = f.shape[0]
        shown = np.maximum(f, floor)
        data[role] = shown
        t = t_days[:n]
        mesh = ax.pcolormesh(cell_edges(t), cell_edges(alpha), shown.T, norm=norm,
                             cmap="viridis", shading="flat")
        ax.set_xlabel("time [day]")
        ax.set_ylabel("pitch angle [deg]")
        exp = fg[role].attrs["experiment"]
        extra = f", member {fg[role].attrs['member']}" if role == "random" else ""
        ax.set_title(f"{titles[role]} {exp}{extra}", fontsize=9)
    cb = fig.colorbar(mesh, ax=list(axes), fraction=0.03)
    cb.set_label(f"f [{_f_units(h5)}] (floor {floor:g})")
    return fig, data


def plot_fig4(h5):
    """(a) median f at the PDF angle for every run, (b) mean time-integrated D, (c..) ensemble PDFs."""
    alpha = h5["alpha_deg"][()]
    ia = int(np.argmin(np.abs(alpha - float(h5.attrs["pdf_alpha_deg"]))))
    a_deg = alpha[ia]
    t = h5["time_days"][()]
    ens = _ensembles(h5)
    n_panels = 2 + len(ens)
    ncol = 2
    nrow = (n_panels + 1) // 2
    fig = Figure(figsize=(11, 3.8 * nrow))
    axes = fig.subplots(nrow, ncol, squeeze=False).ravel()
    data = {}
    k = {}
    ax = axes[0]
    for name in _experiments(h5):
        y = h5[f"{name}/f/median"][:, ia]
        ax.plot(t, y, lw=1.8, label=_label(h5, name), **_style(h5, name, k))
        data[f"a/{name}"] = y
    ax.set_yscale("log")
    ax.set_xlabel("time [day]")
    ax.set_ylabel(f"median f({a_deg:g} deg) [{_f_units(h5)}]")
    ax.set_title(f"(a) median f at {a_deg:g} deg", fontsize=9)
    ax.legend(fontsize=7, loc="upper right")
    ax = axes[1]
    for name in ens + _constants(h5):
        y = h5[f"{name}/daa_integral/mean"][:, ia]
        ax.plot(t, y, lw=1.8, label=_label(h5, name), **_style(h5, name, k))
        data[f"b/{name}"] = y
    ax.set_xlabel("time [day]")
    ax.set_ylabel(f"mean integral of D_aa dt at {a_deg:g} deg [1]")
    ax.set_title("(b) mean time-integrated D_aa", fontsize=9)
    ax.legend(fontsize=7, loc="upper left")
    edges = h5["pdf_bin_edges_log10f"][()]
    letters = "cdefghijklmnop"
    for i, name in enumerate(ens):
        ax = axes[2 + i]
        dens = h5[f"{name}/pdf/density"][()]
        # on a linear axis of log10 f: a QuadMesh on a log axis is transformed cell by cell (slow)
        mesh = ax.pcolormesh(cell_edges(t), edges, np.ma.masked_equal(dens.T, 0.0), cmap="magma_r",
                             shading="flat")
        fig.colorbar(mesh, ax=ax, pad=0.01).set_label("PDF [1/decade]")
        med = h5[f"{name}/f/median"][:, ia]
        with np.errstate(divide="ignore", invalid="ignore"):
            log_med = np.log10(med)
        ax.plot(t, log_med, color="cyan", lw=1.2, label="median")
        ax.set_xlabel("time [day]")
        ax.set_ylabel(f"log10 f({a_deg:g} deg) [log10({_f_units(h5)})]")
        n = int(h5[name].attrs["members_used"])
        ax.set_title(f"({letters[i]}) column-normalised PDF, {name}, {n} members", fontsize=9)
        ax.legend(fontsize=7, loc="upper right")
        data[f"pdf/{name}"] = dens
        data[f"pdf_log10_median/{name}"] = log_med
    for ax in axes[n_panels:]:
        ax.set_visible(False)
    fig.tight_layout()
    return fig, data


def plot_figS1(h5):
    """Snapshots of f(alpha) at the chosen days: medians, and the 5-95 % range of the ensembles."""
    sg = h5["snapshots"]
    days = sg["day_requested"][()]
    times = sg["time_s"][()] / 86400.0
    alpha = h5["alpha_deg"][()]
    fig = Figure(figsize=(4.5 * max(days.size, 1), 4.0))
    axes = fig.subplots(1, max(days.size, 1), squeeze=False)[0]
    data = {}
    k = {}
    for d, ax in enumerate(axes[:days.size]):
        for name in _experiments(h5):
            style = _style(h5, name, k)
            y = sg[f"{name}/median"][d]
            ax.plot(alpha, y, lw=1.6, label=name, **style)
            data[f"{days[d]:g}/{name}"] = y
            if h5[name].attrs["mode"] == "random":
                lo, hi = sg[f"{name}/p05"][d], sg[f"{name}/p95"][d]
                ax.fill_between(alpha, lo, hi, color=style["color"], alpha=0.2, lw=0)
                data[f"{days[d]:g}/{name}/p05"] = lo
                data[f"{days[d]:g}/{name}/p95"] = hi
        ax.set_yscale("log")
        ax.set_xlabel("pitch angle [deg]")
        ax.set_ylabel(f"f [{_f_units(h5)}]")
        ax.set_title(f"day {days[d]:g} (output at {times[d]:.3g} d): median, 5-95 %", fontsize=9)
        ax.legend(fontsize=7, loc="upper right")
    if days.size == 0:
        axes[0].set_title("no snapshot day within the run")
    fig.tight_layout()
    return fig, data


def plot_convergence(h5):
    """Ensemble convergence: bootstrap interval of the median over time; median against size."""
    ens = _ensembles(h5)
    alpha = h5["alpha_deg"][()]
    a_deg = float(h5.attrs["pdf_alpha_deg"])
    t = h5["time_days"][()]
    fig = Figure(figsize=(11, 3.8 * max(len(ens), 1)))
    axes = fig.subplots(max(len(ens), 1), 2, squeeze=False)
    data = {}
    ia = int(np.argmin(np.abs(alpha - a_deg)))
    for i, name in enumerate(ens):
        ax = axes[i, 0]
        bg = h5[f"{name}/bootstrap"]
        med = h5[f"{name}/f/median"][:, ia]
        lo, hi = bg["median_ci_low"][()], bg["median_ci_high"][()]
        ax.fill_between(t, lo, hi, color="tab:blue", alpha=0.3, lw=0,
                        label=f"{100 * bg.attrs['confidence']:g} % bootstrap interval")
        ax.plot(t, med, color="tab:blue", label="median")
        ax.set_yscale("log")
        ax.set_xlabel("time [day]")
        ax.set_ylabel(f"f({a_deg:g} deg) [{_f_units(h5)}]")
        ax.set_title(f"{name}: median of {int(h5[name].attrs['members_used'])} members", fontsize=9)
        ax.legend(fontsize=7, loc="upper right")
        data[f"{name}/median"], data[f"{name}/ci_low"], data[f"{name}/ci_high"] = med, lo, hi
        ax = axes[i, 1]
        cg = h5[f"{name}/convergence"]
        n = cg["ensemble_size"][()]
        days = cg.attrs["day_requested"]
        ti = cg.attrs["time_index"]
        for d in range(len(days)):
            # relative to the median of all finished members, so that all days share one axis
            full = h5[f"{name}/f/median"][int(ti[d]), ia]
            y = cg["median_first_n"][:, d] / full
            line = ax.plot(n, y, "o-", ms=3, label=f"day {days[d]:g}: first n members")[0]
            ax.fill_between(n, cg["subset_median_low"][:, d] / full, cg["subset_median_high"][:, d] / full,
                            color=line.get_color(), alpha=0.2, lw=0)
            data[f"{name}/size/{days[d]:g}"] = y
        ax.axhline(1.0, color="0.5", lw=0.8)
        ax.set_xscale("log")
        ax.set_yscale("log")     # heavy-tailed ensembles (slow switching) span decades
        ax.set_xlabel("ensemble size n")
        ax.set_ylabel(f"median f({a_deg:g} deg) / median of all members")
        ax.set_title(f"median against ensemble size (band: {100 * cg.attrs['confidence']:g} % of "
                     f"random n-subsets)", fontsize=9)
        ax.legend(fontsize=7, loc="upper right")
    if not ens:
        axes[0, 0].set_title("no random ensemble in this run")
    fig.tight_layout()
    return fig, data


def _dt_label(seconds: float) -> str:
    if seconds >= 86400:
        return f"dt = {seconds / 86400:g} d"
    if seconds >= 3600:
        return f"dt = {seconds / 3600:g} h"
    if seconds >= 60:
        return f"dt = {seconds / 60:g} min"
    return f"dt = {seconds:g} s"


def plot_energies(h5):
    """Each random experiment's median (line) and 5-95 % range (band) of f over the <D> run at
    the PDF angle and the last time, against energy; and the ratio of the two constant runs."""
    fig = Figure(figsize=(6.4, 4.4))
    ax = fig.add_subplot(1, 1, 1)
    data = {}
    if "energies" not in h5:
        ax.text(0.5, 0.5, "single-energy run: set [physics] energy_MeV to a list\n"
                "for the ratios against energy", ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
        return fig, data
    g = h5["energies"]
    E = g["energy_MeV"][()]
    data["energy_MeV"] = E
    names = [n for n in g if isinstance(g[n], type(g)) and "median_over_reference" in g[n]]
    names.sort(key=lambda n: g[n].attrs["switch_every_s"])
    for i, n in enumerate(names):
        e = g[n]
        colour = ENSEMBLE_COLOURS[i % len(ENSEMBLE_COLOURS)]
        med, lo, hi = (e[f"{s}_over_reference"][()] for s in ("median", "p05", "p95"))
        ax.plot(E, med, "o-", color=colour, label=f"{n} ({_dt_label(e.attrs['switch_every_s'])}): median")
        ax.fill_between(E, lo, hi, color=colour, alpha=0.2, lw=0, label=f"{n}: 5-95 %")
        data[f"{n}/median"], data[f"{n}/p05"], data[f"{n}/p95"] = med, lo, hi
    if "constant_runs" in g:
        c = g["constant_runs"][()]
        ax.plot(E, c, "s--", color="black", label="constant D(<X>,<Y>) / <D(X_i,Y_i)>")
        data["constant_runs"] = c
    ax.axhline(1.0, color="0.5", lw=0.8)
    from matplotlib.ticker import FuncFormatter, NullFormatter

    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xticks(E)
    ax.set_xticklabels([f"{v:g}" for v in E])
    ax.xaxis.set_minor_formatter(NullFormatter())
    def plain(v, _):                                # ratios near 1: 0.5, 2 rather than 5 x 10^-1
        lead = v / 10.0 ** np.floor(np.log10(v)) if v > 0 else 0.0
        return f"{v:g}" if round(lead) in (1, 2, 5) and abs(lead - round(lead)) < 1e-6 else ""

    ax.yaxis.set_major_formatter(FuncFormatter(plain))
    ax.yaxis.set_minor_formatter(FuncFormatter(plain))
    ax.set_xlabel("electron energy [MeV]")
    ax.set_ylabel(f"f({g.attrs['alpha_deg']:g} deg) / f(<D(X_i,Y_i)> run)")
    ax.set_title(f"at {g.attrs['time_days']:g} days: ensembles and constant runs over the <D> run", fontsize=9)
    ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    return fig, data


FIGURES = {
    "fig1_database": plot_fig1,
    "fig3_f_alpha_time": plot_fig3,
    "fig4_median_daa_pdfs": plot_fig4,
    "figS1_snapshots": plot_figS1,
    "convergence": plot_convergence,
    "energies_ratio": plot_energies,
}
