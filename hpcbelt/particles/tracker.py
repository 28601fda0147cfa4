"""Test-particle experiment of Lejosne & Albert (2023), Sec. 4: set-up, one permutation, MPI driver.

``ParticleExperiment`` holds the physics and numerics; :func:`run_permutation` runs one
permutation (its sequence of w, its N particles) and returns the distribution function the
particles imply, binned with the measure ``L^-2 dL dphi`` on an (L, MLT) grid at every
recording, and at the probe boxes.  :func:`run_permutations` is the only place that knows
about MPI: it deals the permutation indices out to the ranks of the communicator it is given.

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
from hpcbelt.drift.grid import Grid, TWO_PI
from hpcbelt.drift.initial import INJECTION_REGIONS
from hpcbelt.errors import InputError
from hpcbelt.particles import kernels, sampling, sequences

PAPER_PROBE = (3.45, 3.55, 21.75, 22.25)   # L = 3.5 +- 0.05, 22:00 +- 00:15 MLT


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
        raise InputError(f"particles: the recording interval {record_every_s} s must divide the "
                         f"duration {duration_s} s")
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
    coarsening of it with the same edges); ``probes`` are (L_lo, L_hi, mlt_lo_h, mlt_hi_h) boxes.
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
    sched: dict = field(init=False, repr=False)

    def __post_init__(self):
        for key in ("W_mV_per_m", "update_s", "energy_keV", "L_energy", "duration_s", "record_every_s", "dt_max_s"):
            v = getattr(self, key)
            if not (np.isfinite(v) and v > 0):
                raise InputError(f"particles: {key} must be a positive number, got {v!r}")
        if int(self.per_permutation) < 1:
            raise InputError(f"particles.per_permutation: expected a positive integer, got {self.per_permutation}")
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
        return sequences.base_sequence(self.seed, self.sched["n_updates"], self.W_mV_per_m * 1e-3)

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
    w = sequences.permuted_sequence(exp.seed, perm_index, base)
    L, phi, wgt = sampling.sample(sequences.position_rng(exp.seed, perm_index), exp.regions, exp.per_permutation)
    pos = exp.integrate(L * np.cos(phi), L * np.sin(phi), w[None, :], np.zeros(L.size, dtype=np.int64))
    g = exp.bin_grid
    F = np.empty((exp.sched["n_rec"], g.n_L, g.n_mlt))
    kernels.bin_positions(pos, wgt, g.L_min, g.dL, g.n_L, g.n_mlt, 1.0 / (g.measure_L * g.dphi), F)
    probe = np.empty((len(exp.probes), exp.sched["n_rec"]))
    for q, (L_lo, L_hi, m_lo, m_hi) in enumerate(exp.probes):
        tmp = np.empty(exp.sched["n_rec"])
        kernels.box_sum(pos, wgt, L_lo, L_hi, (m_lo % 24) * TWO_PI / 24, (m_hi % 24) * TWO_PI / 24, tmp)
        span_h = (m_hi - m_lo) % 24.0 or 24.0
        probe[q] = tmp / ((1.0 / L_lo - 1.0 / L_hi) * span_h * TWO_PI / 24.0)
    res = {"F": F.astype(np.float32), "probe_F": probe,
           "number_in_grid": (F * (g.measure_L * g.dphi)[None, :, None]).sum(axis=(1, 2))}
    if exp.keep_positions:
        res["positions"] = pos.astype(np.float32)
    return res


def run_permutations(comm, perm_indices, exp):
    """MPI driver: the permutations ``perm_indices`` are dealt round-robin to the ranks of ``comm``.

    Every rank returns the results of its own share only (no gathering): a dict with
    ``perm_index`` (n_local,), ``F`` (n_local, n_rec, n_L, n_mlt) float32, ``probe_F``
    (n_local, n_probe, n_rec), ``number_in_grid`` (n_local, n_rec), ``time_s`` (n_rec,) and
    optionally ``positions``.  Each permutation depends only on (seed, index), so the union
    of the ranks' results is the same for any number of ranks.
    """
    perm_indices = [int(p) for p in perm_indices]
    mine = perm_indices[comm.Get_rank()::comm.Get_size()]
    base = exp.base_sequence()
    results = [run_permutation(exp, p, base) for p in mine]
    g = exp.bin_grid
    n_rec = exp.sched["n_rec"]
    out = {"perm_index": np.array(mine, dtype=np.int64), "time_s": exp.sched["time_s"]}
    if results:
        for key in results[0]:
            out[key] = np.stack([r[key] for r in results])
    else:
        out["F"] = np.zeros((0, n_rec, g.n_L, g.n_mlt), dtype=np.float32)
        out["probe_F"] = np.zeros((0, len(exp.probes), n_rec))
        out["number_in_grid"] = np.zeros((0, n_rec))
        if exp.keep_positions:
            out["positions"] = np.zeros((0, exp.per_permutation, n_rec, 2), dtype=np.float32)
    return out


def ensemble_sums(comm, local):
    """Sum over all ranks of the per-permutation F and probe series and the permutation count.

    Returns ``(n_perm, sum_F, sum_probe, sumsq_probe)`` on every rank (Allreduce), from which the
    ensemble mean and the standard error of the probe series follow.
    """
    from mpi4py import MPI

    n = comm.allreduce(int(local["perm_index"].size), op=MPI.SUM)
    sF = np.ascontiguousarray(local["F"].astype(np.float64).sum(axis=0))
    sP = np.ascontiguousarray(local["probe_F"].sum(axis=0))
    sP2 = np.ascontiguousarray((local["probe_F"] ** 2).sum(axis=0))
    for a in (sF, sP, sP2):
        comm.Allreduce(MPI.IN_PLACE, a, op=MPI.SUM)
    return n, sF, sP, sP2
