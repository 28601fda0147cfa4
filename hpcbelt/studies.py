"""The study-kind registry: the one place that knows which kinds of study hpcbelt runs.

A study kind is the value of the ``kind`` key of a study file (and the ``kind`` root attribute
of its run file).  Each kind is one subpackage that fills in the same contract,
:class:`StudyKind`:

``schema``
    the typed key schema (:mod:`hpcbelt.config`), listed by ``hpcbelt keys KIND``
``load``
    ``load(path, overrides, experiments) -> study``: read, validate, derive; every
    problem an InputError naming the file and key.  The study object carries
    ``path``, ``text``, ``doc`` (validated configuration), ``overrides`` and ``seed``.
    It also has ``input_files() -> {what: Path}`` (``"study file"``, ``"database"``,
    ``"initial-condition file"``): the run refuses them as its output, records their
    sha256, and a restart refuses a changed one.
``restart_state``
    ``restart_state(study, path) -> {name: bool array}``: check that ``path`` is an
    earlier run of this very study and say which work items are finished
``run``
    ``run(study, comm, out_path, quiet, done)``: all ranks; writes the run file,
    raises RunInterrupted (exit 75) after an agreed stop
``aggregator``
    an :class:`Aggregator`: from a run file to a summary, figures and a report
``verify``
    ``verify(path) -> hpcbelt.integrity.Report``: every finished item against its
    checksum and the values the physics allows (``hpcbelt verify``)

References may be given as objects or as ``"module:attribute"`` strings, resolved on first use,
so that ``hpcbelt --help`` does not import numba kernels.  ``hpcbelt run``, ``keys``,
``aggregate`` and ``submit`` dispatch through :func:`get`; nothing else branches on the kind.
Adding a kind is one subpackage and one :func:`register` call (docs/architecture.md).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any

from .errors import InputError

Ref = Any   # an object, or "package.module:attribute"


def resolve(ref: Ref):
    """The object a reference names (imports its module on first use)."""
    if isinstance(ref, str):
        module, _, attr = ref.partition(":")
        obj = importlib.import_module(module)
        for part in attr.split(".") if attr else ():
            obj = getattr(obj, part)
        return obj
    return ref


@dataclass(frozen=True)
class Aggregator:
    """How ``hpcbelt aggregate`` summarises the run files of one study kind.

    All callables may be references (see :func:`resolve`).  The generic driver
    (:func:`hpcbelt.aggregate.driver.aggregate_file`) calls, in order:

    ``options(args)``
        options from the parsed command line (``args = None``: defaults);
        the object has ``memory_bytes`` and ``checksum``
    ``inspect(path)``
        the run file's metadata (the study's run-file reader)
    ``select(path, opts)``
        optional, replaces ``inspect``: the part of the run file the options
        pick (a drift study over energies: ``--energy-keV``)
    ``plan(run, opts)``
        check the options against the run (rank 0; InputError)
    ``compute(run, plan, comm)``
        the statistics, all ranks; the results on rank 0
    ``write_summary(path, run, plan, results, header)``
        rank 0, ``header``: common root attributes
    ``figures``
        name -> ``plot(h5) -> (figure, data)``, drawn from the summary
    ``report(summary_path, figures, elapsed_s)``
        Markdown text
    ``used(run)``
        ``(text, unfinished)``: what was finished, for the summary line
    ``add_options(group)``
        adds this kind's option group to ``hpcbelt aggregate --help``
    """

    name: str                      # e.g. "watt2021": the subpackage of hpcbelt.aggregate
    title: str                     # the option group's title
    add_options: Ref
    options: Ref
    inspect: Ref
    plan: Ref
    compute: Ref
    write_summary: Ref
    figures: Ref
    report: Ref
    used: Ref
    select: Ref = None

    def get(self, name: str):
        return resolve(getattr(self, name))

    @classmethod
    def from_package(cls, package: str, *, title: str, inspect: Ref, select: Ref = None) -> "Aggregator":
        """The aggregator of a subpackage laid out like every aggregation subpackage:
        ``options.add_options``, ``options.options``, ``plan.plan``, ``compute.compute``,
        ``summary.write_summary``, ``figures.FIGURES``, ``report.report`` and ``report.used``
        (references only: nothing is imported until used).  ``inspect`` is the study's reader."""
        return cls(name=package.rsplit(".", 1)[-1], title=title, inspect=inspect, select=select,
                   add_options=f"{package}.options:add_options", options=f"{package}.options:options",
                   plan=f"{package}.plan:plan", compute=f"{package}.compute:compute",
                   write_summary=f"{package}.summary:write_summary", figures=f"{package}.figures:FIGURES",
                   report=f"{package}.report:report", used=f"{package}.report:used")


