"""Per-observation wave parameters: the physical sources of shape variability (issue 13, part 3).

The default database varies only the observed pair (X, Y, B_eq) from one profile to the next and
keeps the wave model -- the spectrum's peak frequency and width, the latitude extent of the
waves, the wave-normal distribution -- the same for every observation.  Real hiss varies in all
of them, and each moves the resonances in pitch angle, i.e. changes the *shape* of D_aa(a), not
only its strength.  This module draws those parameters per observation and feeds them to the
calculator (:func:`hpcbelt.dxx.calculator.profile`, called, not changed).

Sources and magnitudes (the defaults switch every source off; the values used for the
experiments are in tools/shape_sources.py and inputs/hiss_L3_0.5MeV_paperlike.toml):

* peak frequency f_m: log-normal about the configured ``[spectrum] f_m_Hz`` with
  ``f_m_sigma_log10``, clipped to [``f_m_min_Hz``, ``f_m_max_Hz``].  Plasmaspheric hiss peaks
  anywhere between ~100 and ~600 Hz from pass to pass (Li et al. 2015, JGR 120, 3393:
  statistical spectra peaking at 200-500 Hz on the dayside; Meredith et al. 2018, JGR 123,
  4526; low-frequency hiss below 150 Hz, Li et al. 2013, GRL 40, 3798).
* width df: with ``df_follows_f_m`` the Gaussian width keeps its configured ratio to the peak
  (a spectrum moving in frequency keeps its relative bandwidth, as the Orlova et al. 2014 models
  do between activity levels), times a log-normal factor with ``df_sigma_log10``.
* latitude extent lat_max: normal about ``[spectrum] lat_max_deg`` with ``lat_max_sigma_deg``,
  clipped to [``lat_max_min_deg``, ``lat_max_max_deg``]: dayside hiss reaches 20-40 deg and
  more (Meredith et al. 2018; Agapitov et al. 2013, JGR 118, 3407), varying with activity.
* wave-normal width X_w = tan(theta_w): log-normal about ``[oblique] X_w`` with
  ``X_w_sigma_log10`` (oblique model only): hiss is quasi-parallel near the equator on most
  passes but often more oblique (Agapitov et al. 2013; Hartley et al. 2019, GRL 46, 4073).
* correlation with intensity: each parameter's normal deviate is correlated with the
  standardised log10 Y of the observations with ``corr_log_Y_<name>`` (e.g. stronger hiss being
  more equatorially confined, or peaking lower, is a modelling choice to test, not a measured
  relation; the defaults are 0).

Density (the cut-off angle) needs no new parameter: it is X, drawn by :mod:`.synthetic`; its
spread is varied there (``n_e_sigma_log10``, ``storm_*``).

Random numbers.  One ``numpy.random.Generator(PCG64(SeedSequence([seed, 0x5641])))``, separate
from the observation generator (whose draws are unchanged); it draws a (n, 4) array of standard
normals in the fixed column order (f_m, df, lat_max, X_w) *whatever sources are switched on*,
so switching one source on or off never changes the others' values, and the same observations
with the same seed give the same parameters on any number of ranks (drawn once, identically on
every rank).  Each profile depends only on its own observation and parameters, so a build
dealt over MPI ranks gives the same bytes for any rank count.

The profile from the mean inputs D(<X>, <Y>) is taken at the arithmetic means of every varied
input: X, Y, B_eq *and* the wave parameters (what a model from averaged inputs would use).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace

import numpy as np

from ..config import Key, non_negative, positive, validate
from . import calculator
from .config import DxxConfig
from .synthetic import Observations

PARAMETERS = ("f_m_Hz", "df_Hz", "lat_max_deg", "X_w")   # column order of the draws


def _corr(v):
    return None if -1 < v < 1 else "expected -1 < value < 1"


def _lat(v):
    return None if 0 < v <= 90 else "expected a latitude in (0, 90] deg"


SCHEMA = {
    "seed": Key("int", 1, "", "seed of the wave-parameter generator (separate from [synthetic])",
                check=non_negative),
    "f_m_sigma_log10": Key("float", 0.0, "", "std of log10 of the peak frequency (0: fixed)",
                           check=non_negative),
    "f_m_min_Hz": Key("float", 100.0, "Hz", "lowest peak frequency (draws clipped)", check=positive),
    "f_m_max_Hz": Key("float", 600.0, "Hz", "highest peak frequency (draws clipped)", check=positive),
    "df_follows_f_m": Key("bool", True, "", "keep the configured df / f_m ratio when f_m varies"),
    "df_sigma_log10": Key("float", 0.0, "", "std of log10 of an extra width factor (0: none)",
                          check=non_negative),
    "lat_max_sigma_deg": Key("float", 0.0, "deg", "std of the latitude extent (0: fixed)",
                             check=non_negative),
    "lat_max_min_deg": Key("float", 15.0, "deg", "smallest latitude extent (draws clipped)", check=_lat),
    "lat_max_max_deg": Key("float", 60.0, "deg", "largest latitude extent (draws clipped)", check=_lat),
    "X_w_sigma_log10": Key("float", 0.0, "", "std of log10 of the wave-normal width tan(theta_w) "
                           "(0: fixed; oblique model only)", check=non_negative),
    "corr_log_Y_f_m": Key("float", 0.0, "", "correlation of the f_m deviate with log10 Y", check=_corr),
    "corr_log_Y_df": Key("float", 0.0, "", "correlation of the df deviate with log10 Y", check=_corr),
    "corr_log_Y_lat_max": Key("float", 0.0, "", "correlation of the lat_max deviate with log10 Y",
                              check=_corr),
    "corr_log_Y_X_w": Key("float", 0.0, "", "correlation of the X_w deviate with log10 Y", check=_corr),
}


@dataclass(frozen=True)
class VariabilitySettings:
    """The keys of :data:`SCHEMA` (units and meaning there); the defaults vary nothing."""

    seed: int = SCHEMA["seed"].default
    f_m_sigma_log10: float = SCHEMA["f_m_sigma_log10"].default
    f_m_min_Hz: float = SCHEMA["f_m_min_Hz"].default
    f_m_max_Hz: float = SCHEMA["f_m_max_Hz"].default
    df_follows_f_m: bool = SCHEMA["df_follows_f_m"].default
    df_sigma_log10: float = SCHEMA["df_sigma_log10"].default
    lat_max_sigma_deg: float = SCHEMA["lat_max_sigma_deg"].default
    lat_max_min_deg: float = SCHEMA["lat_max_min_deg"].default
    lat_max_max_deg: float = SCHEMA["lat_max_max_deg"].default
    X_w_sigma_log10: float = SCHEMA["X_w_sigma_log10"].default
    corr_log_Y_f_m: float = SCHEMA["corr_log_Y_f_m"].default
    corr_log_Y_df: float = SCHEMA["corr_log_Y_df"].default
    corr_log_Y_lat_max: float = SCHEMA["corr_log_Y_lat_max"].default
    corr_log_Y_X_w: float = SCHEMA["corr_log_Y_X_w"].default

    @classmethod
    def from_doc(cls, doc: dict | None, source: str = "[variability]") -> "VariabilitySettings":
        """Validate a ``[variability]`` table (unknown keys and bad values: InputError)."""
        from ..errors import InputError

        d = validate(doc or {}, SCHEMA, source)
        if not d["f_m_min_Hz"] < d["f_m_max_Hz"]:
            raise InputError(f"{source}: need f_m_min_Hz < f_m_max_Hz, got {d['f_m_min_Hz']}, {d['f_m_max_Hz']}")
        if not d["lat_max_min_deg"] <= d["lat_max_max_deg"]:
            raise InputError(f"{source}: need lat_max_min_deg <= lat_max_max_deg, got "
                             f"{d['lat_max_min_deg']}, {d['lat_max_max_deg']}")
        return cls(**d)

    @property
    def active(self) -> tuple[str, ...]:
        """The parameters that vary."""
        on = {"f_m_Hz": self.f_m_sigma_log10 > 0,
              "df_Hz": self.df_sigma_log10 > 0 or (self.df_follows_f_m and self.f_m_sigma_log10 > 0),
              "lat_max_deg": self.lat_max_sigma_deg > 0, "X_w": self.X_w_sigma_log10 > 0}
        return tuple(p for p in PARAMETERS if on[p])

    def as_dict(self) -> dict:
        return asdict(self)


def _standardised_log(v: np.ndarray) -> np.ndarray:
    lg = np.log10(np.asarray(v, float))
    sd = float(lg.std())
    return (lg - lg.mean()) / sd if sd > 0 else np.zeros_like(lg)


def draw(cfg: DxxConfig, obs: Observations, s: VariabilitySettings) -> dict[str, np.ndarray]:
    """The wave parameters of every observation: ``{name: (n,) array}`` for :data:`PARAMETERS`
    (fixed parameters repeated).  Deterministic for given ``cfg``, ``obs`` and ``s``."""
    n = len(obs)
    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([int(s.seed), 0x5641])))
    e = rng.standard_normal((n, len(PARAMETERS)))       # always all four columns (see module doc)
    zy = _standardised_log(obs.Y)

    def dev(col, r):
        return r * zy + math.sqrt(1.0 - r * r) * e[:, col]

    sp = cfg.spectrum
    f_m = np.clip(sp.f_m_Hz * 10.0 ** (s.f_m_sigma_log10 * dev(0, s.corr_log_Y_f_m)),
                  s.f_m_min_Hz, s.f_m_max_Hz) if s.f_m_sigma_log10 > 0 else np.full(n, sp.f_m_Hz)
    df = sp.df_Hz * (f_m / sp.f_m_Hz if s.df_follows_f_m else 1.0)
    df = df * 10.0 ** (s.df_sigma_log10 * dev(1, s.corr_log_Y_df)) if s.df_sigma_log10 > 0 else df * np.ones(n)
    lat = (np.clip(sp.lat_max_deg + s.lat_max_sigma_deg * dev(2, s.corr_log_Y_lat_max),
                   s.lat_max_min_deg, s.lat_max_max_deg)
           if s.lat_max_sigma_deg > 0 else np.full(n, sp.lat_max_deg))
    xw = (cfg.oblique.X_w * 10.0 ** (s.X_w_sigma_log10 * dev(3, s.corr_log_Y_X_w))
          if s.X_w_sigma_log10 > 0 else np.full(n, cfg.oblique.X_w))
    return {"f_m_Hz": f_m, "df_Hz": df, "lat_max_deg": lat, "X_w": xw}


def config_for(cfg: DxxConfig, f_m_Hz: float, df_Hz: float, lat_max_deg: float, X_w: float) -> DxxConfig:
    """``cfg`` with one observation's wave parameters (InputError if they make no spectrum)."""
    sp = replace(cfg.spectrum, f_m_Hz=float(f_m_Hz), df_Hz=float(df_Hz), lat_max_deg=float(lat_max_deg))
    return replace(cfg, spectrum=sp, oblique=replace(cfg.oblique, X_w=float(X_w)))


