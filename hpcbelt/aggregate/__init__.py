"""Aggregation of run files: ensemble statistics, PDFs, the papers' figures and a report.

``hpcbelt aggregate RUN.h5 [-o SUMMARY.h5] [--figures DIR]`` (or ``tools/aggregate.py``) reads a
run file written by ``hpcbelt run`` and writes a self-describing summary file (layout in
:mod:`.summary`), PNG figures (:mod:`.figures`) and a Markdown report (:mod:`.report`).

Modules:
  runfile       open and check run files, read slabs of finished members (errors -> InputError)
  stats         the statistics on in-memory blocks (pure numpy: percentiles, PDFs, bootstrap)
  pitch_angle   the streaming, MPI-divided aggregation of a pitch-angle run
  database_fig  the distribution of the database profiles (Fig 1)
  summary       the summary file layout and writer
  figures       plots drawn from a summary only
  report        the Markdown report
  driver, cli   the command
"""

from .driver import aggregate_file  # noqa: F401
