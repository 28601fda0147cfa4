"""D_aa databases: the HDF5 file of bounce-averaged pitch-angle diffusion profiles.

The one home of the format: its names and units, the checks (:func:`check_arrays`, used by
both the reader and the writer), the reader (:func:`load`), the writer (:func:`write`, used
by ``hpcbelt dxx build`` / ``dxx import`` and by the tests), interpolation in pitch angle, a
content fingerprint, and the distribution of the profiles behind Fig 1 of Watt et al. (2021).
Readers are the pitch-angle study, ``hpcbelt dxx plot`` and the aggregation.

Format (``format`` = :data:`FORMAT`, ``format_version`` = :data:`FORMAT_VERSION`)::

    alpha_deg            (n_alpha,)             deg, strictly increasing within [0, 90]
    daa                  (n_profiles, n_alpha)  1/s, finite and >= 0
    daa_of_mean_inputs   (n_alpha,)             1/s, optional: D(<X>, <Y>), finite and >= 0
    daa_mean             (n_alpha,)             1/s, <D(X_i, Y_i)>, the mean of the rows
                                                (written for readers; the loader recomputes it)
    X, Y, B_eq_nT        (n_profiles,)          optional: omega_pe/Omega_e, intensity at the
                                                reference frequency [nT^2/Hz], B_eq [nT]
    root attributes      L, energy_MeV, format, format_version, hpcbelt_version; from
                         ``hpcbelt dxx`` also wave_model, description, provenance (JSON)

Every dataset carries ``units`` and ``description`` attributes (:data:`DATASETS`).  The writer
stores no time stamps, so the same arrays give the same bytes.

Multi-energy files (``format_version`` = :data:`MULTI_ENERGY_FORMAT_VERSION`; single-energy
files keep :data:`FORMAT_VERSION` and today's bytes): one set of observations, its profiles
at several electron energies::

    energy_MeV           (n_energy,)                     MeV, strictly increasing, > 0
    daa                  (n_energy, n_profiles, n_alpha) 1/s
    daa_of_mean_inputs   (n_energy, n_alpha)             1/s, optional
    daa_mean             (n_energy, n_alpha)             1/s
    X, Y, B_eq_nT        (n_profiles,)                   unchanged: the same observations
                                                         drive every energy
    root attributes      as above, but ``n_energies`` instead of ``energy_MeV`` (the dataset
                         replaces it)

A file is multi-energy exactly when it has the dataset ``energy_MeV``.  :func:`load` with
``energy_MeV=E`` returns the single-energy :class:`Database` slice at E (same ``path``, the
``sha256`` of the whole file); :func:`load_all` one slice per energy; :func:`file_energies`
the energies (``None`` for a single-energy file) without reading the profiles.  A slice is
what the single-energy build at that energy would have written: same arrays, bit for bit.

Profiles are interpolated linearly in pitch angle onto the model grid; beyond the database's
first and last angle the end value is held (D at 0 and 90 deg multiplies a vanishing weight).

Errors: the array checks and the writer raise ``ValueError``; :func:`load`, which reads a file
the user named, raises :class:`~hpcbelt.errors.InputError` naming that file.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import InputError

FORMAT = "hpcbelt.daa_database"
FORMAT_VERSION = 1                 # single-energy files (unchanged)
MULTI_ENERGY_FORMAT_VERSION = 2    # files with an energy_MeV dataset and 3-D daa
ENERGY_REL_TOL = 1e-9              # an asked energy matches a file energy within this (relative)

# name -> (units, description), in the order the writer stores them
DATASETS = {
    "alpha_deg": ("deg", "equatorial pitch angle"),
    "daa": ("1/s", "bounce-averaged <D_aa>/p^2, one profile per observation"),
    "daa_of_mean_inputs": ("1/s", "D(<X>, <Y>): one profile from the arithmetic means of X, Y "
                                  "and B_eq"),
    "daa_mean": ("1/s", "<D(X_i, Y_i)>: mean of all profiles"),
    "X": ("1", "omega_pe / Omega_e at the equator"),
    "Y": ("nT^2/Hz", "wave intensity at the reference frequency"),
    "B_eq_nT": ("nT", "equatorial magnetic field"),
}
COLUMNS = ("X", "Y", "B_eq_nT")      # one value per profile

# the energy coordinate of a multi-energy file, and the descriptions that change there
ENERGY_DATASET = ("MeV", "electron kinetic energy of each slice (axis 0 of daa, "
                         "daa_of_mean_inputs and daa_mean)")
MULTI_ENERGY_DESCRIPTIONS = {
    "daa": "bounce-averaged <D_aa>/p^2, [energy, observation, pitch angle]: one profile per "
           "observation at each energy",
    "daa_of_mean_inputs": "D(<X>, <Y>) at each energy [energy, pitch angle]: one profile from "
                          "the arithmetic means of X, Y and B_eq",
    "daa_mean": "<D(X_i, Y_i)> at each energy [energy, pitch angle]: mean of all profiles",
}

# Spellings of 1/s the loader accepts as the units of 'daa', and the factors to 1/s of the
# units ``hpcbelt dxx import --daa-units`` converts from.
PER_SECOND = ("1/s", "s^-1", "s-1")
DAA_UNITS = {**{u: 1.0 for u in PER_SECOND}, "rad^2/s": 1.0, "1/min": 1 / 60.0,
             "1/hr": 1 / 3600.0, "1/h": 1 / 3600.0, "1/day": 1 / 86400.0, "1/d": 1 / 86400.0}

WINDOW_DECADES = 8.0   # histogram range of the distribution below the largest D_aa [decades]


@dataclass
class Database:
    """A loaded database (on its own pitch-angle grid)."""

    path: str
    alpha_deg: np.ndarray
    daa: np.ndarray
    daa_of_mean_inputs: np.ndarray | None
    L: float | None
    energy_MeV: float | None
    sha256: str
    extra: dict = field(default_factory=dict)     # the COLUMNS present in the file

    @property
    def n_profiles(self) -> int:
        return self.daa.shape[0]

    def on_grid(self, alpha_deg: np.ndarray, rows=None) -> np.ndarray:
        """Profiles (all, or ``rows``) interpolated onto ``alpha_deg``: (n_rows, n_grid)."""
        src = self.daa if rows is None else self.daa[rows]
        return interpolate_profiles(self.alpha_deg, src, alpha_deg)

    def mean_on_grid(self, alpha_deg: np.ndarray) -> np.ndarray:
        """<D(X_i, Y_i)>, the mean of all profiles, on ``alpha_deg``."""
        return interpolate_profiles(self.alpha_deg, self.daa.mean(axis=0)[None, :], alpha_deg)[0]


def interpolate_profiles(src_alpha: np.ndarray, profiles: np.ndarray, dst_alpha: np.ndarray) -> np.ndarray:
    """Linear interpolation of each row of ``profiles`` from ``src_alpha`` to ``dst_alpha``."""
    profiles = np.atleast_2d(profiles)
    j = np.clip(np.searchsorted(src_alpha, dst_alpha, side="right") - 1, 0, src_alpha.size - 2)
    x0, x1 = src_alpha[j], src_alpha[j + 1]
    w = np.clip((dst_alpha - x0) / (x1 - x0), 0.0, 1.0)
    return profiles[:, j] * (1.0 - w) + profiles[:, j + 1] * w


# --------------------------------------------------------------------------------------
# checks
# --------------------------------------------------------------------------------------

def _check_values(name: str, arr: np.ndarray, alpha: np.ndarray, where: str) -> None:
    """Finite and >= 0; the first offender located by profile (row) and pitch angle."""
    for bad, what, expect in ((~np.isfinite(arr), "non-finite", "finite D >= 0"),
                              (None, "negative", "D >= 0")):
        if bad is None:
            with np.errstate(invalid="ignore"):
                bad = arr < 0
        idx = np.argwhere(bad)
        if not idx.size:
            continue
        first = tuple(int(i) for i in idx[0])
        at = f"pitch angle {alpha[first[-1]]:g} deg"
        if arr.ndim == 2:
            at = f"profile {first[0] + 1} (row {first[0] + 1}), {at}"
        raise ValueError(f"{where}: '{name}' has {len(idx)} {what} value(s), the first at {at} "
                         f"(index {first}): {arr[first]:.3g}; expected {expect} in 1/s")


def check_arrays(alpha_deg, daa, daa_of_mean_inputs=None, columns: dict | None = None, *,
                 where: str = "database", shape_hint: str = "") -> None:
    """The format's checks on arrays; ``ValueError`` naming ``where`` and the dataset.

    ``alpha_deg`` strictly increasing within [0, 90] deg with at least two angles; ``daa``
    (n_profiles >= 1, n_alpha) and ``daa_of_mean_inputs`` (n_alpha,) finite and >= 0;
    each of ``columns`` ({name: array}, e.g. X, Y, B_eq_nT; None entries skipped) of shape
    (n_profiles,).  ``shape_hint`` is appended to the message of a mismatched ``daa``.
    """
    alpha = np.asarray(alpha_deg, float)
    d = np.asarray(daa, float)
    if alpha.ndim != 1 or alpha.size < 2:
        raise ValueError(f"{where}: 'alpha_deg' has shape {alpha.shape}; expected (n_alpha,) "
                         "with n_alpha >= 2")
    if not np.all(np.isfinite(alpha)) or np.any(np.diff(alpha) <= 0) or alpha[0] < 0 \
            or alpha[-1] > 90:
        raise ValueError(f"{where}: 'alpha_deg' must be strictly increasing within [0, 90] deg")
    if d.ndim != 2 or d.shape[1] != alpha.size or d.shape[0] < 1:
        raise ValueError(f"{where}: 'daa' has shape {d.shape}; expected (n_profiles, "
                         f"{alpha.size}) to match alpha_deg ({alpha.size} pitch angles)"
                         f"{shape_hint}")
    _check_values("daa", d, alpha, where)
    if daa_of_mean_inputs is not None:
        m = np.asarray(daa_of_mean_inputs, float)
        if m.shape != alpha.shape:
            raise ValueError(f"{where}: 'daa_of_mean_inputs' has shape {m.shape}; "
                             f"expected ({alpha.size},)")
        _check_values("daa_of_mean_inputs", m, alpha, where)
    for name, v in (columns or {}).items():
        if v is not None and np.shape(v) != (d.shape[0],):
            raise ValueError(f"{where}: '{name}' has shape {np.shape(v)}; "
                             f"expected ({d.shape[0]},)")


# --------------------------------------------------------------------------------------
# reader
# --------------------------------------------------------------------------------------

def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _real_dataset(fh, name: str, where: str) -> np.ndarray:
    """A dataset of real numbers (integer or float dtype) as float64; InputError otherwise
    (strings, complex, compound, references...)."""
    import h5py

    ds = fh[name]
    if not isinstance(ds, h5py.Dataset) or ds.dtype.kind not in "fiu":
        kind = ds.dtype if isinstance(ds, h5py.Dataset) else "a group"
        raise InputError(f"{where}: dataset '{name}' holds {kind}; expected real numbers (float or integer)")
    return np.asarray(ds[()], float)


def _real_attr(fh, name: str, where: str) -> float | None:
    """A root attribute that must be one finite real number (or absent)."""
    if name not in fh.attrs:
        return None
    v = np.asarray(fh.attrs[name])
    if v.dtype.kind not in "fiu" or v.size != 1 or not np.isfinite(v.astype(float)).all():
        raise InputError(f"{where}: root attribute '{name}' is {v.tolist()!r} ({v.dtype}); expected one "
                         "finite real number")
    return float(v.reshape(()))


def _open(p: Path, where: str):
    import h5py

    if not p.is_file():
        raise InputError(f"{where}: file not found (set [database] path, relative to the study file)")
    try:
        return h5py.File(p, "r")
    except OSError as exc:
        raise InputError(f"{where}: not a readable HDF5 file ({exc})") from None


def _fmt_energies(energies) -> str:
    return ", ".join(f"{e:g}" for e in energies) + " MeV"


def _check_energies(e: np.ndarray, where: str, error=ValueError) -> None:
    """The energy coordinate: 1-D, at least one, finite, > 0, strictly increasing."""
    if e.ndim != 1 or e.size < 1:
        raise error(f"{where}: 'energy_MeV' has shape {e.shape}; expected (n_energy,) with "
                    "n_energy >= 1")
    if not np.all(np.isfinite(e)) or np.any(e <= 0) or np.any(np.diff(e) <= 0):
        raise error(f"{where}: 'energy_MeV' = [{', '.join(f'{v:g}' for v in e)}]; expected "
                    "finite, positive, strictly increasing energies in MeV")


def _energies_of(fh, where: str) -> np.ndarray | None:
    """The energy coordinate of an open file (checked), or None for a single-energy file."""
    if "energy_MeV" not in fh:
        return None
    e = _real_dataset(fh, "energy_MeV", where)
    _check_energies(e, where, InputError)
    return e


def _energy_index(energies: np.ndarray, energy_MeV, where: str) -> int:
    """Index of ``energy_MeV`` among ``energies`` (relative tolerance :data:`ENERGY_REL_TOL`)."""
    try:
        E = float(energy_MeV)
    except (TypeError, ValueError):
        raise InputError(f"{where}: energy {energy_MeV!r} asked; expected one number in MeV "
                         f"(the file holds {_fmt_energies(energies)})") from None
    close = np.abs(energies - E) <= ENERGY_REL_TOL * np.maximum(np.abs(energies), abs(E))
    if not close.any():
        raise InputError(f"{where}: no profiles at {E:g} MeV; the file holds "
                         f"{energies.size} energies: {_fmt_energies(energies)}")
    return int(np.argmax(close))


def file_energies(path: str | Path) -> tuple[float, ...] | None:
    """The energies [MeV] of a multi-energy database, ``None`` for a single-energy one.

    Reads only the ``energy_MeV`` dataset (not the profiles); a missing or unreadable file, or
    a bad energy coordinate, is an :class:`InputError` naming the file.
    """
    p = Path(path)
    where = f"database {p}"
    with _open(p, where) as fh:
        e = _energies_of(fh, where)
    return None if e is None else tuple(float(v) for v in e)


def _read(path, energy_MeV, every: bool) -> list[Database]:
    """The reader behind :func:`load` and :func:`load_all`."""
    import h5py

    p = Path(path)
    where = f"database {p}"
    with _open(p, where) as fh:
        for name in ("alpha_deg", "daa"):
            if name not in fh or not isinstance(fh[name], h5py.Dataset):
                raise InputError(f"{where}: missing dataset '{name}' (expected alpha_deg (n_alpha) "
                                 "and daa (n_profiles, n_alpha) in 1/s)")
        energies = _energies_of(fh, where)
        if energies is not None and not every and energy_MeV is None:
            raise InputError(f"{where}: holds {energies.size} energies "
                             f"({_fmt_energies(energies)}): choose one (e.g. [physics] "
                             "energy_MeV)")
        alpha = _real_dataset(fh, "alpha_deg", where)
        L = _real_attr(fh, "L", where)
        units = fh["daa"].attrs.get("units")
        extra = {k: _real_dataset(fh, k, where) for k in COLUMNS
                 if k in fh and isinstance(fh[k], h5py.Dataset)}
        has_mean = "daa_of_mean_inputs" in fh
        if energies is None:
            slices = [(None, _real_dataset(fh, "daa", where),
                       _real_dataset(fh, "daa_of_mean_inputs", where) if has_mean else None,
                       _real_attr(fh, "energy_MeV", where))]
        else:
            ne = energies.size
            for name, nd, shape in (("daa", 3, "(n_energy, n_profiles, n_alpha)"),
                                    ("daa_of_mean_inputs", 2, "(n_energy, n_alpha)")):
                if name not in fh:
                    continue
                ds = fh[name]
                if not isinstance(ds, h5py.Dataset) or ds.ndim != nd or ds.shape[0] != ne:
                    got = ds.shape if isinstance(ds, h5py.Dataset) else "a group"
                    raise InputError(f"{where}: '{name}' has shape {got}; expected {shape} "
                                     f"with n_energy = {ne} (dataset 'energy_MeV')")
                if ds.dtype.kind not in "fiu":
                    raise InputError(f"{where}: dataset '{name}' holds {ds.dtype}; expected "
                                     "real numbers (float or integer)")
            picks = range(ne) if every else [_energy_index(energies, energy_MeV, where)]
            slices = [(k, np.asarray(fh["daa"][k], float),
                       np.asarray(fh["daa_of_mean_inputs"][k], float) if has_mean else None,
                       float(energies[k])) for k in picks]
    if isinstance(units, bytes):
        units = units.decode()
    if units is not None and str(units).replace(" ", "") not in PER_SECOND:
        raise InputError(f"{where}: dataset 'daa' has units '{units}'; expected 1/s")
    out = []
    digest = None
    for k, daa, mean_inputs, energy in slices:
        at = where if k is None else f"{where} (energy {energy:g} MeV, slice {k})"
        try:
            check_arrays(alpha, daa, mean_inputs, extra, where=at)
        except ValueError as exc:
            raise InputError(str(exc)) from None
        digest = digest or _sha256(p)
        out.append(Database(str(p), alpha, daa, mean_inputs,
                            None if L is None else float(L),
                            None if energy is None else float(energy), digest, dict(extra)))
    return out


def load(path: str | Path, energy_MeV: float | None = None) -> Database:
    """Read and check a database file; every problem is an :class:`InputError` naming it.

    A single-energy file is returned as it is (``energy_MeV`` ignored).  Of a multi-energy
    file, the slice at ``energy_MeV`` (which must be one of the file's energies, relative
    tolerance :data:`ENERGY_REL_TOL`); ``energy_MeV=None`` on a multi-energy file is an error.
    """
    return _read(path, energy_MeV, every=False)[0]


def load_all(path: str | Path) -> list[Database]:
    """Every energy's :class:`Database` slice of a file, in increasing energy (a list of
    one for a single-energy file)."""
    return _read(path, None, every=True)


# --------------------------------------------------------------------------------------
# writer
# --------------------------------------------------------------------------------------

def write(path: str | Path, alpha_deg, daa, daa_of_mean_inputs=None, L=None, energy_MeV=None, *,
          X=None, Y=None, B_eq_nT=None, wave_model: str | None = None,
          description: str | None = None, provenance: dict | str | None = None, **attrs) -> None:
    """Write a database in the format above, deterministically (no time stamps).

    The datasets are stored in :data:`DATASETS` order (those given; ``daa_mean`` is computed),
    each float64 with its units and description; then the root attributes L, energy_MeV,
    format, format_version, wave_model, description, hpcbelt_version, provenance (a dict is
    stored as sorted JSON) and any further ``attrs``.  The arrays are checked first
    (:func:`check_arrays`, ``ValueError``): the writer never leaves a file the loader refuses.

    Multi-energy: ``daa`` of shape (n_energy, n_profiles, n_alpha), ``daa_of_mean_inputs``
    (n_energy, n_alpha) or None, and ``energy_MeV`` a sequence of n_energy strictly
    increasing positive energies; the dataset ``energy_MeV`` comes first, the root attribute
    ``n_energies`` replaces ``energy_MeV`` and ``format_version`` is
    :data:`MULTI_ENERGY_FORMAT_VERSION`.  A 2-D ``daa`` with a scalar (or no) energy writes
    the single-energy format, byte for byte as before.
    """
    import h5py

    from . import __version__

    where = f"database {path}"
    columns = {"X": X, "Y": Y, "B_eq_nT": B_eq_nT}
    multi = np.ndim(daa) == 3
    if multi:
        if energy_MeV is None or np.ndim(energy_MeV) != 1:
            raise ValueError(f"{where}: 'daa' has 3 dimensions (n_energy, n_profiles, n_alpha), "
                             f"so energy_MeV must be a sequence of n_energy energies; got "
                             f"{energy_MeV!r}")
        energies = np.asarray(energy_MeV, dtype=np.float64)
        _check_energies(energies, where)
        daa = np.ascontiguousarray(daa, dtype=np.float64)
        if daa.shape[0] != energies.size:
            raise ValueError(f"{where}: 'daa' has shape {daa.shape}; expected (n_energy = "
                             f"{energies.size}, n_profiles, n_alpha) to match energy_MeV")
        if daa_of_mean_inputs is not None:
            daa_of_mean_inputs = np.ascontiguousarray(daa_of_mean_inputs, dtype=np.float64)
            if daa_of_mean_inputs.shape != (energies.size, np.shape(alpha_deg)[0]):
                raise ValueError(f"{where}: 'daa_of_mean_inputs' has shape "
                                 f"{daa_of_mean_inputs.shape}; expected (n_energy = "
                                 f"{energies.size}, n_alpha = {np.shape(alpha_deg)[0]})")
        for k, e in enumerate(energies):
            check_arrays(alpha_deg, daa[k], None if daa_of_mean_inputs is None
                         else daa_of_mean_inputs[k], columns,
                         where=f"{where} (energy {e:g} MeV, slice {k})")
        # each slice's mean exactly as the single-energy writer computes it
        daa_mean = np.stack([daa[k].mean(axis=0) for k in range(energies.size)])
    else:
        if energy_MeV is not None and np.ndim(energy_MeV) != 0:
            raise ValueError(f"{where}: energy_MeV {energy_MeV!r} is a sequence but 'daa' has "
                             f"shape {np.shape(daa)}; several energies need daa of shape "
                             "(n_energy, n_profiles, n_alpha)")
        daa = np.ascontiguousarray(daa, dtype=np.float64)
        check_arrays(alpha_deg, daa, daa_of_mean_inputs, columns, where=where)
        daa_mean = daa.mean(axis=0) if daa.ndim == 2 else None
    data = {"alpha_deg": alpha_deg, "daa": daa, "daa_of_mean_inputs": daa_of_mean_inputs,
            "daa_mean": daa_mean, "X": X, "Y": Y, "B_eq_nT": B_eq_nT}
    root = {"L": None if L is None else float(L),
            "energy_MeV": None if (energy_MeV is None or multi) else float(energy_MeV),
            "n_energies": int(energies.size) if multi else None,
            "format": FORMAT,
            "format_version": MULTI_ENERGY_FORMAT_VERSION if multi else FORMAT_VERSION,
            "wave_model": wave_model, "description": description,
            "hpcbelt_version": __version__,
            "provenance": (json.dumps(provenance, sort_keys=True, indent=1)
                           if isinstance(provenance, dict) else provenance)}
    with h5py.File(path, "w", track_order=False) as fh:
        if multi:
            ds = fh.create_dataset("energy_MeV", data=energies, track_times=False)
            ds.attrs["units"], ds.attrs["description"] = ENERGY_DATASET
        for name, (units, desc) in DATASETS.items():
            if data[name] is None:
                continue
            ds = fh.create_dataset(name, data=np.asarray(data[name], dtype=np.float64),
                                   track_times=False)
            ds.attrs["units"] = units
            ds.attrs["description"] = MULTI_ENERGY_DESCRIPTIONS.get(name, desc) if multi else desc
        for k, v in root.items():
            if v is not None:
                fh.attrs[k] = v
        for k, v in attrs.items():
            fh.attrs[k] = v


def content_digest(path: str | Path) -> str:
    """SHA-256 over every dataset's bytes and every attribute (sorted): a rank-count and
    timestamp independent fingerprint for comparing two builds."""
    import h5py

    h = hashlib.sha256()
    with h5py.File(path, "r") as fh:
        for k in sorted(fh.attrs):
            h.update(f"attr {k}={fh.attrs[k]!r}".encode())
        for name in sorted(fh):
            ds = fh[name]
            h.update(f"ds {name} {ds.dtype} {ds.shape}".encode())
            h.update(np.ascontiguousarray(ds[()]).tobytes())
            for k in sorted(ds.attrs):
                h.update(f"{name}.{k}={ds.attrs[k]!r}".encode())
    return h.hexdigest()


# --------------------------------------------------------------------------------------
# the distribution of the profiles (Fig 1 of Watt et al. 2021)
# --------------------------------------------------------------------------------------

def distribution(db: Database, n_bins: int = 60, qq_alpha_deg: float = 45.0) -> dict:
    """Histograms of log10 D_aa at every database pitch angle, and a normal Q-Q sample.

    Column-normalised PDFs (their Fig 1a; ``density`` = counts / (n_profiles * bin width),
    [alpha, bin]) on ``n_bins`` bins of log10 D spanning the positive values in quarter
    decades, at most :data:`WINDOW_DECADES` below the largest; ``zeros`` counts D = 0 at each
    angle; the sorted log10 D > 0 at the angle nearest ``qq_alpha_deg`` with the standard
    normal quantiles at (i - 0.5)/n (Fig 1c).  ``{"readable": False, "reason": ...}`` when no
    D is positive.
    """
    daa = db.daa
    pos = daa[daa > 0]
    if pos.size == 0:
        return {"readable": False, "reason": f"{db.path}: no positive D_aa"}
    lg_min, lg_max = np.log10(pos.min()), np.log10(pos.max())
    hi = np.ceil(lg_max * 4) / 4
    # at most WINDOW_DECADES below the largest D: profiles falling steeply to 1e-30 and less
    # at a cyclotron cut-off would otherwise squeeze the diffusing range into a few bins
    lo = max(np.floor(lg_min * 4) / 4, hi - WINDOW_DECADES)
    if hi <= lo:
        hi = lo + 0.5
    edges = np.linspace(lo, hi, n_bins + 1)
    n_a = db.alpha_deg.size
    counts = np.zeros((n_a, n_bins), np.int64)
    zeros = np.zeros(n_a, np.int64)
    for j in range(n_a):
        col = daa[:, j]
        p = col > 0
        zeros[j] = int((~p).sum())
        counts[j] = np.histogram(np.log10(col[p]), bins=edges)[0]
    width = np.diff(edges)
    density = counts / (float(db.n_profiles) * width[None, :])
    jq = int(np.argmin(np.abs(db.alpha_deg - qq_alpha_deg)))
    sample = np.sort(daa[:, jq][daa[:, jq] > 0])
    from statistics import NormalDist

    n = sample.size
    inv = NormalDist().inv_cdf
    normal_q = np.array([inv((i - 0.5) / n) for i in range(1, n + 1)]) if n else np.zeros(0)
    return {
        "readable": True,
        "path": str(db.path),
        "sha256": db.sha256,
        "n_profiles": int(db.n_profiles),
        "alpha_deg": db.alpha_deg.astype(float),
        "edges": edges,
        "counts": counts,
        "zeros": zeros,
        "density": density,
        "qq_alpha_deg": float(db.alpha_deg[jq]),
        "qq_sample_log10": np.log10(sample) if n else np.zeros(0),
        "qq_normal": normal_q,
        "daa_mean_db_grid": daa.mean(axis=0),
    }


def database_distribution(db_info: dict, n_bins: int = 60, qq_alpha_deg: float = 45.0,
                          energy_MeV: float | None = None) -> dict:
    """:func:`distribution` of the database a run names (``db_info``: its ``path`` and the
    ``sha256`` the run recorded, compared in ``sha256_matches_run``);
    ``{"readable": False, "reason": ...}`` if the file is gone, damaged or all zero.
    ``energy_MeV`` picks the slice of a multi-energy file (ignored for a single-energy one)."""
    path = db_info.get("path", "")
    if not path:
        return {"readable": False, "reason": "the run file records no database path"}
    if not Path(path).is_file():
        return {"readable": False, "reason": f"database file {path} not found"}
    try:
        db = load(path, energy_MeV)
    except InputError as exc:
        return {"readable": False, "reason": str(exc)}
    except (OSError, KeyError, ValueError, RuntimeError) as exc:   # a damaged file: the figure does without
        return {"readable": False, "reason": f"{path}: unreadable ({exc})"}
    dist = distribution(db, n_bins, qq_alpha_deg)
    if not dist["readable"]:
        return {"readable": False, "reason": f"{path}: no positive D_aa"}
    out = {"readable": True, "path": str(path), "sha256": db.sha256,
           "sha256_matches_run": bool(db.sha256 == db_info.get("sha256", ""))}
    out.update((k, v) for k, v in dist.items() if k not in out)
    return out
