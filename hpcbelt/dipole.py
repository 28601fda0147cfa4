"""The dipole field: the field line, its loss cone, and equatorial particles in it.

Shared by the pitch-angle study (loss cone), the diffusion-coefficient calculator
(``hpcbelt.dxx``: field along the line, mirror latitude), the drift-diffusion PDE, the
radial-diffusion solver and the test-particle tracker (Lejosne & Albert 2023, Sec. 2).

Field line (any dipole, dimensionless):

* ``B(lat) / B_eq = sqrt(1 + 3 sin^2 lat) / cos^6 lat`` along the line ``r = L R_E cos^2 lat``
  (:func:`b_ratio`, :func:`b_ratio_minus_one`, :func:`b_ratio_of_cos2`);
* a particle of equatorial pitch angle ``a0`` mirrors where ``sin^2 a0 = B_eq / B(lat_m)``
  (:func:`mirror_latitude`); the loss cone is the ``a0`` that mirrors at a given altitude
  (:func:`loss_cone_deg_from_altitude`).

Equatorial particles (Lejosne & Albert 2023).  Conventions:

* ``L = r / R_E`` at the magnetic equator, with ``R_E`` the study's Earth radius
  (6370 km in Lejosne & Albert 2023, ``hpcbelt.constants.EARTH_RADIUS_DRIFT_M``).
* Equatorial dipole field ``B(L) = B_E / L**3`` (their Eq. 3), ``B_E`` = 30,000 nT.
* ``phi`` is magnetic local time in radians, 0 at midnight, increasing eastward; electrons
  drift eastward, so their unperturbed angular drift velocity is positive.
* The first invariant of an equatorially mirroring particle is the relativistic
  ``M = p**2 / (2 m_e B)``; in SI it is in J/T, and 1 MeV/G = 1.602e-9 J/T.

The scalar functions below are plain numpy (they accept arrays) and the ``*_nb`` ones, like
the field-line functions used inside the bounce integrals, are numba kernels.  Bad
arguments raise ``ValueError``.
"""

import math

import numba
import numpy as np

from hpcbelt import constants as C

MEV_PER_G_IN_J_PER_T = 1.0e6 * C.ELEMENTARY_CHARGE_C / 1.0e-4   # 1 MeV/G expressed in J/T
ELECTRON_REST_ENERGY_J = C.ELECTRON_REST_ENERGY_MEV * 1.0e6 * C.ELEMENTARY_CHARGE_C


# --------------------------------------------------------------------------------------
# the field line
# --------------------------------------------------------------------------------------

@numba.njit(cache=True)
def b_ratio(lat):
    """Dipole field strength along a field line relative to the equator.

    Parameters
    ----------
    lat : float
        Magnetic latitude [rad].

    Returns
    -------
    float
        B(lat) / B_eq = sqrt(1 + 3 sin^2 lat) / cos^6 lat.
    """
    s = math.sin(lat)
    c = math.cos(lat)
    return math.sqrt(1.0 + 3.0 * s * s) / (c * c * c * c * c * c)


@numba.njit(cache=True)
def b_ratio_minus_one(lat):
    """B(lat)/B_eq - 1 without cancellation near the equator (~ 4.5 lat^2).

    sqrt(1 + 3 s^2) - c^6 = 3 s^2 / (sqrt(1 + 3 s^2) + 1) + s^2 (3 - 3 s^2 + s^4), with
    s = sin(lat), c = cos(lat), divided by c^6.
    """
    s2 = math.sin(lat) ** 2
    c2 = 1.0 - s2
    num = 3.0 * s2 / (math.sqrt(1.0 + 3.0 * s2) + 1.0) + s2 * (3.0 - 3.0 * s2 + s2 * s2)
    return num / (c2 * c2 * c2)


def b_ratio_of_cos2(cos2_lat):
    """B(lat) / B_eq from ``cos^2 lat`` (numpy; the form the loss cone needs).

    The same ratio as :func:`b_ratio`, sqrt(1 + 3 sin^2 lat) / cos^6 lat, written in
    u = cos^2 lat: sqrt(1 + 3 (1 - u)) / u^3.
    """
    sin2 = 1.0 - cos2_lat
    return np.sqrt(1.0 + 3.0 * sin2) / cos2_lat**3


