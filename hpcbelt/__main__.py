"""``python -m hpcbelt`` is the ``hpcbelt`` command."""

import sys

from .cli import main

sys.exit(main())
