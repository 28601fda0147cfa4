"""Database building blocks: the unit-intensity table, its interpolation, pairs, the file.

Because D is exactly linear in the intensity Y (with spectrum shape, X and B_eq fixed),
every observation's profile is D_i(a0) = Y_i D1(a0; X_i, B_eq,i), where D1 is the profile
for Y = 1 nT^2/Hz.  D1 is tabulated on a grid uniform in log X and in B_eq spanning the
pairs, and interpolated bilinearly in (log X, B_eq) *in log D1* (geometric weights), which
follows the near-exponential fall of D at the cut-off angle far better than linear weights;
where a corner is exactly 0 (no resonance) the weights fall back to linear in D1 so that
zeros stay zeros.  See tests/dxx/test_database.py for the measured interpolation error.

The file format is the contract with the pitch-angle solver (hpcbelt.pitch_angle.database):

    alpha_deg (n_alpha) deg; daa (n_profiles, n_alpha) 1/s; daa_of_mean_inputs (n_alpha) 1/s;
    daa_mean (n_alpha) 1/s; X (n) 1; Y (n) nT^2/Hz; B_eq_nT (n) nT;
    root attributes L, energy_MeV, format = "hpcbelt.daa_database", format_version = 1,
    wave_model, description, hpcbelt_version, provenance (JSON).

Nothing in the file depends on the time of writing or on the number of MPI ranks, so the
same command gives the same bytes.
"""

from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import InputError

FORMAT = "hpcbelt.daa_database"
FORMAT_VERSION = 1


# --------------------------------------------------------------------------------------
# table grid and interpolation
# --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class TableGrid:
    """Nodes of the unit-intensity table: X uniform in log10, B_eq uniform."""

    X: np.ndarray
    B_eq_nT: np.ndarray

    @property
    def nodes(self) -> list[tuple[float, float]]:
        """(X, B_eq) of every table entry, B-major: entry k = iB * nX + iX."""
        return [(float(x), float(b)) for b in self.B_eq_nT for x in self.X]


def table_grid(X: np.ndarray, B_eq_nT: np.ndarray, dlog10_X: float, dB_rel: float) -> TableGrid:
    """The smallest grid with spacing <= ``dlog10_X`` in log10 X and <= ``dB_rel`` (relative
    to the mean B_eq) in B_eq that spans [min, max] of the pairs exactly."""
    lo, hi = float(np.min(X)), float(np.max(X))
    nx = max(2, int(math.ceil(math.log10(hi / lo) / dlog10_X - 1e-9)) + 1) if hi > lo else 1
    xg = np.geomspace(lo, hi, nx) if nx > 1 else np.array([lo])
    blo, bhi = float(np.min(B_eq_nT)), float(np.max(B_eq_nT))
    span = (bhi - blo) / (0.5 * (bhi + blo))
    nb = max(2, int(math.ceil(span / dB_rel - 1e-9)) + 1) if bhi > blo else 1
    bg = np.linspace(blo, bhi, nb) if nb > 1 else np.array([blo])
    return TableGrid(X=xg, B_eq_nT=bg)


def _bracket(grid: np.ndarray, v: np.ndarray, log: bool):
    """Lower index and weight of ``v`` in ``grid`` (clipped to the grid)."""
    if grid.size == 1:
        return np.zeros(v.size, dtype=np.int64), np.zeros(v.size)
    g = np.log(grid) if log else grid
    x = np.log(v) if log else v
    j = np.clip(np.searchsorted(g, x, side="right") - 1, 0, g.size - 2)
    w = np.clip((x - g[j]) / (g[j + 1] - g[j]), 0.0, 1.0)
    return j, w


