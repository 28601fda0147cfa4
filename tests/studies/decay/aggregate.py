"""The decay study's aggregator: ensemble median and mean of y(t) over finished members."""

from dataclasses import dataclass

import numpy as np

from hpcbelt import output, studies
from hpcbelt.aggregate import files
from hpcbelt.errors import InputError
from hpcbelt.parallel import deal_and_gather

from . import runfile


@dataclass
class Options:
    percentile: float = 90.0
    memory_bytes: int = 256 * 2**20
    checksum: bool = True


def add_options(group):
    group.add_argument("--decay-percentile", type=float, default=90.0,
                       help="decay runs: upper percentile of y reported (default 90)")


def options(args):
    if args is None:
        return Options()
    return Options(percentile=args.decay_percentile, memory_bytes=int(args.memory_mb * 2**20),
                   checksum=not args.no_checksum)


@dataclass
class Plan:
    opts: Options
    blocks: list


def plan(run, opts):
    if not 0 < opts.percentile < 100:
        raise InputError(f"--decay-percentile {opts.percentile:g}: expected 0 < p < 100")
    if not run.done.size:
        raise InputError(f"{run.path}: no finished member")
    n = run.time_s.size
    return Plan(opts, [(t0, min(n, t0 + 2)) for t0 in range(0, n, 2)])   # tiny blocks: several per rank


def compute(run, plan, comm):
    def block(h5, b):
        y = runfile.read_members(h5, run, *b)
        return b, np.median(y, axis=0), y.mean(axis=0), np.percentile(y, plan.opts.percentile, axis=0)

    parts = deal_and_gather(comm, plan.blocks, block, context=lambda: output.open_h5(run.path))
    if parts is None:
        return None
    res = {k: np.full(run.time_s.size, np.nan) for k in ("median", "mean", "upper")}
    for (t0, t1), med, mean, up in parts:
        res["median"][t0:t1], res["mean"][t0:t1], res["upper"][t0:t1] = med, mean, up
    return res


def write_summary(path, run, plan, results, header):
    import h5py

    with h5py.File(path, "w") as h5:
        files.write_attrs(h5, header)
        h5.attrs["members_used"] = int(run.done.size)
        ts = files.dataset(h5, "time_s", run.time_s, "s", "output times")
        ts.make_scale("time_s")
        for k in ("median", "mean", "upper"):
            files.dataset(h5, f"y_{k}", results[k], "1", f"{k} of y over the finished members", dims=(ts,))


def plot_median(h5):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(4, 3))
    ax = fig.subplots()
    ax.semilogy(h5["time_s"][()], h5["y_median"][()])
    return fig, {"median": h5["y_median"][()]}


FIGURES = {"decay_median": plot_median}


def report(summary_path, figures, elapsed_s):
    import h5py

    with h5py.File(summary_path, "r") as h5:
        lines = files.report_header(h5.attrs, summary_path, elapsed_s, " (decay)")
        lines.append(f"- final median y: {h5['y_median'][-1]:.6g}")
    return "\n".join(lines + files.report_figures(figures)) + "\n"


def used(run):
    return f"members {run.done.size}/{run.members}", run.done.size < run.members


AGGREGATOR = studies.Aggregator(
    name="decay", title="decay runs (test study kind)", add_options=add_options, options=options,
    inspect=runfile.inspect, plan=plan, compute=compute, write_summary=write_summary, figures=FIGURES,
    report=report, used=used)
