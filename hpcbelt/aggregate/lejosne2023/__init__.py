"""The aggregation of drift-diffusion runs (Lejosne & Albert 2023): from a run file to the
summary, the paper's figures and a report.

options   the ``hpcbelt aggregate`` flags of this kind (``--hours``) and the :class:`~.options.Options` object
plan      the options checked against one run file: map hours, PDE and particle blocks
compute   the statistics over the blocks, divided over MPI ranks (bounded memory)
summary   the summary file's layout and writer
figures   the plots drawn from a summary (Figs 2 and 3, MLT average against radial diffusion)
report    the Markdown report, and the line saying what was aggregated

The run file is read through the study's own reader, :mod:`hpcbelt.drift.runfile`.
References are strings so that ``hpcbelt --help`` imports none of this.
"""

from ... import studies

AGGREGATOR = studies.Aggregator.from_package(__name__, title="drift-diffusion runs (Lejosne & Albert 2023)",
                                               inspect="hpcbelt.drift.runfile:inspect",
                                               select=f"{__name__}.options:select")
