"""Synthetic hiss observations at L* = 3, 09-10 MLT: seedable (B_eq, n_e, S(252 Hz)) pairs.

The Van Allen Probes inputs of Watt et al. (2021) are not available offline; these
distributions stand in for them (dxx.md, "Synthetic observations", [assumption] anchored as
stated there):

* B_eq: normal, median 1100 nT, relative scatter 2 %.
* n_e: log-normal, median 1.1e9 m^-3, sigma(log10) 0.15 (95 % in 0.55-2.2e9 m^-3; the
  paper's Nov 2012 range is 0.5-2e9; Sheeley et al. 2001 give ~1390 cm^-3 at L = 3).
* S(252 Hz): log-normal, median 5e-7 nT^2/Hz, sigma(log10) 0.6 (three orders of magnitude).
* corr(log n_e, log S) = +0.3 (Malaspina et al. 2018: hiss power rises with density, L > 2.5).
* optionally an AR(1) time series in log space with a 10 min - 1 h correlation time, sampled
  at a fixed cadence (``time_series = "ar1"``); the default draws are independent.

Optional second ("storm-depleted") population, ``storm_fraction`` > 0: each observation
belongs to it with that probability and then draws n_e and S from its own log-normals
(``storm_n_e_median_m3``, ``storm_n_e_sigma_log10``, ``storm_S_median_nT2_Hz``,
``storm_S_sigma_log10``) with its own correlation ``storm_corr_log_n_log_S``; the other
observations use the keys above.  Membership is drawn independently for every observation
(also with ``time_series = "ar1"``, whose AR(1) acts on the normals only).  This is the structure Watt et al. (2021, Sec. 2.2, Fig. 2)
show for November 2012 at L* = 3: n_e 1.5-2e9 m^-3 before a moderate storm, depressed to
0.5-1.5e9 m^-3 after it for the rest of the month while the hiss intensity rose, opposite to
the quiet-time statistics of Malaspina et al. (2018).  Within each population the quiet-time
relation may hold while the pooled correlation is negative.  The default database's choice
and its justification are in inputs/hiss_L3_0.5MeV.toml and the file's provenance.

Random numbers: one ``numpy.random.Generator(PCG64(seed))``; for each draw i the normals are
taken in the fixed order (z_B, z_n, z_S); with ``storm_fraction`` > 0 one uniform per draw
follows (after all normals) to choose the population.  The same seed therefore gives the same
pairs on any machine with the same numpy bit generator, whatever the number of MPI ranks (the
generator runs once, on every rank identically), and ``storm_fraction = 0`` reproduces the
single-population draws exactly.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from ..config import Key, non_negative, positive
from .plasma import X_from_density


def _b_sigma(v):
    # six standard deviations below the median must stay positive
    return None if 0 <= v and v * 6 < 1 else "expected 0 <= value < 1/6 (B_eq could go negative)"


SCHEMA = {
    "n_profiles": Key("int", 2377, "", "number of observations (Watt et al. 2021: 2,377)",
                      check=lambda v: None if v >= 1 else "expected at least 1"),
    "seed": Key("int", 20210101, "", "seed of the PCG64 generator", check=non_negative),
    "B_eq_median_nT": Key("float", 1100.0, "nT", "median equatorial field", check=positive),
    "B_eq_rel_sigma": Key("float", 0.02, "", "relative standard deviation of B_eq",
                          check=_b_sigma),
    "n_e_median_m3": Key("float", 1.1e9, "m^-3", "median electron density", check=positive),
    "n_e_sigma_log10": Key("float", 0.15, "", "standard deviation of log10 n_e",
                           check=non_negative),
    "S_median_nT2_Hz": Key("float", 5e-7, "nT^2/Hz", "median intensity at the reference "
                           "frequency", check=positive),
    "S_sigma_log10": Key("float", 0.6, "", "standard deviation of log10 S", check=non_negative),
    "corr_log_n_log_S": Key("float", 0.3, "", "correlation of log n_e and log S",
                            check=lambda v: None if -1 < v < 1 else "expected -1 < value < 1"),
    "storm_fraction": Key("float", 0.0, "", "probability that an observation belongs to the "
                          "storm-depleted population (0: one population)",
                          check=lambda v: None if 0 <= v <= 1 else "expected 0 <= value <= 1"),
    "storm_n_e_median_m3": Key("float", 0.87e9, "m^-3", "storm population: median n_e",
                               check=positive),
    "storm_n_e_sigma_log10": Key("float", 0.12, "", "storm population: std of log10 n_e",
                                 check=non_negative),
    "storm_S_median_nT2_Hz": Key("float", 1e-6, "nT^2/Hz", "storm population: median S",
                                 check=positive),
    "storm_S_sigma_log10": Key("float", 0.5, "", "storm population: std of log10 S",
                               check=non_negative),
    "storm_corr_log_n_log_S": Key("float", 0.0, "", "storm population: correlation of log n_e "
                                  "and log S", check=lambda v: None if -1 < v < 1
                                  else "expected -1 < value < 1"),
    "justification": Key("str", "", "", "free text: why these distributions (stored in the "
                         "database provenance with the other settings)"),
    "time_series": Key("str", "iid", "", "iid: independent draws; ar1: AR(1) in log space",
                       choices=("iid", "ar1")),
    "correlation_time_min": Key("float", 30.0, "min", "AR(1) correlation time",
                                check=positive),
    "cadence_min": Key("float", 2.0, "min", "AR(1) sampling interval", check=positive),
}


@dataclass(frozen=True)
class SyntheticSettings:
    """Parameters of the generator: the keys of :data:`SCHEMA` (defaults from dxx.md)."""

    n_profiles: int = SCHEMA["n_profiles"].default
    seed: int = SCHEMA["seed"].default
    B_eq_median_nT: float = SCHEMA["B_eq_median_nT"].default
    B_eq_rel_sigma: float = SCHEMA["B_eq_rel_sigma"].default
    n_e_median_m3: float = SCHEMA["n_e_median_m3"].default
    n_e_sigma_log10: float = SCHEMA["n_e_sigma_log10"].default
    S_median_nT2_Hz: float = SCHEMA["S_median_nT2_Hz"].default
    S_sigma_log10: float = SCHEMA["S_sigma_log10"].default
    corr_log_n_log_S: float = SCHEMA["corr_log_n_log_S"].default
    storm_fraction: float = SCHEMA["storm_fraction"].default
    storm_n_e_median_m3: float = SCHEMA["storm_n_e_median_m3"].default
    storm_n_e_sigma_log10: float = SCHEMA["storm_n_e_sigma_log10"].default
    storm_S_median_nT2_Hz: float = SCHEMA["storm_S_median_nT2_Hz"].default
    storm_S_sigma_log10: float = SCHEMA["storm_S_sigma_log10"].default
    storm_corr_log_n_log_S: float = SCHEMA["storm_corr_log_n_log_S"].default
    justification: str = SCHEMA["justification"].default
    time_series: str = SCHEMA["time_series"].default
    correlation_time_min: float = SCHEMA["correlation_time_min"].default
    cadence_min: float = SCHEMA["cadence_min"].default

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class Observations:
    """Pairs (X, Y) with B_eq, and the density they came from (if known)."""

    X: np.ndarray          # omega_pe / Omega_e at the equator
    Y: np.ndarray          # intensity at the reference frequency [nT^2/Hz]
    B_eq_nT: np.ndarray    # [nT]
    n_e_m3: np.ndarray | None = None

    def __len__(self) -> int:
        return int(self.X.size)


def generate(s: SyntheticSettings) -> Observations:
    """Draw ``s.n_profiles`` observations; deterministic for a given ``s``.

    ``ValueError`` if B_eq_rel_sigma is so large that B_eq could go negative (the schema
    refuses such a file value first).
    """
    if s.B_eq_rel_sigma * 6 >= 1:
        raise ValueError(f"B_eq_rel_sigma = {s.B_eq_rel_sigma}: too large (B_eq could go negative)")
    rng = np.random.Generator(np.random.PCG64(s.seed))
    z = rng.standard_normal((s.n_profiles, 3))       # columns: B, n, S (fixed order)
    if s.time_series == "ar1":
        # x_i = phi x_{i-1} + sqrt(1 - phi^2) e_i keeps unit variance and lag-1 correlation phi
        phi = math.exp(-s.cadence_min / s.correlation_time_min)
        c = math.sqrt(1.0 - phi * phi)
        for i in range(1, s.n_profiles):
            z[i] = phi * z[i - 1] + c * z[i]
    zb = z[:, 0]
    zn = z[:, 1]
    B = s.B_eq_median_nT * (1.0 + s.B_eq_rel_sigma * zb)

    def draw(r, n_med, n_sig, s_med, s_sig):
        zs = r * z[:, 1] + math.sqrt(1.0 - r * r) * z[:, 2]   # corr(zn, zs) = r
        return n_med * 10.0 ** (n_sig * zn), s_med * 10.0 ** (s_sig * zs)

    n, S = draw(s.corr_log_n_log_S, s.n_e_median_m3, s.n_e_sigma_log10, s.S_median_nT2_Hz,
                s.S_sigma_log10)
    if s.storm_fraction > 0.0:
        storm = rng.random(s.n_profiles) < s.storm_fraction
        n2, S2 = draw(s.storm_corr_log_n_log_S, s.storm_n_e_median_m3,
                      s.storm_n_e_sigma_log10, s.storm_S_median_nT2_Hz, s.storm_S_sigma_log10)
        n = np.where(storm, n2, n)
        S = np.where(storm, S2, S)
    X = np.array([X_from_density(float(ni), float(bi)) for ni, bi in zip(n, B)])
    return Observations(X=X, Y=S, B_eq_nT=B, n_e_m3=n)
