"""Damaged finished items: found once, before anything is planned or computed, then refused or
(``--skip-damaged``) left out as if they were unfinished.

A study kind's aggregation says what its finished items are and how one is checked with a
:class:`Screen`, the attribute ``SCREEN`` of the module that holds its ``compute`` (see
:func:`screen_for`; a kind without one is not checked, as before checksums existed):

``items(run)``         every finished item of the run, in file order (:class:`Item`)
``problem(h5, item)``  what is wrong with it (checksum, values), or None: the study's runfile check
``without(run, items)``  the same run with these items counted as unfinished

:func:`screened` checks every item over the ranks (:func:`hpcbelt.parallel.deal_and_gather`),
and rank 0 decides for all: without ``skip`` the first damaged item in file order is refused
(one line naming it, exit 2, the same whatever the number of ranks); with ``skip`` every
damaged item is left out -- every pass of the aggregation then reads the returned run, so a
skipped item is in no statistic, PDF, percentile or ensemble size -- unless it cannot be
(``Item.skippable`` false, e.g. the drift PDE) or nothing usable would be left of a group (an
experiment, the particles).  What was skipped goes into the summary (:func:`summary_attrs`, read
back with :func:`skipped_by_group`), one warning line each (:func:`warnings`) and a report line
(:func:`report_lines`).
"""

from __future__ import annotations

import importlib
import json
from dataclasses import dataclass
from typing import Any, Callable

from ..errors import InputError
from ..output import open_h5
from ..parallel import deal_and_gather, root_decides

# summary root attributes (a contract like dataset names: add, never rename)
SKIP_ATTR = "skip_damaged"                        # bool: was --skip-damaged given
COUNT_ATTR = "items_skipped_damaged"              # int: damaged finished items left out
LIST_ATTR = "items_skipped_damaged_json"          # JSON [{item, group, index, reason}]

ITEMS_PER_BATCH = 64          # finished items checked per unit of work dealt to a rank


@dataclass(frozen=True)
class Item:
    """One finished work item of a run file."""

    label: str                 # how hpcbelt verify names it: "drand_1h member 2", "permutation 3", "PDE"
    group: str                 # what it is a member of: an experiment, "particles", "pde"
    index: int                 # its number in its group (member, permutation; 0 for a single item)
    skippable: bool = True     # False: a damaged one is always refused (the drift PDE)
    where: str = ""            # the HDF5 group holding its layout ("" = the file; a drift energy group)


@dataclass(frozen=True)
class Damage:
    item: Item
    reason: str


@dataclass(frozen=True)
class Screen:
    """How the finished items of one study kind's run file are listed, checked and left out."""

    items: Callable[[Any], list]
    problem: Callable[[Any, Item], "str | None"]
    without: Callable[[Any, list], Any]


def screen_for(aggregator) -> Screen | None:
    """The :class:`Screen` of a study kind's aggregator: ``SCREEN`` in the module of its compute."""
    name = getattr(aggregator.get("compute"), "__module__", None)
    screen = getattr(importlib.import_module(name), "SCREEN", None) if name else None
    return screen if isinstance(screen, Screen) else None


def find(run, screen: Screen, comm) -> list | None:
    """Every damaged finished item of ``run`` (a list of :class:`Damage` in file order) on rank 0,
    None on the other ranks.  The items are checked in batches dealt over the ranks; an item that
    cannot even be read is damaged ("unreadable (...)")."""
    items = screen.items(run)
    batches = [items[i:i + ITEMS_PER_BATCH] for i in range(0, len(items), ITEMS_PER_BATCH)]

    def check(h5, batch):
        bad = []
        for item in batch:
            try:
                why = screen.problem(h5, item)
            except (OSError, RuntimeError, ValueError, KeyError) as exc:
                why = f"unreadable ({exc})"
            if why is not None:
                bad.append(Damage(item, why))
        return bad

    parts = deal_and_gather(comm, batches, check, context=lambda: open_h5(run.path))
    return None if parts is None else [d for part in parts for d in part]


