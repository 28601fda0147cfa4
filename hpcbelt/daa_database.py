"""Diffusion-coefficient databases: HDF5 files of bounce-averaged D_aa profiles.

Format (shared with ``hpcbelt dxx build``):

    alpha_deg            (n_alpha,)             deg, increasing, within [0, 90]
    daa                  (n_profiles, n_alpha)  1/s, finite and >= 0
    daa_of_mean_inputs   (n_alpha,)             1/s, optional: D(<X>, <Y>)
    X, Y                 (n_profiles,)          optional: omega_pe/Omega_e and intensity [nT^2/Hz]
    attributes L, energy_MeV (and units on every dataset)

Profiles are interpolated linearly in pitch angle onto the model grid; beyond the database's
first and last angle the end value is held (D at 0 and 90 deg multiplies a vanishing weight).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import InputError


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
    extra: dict = field(default_factory=dict)

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


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _check_profiles(name: str, arr: np.ndarray, where: str) -> None:
    bad = ~np.isfinite(arr)
    if bad.any():
        idx = np.argwhere(bad)[0]
        raise InputError(f"{where}: dataset '{name}' has non-finite values (first at index "
                         f"{tuple(int(i) for i in idx)}); expected finite D >= 0 in 1/s")
    neg = arr < 0
    if neg.any():
        idx = np.argwhere(neg)[0]
        raise InputError(f"{where}: dataset '{name}' has negative values (first at index "
                         f"{tuple(int(i) for i in idx)}: {arr[tuple(idx)]:.3g}); expected D >= 0 in 1/s")


def load(path: str | Path) -> Database:
    """Read and check a database file; every problem is an :class:`InputError` naming it."""
    import h5py

    p = Path(path)
    where = f"database {p}"
    if not p.is_file():
        raise InputError(f"{where}: file not found (set [database] path, relative to the study file)")
    try:
        fh = h5py.File(p, "r")
    except OSError as exc:
        raise InputError(f"{where}: not a readable HDF5 file ({exc})") from None
    with fh:
        for name in ("alpha_deg", "daa"):
            if name not in fh or not isinstance(fh[name], h5py.Dataset):
                raise InputError(f"{where}: missing dataset '{name}' (expected alpha_deg (n_alpha) "
                                 "and daa (n_profiles, n_alpha) in 1/s)")
        alpha = np.asarray(fh["alpha_deg"][()], float)
        daa = np.asarray(fh["daa"][()], float)
        mean_inputs = None
        if "daa_of_mean_inputs" in fh:
            mean_inputs = np.asarray(fh["daa_of_mean_inputs"][()], float)
        L = fh.attrs.get("L")
        energy = fh.attrs.get("energy_MeV")
        units = fh["daa"].attrs.get("units")
        extra = {k: np.asarray(fh[k][()]) for k in ("X", "Y", "B_eq_nT")
                 if k in fh and isinstance(fh[k], h5py.Dataset)}
    if isinstance(units, bytes):
        units = units.decode()
    if units is not None and str(units).replace(" ", "") not in ("1/s", "s^-1", "s-1"):
        raise InputError(f"{where}: dataset 'daa' has units '{units}'; expected 1/s")
    if alpha.ndim != 1 or alpha.size < 2:
        raise InputError(f"{where}: 'alpha_deg' has shape {alpha.shape}; expected (n_alpha,) with n_alpha >= 2")
    if not np.all(np.isfinite(alpha)) or np.any(np.diff(alpha) <= 0) or alpha[0] < 0 or alpha[-1] > 90:
        raise InputError(f"{where}: 'alpha_deg' must be strictly increasing within [0, 90] deg")
    if daa.ndim != 2 or daa.shape[1] != alpha.size or daa.shape[0] < 1:
        raise InputError(f"{where}: 'daa' has shape {daa.shape}; expected (n_profiles, {alpha.size}) "
                         "to match alpha_deg")
    _check_profiles("daa", daa, where)
    if mean_inputs is not None:
        if mean_inputs.shape != alpha.shape:
            raise InputError(f"{where}: 'daa_of_mean_inputs' has shape {mean_inputs.shape}; "
                             f"expected ({alpha.size},)")
        _check_profiles("daa_of_mean_inputs", mean_inputs, where)
    for k, v in extra.items():
        if v.shape != (daa.shape[0],):
            raise InputError(f"{where}: '{k}' has shape {v.shape}; expected ({daa.shape[0]},)")
    return Database(str(p), alpha, daa, mean_inputs,
                    None if L is None else float(L), None if energy is None else float(energy),
                    _sha256(p), extra)


def write(path: str | Path, alpha_deg, daa, daa_of_mean_inputs=None, L=None, energy_MeV=None,
          **attrs) -> None:
    """Write a database file in the format above (used by tests and ``hpcbelt dxx``)."""
    import h5py

    with h5py.File(path, "w") as fh:
        fh.create_dataset("alpha_deg", data=np.asarray(alpha_deg, float)).attrs["units"] = "deg"
        fh.create_dataset("daa", data=np.asarray(daa, float)).attrs["units"] = "1/s"
        daa = np.asarray(daa, float)
        if daa.ndim == 2:
            fh.create_dataset("daa_mean", data=daa.mean(axis=0)).attrs["units"] = "1/s"
        if daa_of_mean_inputs is not None:
            fh.create_dataset("daa_of_mean_inputs",
                              data=np.asarray(daa_of_mean_inputs, float)).attrs["units"] = "1/s"
        if L is not None:
            fh.attrs["L"] = float(L)
        if energy_MeV is not None:
            fh.attrs["energy_MeV"] = float(energy_MeV)
        fh.attrs["format"] = "hpcbelt.daa_database"
        fh.attrs["format_version"] = 1
        for k, v in attrs.items():
            fh.attrs[k] = v
