"""The dt sweep: f at one pitch angle and day against the variability time scale dt.

    hpcbelt aggregate-sweep RUN.h5 [RUN.h5 ...] [-o SWEEP.h5] [--figures DIR]
                            [--alpha-deg 30] [--day 30] [--energy-MeV E]

Takes the random experiments of one or more pitch-angle run files (a whole study, or one file
per experiment from a job array with ``hpcbelt submit --split-experiments``) and, for each
switching interval dt, the median, quartiles and 5-95 % range over the finished members of f at
the chosen angle and day; the constant-D experiments (mean_of_profiles, mean_inputs) become
horizontal reference levels.  Writes a self-describing HDF5 summary, a Markdown table and a
figure.  Memory: one value per member.

A run over energies (one group per experiment and energy) is swept at one energy, chosen with
``--energy-MeV`` (required for such a run; for a single-energy run it must be the run's energy);
the summary records it (root attribute ``energy_MeV``).

Each run file gets the checks of ``hpcbelt aggregate``: refused while a live run writes it (its
lock), refused as an output (-o, --report, --figures; also the inputs it recorded, through
links or ``..``), and every finished member of the experiments the sweep reads is checked
against its checksum and values first (:mod:`hpcbelt.aggregate.damage`): a damaged one is
refused, or with ``--skip-damaged`` left out as if unfinished.  Under mpirun the checks are
divided over the ranks and rank 0 writes.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

from ... import __version__, guard
from ...errors import InputError
from ...output import open_h5
from ...pitch_angle.runfile import F, dataset_path, inspect, read_slab
from .. import damage, files
from .compute import SCREEN

QUANTILES = (5, 25, 50, 75, 95)
MODES = ("random", "mean_of_profiles", "mean_inputs")      # the experiments a sweep reads


def _at_energy(run, energy_MeV: float | None):
    """The run with only its groups at ``energy_MeV`` (a run over energies), checked."""
    if not run.multi_energy:
        if energy_MeV is not None:
            try:
                have = json.loads(run.root.get("study_config_json", "{}"))["physics"]["energy_MeV"]
            except (ValueError, KeyError, TypeError):
                have = None
            if isinstance(have, (int, float)) and abs(have - energy_MeV) > 1e-9 * abs(energy_MeV):
                raise InputError(f"--energy-MeV {energy_MeV:g}: {run.path} is a run at {have:g} MeV")
        return run
    listed = ", ".join(f"{e:g}" for e in run.energies_MeV) + " MeV"
    if energy_MeV is None:
        raise InputError(f"{run.path}: a run over energies ({listed}); choose one with --energy-MeV")
    keep = [ex for ex in run.experiments if abs(ex.energy_MeV - energy_MeV) <= 1e-9 * abs(energy_MeV)]
    if not keep:
        raise InputError(f"--energy-MeV {energy_MeV:g}: not an energy of {run.path} ({listed})")
    return replace(run, experiments=keep)


def collect(paths, alpha_deg: float = 30.0, day: float | None = None, runs=None,
            energy_MeV: float | None = None) -> dict:
    """Read f(alpha_deg, day) of every finished member of every experiment in ``paths``.

    ``runs``: the runs of ``paths`` as :func:`screened_runs` returns them, damaged members left
    out (default: inspected here, without the damage check).  ``energy_MeV``: the energy of a
    run over energies (its groups at that energy only)."""
    if not paths:
        raise InputError("aggregate-sweep: no run files given")
    runs = [inspect(p) for p in paths] if runs is None else runs
    runs = [_at_energy(r, energy_MeV) for r in runs]
    ref = runs[0]
    for r in runs[1:]:
        if not (np.array_equal(r.alpha_deg, ref.alpha_deg) and np.array_equal(r.time_s, ref.time_s)):
            raise InputError(f"{r.path}: its pitch-angle grid or output times differ from {ref.path}; "
                             "a sweep compares runs of one study")
    ia = int(np.argmin(np.abs(ref.alpha_deg - alpha_deg)))
    if abs(ref.alpha_deg[ia] - alpha_deg) > 1e-9:
        raise InputError(f"--alpha-deg {alpha_deg}: not a grid angle (nearest {ref.alpha_deg[ia]:g})")
    t_want = ref.time_s[-1] if day is None else day * 86400.0
    it = int(np.argmin(np.abs(ref.time_s - t_want)))
    if abs(ref.time_s[it] - t_want) > 1e-6 * max(t_want, 1.0):
        raise InputError(f"--day {day}: not an output time of the runs (last is "
                         f"{ref.time_s[-1] / 86400:g} days)")
    random, const, seen = [], {}, {}
    for r in runs:
        with open_h5(r.path) as h5:
            for ex in r.experiments:
                if ex.name in seen:
                    raise InputError(f"experiment {ex.name!r} appears in both {seen[ex.name]} and {r.path}")
                seen[ex.name] = r.path
                if ex.n_done == 0:
                    continue
                vals = read_slab(h5, dataset_path(ex.name, F), ex, it, it + 1, ia, ia + 1,
                                 np.empty((ex.n_done, 1, 1)))[:, 0, 0]
                if ex.mode == "random":
                    random.append((ex.switch_every_s, ex.name, vals, ex.members))
                elif ex.mode in ("mean_of_profiles", "mean_inputs"):
                    const[ex.mode] = float(vals[0])
    if not random:
        raise InputError("aggregate-sweep: no finished members of any random experiment in "
                         + ", ".join(str(p) for p in paths))
    random.sort(key=lambda x: x[0])
    dts = [x[0] for x in random]
    if len(set(dts)) != len(dts):
        raise InputError("aggregate-sweep: two random experiments share a switching interval")
    return {"alpha_deg": float(ref.alpha_deg[ia]), "time_s": float(ref.time_s[it]), "random": random,
            "constant": const, "f_units": ref.f_units, "sources": [r.path for r in runs],
            "energy_MeV": energy_MeV}


def screened_runs(paths, comm, skip: bool) -> tuple[list, list]:
    """``(runs, skipped)`` on every rank (collective): the pitch-angle runs of ``paths`` (inspected
    on rank 0) after every finished member of the experiments a sweep reads was checked over the
    ranks, as ``hpcbelt aggregate`` does; a damaged one is refused (InputError naming it), or with
    ``skip`` left out of its experiment.  ``skipped``: [(path, Damage)]."""
    from ...parallel import root_decides

    runs = root_decides(comm, lambda: [inspect(p) for p in paths])
    out, skipped = [], []
    for path, run in zip(paths, runs):
        read = replace(run, experiments=[ex for ex in run.experiments if ex.mode in MODES])
        used, bad = damage.screened(read, SCREEN, comm, skip, path=path)
        kept = {ex.name: ex for ex in used.experiments}
        out.append(replace(run, experiments=[kept.get(ex.name, ex) for ex in run.experiments]))
        skipped += [(path, d) for d in bad]
    return out, skipped


def statistics(data: dict) -> dict:
    dt = np.array([x[0] for x in data["random"]])
    q = np.array([np.percentile(x[2], QUANTILES) for x in data["random"]])
    damaged = data.get("damaged", {})
    return {"dt_s": dt, "names": [x[1] for x in data["random"]],
            "n_finished": np.array([x[2].size for x in data["random"]]),
            "n_members": np.array([x[3] for x in data["random"]]),
            "n_damaged": np.array([len(damaged.get(x[1], [])) for x in data["random"]], np.int64),
            **{f"p{p}": q[:, i] for i, p in enumerate(QUANTILES)}}


def write_summary(path: Path, data: dict, st: dict) -> None:
    import h5py

    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    try:
        with h5py.File(tmp, "w") as h5:
            h5.attrs["kind"] = "aggregate_sweep"
            h5.attrs["hpcbelt_version"] = __version__
            h5.attrs["sources"] = json.dumps(data["sources"])
            h5.attrs["alpha_deg"] = data["alpha_deg"]
            h5.attrs["time_s"] = data["time_s"]
            if data.get("energy_MeV") is not None:
                h5.attrs["energy_MeV"] = float(data["energy_MeV"])
            h5.attrs["percentile_method"] = "numpy.percentile, linear interpolation, over finished members"
            for k, v in damage.summary_attrs(data.get("skip_damaged", False), data.get("skipped", [])).items():
                h5.attrs[k] = v
            d = h5.create_dataset("dt_s", data=st["dt_s"])
            d.attrs["units"] = "s"
            d.attrs["description"] = "switching interval of each random experiment"
            d.make_scale("dt_s")
            for key, desc in (("n_finished", "finished members used"), ("n_members", "members in the study"),
                              ("n_damaged", "finished members left out as damaged (--skip-damaged): their data "
                                            "fail their checksum or hold non-finite or negative values")):
                h5.create_dataset(key, data=st[key]).attrs["units"] = "1"
                h5[key].attrs["description"] = desc
                h5[key].dims[0].attach_scale(d)
            h5.create_dataset("experiment", data=np.array(st["names"], dtype=h5py.string_dtype()))
            h5["experiment"].attrs["units"] = "1"
            for p in QUANTILES:
                x = h5.create_dataset(f"f_p{p}", data=st[f"p{p}"])
                x.attrs["units"] = data["f_units"]
                x.attrs["description"] = (f"{p}th percentile over members of f at {data['alpha_deg']:g} deg, "
                                          f"{data['time_s'] / 86400:g} days")
                x.dims[0].attach_scale(d)
            for mode, v in data["constant"].items():
                c = h5.create_dataset(f"constant/{mode}", data=v)
                c.attrs["units"] = data["f_units"]
                c.attrs["description"] = f"f of the constant-D run '{mode}' at the same angle and day"
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def _fmt_dt(s: float) -> str:
    for unit, n in (("d", 86400), ("h", 3600), ("min", 60)):
        if s >= n and abs(s / n - round(s / n)) < 1e-9:
            return f"{int(round(s / n))} {unit}"
    return f"{s:g} s"


def figure(path: Path, data: dict, st: dict):
    """Median and 5-95 % range of f against dt, constant-D levels as horizontal lines."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    ax.fill_between(st["dt_s"], st["p5"], st["p95"], color="tab:red", alpha=0.2, label="5-95 % of members")
    ax.fill_between(st["dt_s"], st["p25"], st["p75"], color="tab:red", alpha=0.35, label="25-75 %")
    ax.plot(st["dt_s"], st["p50"], "o-", color="tab:red", label="ensemble median")
    styles = {"mean_of_profiles": ("-", "constant <D(X_i, Y_i)>"), "mean_inputs": ("--", "constant D(<X>, <Y>)")}
    for mode, v in data["constant"].items():
        ax.axhline(v, color="k", ls=styles[mode][0], label=styles[mode][1])
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xticks(st["dt_s"])
    ax.set_xticklabels([_fmt_dt(s) for s in st["dt_s"]], rotation=45)
    ax.minorticks_off()
    ax.set_xlabel("variability time scale dt (profile redrawn every dt)")
    ax.set_ylabel(f"f({data['alpha_deg']:g} deg) at day {data['time_s'] / 86400:g} [{data['f_units']}]")
    ax.set_title("Stochastic hiss pitch-angle diffusion: dependence on dt")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return ax


