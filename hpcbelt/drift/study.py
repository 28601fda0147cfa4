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

A study over energies (issue 15): ``[physics] energy_keV`` a list.  The whole study (PDE, radial
solver, particles) runs at each energy, with the same permutations of the same w; the run file
holds one group ``E<energy>keV`` per energy, each with the single-energy layout
(:mod:`hpcbelt.drift.runfile`).  :meth:`Study.slices` gives the single-energy studies; with
``[particles] max_drift_angle_per_step_rad`` each picks the RK4 step that resolves its drift.
A scalar ``energy_keV`` is the single-energy study and layout, unchanged.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from .. import resources
from ..config import Key, StudyFile, TableList, apply_overrides, non_negative, validate
from ..errors import InputError
from ..lmlt import BOUNDARY_KINDS, INJECTION_REGIONS, PAPER_PROBE, PAPER_PROBE_NAME, Box, Grid
from . import coefficients as co
from . import initial as ic

_NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_.\-]*$")


def within(name: str, lo: float, hi: float, *, above: bool = False, unit: str = ""):
    """A schema check ``lo <= value <= hi`` (``lo < value`` with ``above``) whose message names
    the key and its range, e.g. 'expected 1 < L_min <= 100'."""
    op = "<" if above else "<="

    def check(v):
        if (lo < v if above else lo <= v) and v <= hi:
            return None
        return f"expected {lo:g} {op} {name} <= {hi:g}{unit}"

    return check


def each(check):
    """A schema check applied to a number or to every number of a list."""

    def check_all(v):
        for x in (v if isinstance(v, list) else [v]):
            problem = check(x)
            if problem:
                return problem
        return None

    return check_all


def _L(name: str):
    # the dipole drift physics holds from the surface (L = 1) out to far beyond the
    # magnetopause (~10); L = 100 is the pitch-angle study's bound too
    return within(name, 1.0, L_MAX, above=True)


def _mlt(v):
    return None if 0.0 <= v <= 24.0 else "expected an MLT in [0, 24] h"


# --- the ranges of the keys (issue 11): generous for any radiation-belt study, and such that
# every count derived from them (cells, outputs, steps, updates of w) stays a finite number that
# the memory checks in load_study then bound ------------------------------------------------
L_MAX = 100.0
MAX_DURATION_H = 1e5          # 11 years: a solar cycle
MAX_DURATION_S = MAX_DURATION_H * 3600.0
MIN_STEP_S = 1e-3             # every step and cadence: with the longest duration at most 3.6e11 of them
MAX_F = 1e100                 # F^2 (the aggregation's variances) stays far from overflow
MAX_CELLS_PER_AXIS = 1e6      # n_mlt = 1e6 is 0.09 s of MLT per cell; coarsening and kmax alike
MAX_PERMUTATIONS = 1e6        # the paper's 200 x 5000; one work-list entry each on every rank
MAX_PARTICLES = 1e9           # per permutation: the paper's 10,000 x 1e5


