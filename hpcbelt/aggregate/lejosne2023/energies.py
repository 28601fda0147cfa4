"""``hpcbelt aggregate-energies``: the energy scan of a drift-diffusion study over energies (issue 15).

    hpcbelt aggregate-energies results/energies.h5 [-o SUMMARY.h5] [--report FILE.md] [--figures DIR]

A study with ``[physics] energy_keV = [...]`` and ``[particles] ring_per_permutation > 0``
writes, for every energy, the ring particles' structure function of the drift-averaged shell
(:mod:`hpcbelt.particles.diffusion`).  From it, per energy: the measured D_LL at L_energy with
its 1-sigma error (the spread of the P permutations' slopes), the paper's coefficient (Eq. 21)
and the finite-T one (:mod:`hpcbelt.drift.coefficients`) with the ratios, the MLT-resolved
moments of Eq. 11, and the probe F at the end of the particle run from the particles and the
PDE.  Written: a summary file (datasets against ``energy_keV``, the whole comparison as the
JSON attribute ``scan_json``), a Markdown report, and with ``--figures`` the figures
``ratio_vs_omegaT.png`` (measured / predicted D_LL against Omega T), ``moments_eq11.png`` and
``probe_highest_energy.png`` (F(t) at the first probe, particles and PDE, highest energy).

The predictions use the study's base sequence of w (its mean square in place of W^2, the
factor ``base_ratio``; :mod:`hpcbelt.drift.scan`).  The work is small (a few numbers per
permutation) and is done on rank 0; every rank gets the same error and exit code.
"""

from __future__ import annotations

import json
import math
import os
import sys
from pathlib import Path

import numpy as np

from ... import __version__, guard
from ...errors import InputError
from .. import files

SUMMARY_KIND = "aggregate_energies"
DEFAULT_T_FIT_S = 1800.0

# (summary dataset, key of a row of drift.scan.compare, units, description)
COLUMNS = (
    ("omega_T", "omega_T", "rad", "drift frequency at L_energy times the update time T"),
    ("drift_period_s", None, "s", "unperturbed drift period at L_energy"),
    ("D_LL_measured_per_day", "D_LL_meas_per_day", "1/day", "D_LL at L_energy measured from the ring particles"),
    ("D_LL_measured_sigma_per_day", "D_LL_sigma_per_day", "1/day", "its 1-sigma statistical error (permutations)"),
    ("D_LL_paper_per_day", "D_LL_paper_per_day", "1/day", "Eq. 21 of Lejosne & Albert (2023), K L^6 / 2"),
    ("D_LL_finite_update_per_day", "D_LL_finite_per_day", "1/day",
     "the finite-T coefficient (coefficients = 'finite_update') at L_energy"),
    ("ratio_paper", "ratio_paper", "1", "measured / paper"),
    ("ratio_paper_sigma", "ratio_paper_sigma", "1", "its 1-sigma error"),
    ("ratio_finite_update", "ratio_finite", "1", "measured / finite-T"),
    ("ratio_finite_update_sigma", "ratio_finite_sigma", "1", "its 1-sigma error"),
    ("base_ratio", "base_ratio", "1", "mean square of the study's base sequence of w over W^2 (in the predictions)"),
    ("permutations_used", "permutations", "1", "finished permutations used"),
    ("dL2_ratio_eq11", None, "1", "Eq. 11: the ring's <dL^2> rate summed over MLT / the finite-T prediction"),
    ("dt_max_s", "dt_max_s", "s", "the particles' largest RK4 step at this energy"),
    ("probe_F_particles_end", None, "1", "F at the first probe at the end of the particle run, particles (mean)"),
    ("probe_F_particles_end_sigma", None, "1", "its standard error over permutations"),
    ("probe_F_pde_end", None, "1", "F at the first probe at the same time, the study's PDE"),
)


