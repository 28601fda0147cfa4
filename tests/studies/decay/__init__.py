"""A throwaway third study kind, in the test tree only: an ensemble of decay ODEs.

It exists to test the study contract of :mod:`hpcbelt.studies`: everything the kind needs is
in this subpackage (schema and loader, run-file layout and reader, driver, aggregator), and
it joins hpcbelt with the one registration call below -- no edit anywhere in ``hpcbelt/``.

Each member m draws a decay rate k_m log-normally around ``rate_per_s`` from
``SeedSequence([seed, m])`` and integrates dy/dt = -k_m y with RK4 steps of ``dt_s``; the run file
holds y(member, time).  ``pause_s`` makes each member take a while, so a signal can land
mid-run in the restart test.
"""

from hpcbelt import studies

from . import aggregate, driver, runfile, study

KIND = studies.register(studies.StudyKind(
    name="decay",
    description="ensemble of decay ODEs dy/dt = -k y with random k (test-only study kind)",
    schema=study.SCHEMA, load=study.load_study, restart_state=runfile.restart_state, run=driver.run,
    aggregator=aggregate.AGGREGATOR, verify=runfile.verify,
), replace=True)