SCHEMA = {
    "kind": Key("str", doc="study type", choices=("drift_diffusion",)),
    "seed": Key("int", 0, doc="study seed; the w sequence, each permutation and its particles derive "
                              "from (seed, permutation index) only", check=non_negative),
    "title": Key("str", "", doc="free-text title stored in the output"),
    "physics": {
        # measured inner-magnetosphere fields are 0.1-10 mV/m (tens in the largest storms); above 1 V/m
        # nothing is physical, below 1 nV/m K (~ W^2) heads for underflow
        "W_mV_per_m": Key("float", 0.5, "mV/m", "standard deviation W of the potential fluctuation w",
                          check=within("W_mV_per_m", 1e-6, 1e3, unit=" mV/m")),
        # from 1 ms to ~4 months: longer than any fluctuation model's correlation time
        "update_s": Key("float", 200.0, "s", "update time T of the piecewise-constant w "
                        "(noise = 'ornstein_uhlenbeck': the step at which the particles sample w)",
                        check=within("update_s", MIN_STEP_S, 1e7, unit=" s")),
        # 1 eV to 10 GeV, the pitch-angle study's 1e-6 <= energy_MeV <= 1e4
        # issue 15: beyond the paper's T << drift period
        "noise": Key("str", "piecewise_constant", doc="the fluctuation w(t): 'piecewise_constant' (the paper's: "
                     "independent Gaussian values held for update_s) or 'ornstein_uhlenbeck' (exponentially "
                     "correlated over correlation_s; the particles sample it every update_s)", choices=co.NOISES),
        "correlation_s": Key("float", unit="s", optional=True, doc="ornstein_uhlenbeck: correlation time tau_c of w; "
                             "update_s (its sampling step) must be <= correlation_s / 5",
                             check=within("correlation_s", MIN_STEP_S, 1e7, unit=" s")),
        "coefficients": Key("str", "paper", doc="'paper': Eq. 12 and 21 (T << drift period); 'finite_update': "
                            "the spectral density of w at each L's drift frequency, W^2 T sinc^2(Omega T / 2) "
                            "or 2 W^2 tau_c / (1 + Omega^2 tau_c^2) (hpcbelt.drift.coefficients); for the PDE "
                            "and the radial solver", choices=co.COEFFICIENTS),
        "energy_keV": Key("float_or_list", 200.0, "keV", "electron kinetic energy at L_energy (fixes the first "
                          "invariant): one value, or a list of strictly increasing energies (a study over energies: "
                          "the whole study at each energy, one run-file group E<energy>keV per energy)",
                          check=each(within("energy_keV", 1e-3, 1e7, unit=" keV"))),
        "L_energy": Key("float", 3.0, "", "L where energy_keV is given", check=_L("L_energy")),
        "corotation": Key("bool", True, doc="include corotation in the drift frequency"),
        # the pitch-angle study's range: any magnetised planet
        "earth_radius_km": Key("float", 6370.0, "km", "Earth radius R_E (the paper's 6370 km)",
                               check=within("earth_radius_km", 1e3, 1e6, unit=" km")),
        # Mercury's ~200 nT to Jupiter's 4.2e5 nT, with a margin
        "B_E_nT": Key("float", 30000.0, "nT", "equatorial surface field B_E",
                      check=within("B_E_nT", 1.0, 1e7, unit=" nT")),
    },
    "grid": {
        "L_min": Key("float", 2.0, "", "inner edge of the (L, MLT) domain", check=_L("L_min")),
        "L_max": Key("float", 8.0, "", "outer edge of the domain", check=_L("L_max")),
        "dL": Key("float", 0.025, "", "cell width in L; (L_max - L_min) / dL must be an integer",
                  check=within("dL", 1e-6, L_MAX - 1.0)),
        "n_mlt": Key("int", 288, "", "MLT cells over 24 h (288 = 5 min of MLT)",
                     check=within("n_mlt", 4, MAX_CELLS_PER_AXIS)),
        "boundary_L_min": Key("str", "fixed", doc="'fixed' (F = F_L_min held on L_min itself) "
                                                  "or 'zero_flux'", choices=BOUNDARY_KINDS),
        "boundary_L_max": Key("str", "fixed", doc="'fixed' (F = F_L_max held on L_max itself) "
                                                  "or 'zero_flux'", choices=BOUNDARY_KINDS),
        "F_L_min": Key("float", 0.0, "", "F held on the inner edge L_min (0 = absorbing)",
                       check=within("F_L_min", 0.0, MAX_F)),
        "F_L_max": Key("float", 0.0, "", "F held on the outer edge L_max (0 = absorbing)",
                       check=within("F_L_max", 0.0, MAX_F)),
    },
    "time": {
        "duration_h": Key("float", 24.0, "h", "simulated time of the PDE (and of the radial solver)",
                          check=within("duration_h", 0.0, MAX_DURATION_H, above=True, unit=" h")),
        "output_every_s": Key("float", 300.0, "s", "output cadence of every solver",
                              check=within("output_every_s", MIN_STEP_S, MAX_DURATION_S, unit=" s")),
        "dt_s": Key("float", 120.0, "s", "splitting step of the PDE (the drift is exact for any step)",
                    check=within("dt_s", MIN_STEP_S, MAX_DURATION_S, unit=" s")),
        # the choices are drift.solver.METHODS (not imported here: it loads the numba kernels)
        "method": Key("str", "implicit", doc="y-diffusion: 'implicit' (backward Euler, unconditionally stable) or "
                                             "'explicit' (the paper's; sub-stepped to the positivity limit)",
                      choices=("implicit", "explicit")),
        "kmax": Key("float", 8.0, "MLT cells per ring", "largest slope of the inter-ring stencil (see drift.kernels)",
                    check=within("kmax", 1.0, MAX_CELLS_PER_AXIS)),
    },
    "initial": {
        "kind": Key("str", "injection", doc="initial F", choices=ic.KINDS),
        "L0": Key("float", optional=True, doc="gaussian_L: centre in L", check=_L("L0")),
        "width": Key("float", optional=True, doc="gaussian_L: standard deviation in L",
                     check=within("width", 1e-6, L_MAX)),
        "path": Key("str", optional=True, doc="file: HDF5 file (relative to the study file) with F [L, mlt] "
                                              "or [time, L, mlt], L_grid and mlt_h"),
        "dataset": Key("str", "F", doc="file: dataset holding F (e.g. 'pde/F' of a previous run)"),
        "time_index": Key("int", -1, doc="file: time index if the dataset is 3-D"),
    },
    "probe": TableList({
        "name": Key("str", doc="probe name"),
        "L_lo": Key("float", doc="inner L edge", check=_L("L_lo")),
        "L_hi": Key("float", doc="outer L edge", check=_L("L_hi")),
        "mlt_lo_h": Key("float", unit="h", doc="start MLT (the box may wrap through midnight)", check=_mlt),
        "mlt_hi_h": Key("float", unit="h", doc="end MLT", check=_mlt),
    }, doc="(L, MLT) boxes where F is averaged in the measure L^-2 dL dphi; default: the paper's "
           "L = 3.5 +- 0.05, 22:00 +- 00:15 MLT", min_items=0),
    "radial": {
        "enabled": Key("bool", False, doc="also run the radial-diffusion solver from the MLT average of the "
                                          "initial F"),
        "D_LL": Key("str", "drift_averaged", doc="'drift_averaged' (Eq. 21: K L^6 / 2) or 'power_law' "
                                                 "(D0_per_day L^power)", choices=("drift_averaged", "power_law")),
        # Kp-driven laws give 1e-10..1e-4 /day at L = 1; the range leaves D0 L^power finite on any grid
        "D0_per_day": Key("float", optional=True, unit="1/day", doc="power_law: D_LL at L = 1",
                          check=within("D0_per_day", 1e-30, 1e6, unit=" 1/day")),
        # published power laws have 6 to 11 (Eq. 21's drift average: 6)
        "power": Key("float", 10.0, doc="power_law: exponent of L", check=within("power", -20.0, 20.0)),
        "theta": Key("float", 1.0, doc="1 = backward Euler (non-negative), 0.5 = Crank-Nicolson",
                     check=lambda v: None if 0.5 <= v <= 1 else "expected 0.5 <= theta <= 1"),
        "dt_s": Key("float", 60.0, "s", "time step", check=within("dt_s", MIN_STEP_S, MAX_DURATION_S, unit=" s")),
    },
    "particles": {
        "enabled": Key("bool", False, doc="also run the test-particle experiment (needs initial.kind = 'injection')"),
        "permutations": Key("int", 200, doc="number P of permutations of the w sequence",
                            check=within("permutations", 1, MAX_PERMUTATIONS)),
        "per_permutation": Key("int", 10000, doc="particles N per permutation",
                               check=within("per_permutation", 1, MAX_PARTICLES)),
        "duration_h": Key("float", 18.0, "h", "tracking time (positions every time.output_every_s)",
                          check=within("duration_h", 0.0, MAX_DURATION_H, above=True, unit=" h")),
        "dt_max_s": Key("float", 100.0, "s", "largest RK4 step (steps end on every update of w and output)",
                        check=within("dt_max_s", MIN_STEP_S, MAX_DURATION_S, unit=" s")),
        "coarsen_L": Key("int", 4, doc="per-permutation F is binned on the PDE grid with cells merged by this "
                                       "factor in L", check=within("coarsen_L", 1, MAX_CELLS_PER_AXIS)),
        "coarsen_mlt": Key("int", 6, doc="... and by this factor in MLT",
                           check=within("coarsen_mlt", 1, MAX_CELLS_PER_AXIS)),
        # 1000: far beyond any grid (L <= 100); the cross-check asks for L_escape >= grid.L_max
        "L_escape": Key("float", 15.0, "", "particles beyond this L are dropped (the model blows up far out)",
                        check=within("L_escape", 1.0, 1e3, above=True)),
        "keep_positions": Key("bool", False, doc="store raw trajectories particles/positions [perm, N, time, 2] "
                                                 "(X, Y in Earth radii; large)"),
        # issue 15: the RK4 step that resolves the drift, energy by energy
        "max_drift_angle_per_step_rad": Key("float", optional=True, unit="rad", doc="if set, the RK4 step is also at "
                                            "most this angle of the drift at L_energy: min(dt_max_s, angle / Omega), "
                                            "4 significant digits (0.2 keeps the RK4 amplitude loss below 1e-6 per "
                                            "step; needed where the drift period is minutes)",
                                            check=within("max_drift_angle_per_step_rad", 1e-4, 3.0, above=True,
                                                         unit=" rad")),
        "ring_per_permutation": Key("int", 0, doc="ring particles per permutation for the measured D_LL (issue 15): "
                                                  "started on L = L_energy at stratified drift phases, driven by the "
                                                  "permutation's w, recorded at every update of w "
                                                  "(hpcbelt.particles.diffusion); 0 = none",
                                    check=lambda v: None if v == 0 or 2 <= v <= MAX_PARTICLES
                                    else f"expected 0 (none) or 2 <= ring_per_permutation <= {MAX_PARTICLES:g}"),
    },
}