def _study_of(run):
    """The single-energy study of ``run`` (an energy group), rebuilt from the stored configuration."""
    from ...config import StudyFile
    from ...drift import study as dstudy

    def strip(d):
        return {k: strip(v) if isinstance(v, dict) else [strip(i) if isinstance(i, dict) else i for i in v]
                if isinstance(v, list) else v for k, v in d.items() if v is not None}

    try:
        doc = strip(json.loads(run.root["study_config_json"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(f"{run.path}: study_config_json: unreadable ({exc})") from None
    st = dstudy.load_study(StudyFile(Path(run.path), "", doc))
    return next(s for s in st.slices() if s.group == run.group)


def inspect_all(path) -> list:
    """The run of every energy group of ``path`` (:func:`hpcbelt.drift.runfile.inspect`); InputError
    for a single-energy file."""
    from ...drift import runfile as rfl

    energies = rfl.energies(path)
    if not energies:
        raise InputError(f"{path}: a single-energy drift run file; aggregate-energies takes a study over energies "
                         f"([physics] energy_keV = [...]); use 'hpcbelt aggregate' for this one")
    return [rfl.inspect(path, energy_keV=E) for E in energies]


def collect(path, t_fit_s: float = DEFAULT_T_FIT_S, runs=None) -> dict:
    """Everything the summary holds: ``rows`` (one :func:`hpcbelt.drift.scan.compare` dict per
    energy, with the probe at the end of the particle run) and ``probe`` (the highest energy's
    probe series).  ``runs``: the energy groups' runs to use (default :func:`inspect_all`; the
    command passes them screened for damaged permutations)."""
    from ...drift import driver, scan
    from ...drift import runfile as rfl
    from ...output import open_h5

    rows, probe = [], None
    for run in (runs if runs is not None else inspect_all(path)):
        E = run.energy_keV
        where = f"{path}: {run.group}"
        if run.ring is None:
            raise InputError(f"{where}: no ring particles: run the study with [particles] ring_per_permutation > 0")
        if run.particles["done"].size < 2:
            raise InputError(f"{where}: {run.particles['done'].size} finished permutation(s); the error of the "
                             f"measured D_LL needs at least 2")
        st = _study_of(run)
        exp = driver.experiment(st)
        with open_h5(path) as h5:
            ring = rfl.read_ring(h5, run)
            base = run.base(h5)[rfl.PART_W_BASE][()]
            series = rfl.read_pde_series(h5, run)
            _, pp, _ = rfl.read_particle_block(h5, run, 0, run.particles["time_s"].size, 0, 1, True)
        raw = {"time_s": ring["time_s"], "lag_s": ring["lag_s"], "msd_v": ring["msd_v"], "S": ring["S"],
               "moments": ring["moments"], "n_lost": int(ring["n_lost"].sum())}
        try:
            r = scan.compare(exp, raw, ring["L0"], t_fit_s, base=base)
        except ValueError as exc:
            raise InputError(f"{where}: --t-fit-s {t_fit_s:g}: {exc}") from None
        pt, pm = run.particles["time_s"], pp[:, 0, :]
        n = pm.shape[0]
        r.update(dt_max_s=st.particles.dt_max_s, drift_period_s=2 * math.pi / abs(r["omega_rad_per_s"]),
                 group=run.group, ring_per_permutation=ring["n"],
                 probe_end={"t_h": float(pt[-1] / 3600), "particles": float(pm[:, -1].mean()),
                            "particles_sigma": float(pm[:, -1].std(ddof=1) / math.sqrt(n)),
                            "pde": float(np.interp(pt[-1], run.time_s, series["probe_F"][0]))})
        rows.append(r)
        probe = {"energy_keV": E, "probe": run.probes[0]["name"], "t_pde_s": run.time_s,
                 "F_pde": series["probe_F"][0], "t_particles_s": pt, "F_particles": pm.mean(axis=0),
                 "F_particles_sigma": pm.std(axis=0, ddof=1) / math.sqrt(n),
                 "coefficients": st.physics.coefficients, "update_s": st.physics.update_s}
    return {"source": str(path), "t_fit_s": float(t_fit_s), "rows": rows, "probe": probe}


def _column(r, key, name):
    if key is not None:
        return r[key]
    if name == "drift_period_s":
        return r["drift_period_s"]
    if name == "dL2_ratio_eq11":
        return r["moments"]["dL2_ratio"]
    pe = r["probe_end"]
    return {"probe_F_particles_end": pe["particles"], "probe_F_particles_end_sigma": pe["particles_sigma"],
            "probe_F_pde_end": pe["pde"]}[name]


def write_summary(path: Path, data: dict, header: dict) -> None:
    """The summary file (written to a temporary name, then renamed)."""
    import h5py

    rows = data["rows"]
    tmp = files.temp_name(path)
    try:
        with h5py.File(tmp, "w") as h5:
            files.write_attrs(h5, header)
            h5.attrs["t_fit_s"] = data["t_fit_s"]
            h5.attrs["scan_json"] = json.dumps(rows)
            h5.attrs["description"] = ("energy scan of a drift-diffusion study over energies: D_LL measured by the "
                                       "ring particles against the paper's and the finite-T coefficients")
            e = h5.create_dataset("energy_keV", data=np.array([r["energy_keV"] for r in rows], float))
            e.attrs["units"] = "keV"
            e.attrs["description"] = "electron kinetic energy at L_energy"
            e.make_scale("energy_keV")
            for name, key, unit, desc in COLUMNS:
                d = h5.create_dataset(name, data=np.array([_column(r, key, name) for r in rows], float))
                d.attrs["units"] = unit
                d.attrs["description"] = desc
                d.dims[0].attach_scale(e)
            pr = data["probe"]
            g = h5.create_group("probe_highest_energy")
            g.attrs["energy_keV"] = pr["energy_keV"]
            g.attrs["probe"] = pr["probe"]
            for k, unit in (("t_pde_s", "s"), ("F_pde", "1"), ("t_particles_s", "s"), ("F_particles", "1"),
                            ("F_particles_sigma", "1")):
                g.create_dataset(k, data=np.asarray(pr[k], float)).attrs["units"] = unit
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def report(data: dict) -> str:
    """The Markdown table of the scan."""
    rows = data["rows"]
    lines = [f"# Energy scan: {data['source']}", "",
             f"D_LL at L = {rows[0]['L0']:g} measured by {rows[0]['ring_per_permutation']} ring particles per "
             f"permutation (slope of the structure function for lags >= {data['t_fit_s']:g} s), +- 1 sigma over "
             f"the permutations; T = {rows[0]['update_s']:g} s.", "",
             "| E [keV] | drift period [min] | Omega T | D_LL measured [1/day] | measured / paper (Eq. 21) | "
             "measured / finite-T | Eq. 11 <dL^2> / finite-T | probe F end: particles vs PDE |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        pe = r["probe_end"]
        lines.append(f"| {r['energy_keV']:g} | {r['drift_period_s'] / 60:.3g} | {r['omega_T']:.3f} | "
                     f"{r['D_LL_meas_per_day']:.4g} +- {r['D_LL_sigma_per_day']:.2g} | {r['ratio_paper']:.3f} +- "
                     f"{r['ratio_paper_sigma']:.3f} | {r['ratio_finite']:.3f} +- {r['ratio_finite_sigma']:.3f} | "
                     f"{r['moments']['dL2_ratio']:.3f} | {pe['particles']:.4f} +- {pe['particles_sigma']:.4f} vs "
                     f"{pe['pde']:.4f} |")
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------------------------------
# Figures (also drawn by tools/drift_energy_scan.py from its own ring runs)
# ------------------------------------------------------------------------------------------

def plot_ratio(rows, path) -> None:
    """Measured / predicted D_LL against Omega T, both predictions, with sinc^2(Omega T / 2)."""
    import matplotlib.pyplot as plt

    from ...drift import coefficients as co

    x = np.array([r["omega_T"] for r in rows])
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for key, lab, mk in (("paper", "measured / paper (Eq. 21)", "o"), ("finite", "measured / finite-T", "s")):
        ax.errorbar(x, [r[f"ratio_{key}"] for r in rows], yerr=[r[f"ratio_{key}_sigma"] for r in rows], fmt=mk,
                    capsize=3, label=lab)
    xs = np.geomspace(min(x.min(), 0.05) * 0.8, x.max() * 1.3, 200)
    ax.plot(xs, co.finite_update_factor(xs, 1.0), "k--", lw=1, label=r"sinc$^2(\Omega T/2)$ (finite-T / paper)")
    ax.axhline(1.0, color="grey", lw=0.8)
    for r in rows:
        ax.annotate(f"{r['energy_keV']:g} keV", (r["omega_T"], r["ratio_paper"]), textcoords="offset points",
                    xytext=(4, -12), fontsize=7)
    ax.set_xscale("log")
    if min(r["ratio_paper"] for r in rows) < 0.1:       # the paper's coefficient off by orders of magnitude
        ax.set_yscale("log")
    ax.set_xlabel(rf"$\Omega T$ (drift frequency at L = {rows[0]['L0']:g} x update time)")
    ax.set_ylabel(r"$D_{LL}$ measured / predicted")
    ax.set_title(f"Test particles vs the coefficients, T = {rows[0]['update_s']:g} s, L = {rows[0]['L0']:g}")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_moments(rows, path) -> None:
    """Eq. 11, MLT-resolved: <dL^2> / (T L^6) over one update, in units of the paper's 2 K."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for i, r in enumerate(rows):
        m = r["moments"]
        K2 = 2 * r["K_paper_per_s"]
        ax.plot(m["mlt_h"], np.array(m["dL2_rate_per_s"]) / K2, "o", ms=3, color=f"C{i}",
                label=f"{r['energy_keV']:g} keV (Omega T = {r['omega_T']:.2f})")
        ax.plot(m["mlt_h"], np.array(m["dL2_predicted_per_s"]) / K2, "-", lw=1, color=f"C{i}")
    ax.set_xlabel("MLT at mid-interval [h]")
    ax.set_ylabel(r"$\langle\Delta L^2\rangle / (2 K L^6 T)$")
    ax.set_title(r"Eq. 11: particles (dots), $\sin^2\phi\,\mathrm{sinc}^2(\Omega T/2)$ (lines)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_probe(pr: dict, path, extra=()) -> None:
    """F(t) at the probe: the particles' mean with a 2-sigma band and the PDE; ``extra``: more
    PDE curves as (t_s, F, label)."""
    import matplotlib.pyplot as plt

    t, m, s = (np.asarray(pr[k]) for k in ("t_particles_s", "F_particles", "F_particles_sigma"))
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    ax.fill_between(t / 3600, m - 2 * s, m + 2 * s, color="C0", alpha=0.3, lw=0)
    ax.plot(t / 3600, m, "C0", label="particles (mean, 2 sigma band)")
    ax.plot(np.asarray(pr["t_pde_s"]) / 3600, pr["F_pde"], "C1", label=f'PDE, coefficients = "{pr["coefficients"]}"')
    for i, (tx, F, lab) in enumerate(extra):
        ax.plot(np.asarray(tx) / 3600, F, f"C{i + 2}--", label=lab)
    ax.set_xlabel("t [h]")
    ax.set_ylabel(f"F at the probe {pr['probe']}")
    ax.set_title(f"{pr['energy_keV']:g} keV electrons, T = {pr['update_s']:g} s")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


FIGURES = ("ratio_vs_omegaT", "moments_eq11", "probe_highest_energy")


def figures(data: dict, directory: Path) -> dict:
    import matplotlib

    matplotlib.use("Agg")
    directory.mkdir(parents=True, exist_ok=True)
    out = {n: directory / f"{n}.png" for n in FIGURES}
    plot_ratio(data["rows"], out["ratio_vs_omegaT"])
    plot_moments(data["rows"], out["moments_eq11"])
    plot_probe(data["probe"], out["probe_highest_energy"])
    return out


# ------------------------------------------------------------------------------------------
# Command line
# ------------------------------------------------------------------------------------------

def register(subparsers) -> None:
    p = subparsers.add_parser("aggregate-energies", help="the energy scan of a drift study over energies: measured "
                              "D_LL against the paper's and the finite-T coefficients",
                              description=__doc__.split("\n\n")[0])
    p.add_argument("run", help="run file of a drift-diffusion study over energies (with ring particles)")
    p.add_argument("-o", "--output", help="summary file (default: <run>_energies.h5 beside the run)")
    p.add_argument("--report", metavar="FILE.md", help="Markdown table (default: the summary name with .md)")
    p.add_argument("--figures", metavar="DIR", help="write the figures into DIR")
    p.add_argument("--t-fit-s", type=float, default=DEFAULT_T_FIT_S, dest="t_fit_s",
                   help=f"fit the structure function for lags >= this [s] (default {DEFAULT_T_FIT_S:g})")
    from ..cli import add_skip_damaged

    add_skip_damaged(p)
    p.set_defaults(func=main)


def _outputs(args):
    run = Path(args.run)
    out = Path(args.output) if args.output else run.with_name(run.stem + "_energies.h5")
    rep = Path(args.report) if args.report else out.with_suffix(".md")
    figs = Path(args.figures) if args.figures else None
    sources = files.readable_source(run)
    guard.refuse_inputs_as_output(out, sources, flag="-o")
    guard.refuse_inputs_as_output(rep, sources, flag="--report")
    if figs is not None:
        files.refuse_figures_over(figs, sources, names=FIGURES)
    if guard.same_file(rep, out):
        raise InputError(f"--report {rep}: the same file as the summary -o {out}")
    for flag, path in (("-o", out), ("--report", rep)):
        if path.is_dir():
            raise InputError(f"{flag} {path}: is a directory; expected a file name")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise InputError(f"{flag} {path}: cannot create its directory ({exc})") from None
    if not (args.t_fit_s >= 0 and math.isfinite(args.t_fit_s)):
        raise InputError(f"--t-fit-s {args.t_fit_s:g}: expected a finite lag >= 0 s")
    return out, rep, figs


def main(args) -> int:
    from ...output import file_identity, now_iso
    from ...parallel import abort_on_exception, root_decides, world

    from .. import damage
    from .compute import SCREEN

    comm = world()
    abort_on_exception(comm)

    def prepare():
        return _outputs(args), files.stat(args.run), inspect_all(args.run)

    (out, rep, figs), st0, as_read = root_decides(comm, prepare)
    # every finished item of every energy checked against its checksum, over the ranks
    runs, skipped = [], []
    for run in as_read:
        used, bad = damage.screened(run, SCREEN, comm, args.skip_damaged, path=args.run)
        runs.append(used)
        skipped += bad
    if comm.Get_rank() == 0:
        for line in damage.warnings(args.run, skipped):
            print(line, file=sys.stderr, flush=True)

    def work():
        data = collect(args.run, args.t_fit_s, runs)
        files.check_unchanged(args.run, st0)
        header = {"kind": SUMMARY_KIND, "hpcbelt_version": __version__, "created": now_iso(),
                  **file_identity(args.run, checksum=False),
                  **damage.summary_attrs(args.skip_damaged, skipped)}
        text = report(data)
        try:
            write_summary(out, data, header)
            files.write_text_replacing(rep, text)
            if figs is not None:
                figures(data, figs)
        except OSError as exc:
            raise files.write_error(exc, out) from None
        return text

    text = root_decides(comm, work)
    if comm.Get_rank() == 0:
        print(text, end="")
        sys.stdout.flush()
    return 0
