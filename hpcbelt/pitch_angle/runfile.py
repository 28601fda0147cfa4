"""The pitch-angle run file in one place: its names, its layout writer, the restart check and
the reader the aggregation uses.

Layout (``layout_version`` 2; dataset names are a contract with the aggregation, the job
templates and users' own scripts)::

    /time_s                      (n_time,)            s, dimension scale
    /alpha_deg                   (n_alpha,)           deg, dimension scale
    /grid/cell_weight            (n_alpha,)           integral of T sin 2a over each control volume
    /grid/loss_rate_per_s        (n_alpha,)           1/tau_L averaged over each control volume
    /grid attrs                  loss_cone_deg, dalpha_deg [deg], spacing ('uniform' | 'graded');
                                 graded: min_dalpha_deg [deg], growth
    /database/daa_mean           (n_alpha,)           <D(X_i, Y_i)> on the model grid
    /database/daa_of_mean_inputs (n_alpha,)           D(<X>, <Y>) on the model grid (if given)
    /<experiment>/member         (n_member,)          dimension scale
    /<experiment>/segment_start_s (n_segment,)        s, start of each profile segment
    /<experiment>/f              (member, time, alpha)  phase-space density, units of initial_f
    /<experiment>/daa_integral   (member, time, alpha)  running integral of D_aa dt (dimensionless)
    /<experiment>/profile_index  (member, segment)    database row used in each segment
    /<experiment>/member_checksum (member, 32) u1     sha256 of the member's f, daa_integral and
                                                      profile_index as written (layout 2)
    /<experiment>/member_done    (member,)            1 once the member is completely written

A study over energies (``[physics] energy_MeV`` a list) writes one group per (experiment,
energy), named ``<experiment>_E<energy>MeV`` (:func:`energy_group`, e.g. ``drand_2min_E0.5MeV``;
the energy in ``%g`` format), each exactly an experiment group of the layout above with the
attributes ``energy_MeV`` [MeV], ``base_experiment`` (the study's experiment name) and
``energy_index``; the member draws the same database rows at every energy, so ``profile_index``
is the same in every group of an experiment.  What depends on the energy moves out of the
single-energy root datasets (which are left out, so that no reader takes one energy's values for
another's) into datasets with an energy axis::

    /energy_MeV                  (n_energy,)          MeV, dimension scale, increasing
    /grid/loss_rate_per_s_by_energy (energy, alpha)   1/tau_L per energy (replaces loss_rate_per_s)
    /database/daa_mean_by_energy (energy, alpha)      <D(X_i, Y_i)> per energy (replaces daa_mean)
    /database/daa_of_mean_inputs_by_energy (energy, alpha)  D(<X>, <Y>) per energy (if given)

and the root attribute ``energies_MeV`` (JSON list).  One group per energy rather than an energy
axis in ``f`` keeps every group readable, checksummed, verified, restarted and aggregated exactly
as a single-energy experiment, and a scalar ``energy_MeV`` writes today's layout unchanged.

Every per-member dataset is allocated (and filled: NaN, -99, 0) when the file is created, so a
run killed at any moment leaves a readable file in which exactly the members with
``member_done = 1`` are complete.  Each member's checksum (:func:`member_digest`) is written
after its data and before its done flag; :func:`verify` and the restart check recompute it.
Layout 1 (before checksums) is still read; its members are reported "not checksummed".

The reader (:func:`inspect`, :func:`read_slab`, :func:`read_member_column`) turns every problem
with a file someone hands the aggregation (missing, not HDF5, truncated, not a pitch-angle run,
wrong layout, a finished member holding NaN) into one :class:`~hpcbelt.errors.InputError` that
names the file and what was expected.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import integrity, output
from ..errors import InputError

# This module imports nothing of the study layer (the study imports it), so the reader loads
# without the solver or numba; the writer's ``study`` is a :class:`.study.Study`.

KIND = "pitch_angle"
LAYOUT_VERSION = 2               # 2: member_checksum
READABLE_LAYOUTS = (1, 2)        # layout versions the reader understands
F_UNITS = "cm^-2 s^-1 sr^-1 keV^-1"

# root datasets and groups
TIME = "time_s"
ALPHA = "alpha_deg"
GRID = "grid"
CELL_WEIGHT = "cell_weight"
LOSS_RATE = "loss_rate_per_s"
DATABASE = "database"
DAA_MEAN = "daa_mean"
DAA_OF_MEAN_INPUTS = "daa_of_mean_inputs"
# in each experiment group
MEMBER = "member"
SEGMENT_START = "segment_start_s"
F = "f"
DAA_INTEGRAL = "daa_integral"
PROFILE_INDEX = "profile_index"
MEMBER_DONE = "member_done"
MEMBER_CHECKSUM = "member_checksum"

# values of profile_index that are no database row
INDEX_MEAN_OF_PROFILES = -1       # the constant mean of all profiles (mode = "mean_of_profiles")
INDEX_MEAN_INPUTS = -2            # the constant daa_of_mean_inputs (mode = "mean_inputs")
NOT_WRITTEN = -99                 # fill value: the member is not written yet

# root attributes the reader keeps (PitchAngleRun.root)
ROOT_ATTRS = ("kind", "title", "status", "hpcbelt_version", "git_commit", "method", "seed", "start_time",
              "end_time", "mpi_size", "study_file", "study_config_json", "layout_version")


ENERGY = "energy_MeV"             # root scale of a study over energies
BY_ENERGY = "_by_energy"          # suffix of the per-energy forms of the root datasets


def dataset_path(experiment: str, name: str) -> str:
    """``experiment/name``: the path of a per-member dataset."""
    return f"{experiment}/{name}"


def energy_label(energy_MeV: float) -> str:
    """``E0.5MeV``: the energy part of an output group name (``%g``, 6 significant digits)."""
    return f"E{float(energy_MeV):g}MeV"


def energy_group(experiment: str, energy_MeV: float) -> str:
    """The output group of ``experiment`` at ``energy_MeV`` in a study over energies."""
    return f"{experiment}_{energy_label(energy_MeV)}"


# ------------------------------------------------------------------------------------------
# Writer
# ------------------------------------------------------------------------------------------

def layout(study):
    """``make(h5)``: creates every group, dataset, attribute and dimension scale of the run file.

    Handed to :meth:`hpcbelt.output.RunFile.open_run`; behaves identically on every rank.
    """
    grid = study.grid

    def make(h5):
        output.scale(h5, TIME, study.out_t, "s", "output times since the start of the run")
        output.scale(h5, ALPHA, grid.alpha_deg, "deg", "equatorial pitch angle (grid nodes)")
        g = h5.create_group(GRID)
        g.attrs["loss_cone_deg"] = grid.loss_cone_deg
        g.attrs["dalpha_deg"] = float(study.doc["grid"]["dalpha_deg"])
        g.attrs["spacing"] = study.doc["grid"]["spacing"]
        if study.doc["grid"]["spacing"] != "uniform":
            g.attrs["min_dalpha_deg"] = float(study.doc["grid"]["min_dalpha_deg"])
            g.attrs["growth"] = float(study.doc["grid"]["growth"])
        output.units(g.create_dataset(CELL_WEIGHT, data=grid.volume), "rad",
                     "integral of T(a) sin(2a) da over each control volume (conserved content "
                     "is sum(f * cell_weight) when loss is off)")
        if study.multi_energy:
            _energy_layout(h5, study, g)
            return
        output.units(g.create_dataset(LOSS_RATE, data=grid.loss_rate_per_s), "1/s",
                     "loss rate 1/tau_L averaged over the part of each control volume in the loss cone")
        d = h5.create_group(DATABASE)
        db = study.database
        d.attrs["path"] = db.path
        d.attrs["sha256"] = db.sha256
        d.attrs["n_profiles"] = db.n_profiles
        n_db = db.n_profiles
        output.units(d.create_dataset(DAA_MEAN, data=study.profiles[n_db]), "1/s",
                     "<D(X_i, Y_i)>: mean of all database profiles, on the model grid")
        if db.daa_of_mean_inputs is not None:
            output.units(d.create_dataset(DAA_OF_MEAN_INPUTS, data=study.profiles[n_db + 1]), "1/s",
                         "D(<X>, <Y>): profile from the mean inputs, on the model grid")
        for h5d in (g[CELL_WEIGHT], g[LOSS_RATE], d[DAA_MEAN]):
            h5d.dims[0].attach_scale(h5[ALPHA])
        for ex in study.experiments:
            _experiment_layout(h5, study, ex)

    return make


def _energy_layout(h5, study, g) -> None:
    """The rest of the layout of a study over energies (module docstring), after /grid."""
    slices = study.slices
    energies = np.array([sl.energy_MeV for sl in slices], float)
    h5.attrs["energies_MeV"] = json.dumps(energies.tolist())
    escale = output.scale(h5, ENERGY, energies, "MeV", "electron kinetic energy of each group "
                          "<experiment>_E<energy>MeV")
    loss = g.create_dataset(LOSS_RATE + BY_ENERGY, data=np.stack([sl.grid.loss_rate_per_s for sl in slices]))
    output.units(loss, "1/s", "loss rate 1/tau_L averaged over the part of each control volume in the loss "
                 "cone, at each energy [energy, alpha]")
    d = h5.create_group(DATABASE)
    db = study.database
    d.attrs["path"] = db.path
    d.attrs["sha256"] = db.sha256
    d.attrs["n_profiles"] = db.n_profiles
    d.attrs["energies_MeV"] = energies
    n_db = db.n_profiles
    made = [loss]
    made.append(output.units(d.create_dataset(DAA_MEAN + BY_ENERGY,
                                              data=np.stack([sl.profiles[n_db] for sl in slices])), "1/s",
                             "<D(X_i, Y_i)>: mean of all database profiles at each energy, on the model "
                             "grid [energy, alpha]"))
    if db.daa_of_mean_inputs is not None:
        made.append(output.units(d.create_dataset(DAA_OF_MEAN_INPUTS + BY_ENERGY,
                                                  data=np.stack([sl.profiles[n_db + 1] for sl in slices])),
                                 "1/s", "D(<X>, <Y>): profile from the mean inputs at each energy, on the model "
                                 "grid [energy, alpha]"))
    g[CELL_WEIGHT].dims[0].attach_scale(h5[ALPHA])
    for h5d in made:
        h5d.dims[0].attach_scale(escale)
        h5d.dims[1].attach_scale(h5[ALPHA])
    for ex in study.experiments:
        for k, sl in enumerate(slices):
            _experiment_layout(h5, study, ex, sl.group(ex.name),
                               {"energy_MeV": sl.energy_MeV, "base_experiment": ex.name, "energy_index": k})


def _experiment_layout(h5, study, ex, name: str | None = None, extra: dict | None = None) -> None:
    """One experiment group (``name``: its group at one energy of a study over energies)."""
    name = ex.name if name is None else name
    e = h5.create_group(name)
    e.attrs["mode"] = ex.mode
    e.attrs["members"] = ex.members
    e.attrs["switch_every_s"] = np.nan if ex.switch_every_s is None else ex.switch_every_s
    e.attrs["profile"] = -1 if ex.profile is None else ex.profile
    e.attrs["description"] = ex.description
    e.attrs["method"] = study.method
    for key, value in (extra or {}).items():
        e.attrs[key] = value
    member = output.scale(h5, dataset_path(name, MEMBER), np.arange(ex.members), "1", "ensemble member")
    seg = output.scale(h5, dataset_path(name, SEGMENT_START), ex.seg_t, "s",
                       "start time of each constant-D segment")
    shape3 = (ex.members, study.out_t.size, study.grid.n)
    f = output.preallocated(e, F, shape3, "f8", np.nan)
    output.units(f, F_UNITS, "phase-space density (flux units of the initial condition); "
                 "NaN until the member is written")
    di = output.preallocated(e, DAA_INTEGRAL, shape3, "f8", np.nan)
    output.units(di, "1", "running time integral of D_aa [1/s] over time [s]")
    pi = output.preallocated(e, PROFILE_INDEX, (ex.members, ex.n_segments), "i4", NOT_WRITTEN)
    output.units(pi, "1", f"database row used in each segment; {INDEX_MEAN_OF_PROFILES} = mean "
                 f"of all profiles, {INDEX_MEAN_INPUTS} = daa_of_mean_inputs, {NOT_WRITTEN} = not written")
    ck = output.preallocated(e, MEMBER_CHECKSUM, (ex.members, integrity.CHECKSUM_SIZE), integrity.CHECKSUM_DTYPE,
                             integrity.UNSET)
    output.units(ck, "1", "sha256 (32 bytes) of the member's f, daa_integral (float64) and profile_index "
                 "(int32), little-endian, in that order; zeros until written")
    ck.dims[0].attach_scale(member)
    done = output.preallocated(e, MEMBER_DONE, (ex.members,), "u1", 0)
    output.units(done, "1", "1 once the member's f, daa_integral and profile_index are written")
    for dset in (f, di):
        dset.dims[0].attach_scale(member)
        dset.dims[1].attach_scale(h5[TIME])
        dset.dims[2].attach_scale(h5[ALPHA])
    pi.dims[0].attach_scale(member)
    pi.dims[1].attach_scale(seg)
    done.dims[0].attach_scale(member)


def member_digest(f, daa_integral, profile_index) -> np.ndarray:
    """The checksum of one member: sha256 of its arrays in the dtypes of their datasets."""
    return integrity.digest(((f, "f8"), (daa_integral, "f8"), (profile_index, "i4")))


def member_problem(h5, experiment: str, m: int) -> str | None:
    """What is wrong with finished member ``m`` of ``experiment``, or None when it is sound.

    The stored checksum must match the data read back (layout 2), f must be finite and
    non-negative (0 is allowed) and daa_integral finite.
    """
    g = h5[experiment]
    f = g[F][m]
    di = g[DAA_INTEGRAL][m]
    found = []
    if MEMBER_CHECKSUM in g:
        stored = g[MEMBER_CHECKSUM][m]
        if not integrity.stored(stored):
            found.append("marked finished but has no checksum")
        elif not integrity.matches(stored, member_digest(f, di, g[PROFILE_INDEX][m])):
            found.append("data does not match its checksum (changed after it was written)")
    found += [p for p in (integrity.value_problem(f, dataset_path(experiment, F), non_negative=True),
                          integrity.value_problem(di, dataset_path(experiment, DAA_INTEGRAL), non_negative=False))
              if p]
    return "; ".join(found) or None


def restart_state(study, path) -> dict:
    """Check that ``path`` is an earlier run of this very study; return member_done per experiment.

    Refused (InputError) when the file is not a pitch-angle run, was written by another hpcbelt
    version or file layout, or by a study whose validated configuration differs in any key
    (the checks are shared with every study kind: :func:`hpcbelt.output.restart_file`).

    A finished member that fails :func:`member_problem` (its data changed since it was written)
    counts as unfinished, so the restart computes it again -- members are deterministic, the
    result is the one an undamaged file would give -- with one line on stderr per member.
    Keyed by output group (the experiment name; ``<experiment>_E<energy>MeV`` over energies).
    """
    with output.restart_file(path, KIND, "pitch-angle", LAYOUT_VERSION, study.doc,
                             inputs=study.input_files(), schema=study.schema) as fh:
        done = {}
        for e, ex in enumerate(study.experiments):
            for name in study.groups(e):
                try:
                    flags = np.asarray(fh[name][MEMBER_DONE][()], bool)
                    for m in np.flatnonzero(flags):
                        why = member_problem(fh, name, int(m))
                        if why is not None:
                            flags[m] = False
                            print(f"hpcbelt: warning: {path}: {name} member {int(m)}: {why}; computing it again",
                                  file=sys.stderr, flush=True)
                    done[name] = flags
                except (KeyError, OSError, RuntimeError) as exc:
                    raise InputError(f"restart file {path}: experiment {name!r} missing or unreadable "
                                     f"({exc})") from None
    return done


def verify(path) -> integrity.Report:
    """Check a whole pitch-angle run file: layout, done flags 0/1, and every finished member
    (:func:`member_problem`).  InputError when it is not a readable pitch-angle run file."""
    run = inspect(path)           # layout, shapes, done flags 0/1 (InputError otherwise)
    rep = integrity.Report(str(path), KIND, int(run.root.get("layout_version", -1)))
    with output.open_h5(path) as h5:
        checksummed = all(MEMBER_CHECKSUM in h5[ex.name] for ex in run.experiments)
        if not checksummed:
            rep.notes.append(f"{path}: layout {rep.layout_version}: members not checksummed; only their "
                             f"values were checked (finite, f >= 0)")
        for ex in run.experiments:
            for m in ex.done:
                rep.checked += 1
                try:
                    why = member_problem(h5, ex.name, int(m))
                except (OSError, RuntimeError, ValueError, KeyError) as exc:
                    why = f"unreadable ({exc})"
                if why is not None:
                    rep.problems.append(f"{path}: {ex.name} member {int(m)}: {why}")
    return rep


# ------------------------------------------------------------------------------------------
# Reader
# ------------------------------------------------------------------------------------------

@dataclass
class ExperimentInfo:
    """One experiment of a pitch-angle run and which of its members are finished."""

    name: str
    mode: str
    members: int
    switch_every_s: float
    description: str
    done: np.ndarray                       # indices of finished members, increasing
    energy_MeV: float = float("nan")       # study over energies: this group's energy [MeV]
    base_experiment: str = ""              # study over energies: the study's experiment name

    @property
    def base(self) -> str:
        """The study's experiment name (the group name for a single-energy run)."""
        return self.base_experiment or self.name

    @property
    def n_done(self) -> int:
        return int(self.done.size)

    @property
    def runs(self) -> list[tuple[int, int]]:
        return output.runs_of(self.done)