# ------------------------------------------------------------------------------------------
# The validated study, with typed views of its tables (the configuration itself stays in doc)
# ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Physics:
    """``[physics]``: the fluctuation (W, T or tau_c), the electrons (energy at L_energy), the dipole."""

    W_mV_per_m: float
    update_s: float
    energy_keV: float
    L_energy: float
    corotation: bool
    R_E_m: float
    B_E_nT: float
    noise: str = "piecewise_constant"
    correlation_s: float | None = None
    coefficients: str = "paper"

    @property
    def K_per_s(self) -> float:
        """``K = S_w(0) / (2 B_E^2 R_E^2)``, the prefactor of every diffusion coefficient in the
        paper's ordering (Eq. 12): ``W^2 T / (2 B_E^2 R_E^2)``, with T = 2 tau_c for OU noise."""
        return float(self.K_of_omega(0.0, coefficients="paper"))

    def K_of_omega(self, omega_rad_per_s, coefficients: str | None = None):
        """K_eff at drift frequencies ``omega_rad_per_s`` (:func:`coefficients.effective_K_per_s`)."""
        return co.effective_K_per_s(self.W_mV_per_m, omega_rad_per_s,
                                    coefficients=self.coefficients if coefficients is None else coefficients,
                                    noise=self.noise, update_s=self.update_s, correlation_s=self.correlation_s,
                                    R_E_m=self.R_E_m, B_E_nT=self.B_E_nT)

    def omega_rad_per_s(self, L):
        """The unperturbed drift frequency at ``L`` of the study's electrons (first invariant fixed)."""
        from .. import dipole

        M = dipole.first_invariant_J_per_T(self.energy_keV, self.L_energy, self.B_E_nT)
        return dipole.drift_angular_frequency_rad_per_s(M, L, corotation=self.corotation, R_E_m=self.R_E_m,
                                                        B_E_nT=self.B_E_nT)