@dataclass
class VariableBuild:
    alpha_deg: np.ndarray
    daa: np.ndarray                 # (n, n_alpha) 1/s
    daa_of_mean_inputs: np.ndarray  # (n_alpha,) 1/s, at the means of X, Y, B_eq and the parameters
    parameters: dict                # name -> (n,) array
    mean_inputs: dict               # name -> float (X, Y, B_eq_nT and the parameters)
    seconds: float


def build(cfg: DxxConfig, obs: Observations, s: VariabilitySettings, comm=None,
          progress: bool = False) -> VariableBuild | None:
    """Every observation's profile with its own wave parameters, dealt over ``comm``'s ranks
    (``None``: this process alone); collective.  Rank 0 gets the result, the others ``None``."""
    import time

    from ..parallel import deal_and_gather

    if comm is None:
        from mpi4py import MPI
        comm = MPI.COMM_SELF
    par = draw(cfg, obs, s)
    X, Y, B = (np.asarray(v, float) for v in (obs.X, obs.Y, obs.B_eq_nT))
    items = [(float(X[i]), float(Y[i]), float(B[i]), *(float(par[p][i]) for p in PARAMETERS))
             for i in range(X.size)]
    mean = {"X": float(X.mean()), "Y": float(Y.mean()), "B_eq_nT": float(B.mean()),
            **{p: float(par[p].mean()) for p in PARAMETERS}}
    items.append((mean["X"], mean["Y"], mean["B_eq_nT"], *(mean[p] for p in PARAMETERS)))

    def one(item):
        x, y, b, *wave = item
        return calculator.profile(config_for(cfg, *wave), x, y, b)

    t0 = time.perf_counter()
    out = deal_and_gather(comm, items, one, label="variability: profiles", quiet=not progress)
    if out is None:
        return None
    return VariableBuild(alpha_deg=cfg.alpha_deg(), daa=np.array(out[:-1]), daa_of_mean_inputs=np.asarray(out[-1]),
                         parameters=par, mean_inputs=mean, seconds=time.perf_counter() - t0)


