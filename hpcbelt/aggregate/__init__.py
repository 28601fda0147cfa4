"""Aggregation of run files: ensemble statistics, PDFs, the papers' figures and a report.

``hpcbelt aggregate RUN.h5 [-o SUMMARY.h5] [--figures DIR]`` (or ``tools/aggregate.py``) reads a
run file written by ``hpcbelt run`` and writes a self-describing summary file, PNG figures and a
Markdown report.

A generic core, and one subpackage per study kind with the same module names::

  core          driver (the steps, the same for every kind), cli (common options; each kind adds
                its group), files (summary header, datasets, figure and report files, the checks
                of what is read and written), damage (damaged finished items: refused, or left
                out with --skip-damaged), stats (statistics on in-memory blocks: percentiles,
                PDFs, bootstrap)
  watt2021/     pitch-angle runs (Watt et al. 2021), and the dt sweep (aggregate-sweep)
  lejosne2023/  drift-diffusion runs (Lejosne & Albert 2023)
     options  plan  compute  summary  figures  report     in each; __init__ holds its AGGREGATOR,
                                                           compute its SCREEN (damage.Screen)

The kind of a run file picks its aggregator through :mod:`hpcbelt.studies`.
"""


def aggregate_file(*args, **kwargs):
    """:func:`hpcbelt.aggregate.driver.aggregate_file` (imported on first use)."""
    from .driver import aggregate_file as run

    return run(*args, **kwargs)