@dataclass(frozen=True)
class Edges:
    """``[grid]`` boundary keys: kind and value held on the edges (L_min, L_max), for the PDE and the radial solver."""

    kinds: tuple
    values: tuple


@dataclass(frozen=True)
class Timing:
    """``[time]``: the PDE's (and the radial solver's) duration and output cadence, the splitting step."""

    duration_s: float
    output_every_s: float
    dt_s: float
    method: str
    kmax: float


@dataclass(frozen=True)
class Radial:
    """``[radial]``."""

    enabled: bool
    D_LL: str
    D0_per_day: float | None
    power: float
    theta: float
    dt_s: float


@dataclass(frozen=True)
class Particles:
    """``[particles]`` (``duration_s`` from ``duration_h``)."""

    enabled: bool
    permutations: int
    per_permutation: int
    duration_s: float
    dt_max_s: float
    coarsen_L: int
    coarsen_mlt: int
    L_escape: float
    keep_positions: bool
    max_drift_angle_per_step_rad: float | None = None
    ring_per_permutation: int = 0


@dataclass(frozen=True)
class Probe:
    """One ``[[probe]]``: a name and an (L, MLT) box."""

    name: str
    box: Box


@dataclass(frozen=True)
class Study:
    """A validated drift-diffusion study with everything derived that every rank needs.

    ``doc`` is the validated configuration (stored in the run file and compared on restart);
    ``physics``, ``time``, ``edges``, ``radial`` and ``particles`` are typed views of its tables.
    """

    def __repr__(self) -> str:      # one line, not every array (config.study_repr)
        from ..config import study_repr
        return study_repr(self)

    path: str
    text: str
    doc: dict
    grid: Grid
    F0: np.ndarray
    probes: tuple            # of Probe
    physics: Physics
    time: Timing
    edges: Edges
    radial: Radial
    particles: Particles
    overrides: tuple = ()
    energies_keV: tuple = ()     # a study over energies: its energies [keV]; () for one energy
    group: str = ""              # one energy of a study over energies: its run-file group ("" otherwise)

    @property
    def over_energies(self) -> bool:
        """True for a study over energies (``[physics] energy_keV`` a list), not for one of its slices."""
        return bool(self.energies_keV) and not self.group

    def slices(self) -> list:
        """The single-energy studies this study runs: itself for one energy; for a study over
        energies one per energy (:meth:`at_energy`), in the order of ``energies_keV``."""
        if not self.over_energies:
            return [self]
        return [self.at_energy(k) for k in range(len(self.energies_keV))]

    def at_energy(self, k: int):
        """The study at its ``k``-th energy: physics.energy_keV that energy, the particles' RK4
        step chosen for it (``max_drift_angle_per_step_rad``), ``group`` its run-file group."""
        E = float(self.energies_keV[k])
        ph = replace(self.physics, energy_keV=E)
        pa = replace(self.particles, dt_max_s=rk4_step_s(ph, self.particles))
        return replace(self, physics=ph, particles=pa, group=energy_group(E))

    @property
    def energy_index(self) -> int:
        """The index of this slice's energy in ``energies_keV`` (-1 for a study of one energy)."""
        if not self.group:
            return -1
        return [energy_group(E) for E in self.energies_keV].index(self.group)

    @property
    def schema(self) -> dict:
        """The study file's schema (restart compares a file's stored configuration against it)."""
        return SCHEMA

    @property
    def seed(self) -> int:
        return self.doc["seed"]

    @property
    def duration_s(self) -> float:
        return self.time.duration_s

    def input_files(self) -> dict[str, Path]:
        """The files this study reads, {what: path} (the study contract): the study file and,
        with ``initial.kind = "file"``, the initial-condition file.  A run never writes over
        them, and a restart checks they are unchanged."""
        files = {"study file": Path(self.path)}
        ini = self.doc["initial"]
        if ini["kind"] == "file" and ini.get("path"):
            files["initial-condition file"] = (Path(self.path).parent / ini["path"]).resolve()
        return files

    @property
    def output_every_s(self) -> float:
        return self.time.output_every_s

    @property
    def out_t(self) -> np.ndarray:
        n = int(round(self.duration_s / self.output_every_s))
        return self.output_every_s * np.arange(n + 1)

    @property
    def particles_on(self) -> bool:
        return self.particles.enabled

    @property
    def radial_on(self) -> bool:
        return self.radial.enabled

    @property
    def n_perm(self) -> int:
        """Permutations of the particle experiment (0 without particles)."""
        return self.particles.permutations if self.particles.enabled else 0

    @property
    def bin_grid(self) -> Grid:
        """The grid the particles are binned on: the PDE grid with cells merged by coarsen_L x coarsen_mlt."""
        return self.grid.coarsened(self.particles.coarsen_L, self.particles.coarsen_mlt)

    @property
    def K_per_s(self) -> float:
        return self.physics.K_per_s

    def probe_boxes(self) -> tuple:
        return tuple(p.box for p in self.probes)

    def radial_D_LL(self):
        """``D_LL(L)`` [1/s] of the radial solver: Eq. 21 (``K L^6 / 2``) or the power law."""
        r = self.radial
        if r.D_LL == "drift_averaged":
            ph = self.physics
            if ph.coefficients == "paper":
                K = self.K_per_s
                return lambda L: co.drift_averaged_D_LL_per_s(L, K)
            return lambda L: co.drift_averaged_D_LL_per_s(L, ph.K_of_omega(ph.omega_rad_per_s(L)))
        return lambda L: co.power_law_D_LL_per_s(L, r.D0_per_day, r.power)


