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

Beyond T << drift period (issue 15): every coefficient is the power spectral density S_w of
the fluctuation w(t), taken at the particle's angular drift frequency Omega (in the frame where
the potential is fixed).  The steps, for the radial one:

1. Eq. 9 gives dL/dt = a L^3 w(t) sin(phi(t)), a = 1 / (B_E R_E), with phi(t) = phi_0 + Omega t
   along the unperturbed drift.
2. Over a time long against the correlation time of w, <(Delta L)^2> grows as
   t a^2 L^6 integral over tau of R_w(tau) <sin phi(t) sin phi(t + tau)> d tau, with R_w the
   autocorrelation of w.
3. Averaged over the drift phase, <sin phi(t) sin phi(t + tau)> = cos(Omega tau) / 2, and
   integral of R_w(tau) cos(Omega tau) d tau = S_w(Omega) (R_w is even).
4. So D_LL = <(Delta L)^2> / (2 t) = a^2 L^6 S_w(Omega) / 4: with S_w(0) = W^2 T this is
   Eq. 21, K L^6 / 2.  The same steps at a fixed phase (the sin(Omega tau) part of
   sin(phi) sin(phi + Omega tau) integrates to zero against the even R_w) give Eq. 12 with
   K L^6 sin^2 phi etc.

Hence K -> K_eff(Omega) = S_w(Omega) / (2 B_E^2 R_E^2) in every coefficient, with

* w piecewise constant over T, independent Gaussian values of variance W^2, update times at a
  random phase: ``R_w(tau) = W^2 (1 - |tau| / T)`` for ``|tau| < T`` (0 beyond), so
  S_w = W^2 T sinc^2(Omega T / 2), sinc x = sin x / x  (:func:`finite_update_factor`);
* w an Ornstein-Uhlenbeck process of variance W^2 and correlation time tau_c:
  ``R_w = W^2 exp(-|tau| / tau_c)``, S_w = 2 W^2 tau_c / (1 + Omega^2 tau_c^2).

Both reduce to the paper's K as Omega T -> 0 (resp. with T = 2 tau_c as Omega tau_c -> 0): the
paper's coefficients are the first term of an expansion in (Omega T)^2, and the radial
coefficient falls as (2 / (Omega T))^2 once the drift period is shorter than the update time,
the "drop" its Appendix anticipates.
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


COEFFICIENTS = ("paper", "finite_update")
NOISES = ("piecewise_constant", "ornstein_uhlenbeck")


def finite_update_factor(omega_rad_per_s, update_s):
    """``sinc^2(Omega T / 2)``: the spectral density of piecewise-constant w at Omega over its
    value at 0 (1 for Omega T -> 0; 0 where Omega T is a multiple of 2 pi)."""
    x = 0.5 * np.asarray(omega_rad_per_s, dtype=float) * float(update_s)
    return np.sinc(x / np.pi) ** 2                      # numpy's sinc is sin(pi u) / (pi u)


def ou_factor(omega_rad_per_s, correlation_s):
    """``1 / (1 + Omega^2 tau_c^2)``: the OU spectral density at Omega over its value at 0."""
    om = np.asarray(omega_rad_per_s, dtype=float)
    return 1.0 / (1.0 + (om * float(correlation_s)) ** 2)


def held_ou_factor(omega_rad_per_s, correlation_s, step_s):
    """The spectral density at Omega of an OU process *sampled every h and held* (what the test
    particles see, :func:`hpcbelt.particles.sequences.ou_path`), over the continuous OU's value at 0.

    The samples are an AR(1) sequence with rho = exp(-h / tau_c), whose discrete spectrum is
    W^2 (1 - rho^2) / (1 - 2 rho cos(Omega h) + rho^2) per sample; holding each sample for h
    multiplies by h sinc^2(Omega h / 2) (as for the paper's piecewise-constant w).  Hence

        S_held(Omega) / S_OU(0) = h sinc^2(Omega h / 2) (1 - rho^2) / (1 - 2 rho cos(Omega h) + rho^2) / (2 tau_c),

    which tends to :func:`ou_factor` as h / tau_c -> 0 (1 - rho^2 ~ 2 h / tau_c, the denominator
    ~ h^2 (1 / tau_c^2 + Omega^2)).  The particles follow this; the PDE models the continuous OU.
    """
    om = np.asarray(omega_rad_per_s, dtype=float)
    h, tau = float(step_s), float(correlation_s)
    rho = np.exp(-h / tau)
    discrete = (1.0 - rho * rho) / (1.0 - 2.0 * rho * np.cos(om * h) + rho * rho)
    return h * finite_update_factor(om, h) * discrete / (2.0 * tau)


def effective_K_per_s(W_mV_per_m, omega_rad_per_s, *, coefficients="paper", noise="piecewise_constant",
                      update_s=None, correlation_s=None, R_E_m=C.EARTH_RADIUS_DRIFT_M,
                      B_E_nT=C.EARTH_EQUATORIAL_FIELD_NT):
    """``K_eff = S_w(Omega) / (2 B_E^2 R_E^2)`` [1/s], shaped like ``omega_rad_per_s``.

    ``coefficients = "paper"`` takes S_w at Omega = 0 (the paper's K, Eq. 12 and 21);
    ``"finite_update"`` at the drift frequency.  ``noise`` = ``"piecewise_constant"`` (needs
    ``update_s``: S_w = W^2 T sinc^2(Omega T / 2)) or ``"ornstein_uhlenbeck"`` (needs
    ``correlation_s``: S_w = 2 W^2 tau_c / (1 + Omega^2 tau_c^2)).  ValueError names a bad argument.
    """
    if coefficients not in COEFFICIENTS:
        raise ValueError(f"coefficients: expected one of {', '.join(COEFFICIENTS)}, got {coefficients!r}")
    om = np.asarray(omega_rad_per_s, dtype=float)
    if noise == "piecewise_constant":
        if update_s is None or not update_s > 0:
            raise ValueError(f"update_s: expected a positive update time [s], got {update_s!r}")
        K = diffusion_constant_K_per_s(W_mV_per_m, update_s, R_E_m=R_E_m, B_E_nT=B_E_nT)
        factor = finite_update_factor(om, update_s)
    elif noise == "ornstein_uhlenbeck":
        if correlation_s is None or not correlation_s > 0:
            raise ValueError(f"correlation_s: expected a positive correlation time [s], got {correlation_s!r}")
        K = diffusion_constant_K_per_s(W_mV_per_m, 2.0 * correlation_s, R_E_m=R_E_m, B_E_nT=B_E_nT)
        factor = ou_factor(om, correlation_s)
    else:
        raise ValueError(f"noise: expected one of {', '.join(NOISES)}, got {noise!r}")
    if coefficients == "paper":
        factor = np.ones_like(om)
    return K * factor


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
