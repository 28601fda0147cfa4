"""``hpcbelt dxx plot``: a Fig 1-like summary of any database (Watt et al. 2021, Fig 1).

(a) the column-normalised distribution of log10 D over pitch angle (each pitch-angle column
    a histogram scaled to a maximum of 1), with the mean profile <D(X_i, Y_i)> (solid) and
    D(<X>, <Y>) (dashed); (b) the distributions of log10 D at 30 and 60 deg; (c) a normal
    Q-Q plot of D at 45 deg (sample quantiles of the standardised D against standard normal
    quantiles: a heavy right tail bends above the line).  Zeros (no resonance) cannot be
    shown on a log axis and are counted in the panel titles.  matplotlib, Agg backend.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..aggregate.database_fig import WINDOW_DECADES


def _load(path):
    """The database checked by the study loader, and a title from its attributes."""
    import h5py

    from ..pitch_angle.database import load
    p = Path(path)
    if not p.is_file():
        raise InputError(f"database {p}: file not found")
    db = load(p)
    with h5py.File(p, "r") as fh:
        wave_model = fh.attrs.get("wave_model", "?")
    title = (f"L = {db.L if db.L is not None else float('nan'):g}, E = "
             f"{db.energy_MeV if db.energy_MeV is not None else float('nan'):g} MeV, "
             f"{wave_model}, N = {db.n_profiles}")
    return db.alpha_deg, db.daa, db.daa_of_mean_inputs, title


def column_pdf(alpha, daa, edges):
    """Histogram of log10 D per pitch-angle column, each column scaled to max 1."""
    img = np.zeros((edges.size - 1, alpha.size))
    for j in range(alpha.size):
        col = daa[:, j]
        col = col[col > 0]
        if col.size:
            h, _ = np.histogram(np.log10(col), bins=edges)
            if h.max() > 0:
                img[:, j] = h / h.max()
    return img


def make_figure(path, out, dpi=120):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from scipy import stats

    a, d, m, title = _load(path)
    pos = d[d > 0]
    if pos.size == 0:
        raise InputError(f"database {path}: every value is 0, nothing to plot on a log axis")
    hi = np.ceil(np.log10(pos.max()))
    lo = max(np.floor(np.log10(np.percentile(pos, 0.5))), hi - WINDOW_DECADES)
    edges = np.linspace(lo, hi, 61)
    fig = plt.figure(figsize=(12, 4.2))
    ax = fig.add_subplot(1, 3, 1)
    img = column_pdf(a, d, edges)
    da = np.diff(a).mean() if a.size > 1 else 1.0
    ax.imshow(img, origin="lower", aspect="auto", cmap="viridis",
              extent=(a[0] - da / 2, a[-1] + da / 2, edges[0], edges[-1]))
    mean = d.mean(axis=0)
    with np.errstate(divide="ignore"):
        ax.plot(a, np.where(mean > 0, np.log10(mean), np.nan), "w-", lw=1.5,
                label="<D(X_i, Y_i)>")
        if m is not None:
            ax.plot(a, np.where(m > 0, np.log10(m), np.nan), "w--", lw=1.5, label="D(<X>, <Y>)")
    ax.set_ylim(edges[0], edges[-1])
    ax.set_xlabel("equatorial pitch angle [deg]")
    ax.set_ylabel("log10 <D_aa> [1/s]")
    ax.set_title("(a) column-normalised PDF", fontsize=10)
    ax.legend(loc="lower left", fontsize=8, facecolor="0.3", labelcolor="w")
    ax = fig.add_subplot(1, 3, 2)
    for ang, col in ((30, "C0"), (60, "C1")):
        j = int(np.argmin(abs(a - ang)))
        v = d[:, j]
        v = v[v > 0]
        if v.size:
            ax.hist(np.log10(v), bins=edges, density=True, histtype="step", color=col,
                    label=f"{a[j]:g} deg ({(d[:, j] == 0).sum()} zeros)")
    ax.set_xlabel("log10 <D_aa> [1/s]")
    ax.set_ylabel("probability density")
    ax.set_title("(b) PDFs at 30 and 60 deg", fontsize=10)
    ax.legend(fontsize=8)
    ax = fig.add_subplot(1, 3, 3)
    j = int(np.argmin(abs(a - 45)))
    v = np.sort(d[:, j])
    sd = v.std()
    z = (v - v.mean()) / sd if sd > 0 else v * 0
    q = stats.norm.ppf((np.arange(1, v.size + 1) - 0.5) / v.size)
    ax.plot(q, z, "+", color="C0", ms=4)
    ax.plot([q[0], q[-1]], [q[0], q[-1]], "r-")
    ax.set_xlabel("standard normal quantiles")
    ax.set_ylabel(f"standardised D quantiles at {a[j]:g} deg")
    ax.set_title("(c) normal Q-Q at 45 deg", fontsize=10)
    fig.suptitle(f"{Path(path).name}: {title}", fontsize=10)
    fig.tight_layout()
    fig.savefig(out, dpi=dpi)
    plt.close(fig)


def cmd_plot(args) -> int:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise InputError("hpcbelt dxx plot needs matplotlib (pip install matplotlib)") from None
    out = args.output or str(Path(args.database).with_suffix(".png").name)
    make_figure(args.database, out, dpi=args.dpi)
    print(f"hpcbelt dxx: wrote {out}", file=sys.stderr)
    return 0


def add_parser(sub) -> None:
    p = sub.add_parser("plot", help="Fig 1-like summary of a database (PNG)",
                       description=__doc__.split("\n\n")[0])
    p.add_argument("database", help="database HDF5 file")
    p.add_argument("-o", "--output", help="image file (default <database>.png here)")
    p.add_argument("--dpi", type=int, default=120)
    p.set_defaults(func=cmd_plot)
