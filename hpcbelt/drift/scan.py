"""The energy scan of issue 15: D_LL measured by the test particles against the paper's coefficient
(Eq. 21) and the finite-T / OU ones (:mod:`hpcbelt.drift.coefficients`), at one energy.

The measurement is :mod:`hpcbelt.particles.diffusion` (ring particles on L0, the spread of the
drift-averaged L).  The predictions here are *conditional on the study's one base sequence*:
every permutation reorders the same values, so their mean square mean(base^2) replaces W^2
(for OU noise the base holds the innovations and W^2 mean(xi^2) is the path variance to
O(1 / n)).  That factor, ``base_ratio`` = mean(base^2) / W^2 (1 +- sqrt(2 / n_updates)), is
common to every permutation and is not in the permutations' error; it is reported apart.

Predicted K [1/s] at Omega = Omega(L0):

* ``paper``     S_w(0) / (2 B_E^2 R_E^2): Eq. 12 / 21 (T = 2 tau_c for OU);
* ``finite``    the PDE's ``coefficients = "finite_update"``: sinc^2(Omega T / 2), or the continuous
                OU's 1 / (1 + Omega^2 tau_c^2);
* ``particles`` what the particles' w has exactly: ``finite`` for piecewise-constant w; for OU the
                sampled-and-held spectrum (:func:`coefficients.held_ou_factor`, with its sinc^2(Omega h / 2)).
"""

from __future__ import annotations

import numpy as np

from ..particles import diffusion
from ..particles.tracker import ParticleExperiment
from . import coefficients as co


def predicted_K(exp: ParticleExperiment, omega_rad_per_s) -> dict:
    """``{"paper", "finite", "particles"}``: K [1/s] of each prediction at ``omega_rad_per_s`` (module docstring)."""
    kw = dict(noise=exp.noise, update_s=exp.update_s, correlation_s=exp.correlation_s, R_E_m=exp.R_E_m,
              B_E_nT=exp.B_E_nT)
    paper = float(co.effective_K_per_s(exp.W_mV_per_m, omega_rad_per_s, coefficients="paper", **kw))
    finite = float(co.effective_K_per_s(exp.W_mV_per_m, omega_rad_per_s, coefficients="finite_update", **kw))
    exact = finite
    if exp.noise == "ornstein_uhlenbeck":
        exact = paper * float(co.held_ou_factor(omega_rad_per_s, exp.correlation_s, exp.update_s))
    return {"paper": paper, "finite": finite, "particles": exact}


def base_ratio(exp: ParticleExperiment, base) -> float:
    """mean(base^2) / W^2 (the conditional factor of the module docstring)."""
    b = np.asarray(base, dtype=float)
    scale = 1.0 if exp.noise == "ornstein_uhlenbeck" else exp.W_mV_per_m * 1e-3
    return float(np.mean(b * b) / scale ** 2)


def measure(exp: ParticleExperiment, perms, L0: float, n: int, *, dt_max_s: float | None = None,
            base=None) -> dict:
    """Run the ring particles of the permutations ``perms``; the raw per-permutation results
    (``time_s``, ``msd_v`` (P, n_t), ``lag_s``, ``S`` (P, n_lag), ``moments`` (P, n_bins, 6), ``n_lost``).  Serial: the
    scan tool gives each MPI rank its share and adds them."""
    ring = diffusion.ring_experiment(exp, dt_max_s)
    if base is None:
        base = ring.base_sequence()
    var, S, mom, lost, t = [], [], [], 0, None
    for p in perms:
        r = diffusion.run_ring(ring, int(p), base, L0, n)
        var.append(r["msd_v"])
        S.append(r["S"])
        mom.append(r["moments"])
        lost += r["n_lost"]
        t = r["time_s"]
    return {"time_s": t, "msd_v": np.array(var), "lag_s": r["lag_s"], "S": np.array(S), "moments": np.array(mom),
            "n_lost": lost}


