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


def _prepare_outputs(run_path: Path, output, report, figures_dir, overwrite) -> Outputs:
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
    return Outputs(out, rep, figs)


def aggregate_file(run_path, output=None, figures_dir=None, report=None, opts: pa.Options | None = None,
                   comm=None, quiet: bool = False, overwrite: bool = False, drift_opts=None) -> Outputs:
    """Aggregate ``run_path`` (a pitch-angle or a drift-diffusion run); returns the paths written.

    All ranks call this.  ``opts`` are the pitch-angle options, ``drift_opts`` the drift ones
    (:class:`hpcbelt.aggregate.drift.DriftOptions`); only those of the file's kind are used.
    """
    from . import drift as dr

    if comm is None:
        from ..parallel import world

        comm = world()
    opts = opts or pa.Options()
    drift_opts = drift_opts or dr.DriftOptions(memory_bytes=opts.memory_bytes, checksum=opts.checksum)
    rank = comm.Get_rank()
    t_start = time.monotonic()
    run_path = Path(run_path)

    def prepare():
        kind = run_kind(run_path)
        if kind not in ("pitch_angle", "drift_diffusion"):
            raise InputError(f"{run_path}: kind = {kind!r}: not a run file this command can aggregate "
                             f"(expected 'pitch_angle' or 'drift_diffusion')")
        outs = _prepare_outputs(run_path, output, report, figures_dir, overwrite)
        if kind == "pitch_angle":
            run = inspect_pitch_angle(run_path)
            plan = pa.make_plan(run, opts)
        else:
            run = dr.inspect_drift(run_path)
            plan = dr.make_drift_plan(run, drift_opts)
        return kind, run, plan, outs, _stat(run_path)

    kind, run, plan, outs, stat0 = root_decides(comm, prepare)
    if kind == "pitch_angle":
        results = pa.aggregate(run, plan, comm)
    else:
        results = dr.aggregate_drift(run, plan, comm)

    def finish():
        from .report import drift_report, pitch_angle_report
        from .summary import temp_name

        tmp = temp_name(outs.summary)
        rep_tmp = outs.report.with_name(f".{outs.report.name}.tmp-{os.getpid()}")
        try:
            if kind == "pitch_angle":
                from . import summary
                from .database_fig import database_distribution
                from .figures import make_figures

                fig3 = pa.fig3_data(run, plan)
                extra = pa.snapshot_and_ratios(run, plan, results)
                db = database_distribution(run.database)
            _check_unchanged(run_path, stat0)
            checksum = opts.checksum if kind == "pitch_angle" else drift_opts.checksum
            ident = file_identity(run_path, checksum=checksum)
            if kind == "pitch_angle":
                summary.write_pitch_angle_summary(tmp, run, plan, results, fig3, extra, db, comm.Get_size(),
                                                  ident, pa.options_json(opts))
                figs = make_figures(tmp, outs.figures) if outs.figures is not None else {}
                text = pitch_angle_report(tmp, figs, time.monotonic() - t_start)
            else:
                from .figures_drift import make_drift_figures

                dr.write_drift_summary(tmp, run, plan, results, comm.Get_size(), ident,
                                       dr.options_json(drift_opts))
                figs = make_drift_figures(tmp, outs.figures) if outs.figures is not None else {}
                text = drift_report(tmp, figs, time.monotonic() - t_start)
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
        if kind == "pitch_angle":
            used = ", ".join(f"{ex.name} {ex.n_done}/{ex.members}" for ex in run.experiments)
            unfinished = not all(ex.n_done == ex.members for ex in run.experiments)
        else:
            p = run.particles
            used = (f"PDE {'done' if run.pde_done else 'not finished'}"
                    + (f", permutations {p['done'].size}/{p['n_perm']}" if p else ""))
            unfinished = not run.pde_done or (p is not None and p["done"].size < p["n_perm"])
        print(f"hpcbelt: aggregated {run_path} (finished: {used}) -> {outs.summary}, "
              f"{outs.report}" + (f", figures in {outs.figures}" if outs.figures else ""), file=sys.stderr)
        if unfinished:
            print("hpcbelt: note: unfinished run: only its finished parts were aggregated", file=sys.stderr)
    return outs


def _check_unchanged(run_path: Path, stat0) -> None:
    if _stat(run_path) != stat0:
        raise InputError(f"{run_path}: the run file changed while it was being aggregated "
                         f"(is the run still writing?); try again when it is finished")
