"""Cold electron-proton plasma quantities shared by the calculator, the kernels' callers and
the synthetic generator.

* ``EPS`` = m_e / m_p, the proton gyrofrequency in units of the electron one (the Stix
  parameters of :mod:`.field_aligned` and :mod:`.oblique`);
* ``Q_OVER_M`` = e / m_e [C/kg], so ``|Omega_e|`` = Q_OVER_M B;
* the observation variable X = omega_pe / Omega_e at the equator and the density it stands
  for, n_e = eps0 m_e (X Omega_e,eq)^2 / e^2 (constant along the field line, G&H05).

Plain floats, no I/O.
"""

from __future__ import annotations

import math

from .. import constants as K

EPS = K.ELECTRON_MASS_KG / K.PROTON_MASS_KG
Q_OVER_M = K.ELEMENTARY_CHARGE_C / K.ELECTRON_MASS_KG


def gyrofrequency_rad_s(B_nT: float) -> float:
    """Cold electron gyrofrequency ``|Omega_e|`` = e B / m_e [rad/s]."""
    return Q_OVER_M * B_nT * 1e-9


def density_m3(X: float, B_eq_nT: float) -> float:
    """Electron density [m^-3] for omega_pe / Omega_e = X at the equator."""
    wpe = X * gyrofrequency_rad_s(B_eq_nT)
    return K.EPSILON0_F_PER_M * K.ELECTRON_MASS_KG * wpe * wpe / K.ELEMENTARY_CHARGE_C ** 2


def X_from_density(n_m3: float, B_eq_nT: float) -> float:
    """omega_pe / Omega_e at the equator for density ``n_m3`` [m^-3]."""
    wpe = math.sqrt(n_m3 * K.ELEMENTARY_CHARGE_C ** 2 / (K.EPSILON0_F_PER_M * K.ELECTRON_MASS_KG))
    return wpe / gyrofrequency_rad_s(B_eq_nT)