@dataclass
class PitchAngleRun:
    """Everything the aggregation needs to know about a pitch-angle run file (picklable)."""

    path: str
    time_s: np.ndarray
    alpha_deg: np.ndarray
    experiments: list[ExperimentInfo]
    root: dict                             # the ROOT_ATTRS present (strings / numbers)
    f_units: str
    loss_cone_deg: float
    database: dict = field(default_factory=dict)   # path, sha256, n_profiles, daa_mean, ...
    energies_MeV: tuple = ()               # study over energies: its energies; () for one energy

    @property
    def multi_energy(self) -> bool:
        return bool(self.energies_MeV)

    @property
    def n_time(self) -> int:
        return int(self.time_s.size)

    @property
    def n_alpha(self) -> int:
        return int(self.alpha_deg.size)

    def experiment(self, name: str) -> ExperimentInfo:
        for ex in self.experiments:
            if ex.name == name:
                return ex
        raise InputError(f"{self.path}: no experiment named {name!r} (have "
                         f"{', '.join(e.name for e in self.experiments)})")


def inspect(path: str | Path) -> PitchAngleRun:
    """Check the layout of a pitch-angle run file (module docstring) and list finished members."""
    return output.read_metadata(path, _inspect)


def _need(h5, name, where, ndim=None):
    import h5py

    if name not in h5 or not isinstance(h5[name], h5py.Dataset):
        raise InputError(f"{where}: dataset '{name}' missing: not a complete pitch-angle run file "
                         f"(see hpcbelt/pitch_angle/runfile.py for the layout)")
    d = h5[name]
    if ndim is not None and d.ndim != ndim:
        raise InputError(f"{where}: dataset '{name}' has {d.ndim} dimensions, expected {ndim}")
    return d


