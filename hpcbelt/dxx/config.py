"""Settings of the diffusion-coefficient calculator and database builder.

One typed schema (:data:`SCHEMA`, checked by :func:`hpcbelt.config.validate`: unknown keys are
errors naming the key and file) and one frozen dataclass, :class:`DxxConfig`, built from the
validated document.  Every key has a default, a unit and a one-line description; ``hpcbelt
dxx keys`` prints them (:func:`full_schema`: these tables, ``description`` and
``[synthetic]``).  The schema is the only source of the defaults: the dataclasses here,
:class:`~hpcbelt.dxx.spectrum.WaveSpectrum` (whose table is ``spectrum.SCHEMA``) and
:class:`~hpcbelt.dxx.synthetic.SyntheticSettings` take theirs from it.  The whole merged
document goes into the database's ``provenance`` attribute.

A TOML file for ``hpcbelt dxx build --config FILE`` may contain any subset of::

    [physics]    L, energy_MeV (a list: a multi-energy database), B_eq_nT
    [grid]       alpha_step_deg, n_lat
    [wave]       model, direction_power_fraction
    [spectrum]   f_m_Hz, df_Hz, f_lc_Hz, f_uc_Hz, lat_max_deg, f_ref_Hz
    [oblique]    X_m, X_w, X_min, X_max, n_wave_normal, n_resonance, n_freq_scan
    [table]      method, dlog10_X, dB_rel
    [synthetic]  see hpcbelt.dxx.synthetic.SCHEMA
    [variability] see hpcbelt.dxx.variability.SCHEMA (per-observation wave parameters;
                 ``hpcbelt dxx build`` only; stored in the provenance only when given)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from ..config import Key, positive, non_negative, validate
from ..errors import InputError
from . import spectrum, synthetic
from .spectrum import WaveSpectrum

WAVE_MODELS = ("field_aligned", "oblique")
TABLE_METHODS = ("auto", "table", "direct")


def _fraction(v):
    return None if 0.0 <= v <= 1.0 else "expected a value in [0, 1]"


def _step(v):
    if not 0.0 < v <= 90.0:
        return "expected a step in (0, 90] deg"
    n = 90.0 / v
    return None if abs(n - round(n)) < 1e-9 else "90 must be a whole number of steps"


def _energies(v):
    """A positive energy, or a list of positive, strictly increasing energies."""
    v = v if isinstance(v, (list, tuple)) else [v]
    if any(e <= 0 for e in v) or any(b <= a for a, b in zip(v, v[1:])):
        return ("expected a positive energy, or a list of positive, strictly increasing "
                "energies in MeV")
    return None


SCHEMA = {
    "physics": {
        "L": Key("float", 3.0, "", "dipole L shell (database metadata; B_eq sets the field)",
                 check=positive),
        "energy_MeV": Key("float_or_list", 0.5, "MeV",
                          "electron kinetic energy; a list of energies (strictly increasing; "
                          "--energies-MeV) builds one multi-energy database, daa[energy, "
                          "profile, alpha], from the same observations",
                          check=_energies),
        "B_eq_nT": Key("float", 1100.0, "nT",
                       "equatorial field used for pairs without B_eq_nT (dxx.md: ~1100 nT at L = 3)",
                       check=positive),
    },
    "grid": {
        "alpha_step_deg": Key("float", 1.0, "deg",
                              "equatorial pitch-angle step; the grid is 0..90 deg inclusive",
                              check=_step),
        "n_lat": Key("int", 128, "", "latitude nodes per bounce integral (field-aligned converged to < 0.1 % at 128; oblique to < 1 % at 96, its Landau term n = 0 on its own n_lat nodes graded towards the mirror point, to < 0.2 % at 96)",
                     check=lambda v: None if v >= 8 else "expected at least 8"),
    },
    "wave": {
        "model": Key("str", "field_aligned", "", "wave-normal model", choices=WAVE_MODELS),
        "direction_power_fraction": Key(
            "float", 0.5, "",
            "fraction of the observed power B_w^2 given to each propagation direction: 0.5 "
            "splits the measured total equally between k parallel and antiparallel to B, the "
            "normalisation of Glauert & Horne (2005) eq. 15 used by PADIE (default); 1.0 puts "
            "the whole observed power in each direction (Summers 2005 applied per direction, "
            "the convention of the dxx.md field-aligned table)",
            check=_fraction),
    },
    "spectrum": spectrum.SCHEMA,
    "oblique": {
        "X_m": Key("float", 0.0, "", "peak of the wave-normal distribution in X = tan(theta)",
                   check=non_negative),
        "X_w": Key("float", math.tan(math.radians(30.0)), "",
                   "width of the wave-normal distribution in X (default tan 30 deg)",
                   check=positive),
        "X_min": Key("float", 0.0, "", "lower limit of X", check=non_negative),
        "X_max": Key("float", 1.0, "", "upper limit of X (default tan 45 deg, below the "
                     "resonance cone of the hiss band)", check=positive),
        "n_wave_normal": Key("int", 24, "", "Gauss-Legendre nodes in X",
                             check=lambda v: None if v >= 2 else "expected at least 2"),
        "n_resonance": Key("int", 5, "", "resonances n = -N..N are summed (Landau n = 0 incl.)",
                           check=non_negative),
        "n_freq_scan": Key("int", 12, "", "frequencies sampled per band to bracket roots",
                           check=lambda v: None if v >= 2 else "expected at least 2"),
        "include_landau": Key("bool", True, "",
                              "sum the Landau resonance n = 0 with the cyclotron ones; false "
                              "keeps cyclotron resonances only, which leaves the resonance gap "
                              "above the cyclotron cut-off empty (see hpcbelt.dxx.oblique, "
                              "'Landau resonance near the mirror point')"),
    },
    "table": {
        "method": Key("str", "auto", "",
                      "table: tabulate D for unit intensity on a grid of (X, B_eq) and "
                      "interpolate (bilinear in log X and B_eq, geometric in D); direct: "
                      "compute every pair; auto: table unless it has more nodes than pairs",
                      choices=TABLE_METHODS),
        "dlog10_X": Key("float", 0.008, "", "table spacing in log10(X)", check=positive),
        "dB_rel": Key("float", 0.04, "", "table spacing in B_eq relative to its mean (one "
                      "node when all pairs share one B_eq)", check=positive),
    },
}


def _default(table: str, key: str):
    return SCHEMA[table][key].default


def _first(v):
    """energy_MeV of a DxxConfig: the number, or the first of a list of energies."""
    return float(v[0]) if isinstance(v, list) else v


@dataclass(frozen=True)
class ObliqueSettings:
    """Wave-normal distribution g(X) = exp(-((X - X_m)/X_w)^2), X_min <= X <= X_max (G&H05)."""

    X_m: float = _default("oblique", "X_m")
    X_w: float = _default("oblique", "X_w")
    X_min: float = _default("oblique", "X_min")
    X_max: float = _default("oblique", "X_max")
    n_wave_normal: int = _default("oblique", "n_wave_normal")
    n_resonance: int = _default("oblique", "n_resonance")
    n_freq_scan: int = _default("oblique", "n_freq_scan")
    include_landau: bool = _default("oblique", "include_landau")


@dataclass(frozen=True)
class DxxConfig:
    """Everything that determines a bounce-averaged profile, except the pair (X, Y, B_eq).

    Field <-> key: L, energy_MeV, B_eq_nT <- [physics]; alpha_step_deg, n_lat <- [grid];
    wave_model, direction_power_fraction <- [wave] model, direction_power_fraction;
    spectrum <- [spectrum]; oblique <- [oblique]; table_method, table_dlog10_X,
    table_dB_rel <- [table] method, dlog10_X, dB_rel.
    """

    L: float = _default("physics", "L")
    energy_MeV: float = _default("physics", "energy_MeV")
    B_eq_nT: float = _default("physics", "B_eq_nT")
    alpha_step_deg: float = _default("grid", "alpha_step_deg")
    n_lat: int = _default("grid", "n_lat")
    wave_model: str = _default("wave", "model")
    direction_power_fraction: float = _default("wave", "direction_power_fraction")
    spectrum: WaveSpectrum = field(default_factory=WaveSpectrum)
    oblique: ObliqueSettings = field(default_factory=ObliqueSettings)
    table_method: str = _default("table", "method")
    table_dlog10_X: float = _default("table", "dlog10_X")
    table_dB_rel: float = _default("table", "dB_rel")
    # [physics] energy_MeV given as a list: the energies of a multi-energy build (energy_MeV
    # is then the first of them; the driver computes each energy with energy_MeV set to it)
    energies_MeV: tuple[float, ...] | None = None

    def __post_init__(self):
        if self.energies_MeV is not None:
            e = tuple(float(v) for v in self.energies_MeV)
            problem = _energies(list(e)) if e else "expected at least one energy"
            if problem:
                raise InputError(f"physics.energy_MeV: {problem}, got {list(e)}")
            if self.energy_MeV not in e:
                raise InputError(f"energy_MeV = {self.energy_MeV:g} is not one of energies_MeV "
                                 f"= {list(e)}")
            object.__setattr__(self, "energies_MeV", e)
        if self.wave_model not in WAVE_MODELS:
            raise InputError(f"wave.model: expected one of {', '.join(WAVE_MODELS)}, "
                             f"got {self.wave_model!r}")
        try:
            self.spectrum.check("spectrum")
        except ValueError as exc:
            raise InputError(str(exc)) from None
        if not self.oblique.X_min < self.oblique.X_max:
            raise InputError("oblique: need X_min < X_max, got "
                             f"{self.oblique.X_min}, {self.oblique.X_max}")

    @property
    def n_alpha(self) -> int:
        return int(round(90.0 / self.alpha_step_deg)) + 1

    def alpha_deg(self):
        """Equatorial pitch-angle grid [deg], 0..90 inclusive."""
        import numpy as np
        return np.linspace(0.0, 90.0, self.n_alpha)

    @classmethod
    def from_doc(cls, doc: dict) -> "DxxConfig":
        """Build from a document already validated against :data:`SCHEMA`."""
        return cls(
            L=doc["physics"]["L"], energy_MeV=_first(doc["physics"]["energy_MeV"]),
            B_eq_nT=doc["physics"]["B_eq_nT"],
            alpha_step_deg=doc["grid"]["alpha_step_deg"], n_lat=doc["grid"]["n_lat"],
            wave_model=doc["wave"]["model"],
            direction_power_fraction=doc["wave"]["direction_power_fraction"],
            spectrum=WaveSpectrum(**doc["spectrum"]),
            oblique=ObliqueSettings(**doc["oblique"]),
            table_method=doc["table"]["method"], table_dlog10_X=doc["table"]["dlog10_X"],
            table_dB_rel=doc["table"]["dB_rel"],
            energies_MeV=(tuple(doc["physics"]["energy_MeV"])
                          if isinstance(doc["physics"]["energy_MeV"], list) else None))

    def to_doc(self) -> dict:
        """The inverse of :meth:`from_doc` (what goes into provenance)."""
        from dataclasses import asdict
        return {
            "physics": {"L": self.L, "energy_MeV": (self.energy_MeV if self.energies_MeV is None
                                                    else list(self.energies_MeV)),
                        "B_eq_nT": self.B_eq_nT},
            "grid": {"alpha_step_deg": self.alpha_step_deg, "n_lat": self.n_lat},
            "wave": {"model": self.wave_model,
                     "direction_power_fraction": self.direction_power_fraction},
            "spectrum": asdict(self.spectrum),
            "oblique": asdict(self.oblique),
            "table": {"method": self.table_method, "dlog10_X": self.table_dlog10_X,
                      "dB_rel": self.table_dB_rel},
        }


def full_schema() -> dict:
    """Every key of ``hpcbelt dxx build`` (and ``dxx import --config``), in ``dxx keys`` order.

    Without the ``[variability]`` table: ``hpcbelt dxx build`` and ``dxx keys`` add it
    (:func:`hpcbelt.dxx.cli.build_schema`; :mod:`.variability` imports this module, so it cannot
    be imported here, .importlinter).  :func:`hpcbelt.config.validate` fills in every table of
    a schema, and a database built without ``[variability]`` stores no such table in its
    provenance settings (:func:`drop_absent_variability`): the default database is unchanged.
    """
    return {"description": Key("str", "", "", "free text stored in the database's description"),
            **SCHEMA, "synthetic": synthetic.SCHEMA}


def drop_absent_variability(validated: dict, given: dict | None) -> dict:
    """``validated`` without its ``variability`` table unless the document ``given`` had one."""
    if "variability" not in (given or {}):
        validated.pop("variability", None)
    return validated


def load(doc: dict | None, source: str = "defaults", schema: dict | None = None) -> dict:
    """Validate a parsed TOML document (``None`` = all defaults) against ``schema``."""
    return validate(doc or {}, schema or SCHEMA, source)