def interpolate_table(grid: TableGrid, table: np.ndarray, X: np.ndarray,
                      B_eq_nT: np.ndarray) -> np.ndarray:
    """D1 at each pair: bilinear in (log X, B_eq), geometric in D1 where all corners > 0.

    ``table`` has shape (nB, nX, n_alpha).  Returns (n_pairs, n_alpha).
    """
    X = np.asarray(X, float)
    B = np.asarray(B_eq_nT, float)
    ix, wx = _bracket(grid.X, X, log=True)
    ib, wb = _bracket(grid.B_eq_nT, B, log=False)
    nx, nb = grid.X.size, grid.B_eq_nT.size
    ix1 = np.minimum(ix + 1, nx - 1)
    ib1 = np.minimum(ib + 1, nb - 1)
    corners = (table[ib, ix], table[ib, ix1], table[ib1, ix], table[ib1, ix1])
    weights = ((1 - wb) * (1 - wx), (1 - wb) * wx, wb * (1 - wx), wb * wx)
    lin = sum(w[:, None] * c for w, c in zip(weights, corners))
    positive = np.all([c > 0 for c in corners], axis=0)
    with np.errstate(divide="ignore"):
        logs = sum(w[:, None] * np.log(np.where(positive, c, 1.0))
                   for w, c in zip(weights, corners))
    return np.where(positive, np.exp(logs), lin)


# --------------------------------------------------------------------------------------
# pairs from CSV
# --------------------------------------------------------------------------------------

def read_pairs_csv(path: str | Path, default_B_eq_nT: float):
    """Read ``X, Y[, B_eq_nT]`` columns; every bad row is reported (row numbers from 1 for the
    first data row, i.e. file line - 1), and nothing is returned if any is bad.

    Returns (X, Y, B_eq_nT) float arrays.
    """
    p = Path(path)
    if not p.is_file():
        raise InputError(f"pairs file {p}: not found")
    try:
        with open(p, newline="", encoding="utf-8") as fh:
            rows = list(csv.reader(fh))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise InputError(f"pairs file {p}: cannot read ({exc})") from None
    rows = [r for r in rows if r and not (len(r) == 1 and not r[0].strip())]
    if not rows:
        raise InputError(f"pairs file {p}: empty; expected a header line with columns X, Y "
                         "(optional B_eq_nT)")
    header = [h.strip() for h in rows[0]]
    for need in ("X", "Y"):
        if need not in header:
            raise InputError(f"pairs file {p}: no column '{need}' in header {header}; expected "
                             "columns X (omega_pe/Omega_e at the equator), Y (intensity at the "
                             "reference frequency, nT^2/Hz), optional B_eq_nT")
    ix, iy = header.index("X"), header.index("Y")
    ib = header.index("B_eq_nT") if "B_eq_nT" in header else None
    X, Y, B, problems = [], [], [], []
    rules = (("X", "finite X > 1", lambda v: math.isfinite(v) and v > 1.0),
             ("Y", "finite Y >= 0 nT^2/Hz", lambda v: math.isfinite(v) and v >= 0.0),
             ("B_eq_nT", "finite B_eq_nT > 0", lambda v: math.isfinite(v) and v > 0.0))
    for k, r in enumerate(rows[1:], start=1):
        vals = []
        for (name, expect, ok), i in zip(rules, (ix, iy, ib)):
            if i is None:
                v = float(default_B_eq_nT)
            else:
                text = r[i].strip() if i < len(r) else ""
                try:
                    v = float(text)
                except ValueError:
                    problems.append(f"row {k}: {name} = {text or '(empty)'!r} is not a number "
                                    f"(expected {expect})")
                    vals.append(math.nan)
                    continue
            if not ok(v):
                problems.append(f"row {k}: {name} = {v} (expected {expect})")
            vals.append(v)
        X.append(vals[0])
        Y.append(vals[1])
        B.append(vals[2])
    if not X:
        raise InputError(f"pairs file {p}: no data rows")
    if problems:
        shown = "; ".join(problems[:20])
        more = f"; ... {len(problems) - 20} more" if len(problems) > 20 else ""
        raise InputError(f"pairs file {p}: {len(problems)} bad value(s), nothing written: "
                         f"{shown}{more}")
    return np.array(X), np.array(Y), np.array(B)


# --------------------------------------------------------------------------------------
# checks and the file
# --------------------------------------------------------------------------------------

