"""Bounce-averaged <D_aa>/p^2 for one observation (X, Y, B_eq): the model-independent layer.

Converts the observation into the quantities the kernels take (plasma frequency, total wave
power, Lorentz factor, ...) and dispatches to the field-aligned (:mod:`.field_aligned`) or
oblique (:mod:`.oblique`) kernel.  No I/O, no MPI.

Observation variables (Watt et al. 2021):

* X = omega_pe / Omega_e at the equator (Omega_e the cold, non-relativistic gyrofrequency);
  density n_e = eps0 m_e (X Omega_e,eq)^2 / e^2, constant along the field line (G&H05).
* Y = S(f_ref) in nT^2/Hz; total wave power B_w^2 = Y W (see :mod:`.spectrum`).
* B_eq in nT.
"""

from __future__ import annotations

import math

import numpy as np

from .. import constants as K
from .config import DxxConfig
from . import field_aligned

EPS = K.ELECTRON_MASS_KG / K.PROTON_MASS_KG
Q_OVER_M = K.ELEMENTARY_CHARGE_C / K.ELECTRON_MASS_KG


def gyrofrequency_rad_s(B_nT: float) -> float:
    """Cold electron gyrofrequency |Omega_e| = e B / m_e [rad/s]."""
    return Q_OVER_M * B_nT * 1e-9


def density_m3(X: float, B_eq_nT: float) -> float:
    """Electron density [m^-3] for omega_pe / Omega_e = X at the equator."""
    wpe = X * gyrofrequency_rad_s(B_eq_nT)
    return K.EPSILON0_F_PER_M * K.ELECTRON_MASS_KG * wpe * wpe / K.ELEMENTARY_CHARGE_C ** 2


def X_from_density(n_m3: float, B_eq_nT: float) -> float:
    """omega_pe / Omega_e at the equator for density ``n_m3`` [m^-3]."""
    wpe = math.sqrt(n_m3 * K.ELEMENTARY_CHARGE_C ** 2 / (K.EPSILON0_F_PER_M * K.ELECTRON_MASS_KG))
    return wpe / gyrofrequency_rad_s(B_eq_nT)


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
    gamma = K.lorentz_factor(cfg.energy_MeV)
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
    from . import oblique
    return oblique.bounce_averaged_profile_cfg(cfg, alpha0, b_eq_T, omega_pe, bw2_T2, gamma,
                                               beta)


def unit_profile(cfg: DxxConfig, X: float, B_eq_nT: float) -> np.ndarray:
    """D1(a0; X, B_eq): the profile for unit intensity Y = 1 nT^2/Hz."""
    return profile(cfg, X, 1.0, B_eq_nT)
