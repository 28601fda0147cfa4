"""Test-particle experiment of Lejosne & Albert (2023), Sec. 4: set-up and one permutation.

``ParticleExperiment`` holds the physics and numerics; :func:`run_permutation` runs one
permutation (its sequence of w, its N particles) and returns the distribution function the
particles imply, binned with the measure ``L^-2 dL dphi`` on an (L, MLT) grid at every
recording, and at the probe boxes.  Nothing here knows about MPI or files: the drift study's
driver (:mod:`hpcbelt.drift.driver`) hands permutations to the ranks and writes their results.
Bad arguments raise ValueError.

Integration error: RK4 with steps of at most ``dt_max_s`` that end exactly on every update of w
and on every recording time (see :func:`schedule`).  For the paper's case (200 keV at L = 3,
T = 200 s, W = 0.5 mV/m, 18 h) the position difference between dt_max = 100 s and 10 s is
reported by ``tools/bench_drift.py`` and checked in ``tests/particles``.
"""

import math
from dataclasses import dataclass, field

import numpy as np

from hpcbelt import constants as C
from hpcbelt import dipole
from hpcbelt.lmlt import INJECTION_REGIONS, PAPER_PROBE, Box, Grid
from hpcbelt.particles import kernels, sampling, sequences


def schedule(duration_s, update_s, record_every_s, dt_max_s):
    """Integration intervals ending on every update of w and every recording time.

    Returns
    -------
    dict of arrays
        ``dt`` (length of each interval), ``nsub`` (RK4 steps in it), ``seg`` (index of the
        w value in force), ``rec`` (recording index at its end or -1), plus ``n_rec``,
        ``n_updates`` and ``time_s`` (the recording times, starting at 0).
    """
    n_rec = int(round(duration_s / record_every_s))
    if n_rec < 1 or abs(n_rec * record_every_s - duration_s) > 1e-6 * duration_s:
        raise ValueError(f"the recording interval {record_every_s} s must divide the duration {duration_s} s")
    n_upd = int(math.ceil(duration_s / update_s - 1e-9))
    t_rec = record_every_s * np.arange(n_rec + 1)
    t_upd = update_s * np.arange(n_upd + 1)
    bp = np.unique(np.concatenate([t_rec, t_upd[t_upd < duration_s]]))
    # merge break points closer than a microsecond (round-off in k * T vs m * dt_out)
    bp = bp[np.concatenate([[True], np.diff(bp) > 1e-6])]
    bp[-1] = duration_s
    dt = np.diff(bp)
    starts = bp[:-1]
    seg = np.minimum(np.floor(starts / update_s + 1e-9).astype(np.int64), n_upd - 1)
    nsub = np.maximum(1, np.ceil(dt / dt_max_s - 1e-9)).astype(np.int64)
    rec = np.full(dt.size, -1, dtype=np.int64)
    ends = bp[1:]
    k = np.rint(ends / record_every_s)
    on = np.abs(ends - k * record_every_s) < 1e-6
    rec[on] = k[on].astype(np.int64)
    return {"dt": dt, "nsub": nsub, "seg": seg, "rec": rec, "n_rec": n_rec + 1, "n_updates": n_upd,
            "time_s": t_rec}