def check_arrays(alpha_deg, daa, where: str, daa_of_mean_inputs=None) -> None:
    """The loader's checks (hpcbelt.pitch_angle.database.load) on in-memory arrays."""
    alpha = np.asarray(alpha_deg, float)
    d = np.asarray(daa, float)
    if alpha.ndim != 1 or alpha.size < 2:
        raise InputError(f"{where}: pitch-angle grid has shape {alpha.shape}; expected "
                         "(n_alpha,) with n_alpha >= 2")
    if not np.all(np.isfinite(alpha)) or np.any(np.diff(alpha) <= 0) or alpha[0] < 0 \
            or alpha[-1] > 90:
        raise InputError(f"{where}: pitch-angle grid must be strictly increasing within "
                         "[0, 90] deg")
    if d.ndim != 2 or d.shape[1] != alpha.size or d.shape[0] < 1:
        raise InputError(f"{where}: profiles have shape {d.shape}; expected (n_profiles, "
                         f"{alpha.size}) to match the pitch-angle grid")
    for name, arr in (("daa", d), ("daa_of_mean_inputs", daa_of_mean_inputs)):
        if arr is None:
            continue
        arr = np.asarray(arr, float)
        bad = np.argwhere(~np.isfinite(arr))
        if bad.size:
            raise InputError(f"{where}: {name} has non-finite values (first at index "
                             f"{tuple(int(i) for i in bad[0])}); expected finite D >= 0 in 1/s")
        neg = np.argwhere(arr < 0)
        if neg.size:
            i = tuple(int(v) for v in neg[0])
            raise InputError(f"{where}: {name} has negative values (first at index {i}: "
                             f"{arr[i]:.3g}); expected D >= 0 in 1/s")


def write(path: str | Path, *, alpha_deg, daa, daa_of_mean_inputs, X, Y, B_eq_nT, L,
          energy_MeV, wave_model: str, description: str, provenance: dict) -> None:
    """Write a database in the contract format, deterministically (no timestamps)."""
    import h5py

    from .. import __version__

    daa = np.ascontiguousarray(daa, dtype=np.float64)
    check_arrays(alpha_deg, daa, f"database {path}", daa_of_mean_inputs)
    n = daa.shape[0]
    for name, v in (("X", X), ("Y", Y), ("B_eq_nT", B_eq_nT)):
        if np.asarray(v).shape != (n,):
            raise InputError(f"database {path}: {name} has shape {np.asarray(v).shape}; "
                             f"expected ({n},)")
    datasets = [
        ("alpha_deg", alpha_deg, "deg", "equatorial pitch angle"),
        ("daa", daa, "1/s", "bounce-averaged <D_aa>/p^2, one profile per observation"),
        ("daa_of_mean_inputs", daa_of_mean_inputs, "1/s",
         "D(<X>, <Y>): one profile from the arithmetic means of X, Y and B_eq"),
        ("daa_mean", daa.mean(axis=0), "1/s", "<D(X_i, Y_i)>: mean of all profiles"),
        ("X", X, "1", "omega_pe / Omega_e at the equator"),
        ("Y", Y, "nT^2/Hz", "wave intensity at the reference frequency"),
        ("B_eq_nT", B_eq_nT, "nT", "equatorial magnetic field"),
    ]
    with h5py.File(path, "w", track_order=False) as fh:
        for name, data, units, desc in datasets:
            if data is None:        # only imports without X, Y may lack D(<X>, <Y>)
                continue
            ds = fh.create_dataset(name, data=np.asarray(data, dtype=np.float64),
                                   track_times=False)
            ds.attrs["units"] = units
            ds.attrs["description"] = desc
        fh.attrs["L"] = float(L)
        fh.attrs["energy_MeV"] = float(energy_MeV)
        fh.attrs["format"] = FORMAT
        fh.attrs["format_version"] = FORMAT_VERSION
        fh.attrs["wave_model"] = wave_model
        fh.attrs["description"] = description
        fh.attrs["hpcbelt_version"] = __version__
        fh.attrs["provenance"] = json.dumps(provenance, sort_keys=True, indent=1)


def content_digest(path: str | Path) -> str:
    """SHA-256 over every dataset's bytes and every attribute (sorted): a rank-count and
    timestamp independent fingerprint for comparing two builds."""
    import hashlib

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
