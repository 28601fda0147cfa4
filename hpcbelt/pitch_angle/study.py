"""The ``kind = "pitch_angle"`` study file: schema, checks and the derived run plan.

Key names here are a contract with users, job templates and the aggregation tool:
add keys freely, rename none.

``[physics] energy_MeV`` is one energy (the study of Watt et al. 2021, unchanged) or a list of
strictly increasing energies: a study over energies.  The loss cone is one angle (it depends on
L and the mirror altitude only); the loss rates (a quarter bounce period), the profiles (the
database's slice at each energy) and the propagators are per energy (:class:`EnergySlice`).
Each member draws one sequence of database rows, from (seed, experiment name, member) as for
one energy, and uses it at every energy: the database rows are observations, and one plasma and
wave state scatters electrons of all energies.  The output layout is in :mod:`.runfile`.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..config import Key, StudyFile, TableList, apply_overrides, non_negative, positive, validate
from ..errors import InputError
from .. import daa_database as dbmod
from .. import resources
from .operator import (DEFAULT_GROWTH, DEFAULT_MIN_DALPHA_DEG, GROWTH_RANGE, MIN_DALPHA_RANGE_DEG, SPACINGS, Grid,
                       explicit_dt_limit, graded_extra_nodes, make_grid)
from .physics import loss_cone_deg_from_altitude
from .runfile import INDEX_MEAN_INPUTS, INDEX_MEAN_OF_PROFILES  # stored for the constant modes
from .runfile import energy_group, energy_label
from .solver import check_steps, intervals, output_times, switch_times

MODES = ("random", "mean_of_profiles", "mean_inputs", "profile")


SCHEMA = {
    "kind": Key("str", doc="study type", choices=("pitch_angle",)),
    "seed": Key("int", 0, doc="study seed; member streams derive from (seed, experiment name, member)",
                check=non_negative),
    "title": Key("str", "", doc="free-text title stored in the output"),
    "physics": {
        "L": Key("float", 3.0, "", "McIlwain L of the field line", check=lambda v: None if v > 1 else "expected L > 1"),
        "energy_MeV": Key("float_or_list", 0.5, "MeV", "electron kinetic energy: one value, or a list of "
                          "strictly increasing energies (one study over energies: each member's drawn "
                          "database rows are used at every energy; the database must hold every energy)",
                          check=lambda v: None if all(x > 0 for x in (v if isinstance(v, list) else [v]))
                          else "expected positive energies"),
        "loss_cone_altitude_km": Key("float", unit="km", optional=True, check=non_negative,
                                     doc="mirror altitude defining the dipole loss cone (default 100 km)"),
        "loss_cone_deg": Key("float", unit="deg", optional=True,
                             doc="loss-cone angle given directly; 0 disables loss",
                             check=lambda v: None if 0 <= v < 90 else "expected 0 <= loss_cone_deg < 90"),
        "earth_radius_km": Key("float", 6371.0, "km", "Earth radius for the loss cone and bounce period",
                               check=positive),
        "initial_f": Key("float_or_list", 5e3, "cm^-2 s^-1 sr^-1 keV^-1",
                         "initial f: one value (isotropic) or one value per grid angle 0..90 deg"),
    },
    "grid": {
        "dalpha_deg": Key("float", 1.0, "deg", "pitch-angle spacing (graded grid: the spacing away from the "
                          "loss cone); 90 must be a multiple of it", check=positive),
        "spacing": Key("str", "uniform", doc="'uniform': nodes every dalpha_deg (the paper's grid); 'graded': "
                       "a cell face on the loss-cone angle and nodes graded towards it, resolving the loss-cone "
                       "layer (for method = 'exact'; explicit needs dt_s ~ min_dalpha_deg^2 / 2D)",
                       choices=SPACINGS),
        "min_dalpha_deg": Key("float", DEFAULT_MIN_DALPHA_DEG, "deg",
                              "graded grid: node spacing at the loss-cone angle, at most dalpha_deg "
                              "(ignored by spacing = 'uniform')", check=positive),
        "growth": Key("float", DEFAULT_GROWTH, "", "graded grid: ratio of neighbouring cell widths away from "
                      "the loss-cone angle, up to dalpha_deg (ignored by spacing = 'uniform')", check=positive),
    },
    "time": {
        "duration_days": Key("float", 30.0, "day", "simulated time", check=positive),
        "output_every_s": Key("float", 3600.0, "s", "output cadence", check=positive),
        "method": Key("str", "exact", doc="time integrator", choices=("explicit", "exact")),
        "dt_s": Key("float", 0.1, "s", "explicit time step (ignored by method = 'exact')", check=positive),
    },
    "database": {
        "path": Key("str", doc="database HDF5 file, relative to the study file"),
        "check_L_energy": Key("bool", True, doc="refuse a database whose L or energy_MeV differs from [physics]"),
    },
    "experiment": TableList({
        "name": Key("str", doc="experiment name (HDF5 group in the output)"),
        "mode": Key("str", doc="how D(t) is chosen", choices=MODES),
        "members": Key("int", 1, doc="ensemble members", check=positive),
        "switch_every_s": Key("float", unit="s", optional=True, check=positive,
                              doc="mode = 'random': a new profile is drawn every switch_every_s"),
        "profile": Key("int", optional=True, check=non_negative,
                       doc="mode = 'profile': database row held constant"),
        "description": Key("str", "", doc="free text stored with the experiment"),
    }, doc="one experiment per table"),
}

_NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_.\-]*$")
_RESERVED = {"time_s", "alpha_deg", "grid", "database", "study"}


def name_key(name: str) -> int:
    """A stable 32-bit integer from an experiment name (part of each member's seed)."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:4], "little")


def member_rng(seed: int, experiment: str, member: int) -> np.random.Generator:
    """The random stream of one member: from (study seed, experiment name, member) only."""
    return np.random.default_rng(np.random.SeedSequence([seed, name_key(experiment), member]))


@dataclass
class Experiment:
    name: str
    mode: str
    members: int
    switch_every_s: float | None
    profile: int | None
    description: str
    seg_t: np.ndarray            # segment start times [s]

    @property
    def n_segments(self) -> int:
        return self.seg_t.size


@dataclass
class EnergySlice:
    """What differs between the energies of a study: loss rates (in ``grid``), profiles, propagators.

    ``group`` maps an experiment name to its output group at this energy (the name itself for a
    single-energy study).
    """

    energy_MeV: float
    grid: Grid
    database: dbmod.Database
    profiles: np.ndarray         # (n_db + 2, n_grid): db rows, then mean, then mean of inputs
    label: str = ""              # "E0.5MeV" in a study over energies, "" for one energy

    def group(self, experiment: str) -> str:
        return energy_group(experiment, self.energy_MeV) if self.label else experiment


@dataclass
class Study:
    """A validated study with everything derived that every rank needs.

    ``grid``, ``database`` and ``profiles`` are those of the first (or only) energy;
    ``energies`` lists every energy's :class:`EnergySlice` of a study over energies (None for a
    scalar ``energy_MeV``: today's study and layout).
    """

    def __repr__(self) -> str:      # one line, not every array (config.study_repr)
        from ..config import study_repr
        return study_repr(self)

    path: str
    text: str
    doc: dict
    grid: Grid
    f0: np.ndarray
    out_t: np.ndarray
    experiments: list[Experiment]
    database: dbmod.Database
    profiles: np.ndarray         # (n_db + 2, n_grid): db rows, then mean, then mean of inputs
    overrides: tuple = ()
    energies: list | None = None  # [EnergySlice] of a study over energies; None for one energy

    @property
    def multi_energy(self) -> bool:
        return self.energies is not None

    @property
    def slices(self) -> list:
        """Every energy's :class:`EnergySlice` (one, with the experiment names as groups, for a
        scalar ``energy_MeV``)."""
        if self.energies is not None:
            return self.energies
        return [EnergySlice(float(self.doc["physics"]["energy_MeV"]), self.grid, self.database, self.profiles)]

    def groups(self, e: int) -> list[str]:
        """The output groups of experiment ``e``, one per energy (in energy order)."""
        name = self.experiments[e].name
        return [sl.group(name) for sl in self.slices]

    @property
    def schema(self) -> dict:
        """The study file's schema (restart compares a file's stored configuration against it)."""
        return SCHEMA

    @property
    def method(self) -> str:
        return self.doc["time"]["method"]

    @property
    def dt_s(self) -> float:
        return self.doc["time"]["dt_s"]

    @property
    def seed(self) -> int:
        return self.doc["seed"]

    def work_items(self) -> list[tuple[int, int]]:
        """(experiment number, member) for every member of every experiment, in file order."""
        return [(e, m) for e, ex in enumerate(self.experiments) for m in range(ex.members)]

    def input_files(self) -> dict[str, Path]:
        """The files this study reads, {what: path} (the study contract): the study file and
        the database.  A run never writes over them, and a restart checks they are unchanged."""
        return {"study file": Path(self.path), "database": Path(self.database.path)}

    def segment_profiles(self, e: int, m: int) -> tuple[np.ndarray, np.ndarray]:
        """(rows of ``profiles`` used by each segment, the index stored in the output)."""
        ex = self.experiments[e]
        n_db = self.database.n_profiles
        if ex.mode == "random":
            draws = member_rng(self.seed, ex.name, m).integers(0, n_db, size=ex.n_segments)
            return draws.astype(np.int64), draws.astype(np.int32)
        if ex.mode == "profile":
            return np.array([ex.profile], np.int64), np.array([ex.profile], np.int32)
        if ex.mode == "mean_of_profiles":
            return np.array([n_db], np.int64), np.array([INDEX_MEAN_OF_PROFILES], np.int32)
        return np.array([n_db + 1], np.int64), np.array([INDEX_MEAN_INPUTS], np.int32)


# (key, low, high, unit): where the dipole, loss-cone and bounce formulas make sense
RANGES = (("physics.L", 1.0, 100.0, ""),
          ("physics.earth_radius_km", 1e3, 1e6, " km"), ("physics.loss_cone_altitude_km", 0.0, 1e6, " km"),
          ("time.duration_days", 0.0, 1e5, " day"),
          ("grid.min_dalpha_deg", *MIN_DALPHA_RANGE_DEG, " deg"), ("grid.growth", *GROWTH_RANGE, ""))
MAX_INITIAL_F = 1e100            # f^2 (the aggregation's variances) stays far from overflow
MAX_STEPS = 1e12                 # explicit steps per member


def load_study(source: StudyFile | str | Path, overrides: list[str] | None = None,
               experiments: list[str] | None = None) -> Study:
    """Validate and derive a pitch-angle study; every problem is an InputError.

    ``source`` is the study file, already read (a :class:`~hpcbelt.config.StudyFile`, as
    ``hpcbelt run`` passes it) or a path.  ``overrides`` are ``table.key=value`` strings
    (``hpcbelt run --set``); ``experiments`` keeps just the named experiments (``hpcbelt run
    --experiments``, one job-array task per experiment).  Member streams depend on the
    experiment name, not its position, so a subset run gives the same members as the full study.
    """
    sf = StudyFile.coerce(source)
    path, text = Path(sf.path), sf.text
    raw = apply_overrides(sf.doc, overrides, str(path))
    doc = validate(raw, SCHEMA, str(path))
    if experiments:
        names = [ex["name"] for ex in doc["experiment"]]
        unknown = [n for n in experiments if n not in names]
        if unknown:
            raise InputError(f"--experiments: {', '.join(unknown)} not in {path} "
                             f"(experiments: {', '.join(names)})")
        doc["experiment"] = [ex for ex in doc["experiment"] if ex["name"] in experiments]
    src = str(path)
    phys, tcfg = doc["physics"], doc["time"]
    # finite values are checked by the schema; these are the ranges in which the physics holds
    for key, lo, hi, unit in RANGES:
        table, name = key.split(".")
        v = doc[table][name]
        if v is not None and not lo <= v <= hi:
            raise InputError(f"{src}: {key}: expected {lo:g} <= {name} <= {hi:g}{unit}, got {v:g}")
    energies = _energy_list(phys["energy_MeV"], src)

    if phys["loss_cone_deg"] is not None and phys["loss_cone_altitude_km"] is not None:
        raise InputError(f"{src}: physics: give loss_cone_altitude_km or loss_cone_deg, not both")
    if phys["loss_cone_deg"] is not None:
        lc = phys["loss_cone_deg"]
    else:
        alt = 100.0 if phys["loss_cone_altitude_km"] is None else phys["loss_cone_altitude_km"]
        try:
            lc = loss_cone_deg_from_altitude(phys["L"], alt, phys["earth_radius_km"] * 1e3)
        except ValueError as exc:
            raise InputError(f"{src}: physics.loss_cone_altitude_km: {exc}") from None
    gcfg = doc["grid"]
    graded = gcfg["spacing"] == "graded"
    if graded and gcfg["min_dalpha_deg"] > gcfg["dalpha_deg"]:
        raise InputError(f"{src}: grid.min_dalpha_deg: expected at most grid.dalpha_deg = {gcfg['dalpha_deg']:g} "
                         f"deg (the spacing the graded grid grows to), got {gcfg['min_dalpha_deg']:g}")
    n_alpha = 90.0 / gcfg["dalpha_deg"] + 1           # sizes checked before any array is made
    if graded:
        n_alpha += graded_extra_nodes(gcfg["dalpha_deg"], gcfg["min_dalpha_deg"], gcfg["growth"])
    problem = resources.memory_problem(resources.grid_bytes(n_alpha), f"a grid of {n_alpha:.4g} angles")
    if problem:
        raise InputError(f"{src}: grid.dalpha_deg: {problem}")
    grids = []
    for energy in (energies or [phys["energy_MeV"]]):
        try:
            grids.append(make_grid(gcfg["dalpha_deg"], lc, phys["L"], energy, phys["earth_radius_km"] * 1e3,
                                   spacing=gcfg["spacing"], min_dalpha_deg=gcfg["min_dalpha_deg"],
                                   growth=gcfg["growth"]))
        except ValueError as exc:
            raise InputError(f"{src}: grid.{getattr(exc, 'key', 'dalpha_deg')}: {exc}") from None
    grid = grids[0]
    n_energy = len(grids)

    f0 = np.asarray(phys["initial_f"], float)
    if f0.ndim == 0:
        f0 = np.full(grid.n, float(f0))
    elif f0.shape != (grid.n,):
        raise InputError(f"{src}: physics.initial_f: expected one number or a list of {grid.n} "
                         f"values (one per grid angle), got {f0.size}")
    if np.any(f0 < 0) or np.any(f0 > MAX_INITIAL_F):
        raise InputError(f"{src}: physics.initial_f: expected values >= 0 and <= {MAX_INITIAL_F:g}")

    duration_s = tcfg["duration_days"] * 86400.0
    if tcfg["method"] == "explicit" and duration_s / tcfg["dt_s"] > MAX_STEPS:
        raise InputError(f"{src}: time.dt_s = {tcfg['dt_s']:g} s: {duration_s / tcfg['dt_s']:.3g} steps per "
                         f"member (at most {MAX_STEPS:g}); use a larger dt_s or method = 'exact'")
    if tcfg["output_every_s"] > duration_s:
        raise InputError(f"{src}: time.output_every_s: expected at most the duration "
                         f"({duration_s:g} s), got {tcfg['output_every_s']:g}")
    n_time = resources.count_of_times(duration_s, tcfg["output_every_s"])
    problem = resources.memory_problem(n_energy * resources.pitch_angle_member_bytes(grid.n, n_time, 0),
                                       f"one member of {n_time:,} output times x {grid.n} angles"
                                       + (f" at {n_energy} energies" if energies else ""))
    if problem:
        raise InputError(f"{src}: time.output_every_s (with duration_days = {tcfg['duration_days']:g}): {problem}")
    out_t = output_times(duration_s, tcfg["output_every_s"])

    db_path = (path.parent / doc["database"]["path"]).resolve()
    if energies is None:
        # one energy: a single-energy file as it is; of a multi-energy file, its slice at energy_MeV
        db = dbmod.load(db_path, phys["energy_MeV"])
        _check_L_energy(doc, db, phys["energy_MeV"], db_path, src)
        dbs = [db]
    else:
        dbs = _databases(doc, energies, db_path, src)
        db = dbs[0]

    experiments = []
    seen = set()
    for i, ex in enumerate(doc["experiment"]):
        where = f"{src}: experiment[{i}]"
        name = ex["name"]
        if not _NAME_RE.match(name) or name in _RESERVED:
            raise InputError(f"{where}.name: expected a name of letters, digits, '_', '-', '.' starting "
                             f"with a letter and not one of {sorted(_RESERVED)}, got {name!r}")
        if name in seen:
            raise InputError(f"{where}.name: duplicate experiment name {name!r}")
        seen.add(name)
        mode = ex["mode"]
        if mode == "random" and ex["switch_every_s"] is None:
            raise InputError(f"{where}.switch_every_s: required for mode = 'random' (seconds between draws)")
        if mode != "random" and ex["switch_every_s"] is not None:
            raise InputError(f"{where}.switch_every_s: only used by mode = 'random', not {mode!r}")
        if mode == "profile":
            if ex["profile"] is None:
                raise InputError(f"{where}.profile: required for mode = 'profile' (a database row)")
            if ex["profile"] >= db.n_profiles:
                raise InputError(f"{where}.profile: expected a row 0..{db.n_profiles - 1} of {db_path}, "
                                 f"got {ex['profile']}")
        elif ex["profile"] is not None:
            raise InputError(f"{where}.profile: only used by mode = 'profile', not {mode!r}")
        if mode == "mean_inputs" and db.daa_of_mean_inputs is None:
            raise InputError(f"{where}.mode: 'mean_inputs' needs dataset 'daa_of_mean_inputs' in {db_path}")
        n_seg = resources.count_of_times(duration_s, ex["switch_every_s"]) if mode == "random" else 1
        problem = resources.memory_problem(n_energy * resources.pitch_angle_member_bytes(grid.n, out_t.size, n_seg),
                                           f"one member of {n_seg:,} segments and {out_t.size:,} output times"
                                           + (f" at {n_energy} energies" if energies else ""))
        if problem:
            raise InputError(f"{where}.switch_every_s: {problem}")
        seg_t = switch_times(duration_s, ex["switch_every_s"] if mode == "random" else None)
        if tcfg["method"] == "exact":
            n_lengths = np.unique(np.round(intervals(out_t, seg_t)[1], 9)).size
            n_rows = db.n_profiles if mode == "random" else 1
            problem = resources.memory_problem(
                n_energy * resources.propagator_bank_bytes(grid.n, n_rows, n_lengths),
                f"the exact method's propagators ({n_rows} profiles x {n_lengths} interval lengths x "
                f"{grid.n}^2 angles" + (f" x {n_energy} energies)" if energies else ")"))
            if problem:
                raise InputError(f"{where}: {problem}; use fewer distinct interval lengths "
                                 "(output_every_s, switch_every_s) or method = 'explicit'")
        experiments.append(Experiment(name, mode, ex["members"], ex["switch_every_s"], ex["profile"],
                                      ex["description"], seg_t))

    members = sum(ex.members for ex in experiments)
    problem = resources.memory_problem(
        members * 200.0, f"the work list of {members:,} members")     # a queue entry per member
    if problem:
        raise InputError(f"{src}: experiment.members: {problem}")
    stacks = [_profile_stack(d, g) for d, g in zip(dbs, grids)]
    profiles = stacks[0]

    if tcfg["method"] == "explicit":
        dt = tcfg["dt_s"]
        used = set()
        for ex in experiments:
            if ex.mode == "random":
                used.update(range(db.n_profiles))
            elif ex.mode == "profile":
                used.add(ex.profile)
            else:
                used.add(db.n_profiles + (0 if ex.mode == "mean_of_profiles" else 1))
            _, tau, _ = intervals(out_t, ex.seg_t)
            if check_steps(tau, dt) > 1e-9:
                raise InputError(f"{src}: time.dt_s = {dt:g} s: output_every_s, switch_every_s and the "
                                 f"duration must be whole multiples of it (experiment {ex.name!r})")
        for k, (g, stack) in enumerate(zip(grids, stacks)):
            limit = explicit_dt_limit(g, stack[sorted(used)])
            if dt > limit:
                at = f" at energy_MeV = {energies[k]:g}" if energies else ""
                raise InputError(f"{src}: time.dt_s = {dt:g} s exceeds the explicit stability limit "
                                 f"{limit:.4g} s for this grid and these D profiles{at}; use dt_s <= {limit:.4g} "
                                 "or method = 'exact'")
    slices = None
    if energies is not None:
        slices = [EnergySlice(float(E), g, d, stack, energy_label(E))
                  for E, g, d, stack in zip(energies, grids, dbs, stacks)]
        groups = [sl.group(ex.name) for ex in experiments for sl in slices]
        clash = sorted({n for n in groups if groups.count(n) > 1} | (set(groups) & seen))
        if clash:
            raise InputError(f"{src}: experiment.name: the output group {clash[0]!r} (experiment name + "
                             "energy) is also another experiment's group; rename the experiment")
    return Study(str(path), text, doc, grid, f0, out_t, experiments, db, profiles, tuple(overrides or ()),
                 slices)


def _profile_stack(db: dbmod.Database, grid: Grid) -> np.ndarray:
    """The database rows, their mean and the profile of the mean inputs on the model grid."""
    return np.vstack([
        db.on_grid(grid.alpha_deg),
        db.mean_on_grid(grid.alpha_deg)[None, :],
        (np.zeros((1, grid.n)) if db.daa_of_mean_inputs is None else
         dbmod.interpolate_profiles(db.alpha_deg, db.daa_of_mean_inputs[None, :], grid.alpha_deg)),
    ])


ENERGY_RANGE_MEV = (1e-6, 1e4)


def _energy_list(value, src: str) -> list[float] | None:
    """None for one energy (a number); the checked list of a study over energies."""
    lo, hi = ENERGY_RANGE_MEV
    vals = value if isinstance(value, list) else [value]
    for v in vals:
        if not lo <= v <= hi:
            raise InputError(f"{src}: physics.energy_MeV: expected {lo:g} <= energy_MeV <= {hi:g} MeV, got {v:g}")
    if not isinstance(value, list):
        return None
    labels = [energy_label(v) for v in vals]
    if any(b <= a for a, b in zip(vals, vals[1:])) or len(set(labels)) != len(labels):
        raise InputError(f"{src}: physics.energy_MeV: expected strictly increasing energies that differ in "
                         f"their first 6 significant digits (they name the output groups), got "
                         f"[{', '.join(f'{v:g}' for v in vals)}] MeV")
    return [float(v) for v in vals]


def _check_L_energy(doc: dict, db: dbmod.Database, energy: float, db_path, src: str) -> None:
    """[database] check_L_energy: the database's L and energy must be the study's."""
    if not doc["database"]["check_L_energy"]:
        return
    for key, have, want in (("L", db.L, doc["physics"]["L"]), ("energy_MeV", db.energy_MeV, energy)):
        if have is not None and abs(have - want) > 1e-6 * abs(want):
            raise InputError(f"{src}: physics.{key} = {want:g} but database {db_path} was computed "
                             f"for {key} = {have:g} (set database.check_L_energy = false to allow)")


def _databases(doc: dict, energies: list[float], db_path, src: str) -> list[dbmod.Database]:
    """One database slice per energy of a study over energies (the file must hold each one)."""
    have = dbmod.file_energies(db_path)
    if have is None:
        if len(energies) > 1:
            raise InputError(f"{src}: physics.energy_MeV lists {len(energies)} energies "
                             f"({', '.join(f'{v:g}' for v in energies)} MeV) but database {db_path} holds one "
                             "energy; build a multi-energy database (hpcbelt dxx build --energies-MeV ...)")
        db = dbmod.load(db_path)
        _check_L_energy(doc, db, energies[0], db_path, src)
        return [db]
    tol = dbmod.ENERGY_REL_TOL
    missing = [E for E in energies if not any(abs(h - E) <= tol * max(abs(h), abs(E)) for h in have)]
    if missing:
        raise InputError(f"{src}: physics.energy_MeV: database {db_path} has no profiles at "
                         f"{', '.join(f'{v:g}' for v in missing)} MeV; it holds {len(have)} energies: "
                         f"{', '.join(f'{v:g}' for v in have)} MeV")
    by_energy = {d.energy_MeV: d for d in dbmod.load_all(db_path)}
    out = []
    for E in energies:
        d = next(d for h, d in by_energy.items() if abs(h - E) <= tol * max(abs(h), abs(E)))
        _check_L_energy(doc, d, E, db_path, src)
        out.append(d)
    return out