def _experiment_names(h5, root: dict, energies=()) -> list[str]:
    """Experiment order: as in the stored study configuration (each experiment's groups in energy
    order over energies), else alphabetical."""
    try:
        cfg = json.loads(root.get("study_config_json", "{}"))
        names = [e["name"] for e in cfg.get("experiment", [])]
        if energies:
            names = [energy_group(n, E) for n in names for E in energies]
    except (ValueError, TypeError, KeyError):
        names = []
    if not names or not all(n in h5 for n in names):
        names = sorted(k for k in h5 if k not in (GRID, DATABASE, TIME, ALPHA, ENERGY) and F in h5[k])
    return names


def _inspect(h5, where: str) -> PitchAngleRun:
    for name in h5:
        output.check_text(name, f"{where}: object name {ascii(name)}")
    kind = output.attr_str(h5, "kind", None)
    if kind != KIND:
        raise InputError(f"{where}: kind = {kind!r}, expected {KIND!r}")
    layout_version = int(h5.attrs.get("layout_version", -1))
    if layout_version not in READABLE_LAYOUTS:
        raise InputError(f"{where}: layout_version = {layout_version}; this aggregator reads "
                         f"{', '.join(map(str, READABLE_LAYOUTS))}")
    time_s = _need(h5, TIME, where, 1)[()].astype(float)
    alpha = _need(h5, ALPHA, where, 1)[()].astype(float)
    if time_s.size == 0 or alpha.size < 2:
        raise InputError(f"{where}: empty {TIME} or {ALPHA}")
    if np.any(np.diff(time_s) <= 0) or np.any(np.diff(alpha) <= 0):
        raise InputError(f"{where}: {TIME} and {ALPHA} must increase")
    root = output.read_root_attrs(h5, ROOT_ATTRS, where)
    energies = ()
    if ENERGY in h5:
        e = _need(h5, ENERGY, where, 1)[()].astype(float)
        if e.size == 0 or not np.isfinite(e).all() or np.any(e <= 0) or np.any(np.diff(e) <= 0):
            raise InputError(f"{where}: {ENERGY} must hold increasing positive energies")
        energies = tuple(float(v) for v in e)
    names = _experiment_names(h5, root, energies)
    if not names:
        raise InputError(f"{where}: no experiment groups with an '{F}' dataset")
    exps = [_experiment_info(h5, name, where, (time_s.size, alpha.size)) for name in names]
    db = _database_info(h5, where, alpha.size, len(energies))
    lc = float(h5[GRID].attrs.get("loss_cone_deg", np.nan)) if GRID in h5 else float("nan")
    f_units = (str(output.attr_str(h5, "f_units", "")) or
               str(output.attr_str(h5[dataset_path(names[0], F)], "units", "")))
    return PitchAngleRun(path=str(Path(where).resolve()), time_s=time_s, alpha_deg=alpha, experiments=exps,
                         root=root, f_units=f_units, loss_cone_deg=lc, database=db, energies_MeV=energies)


