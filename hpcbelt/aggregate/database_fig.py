"""Moved: the distribution of a database's profiles (Fig 1) is :mod:`hpcbelt.daa_database`.

``database_distribution`` and ``WINDOW_DECADES`` are re-exported here only until the
aggregation imports them from ``hpcbelt.daa_database``; then this module is deleted.
"""

from ..daa_database import WINDOW_DECADES, database_distribution  # noqa: F401
