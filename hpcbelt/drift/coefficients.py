"""Transport and diffusion coefficients for equatorial electrons driven by random potential fluctuations.

Lejosne & Albert (2023), Frontiers, Sec. 2-3: potential ``V = -C/r + w(t) r cos(phi)`` with ``w``
piecewise constant over the update time ``T``, Gaussian, mean 0, standard deviation ``W``.

Everything is expressed through one constant (Sec. 4.1 of the paper)::

    K = W**2 T / (2 B_E**2 R_E**2)        [1/s]     (6.85e-10 1/s for W = 0.5 mV/m, T = 200 s)

so that the MLT-localised coefficients of their Eq. 12 are ``D_LL = K L^6 sin^2 phi``,
``D_phiphi = K L^4 cos^2 phi``, ``D_Lphi = K L^5 sin phi cos phi`` (units 1/s with L and phi
dimensionless), the drift-averaged radial coefficient (Eq. 21) is ``K L^6 / 2`` and the
one-dimensional coefficient along y = L sin phi (Eq. 27) is ``K (x^2 + y^2)^3``.

These coefficients do not depend on energy or charge as long as T is short compared with
the drift period (Appendix of the paper); the drift frequency, which does, is in
:mod:`hpcbelt.dipole`.
"""

import numpy as np

from hpcbelt import constants as C

SECONDS_PER_DAY = 86400.0


def diffusion_constant_K_per_s(W_mV_per_m, update_s, *, R_E_m=C.EARTH_RADIUS_DRIFT_M,
                               B_E_nT=C.EARTH_EQUATORIAL_FIELD_NT):
    """``K = W^2 T / (2 B_E^2 R_E^2)`` [1/s], the prefactor of every coefficient (Eq. 12)."""
    W_V_per_m = np.asarray(W_mV_per_m, dtype=float) * 1.0e-3
    B_E_T = B_E_nT * 1.0e-9
    return W_V_per_m ** 2 * update_s / (2.0 * B_E_T ** 2 * R_E_m ** 2)


def transport_coefficients(L, phi, mean_w_V_per_m, omega_rad_per_s, *, R_E_m=C.EARTH_RADIUS_DRIFT_M,
                           B_E_nT=C.EARTH_EQUATORIAL_FIELD_NT):
    """Mean rates of change ``([Ldot] [1/s], [phidot] [rad/s])`` of Eq. 9.

    ``[Ldot] = L^3 [w] sin(phi) / (B_E R_E)``, ``[phidot] = Omega + L^2 [w] cos(phi) / (B_E R_E)``
    with ``[w]`` the ensemble-mean of the fluctuation (0 for ideal white noise) and
    ``omega_rad_per_s`` the unperturbed drift frequency at ``L``.
    """
    L = np.asarray(L, dtype=float)
    phi = np.asarray(phi, dtype=float)
    scale = mean_w_V_per_m / (B_E_nT * 1.0e-9 * R_E_m)
    return L ** 3 * scale * np.sin(phi), omega_rad_per_s + L ** 2 * scale * np.cos(phi)


def local_diffusion_coefficients(L, phi, K_per_s):
    """MLT-localised ``(D_LL, D_phiphi, D_Lphi)`` of Eq. 12 [1/s].

    ``D_LL = K L^6 sin^2 phi``, ``D_phiphi = K L^4 cos^2 phi``, ``D_Lphi = D_phiL = K L^5 sin phi cos phi``.
    The matrix is singular (``D_LL D_phiphi = D_Lphi^2``, their Eq. 24).
    """
    L = np.asarray(L, dtype=float)
    s = np.sin(phi)
    c = np.cos(phi)
    return K_per_s * L ** 6 * s * s, K_per_s * L ** 4 * c * c, K_per_s * L ** 5 * s * c


def second_moments_per_s(L, phi, W_mV_per_m, update_s, *, R_E_m=C.EARTH_RADIUS_DRIFT_M,
                         B_E_nT=C.EARTH_EQUATORIAL_FIELD_NT):
    """Rates of the second moments of Eq. 11, in L and phi units: ``(<dL^2>, <dphi^2>, <dL dphi>)`` [1/s].

    Eq. 11 gives ``<(dr)^2> = r^6 W^2 T sin^2 phi / (B_E^2 R_E^6)``; dividing by ``R_E^2`` gives
    ``<(dL)^2> = 2 K L^6 sin^2 phi``, i.e. twice the D_LL of Eq. 12 (Eq. 6: D = <..>/2).
    Valid for ``T << dt << drift period``.
    """
    K = diffusion_constant_K_per_s(W_mV_per_m, update_s, R_E_m=R_E_m, B_E_nT=B_E_nT)
    dll, dpp, dlp = local_diffusion_coefficients(L, phi, K)
    return 2.0 * dll, 2.0 * dpp, 2.0 * dlp


def drift_averaged_D_LL_per_s(L, K_per_s):
    """Drift-averaged radial diffusion coefficient ``D_LL = K L^6 / 2`` (Eq. 21) [1/s].

    Equal to ``L^6 W^2 T / (4 B_E^2 R_E^2)``: 0.0216 /day at L = 3 for the paper's W and T.
    """
    return 0.5 * K_per_s * np.asarray(L, dtype=float) ** 6


def D_yy_per_s(x, y, K_per_s):
    """Diffusion coefficient along ``y = L sin phi`` (Eq. 27): ``K (x^2 + y^2)^3`` [1/s]."""
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    return K_per_s * (x * x + y * y) ** 3


def power_law_D_LL_per_s(L, D0_per_day, power):
    """User law ``D_LL = D0 L^power`` with ``D0`` given per day [1/s]."""
    return D0_per_day / SECONDS_PER_DAY * np.asarray(L, dtype=float) ** power