def _experiment_info(h5, name: str, where: str, shape: tuple) -> ExperimentInfo:
    f = _need(h5, dataset_path(name, F), where, 3)
    di = _need(h5, dataset_path(name, DAA_INTEGRAL), where, 3)
    done = _need(h5, dataset_path(name, MEMBER_DONE), where, 1)
    m = f.shape[0]
    if f.shape[1:] != shape:
        raise InputError(f"{where}: {name}/{F} has shape {f.shape}, expected (members, {shape[0]}, "
                         f"{shape[1]}) from {TIME} and {ALPHA}")
    if di.shape != f.shape:
        raise InputError(f"{where}: {name}/{DAA_INTEGRAL} has shape {di.shape}, expected {f.shape}")
    if done.shape != (m,):
        raise InputError(f"{where}: {name}/{MEMBER_DONE} has shape {done.shape}, expected ({m},)")
    flags = done[()]
    if not np.isin(flags, (0, 1)).all():
        raise InputError(f"{where}: {name}/{MEMBER_DONE} holds values other than 0 and 1")
    g = h5[name]
    sw = g.attrs.get("switch_every_s", np.nan)
    energy = g.attrs.get("energy_MeV", np.nan)
    return ExperimentInfo(
        name=name, mode=str(output.attr_str(g, "mode", "unknown")), members=int(m),
        switch_every_s=float(sw) if sw is not None else float("nan"),
        description=str(output.attr_str(g, "description", "")),
        done=np.flatnonzero(flags == 1).astype(np.int64),
        energy_MeV=float(energy) if energy is not None else float("nan"),
        base_experiment=str(output.attr_str(g, "base_experiment", "")))


