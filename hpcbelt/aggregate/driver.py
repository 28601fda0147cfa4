"""``hpcbelt aggregate``: from a run file to a summary file, PNG figures and a Markdown report.

All ranks call :func:`aggregate_file`.  Rank 0 checks the input and the options first and
broadcasts the verdict (so a bad file stops every rank with the same one-line error), the
statistics are computed by all ranks (see :mod:`.pitch_angle`), and rank 0 writes the summary
under a temporary name in the output directory, draws the figures from it, writes the report,
and only then renames the summary into place.  An error at any point removes the temporary
file: no partial summary is ever left under the requested name.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError
from ..parallel import root_decides
from . import pitch_angle as pa
from .runfile import (check_summary_output, file_identity, inspect_pitch_angle, run_kind,
                      summary_path_for)


@dataclass
class Outputs:
    summary: Path
    report: Path | None
    figures: Path | None


def _stat(path):
    st = Path(path).stat()
    return st.st_size, st.st_mtime_ns


def aggregate_file(run_path, output=None, figures_dir=None, report=None, opts: pa.Options | None = None,
                   comm=None, quiet: bool = False, overwrite: bool = False) -> Outputs:
    """Aggregate ``run_path``; returns the paths written (on every rank)."""
    if comm is None:
        from ..parallel import world

        comm = world()
    opts = opts or pa.Options()
    rank = comm.Get_rank()
    t_start = time.monotonic()
    run_path = Path(run_path)

    def prepare():
        kind = run_kind(run_path)
        if kind == "drift_diffusion":
            raise InputError(f"{run_path}: drift-diffusion runs (kind = 'drift_diffusion') cannot be "
                             f"aggregated yet: only pitch-angle runs are supported (issue 3)")
        if kind != "pitch_angle":
            raise InputError(f"{run_path}: kind = {kind!r}: not a run file this command can aggregate "
                             f"(expected 'pitch_angle')")
        out = Path(output) if output else summary_path_for(run_path)
        check_summary_output(out, run_path, overwrite)
        rep = Path(report) if report else out.with_suffix(".md")
        if rep.resolve() in (run_path.resolve(), out.resolve()):
            raise InputError(f"--report {rep}: must differ from the run file and the summary")
        if rep.is_dir() or not rep.resolve().parent.is_dir():
            raise InputError(f"--report {rep}: not a file in an existing directory")
        figs = None
        if figures_dir is not None:
            figs = Path(figures_dir)
            if figs.exists() and not figs.is_dir():
                raise InputError(f"--figures {figs}: exists and is not a directory")
        run = inspect_pitch_angle(run_path)
        plan = pa.make_plan(run, opts)
        return run, plan, Outputs(out, rep, figs), _stat(run_path)

    run, plan, outs, stat0 = root_decides(comm, prepare)
    results = pa.aggregate(run, plan, comm)

    def finish():
        from .database_fig import database_distribution
        from .figures import make_figures
        from .report import pitch_angle_report
        from .summary import temp_name, write_pitch_angle_summary

        tmp = temp_name(outs.summary)
        rep_tmp = outs.report.with_name(f".{outs.report.name}.tmp-{os.getpid()}")
        try:
            fig3 = pa.fig3_data(run, plan)
            extra = pa.snapshot_and_ratios(run, plan, results)
            db = database_distribution(run.database)
            if _stat(run_path) != stat0:
                raise InputError(f"{run_path}: the run file changed while it was being aggregated "
                                 f"(is the run still writing?); try again when it is finished")
            ident = file_identity(run_path, checksum=opts.checksum)
            write_pitch_angle_summary(tmp, run, plan, results, fig3, extra, db, comm.Get_size(), ident,
                                      pa.options_json(opts))
            figs = make_figures(tmp, outs.figures) if outs.figures is not None else {}
            text = pitch_angle_report(tmp, figs, time.monotonic() - t_start)
            text = text.replace(f"`{tmp.name}`", f"`{outs.summary.name}`")
            rep_tmp.write_text(text)
            os.replace(rep_tmp, outs.report)
            os.replace(tmp, outs.summary)
        finally:
            for p in (tmp, rep_tmp):
                if p.exists():
                    p.unlink()
        return None

    root_decides(comm, finish)
    if rank == 0 and not quiet:
        used = ", ".join(f"{ex.name} {ex.n_done}/{ex.members}" for ex in run.experiments)
        print(f"hpcbelt: aggregated {run_path} (finished members: {used}) -> {outs.summary}, "
              f"{outs.report}" + (f", figures in {outs.figures}" if outs.figures else ""), file=sys.stderr)
        if not all(ex.n_done == ex.members for ex in run.experiments):
            print("hpcbelt: note: unfinished run: only finished members were aggregated", file=sys.stderr)
    return outs