def decide(path, items: list, damaged: list, skip: bool) -> list:
    """The damaged items to leave out (rank 0), or InputError refusing the run file.

    Refused: any damaged item without ``skip``; with it, an item that cannot be skipped, or a
    group of which every finished item is damaged (nothing usable would be left of it)."""
    if not damaged:
        return []
    hard = [d for d in damaged if not skip or not d.item.skippable]
    if hard:
        d = hard[0]
        more = len(damaged) - 1
        hint = "'hpcbelt verify' lists every problem"
        if more:
            hint = f"{more} more damaged item(s); " + hint
        if d.item.skippable:
            hint += "; --skip-damaged leaves damaged items out"
        elif skip:
            hint += f"; --skip-damaged cannot leave out the {d.item.label}: 'hpcbelt run --restart' computes it again"
        raise InputError(f"{path}: {d.item.label} is marked finished but {d.reason}: corrupted run file, not "
                         f"aggregated ({hint})")
    finished = {}
    for item in items:
        finished[item.group] = finished.get(item.group, 0) + 1
    lost = {}
    for d in damaged:
        lost[d.item.group] = lost.get(d.item.group, 0) + 1
    for group, n in lost.items():
        if n == finished.get(group, 0):
            raise InputError(f"{path}: {group}: all {n} finished item(s) are damaged: --skip-damaged would leave "
                             f"none to aggregate; expected at least one sound item ('hpcbelt verify' lists them, "
                             f"'hpcbelt run --restart' computes them again)")
    return list(damaged)


def screened(run, screen: Screen | None, comm, skip: bool, path=None):
    """``(run to aggregate, [Damage skipped])``, the same on every rank (collective).

    Without a screen the run is taken as it is.  InputError on every rank when refused
    (:func:`decide`; ``path`` names the file in the message, default ``run.path``)."""
    if screen is None:
        return run, []
    damaged = find(run, screen, comm)

    def choose():
        skipped = decide(path or run.path, screen.items(run), damaged, skip)
        return (screen.without(run, [d.item for d in skipped]) if skipped else run), skipped

    return root_decides(comm, choose)


def warnings(path, skipped: list) -> list:
    """One ``hpcbelt: warning:`` line per skipped item (printed by rank 0)."""
    return [f"hpcbelt: warning: {path}: {d.item.label}: {d.reason}; skipped (--skip-damaged): left out of every "
            f"statistic as if unfinished" for d in skipped]


def summary_attrs(skip: bool, skipped: list) -> dict:
    """Root attributes of a summary saying what was left out as damaged (every summary has them)."""
    return {SKIP_ATTR: bool(skip), COUNT_ATTR: len(skipped),
            LIST_ATTR: json.dumps([{"item": d.item.label, "group": d.item.group, "index": int(d.item.index),
                                    "reason": d.reason} for d in skipped])}


def by_group(skipped: list) -> dict:
    """{group: sorted item indices} of a list of :class:`Damage`."""
    out = {}
    for d in skipped:
        out.setdefault(d.item.group, []).append(int(d.item.index))
    return {g: sorted(v) for g, v in out.items()}


def skipped_by_group(attrs) -> dict:
    """{group: sorted item indices} of the damaged items a summary's (or header's) attributes list."""
    try:
        listed = json.loads(attrs.get(LIST_ATTR, "[]") or "[]")
    except (TypeError, ValueError):
        listed = []
    return by_group([Damage(Item(str(d["item"]), str(d["group"]), int(d["index"])), str(d["reason"]))
                     for d in listed])


def report_lines(attrs) -> list:
    """The report's line about damaged items left out (none when nothing was skipped)."""
    n = int(attrs.get(COUNT_ATTR, 0) or 0)
    if not n:
        return []
    try:
        listed = json.loads(attrs.get(LIST_ATTR, "[]"))
    except (TypeError, ValueError):
        listed = []
    items = "; ".join(f"{d['item']} ({d['reason']})" for d in listed)
    return [f"- **damaged items skipped** (--skip-damaged): {n}, left out of every statistic as if unfinished: "
            f"{items}"]