def report(data: dict, st: dict) -> str:
    lines = [f"# dt sweep: f({data['alpha_deg']:g} deg) at day {data['time_s'] / 86400:g}", "",
             f"Sources: {', '.join(data['sources'])}", *_skipped_lines(data), "",
             "| dt | experiment | members | median | 25-75 % | 5-95 % |", "|---|---|---|---|---|---|"]
    for i, dt in enumerate(st["dt_s"]):
        lines.append(f"| {_fmt_dt(dt)} | {st['names'][i]} | {st['n_finished'][i]}/{st['n_members'][i]} | "
                     f"{st['p50'][i]:.3g} | {st['p25'][i]:.3g} .. {st['p75'][i]:.3g} | "
                     f"{st['p5'][i]:.3g} .. {st['p95'][i]:.3g} |")
    for mode, v in data["constant"].items():
        lines.append(f"\nConstant run {mode}: {v:.3g}")
    return "\n".join(lines) + "\n"


def _skipped_lines(data: dict) -> list:
    skipped = data.get("skipped", [])
    if not skipped:
        return []
    return ["", f"Damaged members skipped (--skip-damaged): {len(skipped)}, left out as if unfinished: "
            + "; ".join(f"{d.item.label} ({d.reason})" for d in skipped)]


def register(subparsers) -> None:
    from ..cli import add_skip_damaged

    p = subparsers.add_parser("aggregate-sweep", help="f at one angle and day against dt over several runs",
                              description=__doc__.split("\n\n")[0])
    p.add_argument("runs", nargs="+", help="pitch-angle run files (one study, or one per experiment)")
    p.add_argument("-o", "--output", help="summary file (default: sweep_summary.h5 beside the first run)")
    p.add_argument("--report", metavar="FILE.md", help="Markdown table (default: the summary name with .md)")
    p.add_argument("--figures", metavar="DIR", help="write dt_sweep.png into DIR")
    p.add_argument("--alpha-deg", type=float, default=30.0, help="pitch angle [deg] (default 30)")
    p.add_argument("--day", type=float, help="day of the comparison (default: the last output)")
    p.add_argument("--energy-MeV", type=float, dest="energy_MeV",
                   help="energy [MeV] of a run over energies (required for one; default: none)")
    add_skip_damaged(p)
    p.set_defaults(func=main)


