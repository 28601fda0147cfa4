"""Bounce-averaged <D_aa>/p^2 for one observation (X, Y, B_eq): the model-independent layer.

Converts the observation into the quantities the kernels take (plasma frequency, total wave
power, Lorentz factor, ...) and dispatches to the field-aligned (:mod:`.field_aligned`) or
oblique (:mod:`.oblique`) kernel.  No I/O, no MPI.

Observation variables (Watt et al. 2021):

* X = omega_pe / Omega_e at the equator (Omega_e the cold, non-relativistic gyrofrequency);
  density n_e = eps0 m_e (X Omega_e,eq)^2 / e^2, constant along the field line (G&H05).
* Y = S(f_ref) in nT^2/Hz; total wave power B_w^2 = Y W (see :mod:`.spectrum`).
* B_eq in nT.

The plasma constants and the X <-> density conversion are in :mod:`.plasma`.
"""

from __future__ import annotations

import math

import numpy as np

from .. import constants as K
from . import field_aligned, oblique
from .config import DxxConfig
from .plasma import EPS, Q_OVER_M, gyrofrequency_rad_s


def profile(cfg: DxxConfig, X: float, Y: float, B_eq_nT: float | None = None) -> np.ndarray:
    """<D_aa>/p^2 [1/s] on ``cfg.alpha_deg()`` for intensity Y [nT^2/Hz] at f_ref.

    Exactly linear in Y: the kernels compute D for total power B_w^2 = Y W and every
    factor before it is Y-independent.
    """
    B = cfg.B_eq_nT if B_eq_nT is None else B_eq_nT
    return profile_for_power(cfg, X, cfg.spectrum.total_power_nT2(Y), B)


def profile_for_power(cfg: DxxConfig, X: float, Bw2_nT2: float, B_eq_nT: float) -> np.ndarray:
    """<D_aa>/p^2 [1/s] on ``cfg.alpha_deg()`` for total wave power ``Bw2_nT2`` [nT^2]."""
    if not (X > 1.0 and B_eq_nT > 0.0 and Bw2_nT2 >= 0.0):
        raise ValueError(f"profile: need X > 1, B_eq > 0, B_w^2 >= 0; got {X}, {B_eq_nT}, "
                         f"{Bw2_nT2}")
    gamma = K.lorentz_factor_of_energy(cfg.energy_MeV)
    beta = math.sqrt(1.0 - 1.0 / (gamma * gamma))
    b_eq_T = B_eq_nT * 1e-9
    omega_pe = X * gyrofrequency_rad_s(B_eq_nT)
    bw2_T2 = Bw2_nT2 * 1e-18
    sp = cfg.spectrum
    alpha0 = np.radians(cfg.alpha_deg())
    w = cfg.direction_power_fraction
    lat_w = math.radians(sp.lat_max_deg)
    if cfg.wave_model == "field_aligned":
        return field_aligned.bounce_averaged_profile(
            alpha0, cfg.n_lat, lat_w, b_eq_T, omega_pe, bw2_T2, sp.f_m_Hz, sp.df_Hz,
            sp.f_lc_Hz, sp.f_uc_Hz, sp.rho(), gamma, beta, EPS, Q_OVER_M, w, w)
    return oblique.bounce_averaged_profile_cfg(cfg, alpha0, b_eq_T, omega_pe, bw2_T2, gamma,
                                               beta)


def unit_profile(cfg: DxxConfig, X: float, B_eq_nT: float) -> np.ndarray:
    """D1(a0; X, B_eq): the profile for unit intensity Y = 1 nT^2/Hz."""
    return profile(cfg, X, 1.0, B_eq_nT)
