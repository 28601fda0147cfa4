"""Aggregation of run files: ensemble statistics, PDFs, the papers' figures and a report.

``hpcbelt aggregate RUN.h5 [-o SUMMARY.h5] [--figures DIR]`` (or ``tools/aggregate.py``) reads a
run file written by ``hpcbelt run`` and writes a self-describing summary file (layout in
:mod:`.summary`), PNG figures (:mod:`.figures`) and a Markdown report (:mod:`.report`).

Modules:
  runfile       open and check run files, read slabs of finished members (errors -> InputError)
  stats         the statistics on in-memory blocks (pure numpy: percentiles, PDFs, bootstrap)
  pitch_angle   the streaming, MPI-divided aggregation of a pitch-angle run
  drift         the same for a drift-diffusion run (PDE, radial solver, test particles)
  database_fig  the distribution of the database profiles (Fig 1)
  summary       the summary file layout and writer (pitch angle; drift writes its own)
  figures       plots drawn from a pitch-angle summary only; figures_drift for drift runs
  report        the Markdown reports
  driver, cli   the command (cli is imported by 'hpcbelt' at start-up, so it imports nothing heavy)
"""


def aggregate_file(*args, **kwargs):
    """:func:`hpcbelt.aggregate.driver.aggregate_file` (imported on first use)."""
    from .driver import aggregate_file as run

    return run(*args, **kwargs)
