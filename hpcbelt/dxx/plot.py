"""The Fig 1-like figure of a database (Watt et al. 2021, Fig 1), and ``hpcbelt dxx plot``.

:func:`plot_fig1` is the one drawing of it, from plain arrays: the distribution of the profiles
(:func:`hpcbelt.daa_database.distribution`) and the two mean profiles on any pitch-angle grid.
``hpcbelt dxx plot`` draws it for a database file; the aggregation draws it from the copy of
the same distribution in a summary file.

(a) the column-normalised distribution of log10 D over pitch angle (each pitch-angle column
    scaled to a maximum of 1), with the mean profile <D(X_i, Y_i)> (solid) and D(<X>, <Y>)
    (dashed); (b) the PDFs of log10 D at the database angles nearest 30 and 60 deg; (c) a
    normal Q-Q plot of log10 D at 45 deg (sorted log10 D against standard normal quantiles,
    with the normal of the same mean and standard deviation).  Zeros (no resonance) cannot be
    shown on a log axis and are left out.  When the distribution is not available only (a)'s
    two mean profiles are drawn, with the reason.  matplotlib, no pyplot state.

A multi-energy database gives one figure per energy (``DB_E0.5MeV.png``, ...; the energy in
each title), or only the energy of ``--energy-MeV E``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..plotting import cell_edges


def plot_fig1(dist: dict, alpha_deg, daa_mean=None, daa_of_mean_inputs=None, *,
              title: str | None = None):
    """Draw Fig 1; returns ``(figure, data)``, ``data`` the exact arrays drawn.

    Parameters
    ----------
    dist : dict
        A distribution as :func:`hpcbelt.daa_database.distribution` returns it.  Used: when
        ``dist["readable"]`` is true, ``alpha_deg`` (the database's grid), ``edges`` (bin
        edges of log10 D), ``density`` [alpha, bin], ``n_profiles``, ``qq_alpha_deg``,
        ``qq_sample_log10``, ``qq_normal`` and, if present, ``sha256_matches_run`` (false adds
        a note to panel (a)); otherwise ``reason``.
    alpha_deg : array
        Pitch-angle grid [deg] of the two mean profiles (the model grid in an aggregation, the
        database grid for ``hpcbelt dxx plot``).
    daa_mean, daa_of_mean_inputs : array or None
        <D(X_i, Y_i)> and D(<X>, <Y>) [1/s] on ``alpha_deg``; None leaves the line out.
    title : str, optional
        Figure title.

    ``data`` keys: ``pdf_column_max1`` (the image of panel (a)), ``daa_mean``,
    ``daa_of_mean_inputs`` (the lines, zeros as NaN), ``pdf_30deg``, ``pdf_60deg``,
    ``qq_sample_log10``; the unreadable case has the two line keys only.
    """
    from matplotlib.figure import Figure

    data = {}
    alpha = np.asarray(alpha_deg, float)
    readable = bool(dist.get("readable", False))
    fig = Figure(figsize=(13, 4.2) if readable else (6, 4.2))
    axes = fig.subplots(1, 3) if readable else [fig.subplots(1, 1)]
    ax = axes[0]
    if readable:
        a_db = np.asarray(dist["alpha_deg"], float)
        edges = np.asarray(dist["edges"], float)
        dens = np.asarray(dist["density"], float)
        # column-normalised like the paper: each pitch angle's PDF scaled to its maximum
        peak = dens.max(axis=1, keepdims=True)
        shown = np.where(peak > 0, dens / np.where(peak > 0, peak, 1), 0.0)
        ax.pcolormesh(cell_edges(a_db), 10.0 ** edges, np.ma.masked_equal(shown.T, 0.0),
                      cmap="viridis", shading="flat")
        data["pdf_column_max1"] = shown
        head = f"(a) {dist['n_profiles']} database profiles"
        if not dist.get("sha256_matches_run", True):
            head += "\n(file differs from the one the run used)"
        ax.set_title(head, fontsize=9)
    else:
        ax.set_title("(a) database averages (database file not readable:\n"
                     f"{str(dist.get('reason', ''))[:70]})", fontsize=8)
    line_c = "white" if readable else "black"
    for key, values, ls, label in (("daa_mean", daa_mean, "-", "<D(X_i, Y_i)>"),
                                   ("daa_of_mean_inputs", daa_of_mean_inputs, "--", "D(<X>, <Y>)")):
        if values is None:
            continue
        values = np.asarray(values)
        y = np.where(values > 0, values, np.nan)
        ax.plot(alpha, y, color=line_c, ls=ls, lw=2, label=label)
        data[key] = y
    ax.set_yscale("log")
    ax.set_xlabel("equatorial pitch angle [deg]")
    ax.set_ylabel("D_aa [1/s]")
    ax.set_xlim(alpha[0], alpha[-1])
    ax.legend(fontsize=8, loc="lower left", facecolor="0.55" if readable else "white")
    if readable:
        centres = 0.5 * (edges[1:] + edges[:-1])
        ax = axes[1]
        for want, colour in ((30.0, "tab:blue"), (60.0, "tab:orange")):
            j = int(np.argmin(np.abs(a_db - want)))
            ax.plot(centres, dens[j], color=colour, label=f"{a_db[j]:g} deg")
            data[f"pdf_{want:g}deg"] = dens[j]
        ax.set_xlabel("log10 D_aa [log10(1/s)]")
        ax.set_ylabel("probability density [1/decade]")
        ax.set_title("(b) PDF of log10 D_aa", fontsize=9)
        ax.legend(fontsize=8)
        ax = axes[2]
        qs = np.asarray(dist["qq_sample_log10"], float)
        qn = np.asarray(dist["qq_normal"], float)
        ax.plot(qn, qs, "+", color="tab:blue", ms=4)
        if qs.size > 1:
            mu, sd = qs.mean(), qs.std(ddof=1)
            ax.plot(qn, mu + sd * qn, color="tab:red")
        ax.set_xlabel("standard normal quantiles")
        ax.set_ylabel("log10 D_aa quantiles")
        ax.set_title(f"(c) Q-Q plot at {float(dist['qq_alpha_deg']):g} deg", fontsize=9)
        data["qq_sample_log10"] = qs
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig, data


def energy_figure_name(out, energy_MeV: float) -> str:
    """``fig.png`` -> ``fig_E0.5MeV.png``: the figure of one energy of a multi-energy file."""
    o = Path(out)
    return str(o.with_name(f"{o.stem}_E{energy_MeV:g}MeV{o.suffix or '.png'}"))


def make_figure(path, out, dpi=120, energy_MeV=None):
    """Fig 1 of the database file ``path`` (checked by the study loader), saved to ``out``;
    ``energy_MeV`` picks the slice of a multi-energy file (ignored for a single-energy one)."""
    import h5py

    from .. import daa_database

    p = Path(path)
    if not p.is_file():
        raise InputError(f"database {p}: file not found")
    db = daa_database.load(p, energy_MeV)
    with h5py.File(p, "r") as fh:
        wave_model = fh.attrs.get("wave_model", "?")
    dist = daa_database.distribution(db)
    if not dist["readable"]:
        raise InputError(f"database {path}: every value is 0, nothing to plot on a log axis")
    title = (f"{p.name}: L = {db.L if db.L is not None else float('nan'):g}, E = "
             f"{db.energy_MeV if db.energy_MeV is not None else float('nan'):g} MeV, "
             f"{wave_model}, N = {db.n_profiles}")
    fig, _ = plot_fig1(dist, db.alpha_deg, dist["daa_mean_db_grid"], db.daa_of_mean_inputs,
                       title=title)
    fig.savefig(out, dpi=dpi)


def cmd_plot(args) -> int:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise InputError("hpcbelt dxx plot needs matplotlib (pip install matplotlib)") from None
    from .. import daa_database

    out = args.output or str(Path(args.database).with_suffix(".png").name)
    energies = daa_database.file_energies(args.database)
    if energies is None or args.energy_MeV is not None:
        make_figure(args.database, out, dpi=args.dpi, energy_MeV=args.energy_MeV)
        print(f"hpcbelt dxx: wrote {out}", file=sys.stderr)
        return 0
    for e in energies:                     # a multi-energy file: one figure per energy
        name = energy_figure_name(out, e)
        make_figure(args.database, name, dpi=args.dpi, energy_MeV=e)
        print(f"hpcbelt dxx: wrote {name}", file=sys.stderr)
    return 0


def add_parser(sub) -> None:
    p = sub.add_parser("plot", help="Fig 1-like summary of a database (PNG)",
                       description=__doc__.split("\n\n")[0])
    p.add_argument("database", help="database HDF5 file")
    p.add_argument("-o", "--output", help="image file (default <database>.png here)")
    p.add_argument("--dpi", type=int, default=120)
    p.add_argument("--energy-MeV", dest="energy_MeV", type=float,
                   help="multi-energy database: plot this energy only (default: one figure "
                   "per energy, <output stem>_E<energy>MeV.png)")
    p.set_defaults(func=cmd_plot)