@numba.njit(cache=True)
def mirror_latitude(alpha0):
    """Mirror latitude of a particle with equatorial pitch angle ``alpha0``.

    G&H05 eq. 28: u = cos^2 lat_m solves u^6 + 3 s^4 u - 4 s^4 = 0, s = sin alpha0 (this
    is sin^2 alpha0 = B_eq / B(lat_m) written in u).  We solve it for v = 1 - u = sin^2 lat_m,

        f(v) = c (1 + s^2) - v [6 - 15 v + 20 v^2 - 15 v^3 + 6 v^4 - v^5] - 3 s^4 v = 0,

    with c = cos^2 alpha0, which keeps full relative precision as alpha0 -> 90 deg (below
    45 deg the u form is the well-conditioned one and is used instead).  f falls
    monotonically from c (1 + s^2) >= 0 at v = 0 to -4 s^4 at v = 1, so a safeguarded
    Newton iteration (bisection fallback) always converges.

    Parameters
    ----------
    alpha0 : float
        Equatorial pitch angle [rad], 0 <= alpha0 <= pi/2.

    Returns
    -------
    float
        Mirror latitude [rad]; pi/2 for alpha0 = 0 and 0 for alpha0 = pi/2.
    """
    s2 = math.sin(alpha0) ** 2
    c = math.cos(alpha0) ** 2
    s4 = s2 * s2
    if s4 <= 0.0:
        return 0.5 * math.pi
    if c <= 0.0:
        return 0.0
    if alpha0 < 0.25 * math.pi:
        # small pitch angles: u = cos^2 lat_m is small, solve in u directly
        lo = 0.0
        hi = 1.0
        u = min((4.0 * s4) ** (1.0 / 6.0), 1.0)
        for _ in range(200):
            u2 = u * u
            f = u2 * u2 * u2 + 3.0 * s4 * u - 4.0 * s4
            if f > 0.0:
                hi = u
            else:
                lo = u
            un = u - f / (6.0 * u2 * u2 * u + 3.0 * s4)
            if un <= lo or un >= hi:
                un = 0.5 * (lo + hi)
            if abs(un - u) <= 1e-16 * u:
                u = un
                break
            u = un
        return math.acos(math.sqrt(u))
    lo = 0.0
    hi = 1.0
    f0 = c * (1.0 + s2)
    v = min(f0 / (6.0 + 3.0 * s4), 0.5)   # first Newton step from v = 0
    for _ in range(200):
        p = 6.0 + v * (-15.0 + v * (20.0 + v * (-15.0 + v * (6.0 - v))))
        f = f0 - v * p - 3.0 * s4 * v
        if f > 0.0:
            lo = v
        else:
            hi = v
        # f'(v) = -6 (1 - v)^5 - 3 s^4
        vn = v - f / (-6.0 * (1.0 - v) ** 5 - 3.0 * s4)
        if vn <= lo or vn >= hi:
            vn = 0.5 * (lo + hi)
        if abs(vn - v) <= 1e-16 * v:
            v = vn
            break
        v = vn
    return math.asin(math.sqrt(v))


def loss_cone_deg_from_altitude(L: float, altitude_km: float,
                                earth_radius_m: float = C.EARTH_RADIUS_M) -> float:
    """Equatorial loss-cone angle [deg] for a dipole mirror point at ``altitude_km``.

    The field line L meets the sphere r = R_E + h at cos^2 lat_m = (1 + h/R_E)/L; the loss
    cone is sin^2 a_LC = B_eq / B(lat_m) (:func:`b_ratio_of_cos2`).  ``ValueError`` if the
    field line does not reach that altitude.
    """
    cos2 = (1.0 + altitude_km * 1e3 / earth_radius_m) / L
    if not 0.0 < cos2 < 1.0:
        raise ValueError(f"field line L = {L} does not reach altitude {altitude_km} km")
    return float(np.degrees(np.arcsin(np.sqrt(1.0 / b_ratio_of_cos2(cos2)))))


# --------------------------------------------------------------------------------------
# equatorial particles
# --------------------------------------------------------------------------------------


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


def lorentz_factor_of_invariant(M_J_per_T, L, B_E_nT=C.EARTH_EQUATORIAL_FIELD_NT):
    """Lorentz factor ``sqrt(1 + 2 M B / (m_e c**2))`` of an equatorial electron of first
    invariant ``M`` at ``L`` (below Eq. 8).

    (:func:`hpcbelt.constants.lorentz_factor_of_energy` is the one of a kinetic energy.)
    """
    return np.sqrt(1.0 + 2.0 * M_J_per_T * equatorial_field_T(L, B_E_nT) / ELECTRON_REST_ENERGY_J)


# The old name, kept for callers not yet moved to the explicit one.
lorentz_factor = lorentz_factor_of_invariant


def kinetic_energy_keV(M_J_per_T, L, B_E_nT=C.EARTH_EQUATORIAL_FIELD_NT):
    """Kinetic energy [keV] of an equatorial electron with invariant ``M`` at ``L``."""
    gamma = lorentz_factor_of_invariant(M_J_per_T, L, B_E_nT)
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
    gamma = lorentz_factor_of_invariant(M_J_per_T, L, B_E_nT)
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