def energy_group(energy_keV: float) -> str:
    """The run-file group of one energy of a study over energies: ``E<energy>keV`` (6 significant
    digits, e.g. ``E50keV``, ``E3000keV``, ``E0.5keV``)."""
    return f"E{float(energy_keV):g}keV"


def rk4_step_s(physics: Physics, particles: Particles) -> float:
    """The particles' largest RK4 step [s] at ``physics``' energy: ``dt_max_s``, or with
    ``max_drift_angle_per_step_rad`` = A, min(dt_max_s, A / Omega(L_energy)) to 4 significant
    digits (Omega the unperturbed drift frequency, corotation included when it is on)."""
    A = particles.max_drift_angle_per_step_rad
    if A is None:
        return particles.dt_max_s
    omega = abs(float(physics.omega_rad_per_s(physics.L_energy)))
    dt = particles.dt_max_s if omega == 0.0 else min(particles.dt_max_s, A / omega)
    return float(f"{dt:.4g}")


def _energies(value, src: str) -> tuple:
    """() for one energy; the checked energies of a study over energies."""
    if not isinstance(value, list):
        return ()
    labels = [energy_group(v) for v in value]
    if any(b <= a for a, b in zip(value, value[1:])) or len(set(labels)) != len(labels):
        raise InputError(f"{src}: physics.energy_keV: expected strictly increasing energies that differ in their "
                         f"first 6 significant digits (they name the run-file groups), got "
                         f"[{', '.join(f'{v:g}' for v in value)}] keV")
    return tuple(float(v) for v in value)


