"""The ``kind = "drift_diffusion"`` study file: schema, checks and the derived run plan.

One study runs the drift-diffusion PDE (Eq. 28 of Lejosne & Albert 2023) and, optionally, in
the same file, the radial-diffusion solver (``[radial] enabled = true``, Eq. 22-23) and the
test-particle experiment (``[particles] enabled = true``, Eq. 8).

Key names are a contract with users and job templates (issue 5): add keys freely, rename none.
Contract keys: ``kind``, ``seed``; ``[physics]`` ``W_mV_per_m``, ``update_s``, ``energy_keV``,
``L_energy``; ``[grid]`` ``L_min``, ``L_max`` (+ resolution ``dL``, ``n_mlt``); ``[time]``
``duration_h``, ``output_every_s``; ``[initial]`` ``kind`` (``injection``, ``gaussian_L`` with
``L0`` and ``width``, ``file`` with ``path``); ``[particles]`` ``permutations``,
``per_permutation``, ``duration_h``; ``[radial]`` ``enabled``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..config import Key, TableList, apply_overrides, non_negative, positive, read_toml, validate
from ..errors import InputError
from . import initial as ic
from .grid import Grid

_NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_.\-]*$")
PAPER_PROBE = {"name": "L3.5_22MLT", "L_lo": 3.45, "L_hi": 3.55, "mlt_lo_h": 21.75, "mlt_hi_h": 22.25}


def _L(v):
    return None if v > 1.0 else "expected L > 1"


def _mlt(v):
    return None if 0.0 <= v <= 24.0 else "expected an MLT in [0, 24] h"


SCHEMA = {
    "kind": Key("str", doc="study type", choices=("drift_diffusion",)),
    "seed": Key("int", 0, doc="study seed; the w sequence, each permutation and its particles derive "
                              "from (seed, permutation index) only", check=non_negative),
    "title": Key("str", "", doc="free-text title stored in the output"),
    "physics": {
        "W_mV_per_m": Key("float", 0.5, "mV/m", "standard deviation W of the potential fluctuation w", check=positive),
        "update_s": Key("float", 200.0, "s", "update time T of the piecewise-constant w", check=positive),
        "energy_keV": Key("float", 200.0, "keV", "electron kinetic energy at L_energy (fixes the first invariant)",
                          check=positive),
        "L_energy": Key("float", 3.0, "", "L where energy_keV is given", check=_L),
        "corotation": Key("bool", True, doc="include corotation in the drift frequency"),
        "earth_radius_km": Key("float", 6370.0, "km", "Earth radius R_E (the paper's 6370 km)", check=positive),
        "B_E_nT": Key("float", 30000.0, "nT", "equatorial surface field B_E", check=positive),
    },
    "grid": {
        "L_min": Key("float", 2.0, "", "inner edge of the (L, MLT) domain", check=_L),
        "L_max": Key("float", 8.0, "", "outer edge of the domain", check=_L),
        "dL": Key("float", 0.025, "", "cell width in L; (L_max - L_min) / dL must be an integer", check=positive),
        "n_mlt": Key("int", 288, "", "MLT cells over 24 h (288 = 5 min of MLT)",
                     check=lambda v: None if v >= 4 else "expected at least 4"),
        "boundary_L_min": Key("str", "fixed", doc="'fixed' (ghost ring of value F_L_min one cell inside) "
                                                  "or 'zero_flux'", choices=("fixed", "zero_flux")),
        "boundary_L_max": Key("str", "fixed", doc="'fixed' (ghost ring of value F_L_max one cell outside) "
                                                  "or 'zero_flux'", choices=("fixed", "zero_flux")),
        "F_L_min": Key("float", 0.0, "", "F beyond the inner edge (0 = absorbing)", check=non_negative),
        "F_L_max": Key("float", 0.0, "", "F beyond the outer edge (0 = absorbing)", check=non_negative),
    },
    "time": {
        "duration_h": Key("float", 24.0, "h", "simulated time of the PDE (and of the radial solver)", check=positive),
        "output_every_s": Key("float", 300.0, "s", "output cadence of every solver", check=positive),
        "dt_s": Key("float", 120.0, "s", "splitting step of the PDE (the drift is exact for any step)",
                    check=positive),
        "method": Key("str", "implicit", doc="y-diffusion: 'implicit' (backward Euler, unconditionally stable) or "
                                             "'explicit' (the paper's; sub-stepped to the positivity limit)",
                      choices=("implicit", "explicit")),
        "kmax": Key("float", 8.0, "MLT cells per ring", "largest slope of the inter-ring stencil (see drift.kernels)",
                    check=lambda v: None if v >= 1 else "expected kmax >= 1"),
    },
    "initial": {
        "kind": Key("str", "injection", doc="initial F", choices=("injection", "gaussian_L", "file")),
        "L0": Key("float", optional=True, doc="gaussian_L: centre in L", check=_L),
        "width": Key("float", optional=True, doc="gaussian_L: standard deviation in L", check=positive),
        "path": Key("str", optional=True, doc="file: HDF5 file (relative to the study file) with F [L, mlt] "
                                              "or [time, L, mlt], L_grid and mlt_h"),
        "dataset": Key("str", "F", doc="file: dataset holding F (e.g. 'pde/F' of a previous run)"),
        "time_index": Key("int", -1, doc="file: time index if the dataset is 3-D"),
    },
    "probe": TableList({
        "name": Key("str", doc="probe name"),
        "L_lo": Key("float", doc="inner L edge", check=_L),
        "L_hi": Key("float", doc="outer L edge", check=_L),
        "mlt_lo_h": Key("float", unit="h", doc="start MLT (the box may wrap through midnight)", check=_mlt),
        "mlt_hi_h": Key("float", unit="h", doc="end MLT", check=_mlt),
    }, doc="(L, MLT) boxes where F is averaged in the measure L^-2 dL dphi; default: the paper's "
           "L = 3.5 +- 0.05, 22:00 +- 00:15 MLT", min_items=0),
    "radial": {
        "enabled": Key("bool", False, doc="also run the radial-diffusion solver from the MLT average of the "
                                          "initial F"),
        "D_LL": Key("str", "drift_averaged", doc="'drift_averaged' (Eq. 21: K L^6 / 2) or 'power_law' "
                                                 "(D0_per_day L^power)", choices=("drift_averaged", "power_law")),
        "D0_per_day": Key("float", optional=True, unit="1/day", doc="power_law: D_LL at L = 1", check=positive),
        "power": Key("float", 10.0, doc="power_law: exponent of L"),
        "theta": Key("float", 1.0, doc="1 = backward Euler (non-negative), 0.5 = Crank-Nicolson",
                     check=lambda v: None if 0.5 <= v <= 1 else "expected 0.5 <= theta <= 1"),
        "dt_s": Key("float", 60.0, "s", "time step", check=positive),
    },
    "particles": {
        "enabled": Key("bool", False, doc="also run the test-particle experiment (needs initial.kind = 'injection')"),
        "permutations": Key("int", 200, doc="number P of permutations of the w sequence", check=positive),
        "per_permutation": Key("int", 10000, doc="particles N per permutation", check=positive),
        "duration_h": Key("float", 18.0, "h", "tracking time (positions every time.output_every_s)", check=positive),
        "dt_max_s": Key("float", 100.0, "s", "largest RK4 step (steps end on every update of w and output)",
                        check=positive),
        "coarsen_L": Key("int", 4, doc="per-permutation F is binned on the PDE grid with cells merged by this "
                                       "factor in L", check=positive),
        "coarsen_mlt": Key("int", 6, doc="... and by this factor in MLT", check=positive),
        "L_escape": Key("float", 15.0, "", "particles beyond this L are dropped (the model blows up far out)",
                        check=_L),
        "keep_positions": Key("bool", False, doc="store raw trajectories particles/positions [perm, N, time, 2] "
                                                 "(X, Y in Earth radii; large)"),
    },
}


@dataclass
class Study:
    """A validated drift-diffusion study with everything derived that every rank needs."""

    path: str
    text: str
    doc: dict
    grid: Grid
    F0: np.ndarray
    probes: list
    overrides: tuple = ()

    @property
    def seed(self) -> int:
        return self.doc["seed"]

    @property
    def physics(self) -> dict:
        return self.doc["physics"]

    @property
    def duration_s(self) -> float:
        return self.doc["time"]["duration_h"] * 3600.0

    @property
    def output_every_s(self) -> float:
        return self.doc["time"]["output_every_s"]

    @property
    def out_t(self) -> np.ndarray:
        n = int(round(self.duration_s / self.output_every_s))
        return self.output_every_s * np.arange(n + 1)

    @property
    def particles_on(self) -> bool:
        return self.doc["particles"]["enabled"]

    @property
    def radial_on(self) -> bool:
        return self.doc["radial"]["enabled"]

    @property
    def bin_grid(self) -> Grid:
        p = self.doc["particles"]
        return self.grid.coarsened(p["coarsen_L"], p["coarsen_mlt"])

    def probe_boxes(self):
        return tuple((p["L_lo"], p["L_hi"], p["mlt_lo_h"], p["mlt_hi_h"]) for p in self.probes)


def _divides(total, step, where):
    n = total / step
    if abs(n - round(n)) > 1e-6 * max(n, 1.0) or round(n) < 1:
        raise InputError(f"{where}: {step:g} s must divide {total:g} s into a whole number of outputs")


def load_study(path: str | Path, overrides: list[str] | None = None) -> Study:
    """Read, validate and derive a drift-diffusion study; every problem is an InputError."""
    path = Path(path)
    raw, text = read_toml(path)
    raw = apply_overrides(raw, overrides, str(path))
    doc = validate(raw, SCHEMA, str(path))
    src = str(path)
    g = doc["grid"]
    if g["L_max"] <= g["L_min"]:
        raise InputError(f"{src}: grid.L_max: expected a value above L_min = {g['L_min']:g}, got {g['L_max']:g}")
    try:
        grid = Grid(g["L_min"], g["L_max"], g["dL"], g["n_mlt"])
    except InputError as exc:
        raise InputError(f"{src}: {exc}") from None
    t = doc["time"]
    _divides(t["duration_h"] * 3600.0, t["output_every_s"], f"{src}: time.output_every_s")

    ini = dict(doc["initial"])
    if ini["kind"] == "gaussian_L" and (ini["L0"] is None or ini["width"] is None):
        raise InputError(f"{src}: initial: kind = 'gaussian_L' needs L0 and width")
    if ini["kind"] == "file":
        if ini["path"] is None:
            raise InputError(f"{src}: initial.path: required for kind = 'file'")
        ini["path"] = str((path.parent / ini["path"]).resolve())
    try:
        F0 = ic.make_initial(grid, ini)
    except InputError as exc:
        raise InputError(f"{src}: {exc}") from None

    probes = doc["probe"] or [dict(PAPER_PROBE)]
    seen = set()
    for i, p in enumerate(probes):
        if not _NAME_RE.match(p["name"]) or p["name"] in seen:
            raise InputError(f"{src}: probe[{i}].name: expected a unique name of letters, digits, '_', '-', '.', "
                             f"got {p['name']!r}")
        seen.add(p["name"])
        if p["L_hi"] <= p["L_lo"]:
            raise InputError(f"{src}: probe[{i}].L_hi: expected a value above L_lo = {p['L_lo']:g}")
        if p["mlt_hi_h"] == p["mlt_lo_h"]:
            raise InputError(f"{src}: probe[{i}].mlt_hi_h: the MLT interval is empty")

    r = doc["radial"]
    if r["enabled"] and r["D_LL"] == "power_law" and r["D0_per_day"] is None:
        raise InputError(f"{src}: radial.D0_per_day: required for D_LL = 'power_law'")

    p = doc["particles"]
    if p["enabled"]:
        if ini["kind"] != "injection":
            raise InputError(f"{src}: particles.enabled: the particles represent F = 1 over the injection "
                             f"region, so initial.kind must be 'injection', got {ini['kind']!r}")
        _divides(p["duration_h"] * 3600.0, t["output_every_s"], f"{src}: time.output_every_s (particles)")
        if grid.n_L % p["coarsen_L"] or grid.n_mlt % p["coarsen_mlt"]:
            raise InputError(f"{src}: particles.coarsen_L/coarsen_mlt: ({p['coarsen_L']}, {p['coarsen_mlt']}) must "
                             f"divide the grid size ({grid.n_L}, {grid.n_mlt})")
    return Study(str(path), text, doc, grid, F0, probes, tuple(overrides or ()))
