"""Physical constants in SI units, shared by every subpackage.

Values are CODATA 2018 (via scipy.constants) except the Earth radius, for which the two
studies use slightly different conventions: Watt et al. (2021)'s loss-cone and bounce-period
numbers in physics.md were checked with R_E = 6371 km, Lejosne & Albert (2023) use 6370 km.
Each study exposes its own value; these are only the defaults.
"""

from scipy import constants as _c

C_M_PER_S = _c.c                      # speed of light [m/s]
ELECTRON_MASS_KG = _c.m_e             # [kg]
PROTON_MASS_KG = _c.m_p               # [kg]
ELEMENTARY_CHARGE_C = _c.e            # [C]
EPSILON0_F_PER_M = _c.epsilon_0       # vacuum permittivity [F/m]
ELECTRON_REST_ENERGY_MEV = _c.physical_constants["electron mass energy equivalent in MeV"][0]

EARTH_RADIUS_M = 6.371e6              # mean Earth radius [m] (pitch-angle study default)
EARTH_RADIUS_DRIFT_M = 6.370e6        # Lejosne & Albert (2023) value [m]
EARTH_EQUATORIAL_FIELD_NT = 30000.0   # B_E used by Lejosne & Albert (2023) [nT]
EARTH_ROTATION_RAD_PER_S = 2.0 * 3.141592653589793 / 86400.0  # Omega_E as in the paper [rad/s]


def lorentz_factor_of_energy(energy_MeV: float) -> float:
    """Lorentz factor ``1 + E_k / (m_e c^2)`` of an electron of kinetic energy ``energy_MeV``.

    (:func:`hpcbelt.dipole.lorentz_factor_of_invariant` is the one at a fixed first invariant.)
    """
    return 1.0 + energy_MeV / ELECTRON_REST_ENERGY_MEV


# The old name, kept for callers not yet moved to the explicit one.
lorentz_factor = lorentz_factor_of_energy


def electron_speed_m_per_s(energy_MeV: float) -> float:
    """Speed of an electron of kinetic energy ``energy_MeV`` [m/s]."""
    g = lorentz_factor_of_energy(energy_MeV)
    return C_M_PER_S * (1.0 - 1.0 / (g * g)) ** 0.5