def _divides(total, step, where):
    n = total / step
    if abs(n - round(n)) > 1e-6 * max(n, 1.0) or round(n) < 1:
        raise InputError(f"{where}: {step:g} s must divide {total:g} s into a whole number of outputs")


def _check_across_keys(doc: dict, src: str) -> None:
    """The constraints between keys (each key's own range is the schema's): one InputError
    naming the key to change."""
    g, t, r, p = doc["grid"], doc["time"], doc["radial"], doc["particles"]
    ph = doc["physics"]
    if ph["noise"] == "ornstein_uhlenbeck":
        if ph["correlation_s"] is None:
            raise InputError(f"{src}: physics.correlation_s: required for noise = 'ornstein_uhlenbeck' "
                             "(the correlation time of w [s])")
        if ph["update_s"] > ph["correlation_s"] / 5.0 * (1 + 1e-12):
            raise InputError(f"{src}: physics.update_s: the sampling step of the Ornstein-Uhlenbeck w must be at "
                             f"most correlation_s / 5 = {ph['correlation_s'] / 5.0:g} s (w is held between "
                             f"samples), got {ph['update_s']:g} s")
    elif ph["correlation_s"] is not None:
        raise InputError(f"{src}: physics.correlation_s: only used by noise = 'ornstein_uhlenbeck', not "
                         f"{ph['noise']!r}")
    if g["L_max"] <= g["L_min"]:
        raise InputError(f"{src}: grid.L_max: expected a value above L_min = {g['L_min']:g}, got {g['L_max']:g}")
    duration_s = t["duration_h"] * 3600.0
    steps = [("time.output_every_s", t["output_every_s"], duration_s, "time.duration_h"),
             ("time.dt_s", t["dt_s"], duration_s, "time.duration_h")]
    if r["enabled"]:
        steps.append(("radial.dt_s", r["dt_s"], duration_s, "time.duration_h"))
    if p["enabled"]:
        steps += [("time.output_every_s", t["output_every_s"], p["duration_h"] * 3600.0, "particles.duration_h"),
                  ("particles.dt_max_s", p["dt_max_s"], p["duration_h"] * 3600.0, "particles.duration_h")]
    for key, step, total, of in steps:
        if step > total * (1 + 1e-12):
            raise InputError(f"{src}: {key}: expected at most {of} ({total:g} s), got {step:g} s")
    if p["enabled"] and p["L_escape"] < g["L_max"]:
        raise InputError(f"{src}: particles.L_escape: expected at least grid.L_max = {g['L_max']:g} (particles "
                         f"inside the grid must not be dropped), got {p['L_escape']:g}")
    # a probe box must overlap the grid, or its average of F is 0/0 (and the run file "damaged")
    for i, q in enumerate(doc["probe"] or [asdict(PAPER_PROBE)]):
        if q["L_hi"] <= g["L_min"] or q["L_lo"] >= g["L_max"]:
            where = f"probe[{i}].L_lo" if doc["probe"] else f"probe: the default probe (the paper's, {PAPER_PROBE_NAME})"
            raise InputError(f"{src}: {where}: the box {q['L_lo']:g} <= L <= {q['L_hi']:g} lies outside the grid "
                             f"{g['L_min']:g} <= L <= {g['L_max']:g}; give [[probe]] boxes inside it")