def _outputs(args) -> tuple:
    """(summary, report, figures dir or None), checked against every run file as ``hpcbelt
    aggregate`` checks its outputs: no run file being written by a live run, and no output that is
    a run file or an input one recorded (the same file on disk: links, ``..``)."""
    out = Path(args.output) if args.output else Path(args.runs[0]).with_name("sweep_summary.h5")
    rep = Path(args.report) if args.report else out.with_suffix(".md")
    figs = Path(args.figures) if args.figures else None
    for run in args.runs:
        sources = files.readable_source(run)
        guard.refuse_inputs_as_output(out, sources, flag="-o")
        guard.refuse_inputs_as_output(rep, sources, flag="--report")
        if figs is not None:
            files.refuse_figures_over(figs, sources, names=("dt_sweep",))
    if guard.same_file(rep, out):
        raise InputError(f"--report {rep}: must differ from the summary")
    for flag, path in (("-o", out), ("--report", rep)):
        if path.is_dir():
            raise InputError(f"{flag} {path}: is a directory; expected a file name")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise InputError(f"{flag} {path}: cannot create its directory ({exc})") from None
    return out, rep, figs


def main(args) -> int:
    from ...parallel import abort_on_exception, root_decides, world

    comm = world()
    abort_on_exception(comm)

    def prepare():
        return _outputs(args), [files.stat(p) for p in args.runs]

    (out, rep, figs), stats0 = root_decides(comm, prepare)
    runs, skipped = screened_runs(args.runs, comm, args.skip_damaged)

    def read():
        data = collect(args.runs, args.alpha_deg, args.day, runs=runs,
                       energy_MeV=getattr(args, "energy_MeV", None))
        data["skip_damaged"] = bool(args.skip_damaged)
        data["skipped"] = [d for _, d in skipped]
        data["damaged"] = damage.by_group(data["skipped"])
        return data

    data = root_decides(comm, read)
    if comm.Get_rank() == 0:
        for path, d in skipped:
            for line in damage.warnings(path, [d]):
                print(line, file=sys.stderr, flush=True)

    def finish():
        for p, st in zip(args.runs, stats0):
            files.check_unchanged(p, st)
        st = statistics(data)
        text = report(data, st)
        try:
            write_summary(out, data, st)
            files.write_text_replacing(rep, text)
            if figs is not None:
                figs.mkdir(parents=True, exist_ok=True)
                figure(figs / "dt_sweep.png", data, st)
        except OSError as exc:
            raise files.write_error(exc, out) from None
        return text

    text = root_decides(comm, finish)
    if comm.Get_rank() == 0:
        print(text)
    return 0
