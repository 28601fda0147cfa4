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

_HERE = "hpcbelt.aggregate.watt2021"

AGGREGATOR = studies.Aggregator(
    name="watt2021",
    title="pitch-angle runs (Watt et al. 2021)",
    add_options=f"{_HERE}.options:add_options",
    options=f"{_HERE}.options:options",
    inspect="hpcbelt.pitch_angle.runfile:inspect",
    plan=f"{_HERE}.plan:plan",
    compute=f"{_HERE}.compute:compute",
    write_summary=f"{_HERE}.summary:write_summary",
    figures=f"{_HERE}.figures:FIGURES",
    report=f"{_HERE}.report:report",
    used=f"{_HERE}.report:used",
)
