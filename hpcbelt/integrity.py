"""Checksums of what a run wrote, and the checks that tell a damaged finished item from a sound one.

A run stores, beside each finished work item (a pitch-angle member, a drift permutation, the
drift PDE), the sha256 of the exact arrays it put into the file: each array converted to the
dtype of its dataset, little-endian, C order, concatenated in a fixed order that the study's
``runfile`` module defines.  The digest depends only on the values, never on the rank, the
number of ranks or the I/O mode, and a reader recomputes it from what it reads back.  A
checksum is stored as its 32 raw bytes (a trailing dimension of 32 ``uint8``: numeric, so every
tool that compares datasets handles it); all zeros means "not written".

Numbers only: no MPI, no HDF5 (the study's runfile module reads the file and hands the arrays
here).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np

CHECKSUM_DTYPE = "u1"
CHECKSUM_SIZE = 32           # bytes of a sha256: the trailing dimension of a checksum dataset
UNSET = 0                    # fill value of a checksum dataset: not written yet


class Digest:
    """An incremental sha256 over arrays, each taken in a given dtype (little-endian, C order)."""

    def __init__(self):
        self._h = hashlib.sha256()

    def add(self, array, dtype) -> "Digest":
        dt = np.dtype(dtype)
        if dt.byteorder not in ("|", "<"):
            dt = dt.newbyteorder("<")
        a = np.ascontiguousarray(np.asarray(array), dtype=dt)
        self._h.update(memoryview(a).cast("B") if a.ndim else a.tobytes())
        return self

    def value(self) -> np.ndarray:
        """The digest as stored in the file: 32 uint8."""
        return np.frombuffer(self._h.digest(), np.uint8).copy()


def digest(pairs) -> np.ndarray:
    """sha256 (32 uint8) of ``(array, dtype)`` pairs, in order."""
    d = Digest()
    for array, dtype in pairs:
        d.add(array, dtype)
    return d.value()


def stored(value) -> bytes:
    """A checksum as read from the file, as 32 bytes; b"" when it was never written (all zeros)."""
    raw = np.asarray(value, np.uint8).tobytes()
    return b"" if not any(raw) else raw


def matches(value, computed: np.ndarray) -> bool:
    return stored(value) == np.asarray(computed, np.uint8).tobytes()


def value_problem(array, name: str, non_negative: bool) -> str | None:
    """What is physically wrong with the values of a finished item, or None.

    Non-finite values are always wrong; negative ones where ``non_negative`` (a phase-space
    density or a count can be 0, never below).  The message gives the first bad value.
    """
    a = np.asarray(array)
    if a.dtype.kind not in "fc":
        return None
    bad = ~np.isfinite(a)
    if bad.any():
        return f"{name} holds a non-finite value ({a.flat[int(np.flatnonzero(bad.ravel())[0])].item()})"
    if non_negative:
        neg = a < 0
        if neg.any():
            return f"{name} holds a negative value ({float(a.flat[int(np.flatnonzero(neg.ravel())[0])]):.6g})"
    return None


@dataclass
class Report:
    """What a whole-file verification found: ``problems`` fail it, ``notes`` do not."""

    path: str
    kind: str
    layout_version: int
    checked: int = 0                         # finished items examined
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not self.problems