def _database_info(h5, where: str, n_alpha: int, n_energy: int = 0) -> dict:
    if DATABASE not in h5:
        return {}
    d = h5[DATABASE]
    db = {"path": str(output.attr_str(d, "path", "")), "sha256": str(output.attr_str(d, "sha256", "")),
          "n_profiles": int(d.attrs.get("n_profiles", -1))}
    for key in (DAA_MEAN, DAA_OF_MEAN_INPUTS):
        if key in d:
            arr = d[key][()].astype(float)
            if arr.shape != (n_alpha,):
                raise InputError(f"{where}: {DATABASE}/{key} has shape {arr.shape}, expected ({n_alpha},)")
            db[key] = arr
        if n_energy and key + BY_ENERGY in d:
            arr = d[key + BY_ENERGY][()].astype(float)
            if arr.shape != (n_energy, n_alpha):
                raise InputError(f"{where}: {DATABASE}/{key}{BY_ENERGY} has shape {arr.shape}, expected "
                                 f"({n_energy}, {n_alpha})")
            db[key + BY_ENERGY] = arr
    return db


def read_slab(h5, dset: str, ex: ExperimentInfo, t0: int, t1: int, a0: int, a1: int,
              out: np.ndarray) -> np.ndarray:
    """Read ``dset[finished members, t0:t1, a0:a1]`` into ``out`` (n_done, t1-t0, a1-a0).

    ``dset`` is a per-member dataset path (:func:`dataset_path`).  Contiguous runs of finished
    members are read straight into ``out`` (no temporary copy), at most
    :data:`hpcbelt.output.MEMBERS_PER_READ` members per call.  A finished member with a
    non-finite value, or a negative f, is a corrupted file.
    """
    d = h5[dset]
    row = 0
    try:
        for m0, m1 in output.read_runs(ex.done):
            n = m1 - m0
            d.read_direct(out, source_sel=np.s_[m0:m1, t0:t1, a0:a1], dest_sel=np.s_[row:row + n])
            row += n
    except (OSError, RuntimeError, ValueError, KeyError) as exc:
        raise InputError(f"{h5.filename}: cannot read {dset} (times {t0}..{t1 - 1}): {exc} "
                         f"(truncated or corrupted file?)") from None
    if not np.isfinite(out).all():
        bad = np.flatnonzero(~np.isfinite(out.reshape(out.shape[0], -1)).all(axis=1))[0]
        raise InputError(f"{h5.filename}: {dset}: member {int(ex.done[bad])} is marked finished "
                         f"({MEMBER_DONE} = 1) but holds non-finite values near times {t0}..{t1 - 1}: "
                         f"corrupted run file")
    _refuse_negative(h5, dset, out, ex.done)
    return out


