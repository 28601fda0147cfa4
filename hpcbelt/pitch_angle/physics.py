"""Dipole physics of the bounce-averaged pitch-angle equation (physics.md part A).

    df/dt = 1/(T(a) sin 2a) d/da [ D_aa(a, t) T(a) sin 2a df/da ]  -  f / tau_L(a)

with the dipole bounce-period function T(a) (Eq. 2 of Watt et al. 2021) and the loss time
tau_L = tau_b / 4 inside the loss cone (Shprits et al. 2008), infinite outside.  The loss
cone itself is a property of the dipole field line: :func:`hpcbelt.dipole.loss_cone_deg_from_altitude`
(importable from here too).
"""

from __future__ import annotations

import numpy as np

from ..constants import EARTH_RADIUS_M, electron_speed_m_per_s
from ..dipole import loss_cone_deg_from_altitude  # noqa: F401  (the loss cone of the study's L)


def bounce_function(alpha_rad):
    """T(a) = 1.3802 - 0.3198 (sin a + sqrt(sin a)), Eq. 2 of Watt et al. (2021)."""
    s = np.sin(alpha_rad)
    return 1.3802 - 0.3198 * (s + np.sqrt(s))


def bounce_period_s(alpha_rad, L: float, energy_MeV: float,
                    earth_radius_m: float = EARTH_RADIUS_M):
    """Dipole bounce period tau_b = 4 L R_E T(a) / v [s]."""
    return 4.0 * L * earth_radius_m * bounce_function(alpha_rad) / electron_speed_m_per_s(energy_MeV)


def loss_time_s(alpha_rad, L: float, energy_MeV: float,
                earth_radius_m: float = EARTH_RADIUS_M):
    """tau_L = tau_b / 4 (a quarter bounce period), the loss time inside the loss cone [s]."""
    return bounce_period_s(alpha_rad, L, energy_MeV, earth_radius_m) / 4.0
