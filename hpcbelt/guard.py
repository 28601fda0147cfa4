"""Guards of the files a command writes: never over one of its own inputs.

Every command that writes (``run``, ``aggregate``, ``dxx build``, ``dxx import``) names its
inputs and calls :func:`refuse_inputs_as_output` for each output before anything is written
(on rank 0, inside :func:`hpcbelt.parallel.root_decides`).  Files are compared as the same
file on disk (device and inode, through links, ``..`` and relative paths), not by name.
"""

from __future__ import annotations

import os
from pathlib import Path

from .errors import InputError


def same_file(a: str | Path, b: str | Path) -> bool:
    """True when ``a`` and ``b`` are the same file (or would be: equal resolved paths)."""
    a, b = Path(a), Path(b)
    try:
        if a.exists() and b.exists():
            return os.path.samefile(a, b)
    except OSError:
        pass
    return a.resolve() == b.resolve()


def refuse_inputs_as_output(out: str | Path, inputs: dict, flag: str = "output") -> None:
    """InputError when ``out`` is one of ``inputs`` ({what: path}, None paths ignored)."""
    for what, path in inputs.items():
        if path is not None and same_file(out, path):
            raise InputError(f"{flag} {out}: is the {what} ({path}); an input is never overwritten: "
                             "choose another output name")
