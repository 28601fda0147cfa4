#!/usr/bin/env python
"""Operator entry point: the same code as ``hpcbelt aggregate`` (same options, same exit codes).

    python tools/aggregate.py RUN.h5 [-o SUMMARY.h5] [--figures DIR] [...]
    mpirun -n 4 python tools/aggregate.py RUN.h5 --figures figs
    python tools/aggregate.py --help
"""

import sys
from pathlib import Path

# run from a checkout without installing: the repository root goes first on the path
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hpcbelt.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(["aggregate", *sys.argv[1:]]))
