"""``hpcbelt aggregate``: from a run file to a summary file, PNG figures and a Markdown report.

The same steps for every study kind; what is specific to a kind is its
:class:`hpcbelt.studies.Aggregator` (found from the run file's ``kind`` attribute):

1. rank 0 checks the input file and the outputs (``inspect``) and broadcasts the verdict, so a
   bad file stops every rank with the same one-line error;
2. every finished item is checked against its checksum and values over the ranks
   (:mod:`.damage`): a damaged one is refused, or with ``--skip-damaged`` left out of the run
   every later step sees, as if unfinished;
3. rank 0 checks the options against that run (``plan``) and broadcasts it;
4. every rank computes its share of the statistics (``compute``);
5. rank 0 writes the summary under a temporary name in the output directory
   (``write_summary``, after the common header), draws the figures from it, writes the report,
   and only then renames the summary into place.  An error at any point removes the temporary
   files: no partial summary is ever left under the requested name.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from .. import guard, studies
from ..output import file_identity, file_kind
from ..errors import InputError
from ..parallel import root_decides
from . import damage, files


@dataclass
class Outputs:
    summary: Path
    report: Path | None
    figures: Path | None


def _prepare_outputs(run_path: Path, output_path, report, figures_dir, overwrite) -> Outputs:
    """Check what the aggregation will write: never a file the run read or wrote, nor a
    run file still being written."""
    sources = files.readable_source(run_path)          # the lock; the run file and its inputs
    inputs = {k: v for k, v in sources.items() if k != "run file"}  # the run file: checked on its own
    out = Path(output_path) if output_path else files.summary_path_for(run_path)
    if guard.same_file(out, run_path):                 # also through a hard link
        raise InputError(f"output {out}: is the run file itself; choose another name")
    guard.refuse_inputs_as_output(out, inputs, flag="output")
    files.check_summary_output(out, run_path, overwrite)
    rep = Path(report) if report else out.with_suffix(".md")
    if guard.same_file(rep, run_path) or guard.same_file(rep, out):
        raise InputError(f"--report {rep}: must differ from the run file and the summary")
    guard.refuse_inputs_as_output(rep, inputs, flag="--report")
    if rep.is_dir() or not rep.resolve().parent.is_dir():
        raise InputError(f"--report {rep}: not a file in an existing directory")
    figs = None
    if figures_dir is not None:
        figs = Path(figures_dir)
        files.refuse_figures_over(figs, sources)
    return Outputs(out, rep, figs)


def run_kind(path) -> str:
    """The ``kind`` of an hpcbelt run file; InputError for anything else (e.g. a summary)."""
    kind = file_kind(path)
    if kind is None:
        raise InputError(f"{path}: HDF5 file without a 'kind' attribute: not an hpcbelt run file")
    if kind == files.SUMMARY_KIND:
        raise InputError(f"{path}: this is an aggregation summary, not a run file; pass the run file "
                         f"that 'hpcbelt run' wrote")
    return kind


def _pick_options(agg: studies.Aggregator, candidates):
    """The options object of this aggregator's type among ``candidates``, else its defaults."""
    default = agg.get("options")(None)
    for o in candidates:
        if isinstance(o, type(default)):
            return o
    return default


def aggregate_file(run_path, output=None, figures_dir=None, report=None, opts=None, comm=None,
                   quiet: bool = False, overwrite: bool = False, drift_opts=None, options=(),
                   skip_damaged: bool = False) -> Outputs:
    """Aggregate ``run_path`` (a run file of any registered study kind); returns the paths written.

    All ranks call this.  ``opts``, ``drift_opts`` and ``options`` are option objects of the
    kinds' aggregators (e.g. :class:`hpcbelt.aggregate.watt2021.options.Options`); the one that
    matches the file's kind is used, its defaults otherwise.  A damaged finished item refuses
    the file; with ``skip_damaged`` it is left out as if unfinished (:mod:`.damage`).
    """
    if comm is None:
        from ..parallel import world

        comm = world()
    candidates = [o for o in (opts, drift_opts, *options) if o is not None]
    rank = comm.Get_rank()
    t_start = time.monotonic()
    run_path = Path(run_path)

    def prepare():
        kind = run_kind(run_path)
        agg = studies.aggregator_for(kind, run_path)
        outs = _prepare_outputs(run_path, output, report, figures_dir, overwrite)
        o = _pick_options(agg, candidates)
        run = agg.get("select")(run_path, o) if agg.select else agg.get("inspect")(run_path)
        return kind, o, run, outs, files.stat(run_path)

    kind, opts, as_read, outs, stat0 = root_decides(comm, prepare)
    agg = studies.aggregator_for(kind, run_path)
    # every finished item checked once, over the ranks; what is left out is left out of every pass
    run, skipped = damage.screened(as_read, damage.screen_for(agg), comm, skip_damaged, path=run_path)
    plan = root_decides(comm, lambda: agg.get("plan")(run, opts))
    if rank == 0:
        for line in damage.warnings(run_path, skipped):
            print(line, file=sys.stderr, flush=True)
    results = agg.get("compute")(run, plan, comm)

    def finish():
        tmp = files.temp_name(outs.summary)
        rep_tmp = files.temp_name(outs.report)
        try:
            files.check_unchanged(run_path, stat0)
            identity = file_identity(run_path, checksum=opts.checksum)
            header = files.summary_header(kind, run.root, identity, opts, comm.Get_size())
            header.update(damage.summary_attrs(skip_damaged, skipped))
            agg.get("write_summary")(tmp, run, plan, results, header)
            figs = (files.make_figures(tmp, outs.figures, agg.get("figures")) if outs.figures is not None else {})
            text = agg.get("report")(tmp, figs, time.monotonic() - t_start)
            text = text.replace(f"`{tmp.name}`", f"`{outs.summary.name}`")
            rep_tmp.write_text(text)
            os.replace(rep_tmp, outs.report)
            os.replace(tmp, outs.summary)
        except OSError as exc:                          # e.g. a full disk: one line, exit 74
            raise files.write_error(exc, outs.summary) from None
        finally:
            for p in (tmp, rep_tmp):
                if p.exists():
                    p.unlink()
        return None

    root_decides(comm, finish)
    if rank == 0 and not quiet:
        used, _ = agg.get("used")(run)
        _, unfinished = agg.get("used")(as_read)          # unfinished in the file, not merely skipped
        print(f"hpcbelt: aggregated {run_path} (finished: {used}) -> {outs.summary}, "
              f"{outs.report}" + (f", figures in {outs.figures}" if outs.figures else ""), file=sys.stderr)
        if unfinished:
            print("hpcbelt: note: unfinished run: only its finished parts were aggregated", file=sys.stderr)
        if skipped:
            print(f"hpcbelt: note: {len(skipped)} damaged item(s) left out (--skip-damaged); listed in the summary "
                  f"({damage.LIST_ATTR}) and the report", file=sys.stderr)
    return outs
