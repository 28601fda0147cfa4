"""The dt sweep: f at one pitch angle and day against the variability time scale dt.

    hpcbelt aggregate-sweep RUN.h5 [RUN.h5 ...] [-o SWEEP.h5] [--figures DIR]
                            [--alpha-deg 30] [--day 30]

Takes the random experiments of one or more pitch-angle run files (a whole study, or one file
per experiment from a job array with ``hpcbelt submit --split-experiments``) and, for each
switching interval dt, the median, quartiles and 5-95 % range over the finished members of f at
the chosen angle and day; the constant-D experiments (mean_of_profiles, mean_inputs) become
horizontal reference levels.  Writes a self-describing HDF5 summary, a Markdown table and a
figure.  Memory: one value per member.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from ... import __version__
from ...errors import InputError
from ...output import open_h5
from ...pitch_angle.runfile import F, dataset_path, inspect, read_slab

QUANTILES = (5, 25, 50, 75, 95)


def collect(paths, alpha_deg: float = 30.0, day: float | None = None) -> dict:
    """Read f(alpha_deg, day) of every finished member of every experiment in ``paths``."""
    if not paths:
        raise InputError("aggregate-sweep: no run files given")
    runs = [inspect(p) for p in paths]
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
            "constant": const, "f_units": ref.f_units, "sources": [r.path for r in runs]}


def statistics(data: dict) -> dict:
    dt = np.array([x[0] for x in data["random"]])
    q = np.array([np.percentile(x[2], QUANTILES) for x in data["random"]])
    return {"dt_s": dt, "names": [x[1] for x in data["random"]],
            "n_finished": np.array([x[2].size for x in data["random"]]),
            "n_members": np.array([x[3] for x in data["random"]]),
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
            h5.attrs["percentile_method"] = "numpy.percentile, linear interpolation, over finished members"
            d = h5.create_dataset("dt_s", data=st["dt_s"])
            d.attrs["units"] = "s"
            d.attrs["description"] = "switching interval of each random experiment"
            d.make_scale("dt_s")
            for key, desc in (("n_finished", "finished members used"), ("n_members", "members in the study")):
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
             f"Sources: {', '.join(data['sources'])}", "",
             "| dt | experiment | members | median | 25-75 % | 5-95 % |", "|---|---|---|---|---|---|"]
    for i, dt in enumerate(st["dt_s"]):
        lines.append(f"| {_fmt_dt(dt)} | {st['names'][i]} | {st['n_finished'][i]}/{st['n_members'][i]} | "
                     f"{st['p50'][i]:.3g} | {st['p25'][i]:.3g} .. {st['p75'][i]:.3g} | "
                     f"{st['p5'][i]:.3g} .. {st['p95'][i]:.3g} |")
    for mode, v in data["constant"].items():
        lines.append(f"\nConstant run {mode}: {v:.3g}")
    return "\n".join(lines) + "\n"


def register(subparsers) -> None:
    p = subparsers.add_parser("aggregate-sweep", help="f at one angle and day against dt over several runs",
                              description=__doc__.split("\n\n")[0])
    p.add_argument("runs", nargs="+", help="pitch-angle run files (one study, or one per experiment)")
    p.add_argument("-o", "--output", help="summary file (default: sweep_summary.h5 beside the first run)")
    p.add_argument("--figures", metavar="DIR", help="write dt_sweep.png into DIR")
    p.add_argument("--alpha-deg", type=float, default=30.0, help="pitch angle [deg] (default 30)")
    p.add_argument("--day", type=float, help="day of the comparison (default: the last output)")
    p.set_defaults(func=main)


def main(args) -> int:
    data = collect(args.runs, args.alpha_deg, args.day)
    st = statistics(data)
    out = Path(args.output) if args.output else Path(args.runs[0]).with_name("sweep_summary.h5")
    if out.resolve() in {Path(r).resolve() for r in args.runs}:
        raise InputError(f"-o {out}: that is one of the run files")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"-o {out}: cannot create its directory ({exc})") from None
    write_summary(out, data, st)
    text = report(data, st)
    out.with_suffix(".md").write_text(text)
    if args.figures:
        d = Path(args.figures)
        d.mkdir(parents=True, exist_ok=True)
        figure(d / "dt_sweep.png", data, st)
    print(text)
    return 0
