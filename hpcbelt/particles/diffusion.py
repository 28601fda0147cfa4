"""Radial diffusion measured from test particles (issue 15): the spread of the drift-averaged L
and the MLT-resolved moments of Eq. 11 of Lejosne & Albert (2023), at one energy.

The measurement uses *ring particles*: ``n`` particles start on ``L = L0`` at stratified drift
phases (one per 2 pi / n, jittered from spawn key (3, perm); :func:`sequences.ring_rng`), driven
by one permutation's w (the same w as the permutation's injection particles), with positions
recorded at every update of w (every ``update_s``; for OU noise every sampling step).

Drift-averaged L.  With w held fixed, the motion of Eq. 8 is Hamiltonian in the canonical pair
(phi, u = 1/L) (the measure L^-2 dL dphi = du dphi is the one it preserves):

    H(phi, u) = G(u) - a X,   G'(u) = Omega(1/u),   a = w / (B_E R_E),   X = L cos phi,

since dphi/dt = dH/du = Omega + a L^2 cos phi and du/dt = -dH/dphi = -a L sin phi (i.e.
dL/dt = a L^3 sin phi, Eq. 9).  On the orbit of fixed H, to first order in a, u = u* + a X / Omega
with u* the orbit average of u.  So the guiding (drift-averaged) L of a particle at (X, Y) under
the w in force is

    1 / L* = 1 / L - a X / Omega(L)          (:func:`guiding_u`)

which removes the oscillation of L over a drift (amplitude a L^3 / Omega, 0.05 at 200 keV,
comparable with the diffusive spread when Omega T >> 1) and jumps when w changes: those jumps
are the random walk of the drift shells.  At each recording the w that starts there is used
(the first interval's at t = 0); the last recording is dropped.

Measured coefficient.  In v = u*^2 = 1 / L*^2 the paper's drift-averaged coefficient (Eq. 21,
D_LL = K L^6 / 2) becomes D_vv = (dv/dL)^2 D_LL = 4 L^-6 D_LL = 2 K, independent of L, and with
the finite-T coefficients 2 K_eff(Omega(L)).  So the mean square <(v*(t) - v*(0))^2> grows as
2 D_vv t = 4 K_eff t (plus a constant from the first-order residual), and so does the structure function
S(tau) = <(v*(t + tau) - v*(t))^2> averaged over t, which uses the whole run (many independent
windows) and is the estimator used:

    K_meas = slope of S(tau) / 4,   D_LL,meas(L0) = K_meas L0^6 / 2

with the slope fitted (least squares with an intercept) for tau >= t_fit, up to a quarter of the
run.  The mean square is over the whole ensemble (every particle of every permutation), NOT the
variance over the ring of one permutation: the particles of one permutation share its w and
the ring moves and deforms coherently (at Omega T ~ 1 its phases bunch), so subtracting each
permutation's own ring mean removes part of the diffusion (-17 % at 3 MeV, T = 200 s).  The mean
drift of v (-K L^2) is negligible in S (relative 20 K tau ~ 1e-4).  Working in v avoids the
L^6 bias of a fit in L.  Each permutation gives one slope; their mean over P permutations is
the measurement and std / sqrt(P) its statistical error (the permutations are the independent
samples; n only has to resolve the phase average).

MLT-resolved moments (Eq. 11).  Over each update interval [t_k, t_k + T], with dL the change of
L, dphi the change of phi minus Omega(L_k) T, and the bin the unperturbed mid-interval phase
phi_k + Omega(L_k) T / 2, the first-order solution gives dL = a L^3 T sinc(Omega T / 2) sin(phi_mid)
and dphi = a L^2 T sinc(Omega T / 2) cos(phi_mid) (plus, for dphi, the shear Omega'(L) of the
drift acting on dL, of relative size ~ Omega T), so

    <(dL / L^3)^2> / T = 2 K_eff sin^2 phi,   <(dphi / L^2)^2> / T = 2 K_eff cos^2 phi,
    <dL dphi / L^5> / T = 2 K_eff sin phi cos phi

(Eq. 11 and 12 with K -> K_eff).  :func:`run_ring` returns per-bin sums, which add over
permutations.  For OU noise the interval is the sampling step h << tau_c, shorter than the
correlation time: these one-step moments are then h / (2 tau_c) of the diffusive rate, not
Eq. 11 (which needs intervals long against the correlation time of w).

Nothing here imports the drift package (layers): the predictions are in :mod:`hpcbelt.drift.scan`.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from hpcbelt.particles import sequences
from hpcbelt.particles.tracker import ParticleExperiment

MOMENTS = ("count", "dL", "dL2", "dphi", "dphi2", "dLdphi")   # columns of the per-bin sums (normalised)
N_MLT_BINS = 24
LAG_FRACTION = 4          # structure function up to a quarter of the run ...
MAX_LAGS = 60             # ... at this many lags at most


def drift_frequency(exp: ParticleExperiment, L):
    """The unperturbed drift frequency Omega(L) [rad/s] of ``exp``'s electrons (the tracker's)."""
    c_grad, c_gamma, omega_E, _ = exp.rhs_constants()
    L = np.asarray(L, dtype=float)
    return c_grad / (np.sqrt(1.0 + c_gamma / L ** 3) * L * L) + omega_E


def rk4_step_s(exp_or_omega, *, rad_per_step: float = 0.25, cap_s: float = 100.0) -> float:
    """The largest RK4 step [s] that keeps Omega h <= ``rad_per_step`` (``cap_s`` at most).

    Classical RK4 on a rotation loses amplitude by (Omega h)^6 / 144 per step: 1.7e-6 at 0.25
    rad (L shrinks by < 0.7 % over 18 h at 3 MeV); the phase error is (Omega h)^5 / 120.
    ``exp_or_omega``: a drift frequency [rad/s] or a ParticleExperiment (Omega at its L_energy).
    """
    om = exp_or_omega
    if isinstance(om, ParticleExperiment):
        om = float(drift_frequency(om, om.L_energy))
    return float(min(cap_s, rad_per_step / float(om)))


def ring_experiment(exp: ParticleExperiment, dt_max_s: float | None = None) -> ParticleExperiment:
    """``exp`` recording at every update of w (and with RK4 steps of at most ``dt_max_s``)."""
    return dataclasses.replace(exp, record_every_s=exp.update_s, keep_positions=False,
                               dt_max_s=exp.dt_max_s if dt_max_s is None else float(dt_max_s))


def guiding_u(X, Y, a_per_s, omega_rad_per_s):
    """``1 / L*``: the orbit-averaged 1/L for the w in force (module docstring), first order in a."""
    L = np.hypot(X, Y)
    return 1.0 / L - a_per_s * X / omega_rad_per_s


def ring_phases(seed: int, perm_index: int, n: int) -> np.ndarray:
    """Stratified drift phases [rad] of the ``n`` ring particles of permutation ``perm_index``."""
    return (np.arange(n) + sequences.ring_rng(seed, perm_index).uniform(0.0, 1.0, n)) * (2.0 * math.pi / n)


def run_ring(exp: ParticleExperiment, perm_index: int, base, L0: float, n: int, n_bins: int = N_MLT_BINS) -> dict:
    """Track ``n`` ring particles from ``L0`` under permutation ``perm_index``'s w.

    ``exp`` must record at every update of w (:func:`ring_experiment`).  Returns
    ``time_s`` (n_rec - 1,), ``msd_v`` (n_rec - 1,): the ring's mean of (v*(t) - v*(0))^2, v = 1/L*^2;
    ``lag_s``, ``S``: the structure function <(v*(t + lag) - v*(t))^2> (mean over the ring and t);
    ``moments`` (n_bins, 6): per mid-interval MLT bin the sums of :data:`MOMENTS` (count, dL/L^3,
    (dL/L^3)^2, dphi/L^2, (dphi/L^2)^2, dL dphi / L^5), over every update interval and particle;
    ``mean_w2`` the mean of w^2 [V^2/m^2] of the permutation; ``n_lost`` particles that left.
    """
    s = exp.sched
    if abs(exp.record_every_s - exp.update_s) > 1e-9 * exp.update_s:
        raise ValueError("run_ring: the experiment must record at every update of w (use ring_experiment)")
    if n < 2:
        raise ValueError(f"ring particles: need at least 2, got {n}")
    w = exp.permutation_sequence(perm_index, base)
    phi0 = ring_phases(exp.seed, perm_index, n)
    pos = exp.integrate(L0 * np.cos(phi0), L0 * np.sin(phi0), w[None, :], np.zeros(n, dtype=np.int64))
    ok = np.all(np.isfinite(pos[:, :, 0]), axis=1)
    pos = pos[ok]
    n_up = s["n_updates"]
    X, Y = pos[:, :n_up, 0], pos[:, :n_up, 1]          # recordings 0 .. n_up - 1 (update times)
    L = np.hypot(X, Y)
    om = drift_frequency(exp, L)
    inv = exp.rhs_constants()[3]
    a = w[:n_up] * inv                                  # the w that starts at each recording
    v = guiding_u(X, Y, a[None, :], om) ** 2
    dv = v - v[:, :1]
    msd_v = np.mean(dv * dv, axis=0)
    lags = lag_steps(n_up)
    S = np.array([np.mean((v[:, j:] - v[:, :-j]) ** 2) for j in lags])
    # moments over each update interval k -> k + 1
    T = exp.update_s
    X1, Y1 = pos[:, 1:n_up + 1, 0], pos[:, 1:n_up + 1, 1]
    L1 = np.hypot(X1, Y1)
    phi = np.arctan2(Y, X)
    turn = np.arctan2(X * Y1 - Y * X1, X * X1 + Y * Y1)          # phi1 - phi in (-pi, pi]
    dphi = np.angle(np.exp(1j * (turn - om * T)))               # minus the unperturbed drift, wrapped
    mid = np.mod(phi + 0.5 * om * T, 2.0 * math.pi)
    b = np.minimum((mid / (2.0 * math.pi) * n_bins).astype(np.int64), n_bins - 1).ravel()
    xL = ((L1 - L) / L ** 3).ravel()
    xp = (dphi / L ** 2).ravel()
    cols = (np.ones_like(xL), xL, xL * xL, xp, xp * xp, xL * xp)
    moments = np.stack([np.bincount(b, weights=c, minlength=n_bins) for c in cols], axis=1)
    return {"time_s": s["time_s"][:n_up], "msd_v": msd_v, "lag_s": T * lags, "S": S,
            "moments": moments,
            "mean_w2": float(np.mean(w * w)), "n_lost": int((~ok).sum())}


def lag_steps(n_updates: int) -> np.ndarray:
    """The lags (in update steps) of the structure function: up to a quarter of the run, at most
    :data:`MAX_LAGS` of them, evenly spaced."""
    n_lag = max(3, n_updates // LAG_FRACTION)
    return np.unique(np.rint(np.linspace(1, n_lag, min(n_lag, MAX_LAGS))).astype(np.int64))


def fit_slopes(time_s, y, t_fit_s: float) -> np.ndarray:
    """Least-squares slope (with intercept) of each row of ``y`` (P, n_t) over t >= t_fit_s."""
    t = np.asarray(time_s, dtype=float)
    sel = t >= t_fit_s
    if sel.sum() < 3:
        raise ValueError(f"fit: fewer than 3 times at or after {t_fit_s:g} s")
    tt = t[sel] - t[sel].mean()
    y = np.atleast_2d(y)[:, sel]
    return (y - y.mean(axis=1, keepdims=True)) @ tt / (tt @ tt)


def measured_K(time_s, y, t_fit_s: float):
    """``(K_meas, sigma)`` [1/s] from the rows of ``y`` (one per permutation): the mean of the
    per-permutation slope / 4 and its standard error std / sqrt(P) (module docstring)."""
    k = fit_slopes(time_s, y, t_fit_s) / 4.0
    P = k.size
    return float(k.mean()), float(k.std(ddof=1) / math.sqrt(P)) if P > 1 else math.nan


def moment_rates(moments, update_s: float):
    """From summed per-bin :data:`MOMENTS` (n_bins, 6): the rates [1/s] ``(<dL^2>, <dphi^2>, <dL dphi>)``
    per bin (the central second moments over one update / T, normalised by L^6, L^4, L^5)."""
    m = np.asarray(moments, dtype=float)
    n = np.maximum(m[:, 0], 1.0)
    mL, mp = m[:, 1] / n, m[:, 3] / n
    return ((m[:, 2] / n - mL * mL) / update_s, (m[:, 4] / n - mp * mp) / update_s,
            (m[:, 5] / n - mL * mp) / update_s)