def _refuse_negative(h5, dset: str, out: np.ndarray, members) -> None:
    """A phase-space density below 0 in a finished member (0 itself is fine): corrupted file."""
    if dset.rsplit("/", 1)[-1] != F:
        return
    neg = (out.reshape(out.shape[0], -1) < 0).any(axis=1)
    if neg.any():
        bad = int(np.flatnonzero(neg)[0])
        raise InputError(f"{h5.filename}: {dset}: member {int(members[bad])} is marked finished but holds "
                         f"negative values (f >= 0): corrupted run file")


def read_member_column(h5, dset: str, ex: ExperimentInfo, m0_row: int, m1_row: int, ia: int,
                       out: np.ndarray) -> np.ndarray:
    """``dset[finished members m0_row..m1_row (positions in ex.done), :, ia]`` into ``out``."""
    d = h5[dset]
    idx = ex.done[m0_row:m1_row]
    row = 0
    try:
        for m0, m1 in output.read_runs(idx):
            n = m1 - m0
            d.read_direct(out, source_sel=np.s_[m0:m1, :, ia], dest_sel=np.s_[row:row + n])
            row += n
    except (OSError, RuntimeError, ValueError, KeyError) as exc:
        raise InputError(f"{h5.filename}: cannot read {dset}: {exc} (truncated or corrupted file?)") from None
    if not np.isfinite(out).all():
        bad = np.flatnonzero(~np.isfinite(out).all(axis=1))[0]
        raise InputError(f"{h5.filename}: {dset}: member {int(idx[bad])} is marked finished but holds "
                         f"non-finite values: corrupted run file")
    _refuse_negative(h5, dset, out, idx)
    return out
