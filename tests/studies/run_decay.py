"""``hpcbelt`` with the test-only decay study kind registered (one import = one registration call).

    mpirun -n 3 python tests/studies/run_decay.py run STUDY.toml -o OUT.h5
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))   # this directory: the `decay` package

import decay  # noqa: E402,F401  (registers kind = "decay")
from hpcbelt.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