# --------------------------------------------------------------------------------------
# the statements Watt et al. (2021, Sec. 2.1) make about their Fig. 1, as numbers
# --------------------------------------------------------------------------------------

def upper_tail_ratio(log10_d: np.ndarray, q: float = 0.99) -> float:
    """(Q(q) - median) / (median - Q(1 - q)) of a sample: 1 for any symmetric distribution (a
    normal Q-Q plot straight on both sides), > 1 when the upper tail is the heavier one (points
    bending above the red line on the right of the paper's Fig. 1c)."""
    lo, med, hi = np.quantile(np.asarray(log10_d, float), [1.0 - q, 0.5, q])
    return float((hi - med) / (med - lo))


def fig1_statistics(alpha_deg, daa, daa_of_mean_inputs) -> dict:
    """The numbers behind each Fig. 1 statement (see tests/dxx/test_paperlike.py).

    ``ratio_mean_over_mean_inputs``: <D>/D(<X>,<Y>) per angle (inf where only the latter is 0);
    ``sd_log10``: std of log10 D over the profiles with D > 0, per angle; ``median_per_s``;
    ``fraction_positive`` per angle; ``fraction_values_above_1e-5``: of all (profile, angle)
    values; ``fraction_profiles_above_1e-5``: profiles exceeding it anywhere;
    ``tail_ratio_45``: :func:`upper_tail_ratio` of log10 D at the angle nearest 45 deg (q = 0.99)
    and ``tail_ratio_45_q95`` (q = 0.95); ``skewness_45``.
    """
    a = np.asarray(alpha_deg, float)
    d = np.asarray(daa, float)
    m = d.mean(axis=0)
    mi = np.asarray(daa_of_mean_inputs, float)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(mi > 0, m / np.where(mi > 0, mi, 1.0), np.where(m > 0, np.inf, np.nan))
    sd = np.array([np.log10(c[c > 0]).std() if (c > 0).sum() > 2 else np.nan for c in d.T])
    j45 = int(np.argmin(np.abs(a - 45.0)))
    c45 = d[:, j45]
    lg = np.log10(c45[c45 > 0])
    return {"alpha_deg": a, "ratio_mean_over_mean_inputs": ratio, "sd_log10": sd,
            "median_per_s": np.median(d, axis=0), "mean_per_s": m,
            "fraction_positive": (d > 0).mean(axis=0),
            "fraction_values_above_1e-5": float((d > 1e-5).mean()),
            "fraction_profiles_above_1e-5": float((d.max(axis=1) > 1e-5).mean()),
            "tail_ratio_45": upper_tail_ratio(lg, 0.99), "tail_ratio_45_q95": upper_tail_ratio(lg, 0.95),
            "skewness_45": float(((lg - lg.mean()) ** 3).mean() / lg.std() ** 3)}