def _check_memory(doc: dict, src: str) -> None:
    """Refuse a study whose arrays would not fit in this node's available memory, from the keys
    alone (nothing is allocated yet).  The run file's size is checked against the free disk
    space when it is created (:meth:`hpcbelt.output.RunFile.create`)."""
    g, t, p = doc["grid"], doc["time"], doc["particles"]
    n_probes = max(len(doc["probe"]), 1)
    n_L = (g["L_max"] - g["L_min"]) / g["dL"]
    n_mlt = g["n_mlt"]
    problem = resources.memory_problem(resources.drift_pde_bytes(n_L, n_mlt, n_probes),
                                       f"the PDE on {n_L:.4g} x {n_mlt} cells (L x MLT)")
    if problem:
        raise InputError(f"{src}: {'grid.n_mlt' if n_mlt > n_L else 'grid.dL'}: {problem}")
    duration_s = t["duration_h"] * 3600.0
    n_time = resources.count_of_times(duration_s, t["output_every_s"])
    problem = resources.memory_problem(resources.drift_series_bytes(n_time, n_probes), f"{n_time:,} output times")
    if problem:
        raise InputError(f"{src}: time.output_every_s (with duration_h = {t['duration_h']:g}): {problem}")
    if not p["enabled"]:
        return
    p_duration_s = p["duration_h"] * 3600.0
    n_rec = resources.count_of_times(p_duration_s, t["output_every_s"])
    n_updates = p_duration_s / doc["physics"]["update_s"] + 1
    n_bins = max(n_L // p["coarsen_L"], 1) * max(n_mlt // p["coarsen_mlt"], 1)
    need = resources.drift_permutation_bytes(p["per_permutation"], n_rec, n_bins, n_probes, n_updates,
                                             p["keep_positions"])
    problem = resources.memory_problem(
        need, f"one permutation of {p['per_permutation']:,} particles, {n_rec:,} recordings and "
              f"{n_updates:,.0f} updates of w")
    if problem:
        # name the key behind the largest part
        parts = {"particles.per_permutation": p["per_permutation"] * n_rec,
                 "physics.update_s": 2 * n_updates,
                 "time.output_every_s (particles)": n_rec * (n_bins + 1)}
        raise InputError(f"{src}: {max(parts, key=parts.get)}: {problem}")
    problem = resources.memory_problem(resources.work_list_bytes(p["permutations"]),
                                       f"the work list of {p['permutations']:,} permutations")
    if problem:
        raise InputError(f"{src}: particles.permutations: {problem}")


# Which key a user changes when the initial condition of each kind cannot be built.
_INITIAL_KEY = {"injection": "initial.kind", "gaussian_L": "initial.width", "file": "initial.path"}


def load_study(source: StudyFile | str | Path, overrides: list[str] | None = None,
               experiments: list[str] | None = None) -> Study:
    """Read, validate and derive a drift-diffusion study; every problem is an InputError.

    ``source`` is the study file, already read (a :class:`~hpcbelt.config.StudyFile`, as
    ``hpcbelt run`` passes it) or a path; ``overrides`` are ``table.key=value`` strings
    (``hpcbelt run --set``).  The study has no ``[[experiment]]`` tables, so ``experiments``
    must be None.  The numerics below raise ValueError; here they become InputErrors naming
    the study key.
    """
    sf = StudyFile.coerce(source)
    path = Path(sf.path)
    src = str(path)
    if experiments is not None:
        raise InputError(f"--experiments: {src} is a drift_diffusion study, which has no [[experiment]] tables")
    raw = apply_overrides(sf.doc, overrides, src)
    doc = validate(raw, SCHEMA, src)       # types, finite values and each key's range
    _check_across_keys(doc, src)
    _check_memory(doc, src)                # before any array is made
    g = doc["grid"]
    try:
        grid = Grid(g["L_min"], g["L_max"], g["dL"], g["n_mlt"])
    except ValueError as exc:
        # L_min, L_max and n_mlt are checked above and by the schema: what is left is dL
        raise InputError(f"{src}: grid.dL: {exc}") from None
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
    except ValueError as exc:
        raise InputError(f"{src}: {_INITIAL_KEY[ini['kind']]}: {exc}") from None
    except IndexError:
        raise InputError(f"{src}: initial.time_index: {ini['time_index']} is not a time of "
                         f"{ini['path']}:{ini['dataset']}") from None

    probes = doc["probe"] or [{"name": PAPER_PROBE_NAME, **asdict(PAPER_PROBE)}]
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
        if p["per_permutation"] < len(INJECTION_REGIONS):
            raise InputError(f"{src}: particles.per_permutation: expected at least {len(INJECTION_REGIONS)} "
                             f"(one particle per injection region), got {p['per_permutation']}")
        _divides(p["duration_h"] * 3600.0, t["output_every_s"], f"{src}: time.output_every_s (particles)")
        if grid.n_L % p["coarsen_L"] or grid.n_mlt % p["coarsen_mlt"]:
            raise InputError(f"{src}: particles.coarsen_L/coarsen_mlt: ({p['coarsen_L']}, {p['coarsen_mlt']}) must "
                             f"divide the grid size ({grid.n_L}, {grid.n_mlt})")

    if p["ring_per_permutation"] and not p["enabled"]:
        raise InputError(f"{src}: particles.ring_per_permutation: the ring particles are driven by the "
                         f"permutations' w, so particles.enabled must be true")

    ph = doc["physics"]
    energies = _energies(ph["energy_keV"], src)
    physics = Physics(ph["W_mV_per_m"], ph["update_s"], energies[0] if energies else ph["energy_keV"],
                      ph["L_energy"], ph["corotation"], R_E_m=ph["earth_radius_km"] * 1e3, B_E_nT=ph["B_E_nT"],
                      noise=ph["noise"], correlation_s=ph["correlation_s"], coefficients=ph["coefficients"])
    particles = Particles(p["enabled"], p["permutations"], p["per_permutation"], p["duration_h"] * 3600.0,
                          p["dt_max_s"], p["coarsen_L"], p["coarsen_mlt"], p["L_escape"], p["keep_positions"],
                          p["max_drift_angle_per_step_rad"], p["ring_per_permutation"])
    if not energies:              # one energy: its RK4 step now (a study over energies: per slice)
        particles = replace(particles, dt_max_s=rk4_step_s(physics, particles))
    return Study(
        path=src, text=sf.text, doc=doc, grid=grid, F0=F0,
        probes=tuple(Probe(q["name"], Box(q["L_lo"], q["L_hi"], q["mlt_lo_h"], q["mlt_hi_h"])) for q in probes),
        physics=physics,
        time=Timing(t["duration_h"] * 3600.0, t["output_every_s"], t["dt_s"], t["method"], t["kmax"]),
        edges=Edges((g["boundary_L_min"], g["boundary_L_max"]), (g["F_L_min"], g["F_L_max"])),
        radial=Radial(r["enabled"], r["D_LL"], r["D0_per_day"], r["power"], r["theta"], r["dt_s"]),
        particles=particles, overrides=tuple(overrides or ()), energies_keV=energies)