def compare(exp: ParticleExperiment, raw: dict, L0: float, t_fit_s: float, base=None) -> dict:
    """Measured against predicted at L0: K and D_LL [1/day], ratios with their 1-sigma errors,
    Omega T, and the MLT-resolved moment rates against Eq. 11 with the finite-T factor."""
    if base is None:
        base = exp.base_sequence()
    om = float(diffusion.drift_frequency(exp, L0))
    K, sK = diffusion.measured_K(raw["lag_s"], raw["S"], t_fit_s)
    K0, sK0 = diffusion.measured_K(raw["time_s"], raw["msd_v"], t_fit_s)
    ratio = base_ratio(exp, base)
    pred = {k: v * ratio for k, v in predicted_K(exp, om).items()}
    day = 86400.0
    out = {"energy_keV": exp.energy_keV, "L0": L0, "omega_rad_per_s": om,
           "omega_T": om * exp.update_s,
           "update_s": exp.update_s, "noise": exp.noise, "correlation_s": exp.correlation_s,
           "permutations": int(raw["msd_v"].shape[0]), "t_fit_s": t_fit_s, "base_ratio": ratio,
           "K_meas_per_s": K, "K_sigma_per_s": sK,
           "K_from_start_per_s": K0, "K_from_start_sigma_per_s": sK0, "D_LL_meas_per_day": 0.5 * K * L0 ** 6 * day,
           "D_LL_sigma_per_day": 0.5 * sK * L0 ** 6 * day, "n_lost": raw["n_lost"]}
    for k, v in pred.items():
        out[f"K_{k}_per_s"] = v
        out[f"D_LL_{k}_per_day"] = 0.5 * v * L0 ** 6 * day
        out[f"ratio_{k}"] = K / v
        out[f"ratio_{k}_sigma"] = sK / v
    # Eq. 11, MLT-resolved: measured rates against 2 K_eff x (sin^2, cos^2, sin cos) averaged over each bin
    mom = np.asarray(raw["moments"], dtype=float)
    if mom.ndim == 2:                               # already summed (n_bins, 6)
        msum = mom
    else:
        msum = np.zeros(mom.shape[1:])
        for m in mom:                               # in permutation order: the same sums on any rank count
            msum += m
    rates = diffusion.moment_rates(msum, exp.update_s)
    nb = msum.shape[0]
    phi = (np.arange(nb) + 0.5) * 2 * np.pi / nb
    lo, hi = phi - np.pi / nb, phi + np.pi / nb           # bin averages of the angular factors
    d = 4.0 * (hi - lo)
    s2 = 0.5 - (np.sin(2 * hi) - np.sin(2 * lo)) / d
    c2 = 0.5 + (np.sin(2 * hi) - np.sin(2 * lo)) / d
    sc = -(np.cos(2 * hi) - np.cos(2 * lo)) / d
    Ke = pred["particles"]
    out["moments"] = {"mlt_h": list((phi * 24 / (2 * np.pi)).round(3)),
                      "count": msum[:, 0].tolist(),
                      "dL2_rate_per_s": rates[0].tolist(), "dphi2_rate_per_s": rates[1].tolist(),
                      "dLdphi_rate_per_s": rates[2].tolist(),
                      "dL2_predicted_per_s": (2 * Ke * s2).tolist(),
                      "dphi2_predicted_per_s": (2 * Ke * c2).tolist(),
                      "dLdphi_predicted_per_s": (2 * Ke * sc).tolist(),
                      "dL2_paper_per_s": (2 * pred["paper"] * s2).tolist()}
    # one number per moment: measured over predicted, summed over MLT (sin^2 and cos^2 weights)
    out["moments"]["dL2_ratio"] = float(rates[0].sum() / (2 * Ke * s2).sum())
    out["moments"]["dphi2_ratio"] = float(rates[1].sum() / (2 * Ke * c2).sum())
    return out
