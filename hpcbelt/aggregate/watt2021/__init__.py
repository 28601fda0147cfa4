"""The aggregation of pitch-angle runs (Watt et al. 2021): from a run file to the summary,
the paper's figures and a report.

options   the ``hpcbelt aggregate`` flags of this kind and the :class:`~.options.Options` object
plan      the options checked against one run file (blocks, indices, Fig 3 members)
compute   pass 1 / pass 2 over the members, divided over MPI ranks (bounded memory)
summary   the summary file's layout and writer
figures   the plots drawn from a summary (Figs 1, 3, 4, S1, convergence)
report    the Markdown report, and the line saying what was aggregated
sweep     ``hpcbelt aggregate-sweep``: f against the switching interval over several runs

The run file is read through the study's own reader, :mod:`hpcbelt.pitch_angle.runfile`.
References are strings so that ``hpcbelt --help`` imports none of this.
"""

from ... import studies

AGGREGATOR = studies.Aggregator.from_package(__name__, title="pitch-angle runs (Watt et al. 2021)",
                                               inspect="hpcbelt.pitch_angle.runfile:inspect")
