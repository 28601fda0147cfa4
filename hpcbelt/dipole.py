"""Equatorial particles in a dipole field: first invariant, Lorentz factor and drift frequency.

Shared by the drift-diffusion PDE, the radial-diffusion solver and the test-particle tracker
(Lejosne & Albert 2023, Sec. 2).  Conventions:

* ``L = r / R_E`` at the magnetic equator, with ``R_E`` the study's Earth radius
  (6370 km in Lejosne & Albert 2023, ``hpcbelt.constants.EARTH_RADIUS_DRIFT_M``).
* Equatorial dipole field ``B(L) = B_E / L**3`` (their Eq. 3), ``B_E`` = 30,000 nT.
* ``phi`` is magnetic local time in radians, 0 at midnight, increasing eastward; electrons
  drift eastward, so their unperturbed angular drift velocity is positive.
* The first invariant of an equatorially mirroring particle is the relativistic
  ``M = p**2 / (2 m_e B)``; in SI it is in J/T, and 1 MeV/G = 1.602e-9 J/T.

The scalar functions below are plain numpy (they accept arrays) and the ``*_nb`` ones are
numba kernels used inside the tracker and the PDE set-up.
"""

import math

import numba
import numpy as np

from hpcbelt import constants as C

MEV_PER_G_IN_J_PER_T = 1.0e6 * C.ELEMENTARY_CHARGE_C / 1.0e-4   # 1 MeV/G expressed in J/T
ELECTRON_REST_ENERGY_J = C.ELECTRON_REST_ENERGY_MEV * 1.0e6 * C.ELEMENTARY_CHARGE_C


def equatorial_field_T(L, B_E_nT=C.EARTH_EQUATORIAL_FIELD_NT):
    """Dipole field at the magnetic equator, ``B_E / L**3`` (Eq. 3 of Lejosne & Albert 2023) [T]."""
    return B_E_nT * 1.0e-9 / np.asarray(L, dtype=float) ** 3


def first_invariant_J_per_T(energy_keV, L, B_E_nT=C.EARTH_EQUATORIAL_FIELD_NT):
    """First adiabatic invariant of an equatorially mirroring electron [J/T].

    ``M = p**2 / (2 m_e B)`` with ``(p c)**2 = E_k**2 + 2 E_k m_e c**2`` and ``B = B_E / L**3``.
    200 keV at L = 3 gives 21.5 MeV/G (Sec. 4.1 of Lejosne & Albert 2023).
    """
    ek_J = np.asarray(energy_keV, dtype=float) * 1.0e3 * C.ELEMENTARY_CHARGE_C
    pc2_J2 = ek_J * ek_J + 2.0 * ek_J * ELECTRON_REST_ENERGY_J
    return pc2_J2 / (2.0 * ELECTRON_REST_ENERGY_J * equatorial_field_T(L, B_E_nT))


def first_invariant_MeV_per_G(energy_keV, L, B_E_nT=C.EARTH_EQUATORIAL_FIELD_NT):
    """First adiabatic invariant [MeV/G] (see :func:`first_invariant_J_per_T`)."""
    return first_invariant_J_per_T(energy_keV, L, B_E_nT) / MEV_PER_G_IN_J_PER_T


def lorentz_factor(M_J_per_T, L, B_E_nT=C.EARTH_EQUATORIAL_FIELD_NT):
    """Lorentz factor ``sqrt(1 + 2 M B / (m_e c**2))`` at fixed first invariant (below Eq. 8)."""
    return np.sqrt(1.0 + 2.0 * M_J_per_T * equatorial_field_T(L, B_E_nT) / ELECTRON_REST_ENERGY_J)


def kinetic_energy_keV(M_J_per_T, L, B_E_nT=C.EARTH_EQUATORIAL_FIELD_NT):
    """Kinetic energy [keV] of an equatorial electron with invariant ``M`` at ``L``."""
    gamma = lorentz_factor(M_J_per_T, L, B_E_nT)
    return (gamma - 1.0) * C.ELECTRON_REST_ENERGY_MEV * 1.0e3


def drift_angular_frequency_rad_per_s(M_J_per_T, L, *, corotation=True,
                                      R_E_m=C.EARTH_RADIUS_DRIFT_M,
                                      B_E_nT=C.EARTH_EQUATORIAL_FIELD_NT,
                                      omega_E_rad_per_s=C.EARTH_ROTATION_RAD_PER_S):
    """Unperturbed angular drift velocity Omega(L) of an equatorial electron [rad/s].

    ``Omega = -3 M / (gamma q R_E**2 L**2) + Omega_E`` (below Eq. 9 of Lejosne & Albert 2023)
    with ``q = -e``: the gradient drift is eastward (positive) for electrons, and corotation
    adds ``Omega_E`` when ``corotation`` is true.
    """
    L = np.asarray(L, dtype=float)
    gamma = lorentz_factor(M_J_per_T, L, B_E_nT)
    omega = 3.0 * M_J_per_T / (gamma * C.ELEMENTARY_CHARGE_C * R_E_m ** 2 * L ** 2)
    if corotation:
        omega = omega + omega_E_rad_per_s
    return omega


def drift_period_h(M_J_per_T, L, **kwargs):
    """Unperturbed drift period ``2 pi / Omega(L)`` [h] (keywords as in the frequency)."""
    return 2.0 * np.pi / drift_angular_frequency_rad_per_s(M_J_per_T, L, **kwargs) / 3600.0


@numba.njit(cache=True)
def drift_angular_frequency_nb(L, M_J_per_T, R_E_m, B_E_T, omega_E_rad_per_s):
    """Numba version of :func:`drift_angular_frequency_rad_per_s` for one ``L``.

    Parameters
    ----------
    L : float
        Equatorial radial distance in Earth radii.
    M_J_per_T : float
        First invariant [J/T].
    R_E_m, B_E_T : float
        Earth radius [m] and equatorial surface field [T].
    omega_E_rad_per_s : float
        Corotation angular velocity (0 to switch corotation off) [rad/s].

    Returns
    -------
    float
        Angular drift velocity [rad/s], positive eastward.
    """
    b = B_E_T / (L * L * L)
    gamma = math.sqrt(1.0 + 2.0 * M_J_per_T * b / ELECTRON_REST_ENERGY_J)
    return 3.0 * M_J_per_T / (gamma * C.ELEMENTARY_CHARGE_C * R_E_m * R_E_m * L * L) + omega_E_rad_per_s