@dataclass(frozen=True)
class StudyKind:
    """One kind of study: the contract every study subpackage fills in (module docstring)."""

    name: str
    description: str
    schema: Ref
    load: Ref
    restart_state: Ref
    run: Ref
    aggregator: Ref = None
    verify: Ref = None
    has_experiments: bool = False  # supports hpcbelt run --experiments / submit --split-experiments
    extra: dict = field(default_factory=dict)

    def get(self, name: str):
        return resolve(getattr(self, name))


_REGISTRY: dict[str, StudyKind] = {}


def register(kind: StudyKind, replace: bool = False) -> StudyKind:
    """Add a study kind; a second kind of the same name is an error unless ``replace``."""
    if kind.name in _REGISTRY and not replace and _REGISTRY[kind.name] is not kind:
        raise ValueError(f"study kind {kind.name!r} is already registered")
    _REGISTRY[kind.name] = kind
    return kind


def names() -> list[str]:
    return sorted(_REGISTRY)


def get(name, where: str = "kind") -> StudyKind:
    """The registered kind ``name``; InputError naming ``where`` otherwise."""
    if name not in _REGISTRY:
        raise InputError(f"{where}: expected one of {', '.join(repr(k) for k in names())}, got {name!r}")
    return _REGISTRY[name]


def kind_of_study(doc: dict, path) -> StudyKind:
    """The kind of a parsed study file (its ``kind`` key)."""
    return get(doc.get("kind"), f"{path}: kind")


def aggregators() -> list[Aggregator]:
    """The aggregators of every registered kind (for ``hpcbelt aggregate --help``)."""
    out = []
    for n in names():
        agg = _REGISTRY[n].aggregator
        if agg is not None:
            out.append(resolve(agg))
    return out


def aggregator_for(run_kind: str, path) -> Aggregator:
    """The aggregator of the run file ``path`` whose ``kind`` attribute is ``run_kind``."""
    if run_kind not in _REGISTRY or _REGISTRY[run_kind].aggregator is None:
        have = [n for n in names() if _REGISTRY[n].aggregator is not None]
        raise InputError(f"{path}: kind = {run_kind!r}: not a run file this command can aggregate "
                         f"(expected {' or '.join(repr(k) for k in have)})")
    return resolve(_REGISTRY[run_kind].aggregator)


# ------------------------------------------------------------------------------------------
# The built-in kinds: one registration each
# ------------------------------------------------------------------------------------------

register(StudyKind(
    name="pitch_angle",
    description="stochastic bounce-averaged pitch-angle diffusion with a loss cone (Watt et al. 2021)",
    schema="hpcbelt.pitch_angle.study:SCHEMA",
    load="hpcbelt.pitch_angle.study:load_study",
    restart_state="hpcbelt.pitch_angle.runfile:restart_state",
    run="hpcbelt.pitch_angle.driver:run",
    aggregator="hpcbelt.aggregate.watt2021:AGGREGATOR",
    verify="hpcbelt.pitch_angle.runfile:verify",
    has_experiments=True,
))

register(StudyKind(
    name="drift_diffusion",
    description="drift-diffusion in (L, MLT), radial diffusion and test particles (Lejosne & Albert 2023)",
    schema="hpcbelt.drift.study:SCHEMA",
    load="hpcbelt.drift.study:load_study",
    restart_state="hpcbelt.drift.runfile:restart_state",
    run="hpcbelt.drift.driver:run",
    aggregator="hpcbelt.aggregate.lejosne2023:AGGREGATOR",
    verify="hpcbelt.drift.runfile:verify",
))