@dataclass
class ParticleExperiment:
    """Physics and numerics of the test-particle experiment (defaults: the paper's).

    ``bin_grid`` is the (L, MLT) grid the per-permutation F is binned on (the PDE grid or a
    coarsening of it with the same edges); ``regions`` are where the particles start (F = 1
    there); ``probes`` are :class:`hpcbelt.lmlt.Box` (or ``(L_lo, L_hi, mlt_lo_h, mlt_hi_h)``)
    boxes.
    """

    seed: int
    bin_grid: Grid
    W_mV_per_m: float = 0.5
    update_s: float = 200.0
    energy_keV: float = 200.0
    L_energy: float = 3.0
    duration_s: float = 18 * 3600.0
    record_every_s: float = 300.0
    dt_max_s: float = 100.0
    per_permutation: int = 10000
    regions: tuple = INJECTION_REGIONS
    probes: tuple = (PAPER_PROBE,)
    corotation: bool = True
    keep_positions: bool = False
    L_escape: float = 15.0
    R_E_m: float = C.EARTH_RADIUS_DRIFT_M
    B_E_nT: float = C.EARTH_EQUATORIAL_FIELD_NT
    noise: str = "piecewise_constant"      # or "ornstein_uhlenbeck": update_s is then w's sampling step
    correlation_s: float | None = None
    sched: dict = field(init=False, repr=False)

    def __post_init__(self):
        for key in ("W_mV_per_m", "update_s", "energy_keV", "L_energy", "duration_s", "record_every_s", "dt_max_s"):
            v = getattr(self, key)
            if not (np.isfinite(v) and v > 0):
                raise ValueError(f"{key} must be a positive number, got {v!r}")
        if int(self.per_permutation) < len(self.regions):
            raise ValueError(f"per_permutation: need at least {len(self.regions)} particles (one per "
                             f"region), got {self.per_permutation}")
        if self.noise not in ("piecewise_constant", "ornstein_uhlenbeck"):
            raise ValueError(f"noise: expected 'piecewise_constant' or 'ornstein_uhlenbeck', got {self.noise!r}")
        if self.noise == "ornstein_uhlenbeck" and not (self.correlation_s and self.correlation_s > 0):
            raise ValueError(f"correlation_s: expected a positive correlation time, got {self.correlation_s!r}")
        self.probes = tuple(Box.of(b) for b in self.probes)
        self.sched = schedule(self.duration_s, self.update_s, self.record_every_s, self.dt_max_s)

    # constants of the right-hand side (see kernels._rhs)
    def rhs_constants(self):
        M = float(dipole.first_invariant_J_per_T(self.energy_keV, self.L_energy, self.B_E_nT))
        B_E_T = self.B_E_nT * 1e-9
        c_grad = 3.0 * M / (C.ELEMENTARY_CHARGE_C * self.R_E_m ** 2)
        c_gamma = 2.0 * M * B_E_T / dipole.ELECTRON_REST_ENERGY_J
        omega_E = C.EARTH_ROTATION_RAD_PER_S if self.corotation else 0.0
        return c_grad, c_gamma, omega_E, 1.0 / (B_E_T * self.R_E_m)

    def base_sequence(self):
        """The study's one base sequence: the w values, or for OU noise the standard normal innovations."""
        if self.noise == "ornstein_uhlenbeck":
            return sequences.base_sequence(self.seed, self.sched["n_updates"], 1.0)
        return sequences.base_sequence(self.seed, self.sched["n_updates"], self.W_mV_per_m * 1e-3)

    def permutation_sequence(self, perm_index, base):
        """The w [V/m] of permutation ``perm_index``, one value per update interval."""
        w = sequences.permuted_sequence(self.seed, perm_index, base)
        if self.noise == "ornstein_uhlenbeck":
            w = sequences.ou_path(w, self.W_mV_per_m * 1e-3, self.correlation_s, self.update_s)
        return w

    def integrate(self, X0, Y0, w_seqs, seq_of):
        """Positions (N, n_rec, 2) of particles driven by the given sequences."""
        s = self.sched
        out = np.empty((X0.size, s["n_rec"], 2))
        kernels.track(np.ascontiguousarray(X0, dtype=float), np.ascontiguousarray(Y0, dtype=float),
                      np.ascontiguousarray(np.atleast_2d(w_seqs), dtype=float),
                      np.ascontiguousarray(seq_of, dtype=np.int64), s["dt"], s["nsub"], s["seg"], s["rec"],
                      s["n_rec"], *self.rhs_constants(), float(self.L_escape), out)
        return out


def run_permutation(exp, perm_index, base=None):
    """Run one permutation: returns ``F`` (n_rec, n_L, n_mlt) float32, ``probe_F`` (n_probe, n_rec),
    ``number_in_grid`` (n_rec,) and, if ``exp.keep_positions``, ``positions`` (N, n_rec, 2) float32."""
    if base is None:
        base = exp.base_sequence()
    w = exp.permutation_sequence(perm_index, base)
    L, phi, wgt = sampling.sample(sequences.position_rng(exp.seed, perm_index), exp.regions, exp.per_permutation)
    pos = exp.integrate(L * np.cos(phi), L * np.sin(phi), w[None, :], np.zeros(L.size, dtype=np.int64))
    g = exp.bin_grid
    F = np.empty((exp.sched["n_rec"], g.n_L, g.n_mlt))
    kernels.bin_positions(pos, wgt, g.L_min, g.dL, g.n_L, g.n_mlt, 1.0 / g.ring_measure, F)
    probe = np.empty((len(exp.probes), exp.sched["n_rec"]))
    for q, box in enumerate(exp.probes):
        tmp = np.empty(exp.sched["n_rec"])
        kernels.box_sum(pos, wgt, box.L_lo, box.L_hi, box.phi_lo, box.phi_hi, tmp)
        probe[q] = tmp / box.measure                  # particles' weight in the box / its measure
    res = {"F": F.astype(np.float32), "probe_F": probe,
           "number_in_grid": (F * g.ring_measure[None, :, None]).sum(axis=(1, 2))}
    if exp.keep_positions:
        res["positions"] = pos.astype(np.float32)
    return res
