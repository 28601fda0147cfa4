"""Run a drift-diffusion study: PDE (+ radial) on rank 0, particle permutations over all ranks.

The work is a list of items: the PDE (with the radial solver), cut into chunks of consecutive
output frames that run in order on rank 0, and one item per unfinished permutation.
:func:`plan` balances them into one queue per rank; :func:`hpcbelt.parallel.run_rounds` runs
the queues in rounds of one item per rank, and between rounds the ranks agree whether SIGTERM,
SIGUSR1 or SIGINT has arrived; if so they stop together with the file consistent
(RunInterrupted, exit 75).  Every item writes its data with :meth:`hpcbelt.output.RunFile.put`,
whatever the I/O mode, into the layout of :mod:`hpcbelt.drift.runfile`.

Checkpoint and restart (the pitch-angle driver's contract, issue 4): a permutation counts as
written once its done flag (``runfile.PART_DONE``) is 1, the PDE once ``runfile.PDE_DONE`` is 1,
each set last, after the item's data.  The PDE is
deterministic and keeps no solver state in the file: ``--restart`` recomputes it from the start
unless it is done, and computes the unfinished permutations, so the final datasets are bitwise
identical to those of an uninterrupted run on any number of ranks.
"""

from __future__ import annotations

import json

import numpy as np

from .. import constants as C
from .. import output, parallel
from ..particles import diffusion, sequences
from ..particles.tracker import ParticleExperiment, run_permutation
from ..radial.solver import RadialDiffusion
from . import runfile as rfl
from .solver import DriftDiffusionSolver
from .study import Study


def experiment(study: Study) -> ParticleExperiment:
    """The test-particle experiment of ``study`` (which must have ``[particles] enabled``)."""
    ph, pa = study.physics, study.particles
    return ParticleExperiment(
        seed=study.seed, bin_grid=study.bin_grid, W_mV_per_m=ph.W_mV_per_m, update_s=ph.update_s,
        energy_keV=ph.energy_keV, L_energy=ph.L_energy, duration_s=pa.duration_s,
        record_every_s=study.output_every_s, dt_max_s=pa.dt_max_s, per_permutation=pa.per_permutation,
        probes=study.probe_boxes(), corotation=ph.corotation, keep_positions=pa.keep_positions,
        L_escape=pa.L_escape, R_E_m=ph.R_E_m, B_E_nT=ph.B_E_nT, noise=ph.noise, correlation_s=ph.correlation_s)


# Measured rates (tools/bench_drift.py; the paper's study on this 2-core machine): seconds per PDE
# cell and step, and per particle RK4 step.  They set the balance of the rounds, never a result.
PDE_S_PER_CELL_STEP = 7.5e-7   # the paper's grid, implicit: 39 s for 24 h (loaded machine)
PARTICLE_S_PER_STEP = 9e-8     # the paper's permutation: 0.56 s (10,000 particles, 648 steps)


def costs(study: Study, exp: ParticleExperiment | None):
    """Rough seconds of the whole PDE (with the radial solver) and of one permutation."""
    g = study.grid
    n_steps = int(np.ceil(study.duration_s / study.time.dt_s))
    pde = PDE_S_PER_CELL_STEP * n_steps * g.n_L * g.n_mlt
    perm = 0.0 if exp is None else PARTICLE_S_PER_STEP * exp.per_permutation * float(exp.sched["nsub"].sum())
    return pde, perm


def _pde_chunks(n_frames: int, with_perms: bool, pde_cost: float, perm_cost: float) -> list:
    """The PDE's output frames cut into chunks (k0, k1) of about one permutation's cost (one frame
    per chunk without permutations, so that a stop request never waits long)."""
    n_chunks = n_frames if not with_perms or perm_cost <= 0 else int(np.clip(round(pde_cost / perm_cost), 1, n_frames))
    return [(int(ks[0]), int(ks[-1]) + 1) for ks in np.array_split(np.arange(n_frames), n_chunks)]


def plan(study: Study, size: int, pde_todo: bool = True, perms=(), exp: ParticleExperiment | None = None):
    """Each rank's work queue: items ``("pde", k0, k1)`` (output frames k0..k1-1, in order, on rank 0)
    and ``("perm", p)``.

    Items run in rounds of one item per rank, so they should last about the same: the PDE is cut
    into chunks of about one permutation's cost (one frame per chunk when there are no
    permutations, so that a stop request never waits long), and permutations go in index order to
    the rank with the least estimated load.  The plan changes no result, only the balance.
    """
    queues = [[] for _ in range(size)]
    load = np.zeros(size)
    perms = [int(p) for p in perms]
    pde_cost, perm_cost = costs(study, exp)
    if pde_todo:
        queues[0] += [("pde", k0, k1) for k0, k1 in _pde_chunks(study.out_t.size, bool(perms), pde_cost, perm_cost)]
        load[0] = pde_cost
    for p in perms:
        r = int(np.argmin(load))
        queues[r].append(("perm", p))
        load[r] += max(perm_cost, 1e-9)
    return queues


class _Pde:
    """The PDE (and the radial solver) on rank 0, advanced chunk by chunk of output frames."""

    def __init__(self, study: Study, put):
        self.study, self.put = study, put
        g, ph, t, edges = study.grid, study.physics, study.time, study.edges
        self.solver = DriftDiffusionSolver.from_physics(
            g, study.F0, W_mV_per_m=ph.W_mV_per_m, update_s=ph.update_s, energy_keV=ph.energy_keV,
            L_energy=ph.L_energy, dt_s=t.dt_s, corotation=ph.corotation, R_E_m=ph.R_E_m, B_E_nT=ph.B_E_nT,
            method=t.method, boundary=edges.kinds, boundary_values=edges.values, kmax=t.kmax,
            coefficients=ph.coefficients, noise=ph.noise, correlation_s=ph.correlation_s)
        self.pw = [box.weights(g) for box in study.probe_boxes()]
        self.rad = self.Fr = None
        if study.radial_on:
            self.rad = RadialDiffusion(g.L_edges, study.radial_D_LL(), boundary=edges.kinds,
                                       boundary_values=edges.values, theta=study.radial.theta)
            self.Fr = study.F0.mean(axis=1).copy()
        self.probe_series = np.full((len(self.pw), study.out_t.size), np.nan)
        self.digest = rfl.PdeDigest()          # the checksum of what is written, frame by frame
        self.next = 0

    def frames(self, k0: int, k1: int) -> None:
        """Advance to output frames k0 .. k1-1 (in order) and write each as it comes."""
        assert k0 == self.next, (k0, self.next)
        study, solver, rad, put = self.study, self.solver, self.rad, self.put
        for k in range(k0, k1):
            if k > 0:
                solver.advance(study.output_every_s)
                if rad is not None:
                    rad.advance(self.Fr, study.output_every_s, study.radial.dt_s)
            F = solver.fixed_frame()
            number, lost_lo, lost_hi = solver.number(), solver.lost_lo, solver.lost_hi
            put(rfl.PDE_F, (k, slice(None), slice(None)), F)
            put(rfl.PDE_NUMBER, k, number)
            put(rfl.PDE_LOST_MIN, k, lost_lo)
            put(rfl.PDE_LOST_MAX, k, lost_hi)
            self.probe_series[:, k] = [np.sum(w * F) / np.sum(w) for w in self.pw]
            radial = None
            if rad is not None:
                radial = (self.Fr.copy(), rad.lost_lo, rad.lost_hi)
                put(rfl.RADIAL_F, (k, slice(None)), radial[0])
                put(rfl.RADIAL_LOST_MIN, k, radial[1])
                put(rfl.RADIAL_LOST_MAX, k, radial[2])
            self.digest.frame(F, number, lost_lo, lost_hi, radial)
        self.next = k1

    def finish(self) -> str:
        """Write the probe series, the budget and the checksum, then mark the PDE done; returns
        the budget (JSON)."""
        assert self.next == self.study.out_t.size
        self.put(rfl.PDE_PROBE_F, (slice(None), slice(None)), self.probe_series)
        b = self.solver.budget()
        b["cg_iterations"] = self.solver.iterations
        b["explicit_substeps"] = self.solver.substeps
        text = json.dumps(b, sort_keys=True)
        self.put(rfl.PDE_BUDGET, (), np.bytes_(text.encode()))
        self.put(rfl.PDE_CHECKSUM, slice(None), self.digest.finish(self.probe_series, text.encode()))
        self.put(rfl.PDE_DONE, (), 1)
        return text


def _run_perm(exp: ParticleExperiment, p: int, base, put, ring=None) -> None:
    """One permutation: its particles (and, with ``ring`` = (ring experiment, L0, n), its ring
    particles under the same w), written through ``put``; the done flag last."""
    res = run_permutation(exp, p, base)
    order = sequences.permutation_indices(exp.seed, p, base.size).astype(np.int32)
    put(rfl.PART_F, (p, slice(None), slice(None), slice(None)), res["F"])
    put(rfl.PART_PROBE_F, (p, slice(None), slice(None)), res["probe_F"])
    put(rfl.PART_NUMBER, (p, slice(None)), res["number_in_grid"])
    put(rfl.PART_PERMUTATION, (p, slice(None)), order)
    positions = None
    if exp.keep_positions:
        positions = res["positions"]
        put(rfl.PART_POSITIONS, (p, slice(None), slice(None), slice(None)), positions)
    ring_arrays = None
    if ring is not None:
        rexp, L0, n = ring
        r = diffusion.run_ring(rexp, p, base, L0, n)
        ring_arrays = [np.asarray(r["msd_v"], float), np.asarray(r["S"], float), np.asarray(r["moments"], float),
                       np.int64(r["n_lost"]), np.float64(r["mean_w2"])]
        for (name, _), a in zip(rfl.RING_DTYPES, ring_arrays):
            put(name, (p,) + (slice(None),) * np.ndim(a), a)
    # the checksum of exactly what was put, then (last) the done flag
    put(rfl.PART_CHECKSUM, (p, slice(None)), rfl.perm_digest(res["F"], res["probe_F"], res["number_in_grid"], order,
                                                             positions, ring=ring_arrays))
    put(rfl.PART_DONE, p, 1)


def _prefixed(put, group: str):
    """``put`` into an energy group (unchanged for a single-energy file)."""
    if not group:
        return put
    return lambda name, sel, data: put(f"{group}/{name}", sel, data)


def plan_energies(slices, size: int, todo) -> list:
    """The work queues of a study over energies: items ``("pde", e, k0, k1)`` and ``("perm", e, p)``.

    ``todo[e]`` = (pde_todo, perms, exp) of slice e.  Energies are dealt in order of falling
    permutation cost (the longest items first balance best); each energy's PDE goes, cut as in
    :func:`plan`, to the rank with the least estimated load (its chunks in order on that rank),
    then its permutations one by one to the least loaded rank.  Changes no result, only the balance.
    """
    queues = [[] for _ in range(size)]
    load = np.zeros(size)
    cost = [costs(s, t[2]) for s, t in zip(slices, todo)]
    for e in sorted(range(len(slices)), key=lambda e: -cost[e][1]):
        st, (pde_todo, perms, _) = slices[e], todo[e]
        pde_cost, perm_cost = cost[e]
        if pde_todo:
            r = int(np.argmin(load))
            queues[r] += [("pde", e, k0, k1) for k0, k1 in _pde_chunks(st.out_t.size, bool(perms), pde_cost, perm_cost)]
            load[r] += pde_cost
        for p in perms:
            r = int(np.argmin(load))
            queues[r].append(("perm", e, int(p)))
            load[r] += max(perm_cost, 1e-9)
    return queues


def run(study: Study, comm, out_path, quiet: bool = False, done: dict | None = None) -> None:
    """Run every unfinished work item and write ``out_path`` (all ranks call this).

    ``done`` (from :func:`hpcbelt.drift.runfile.restart_state`) continues an earlier run in
    place: finished permutations are kept, the PDE is recomputed unless done (a finished item
    whose checksum no longer matches counts as not done); the datasets end
    up bitwise identical to an uninterrupted run.  Raises RunInterrupted after leaving the file
    consistent if a stop signal arrives.  A study over energies runs every energy's PDE and
    permutations in the same rounds, each into its group (:func:`plan_energies`).
    """
    rank, size = comm.Get_rank(), comm.Get_size()
    slices = study.slices()
    multi = study.over_energies
    if done is None:
        dones = [None] * len(slices)
    elif multi:
        dones = [{k[len(st.group) + 1:]: v for k, v in done.items() if k.startswith(st.group + "/")} for st in slices]
    else:
        dones = [done]
    todo, rings = [], []
    for st, dn in zip(slices, dones):
        exp = experiment(st) if st.particles_on else None
        P = st.n_perm
        if dn is None:
            pde_todo, perms = True, list(range(P))
        else:
            pde_todo = not bool(np.all(dn["pde"]))
            perms = [p for p in range(P) if not dn["particles"][p]] if exp is not None else []
        todo.append((pde_todo, perms, exp))
        n_ring = st.particles.ring_per_permutation if exp is not None else 0
        rings.append((diffusion.ring_experiment(exp), st.physics.L_energy, n_ring) if n_ring else None)
    if multi:
        queues = plan_energies(slices, size, todo)
        layout = rfl.layout_energies(slices, [t[2] for t in todo])
    else:
        pde_todo, perms, exp = todo[0]
        queues = [[(it[0], 0, *it[1:]) for it in q] for q in plan(study, size, pde_todo, perms, exp)]
        layout = rfl.layout(study, exp)
    bases = [t[2].base_sequence() if t[2] is not None else None for t in todo]
    # Signals are caught from before the file is created (``hpcbelt run`` catches them from its
    # start; this covers direct callers): one arriving while the layout is written (seconds for
    # a big study) stops the run before its first round, with the file complete.
    with parallel.StopRequests():
        rf = output.RunFile.open_run(out_path, comm, resume=done is not None, kind=rfl.KIND, study=study,
                                     layout_version=rfl.LAYOUT_VERSION, layout=layout,
                                     K_per_s=study.K_per_s, earth_rotation_rad_per_s=C.EARTH_ROTATION_RAD_PER_S,
                                     noise=study.physics.noise, coefficients=study.physics.coefficients,
                                     **({} if study.physics.correlation_s is None
                                        else {"correlation_s": study.physics.correlation_s}))
        puts = [_prefixed(rf.put, st.group) for st in slices]
        pdes, budgets = {}, {}

        def work(item):
            e = item[1]
            if item[0] == "pde":
                pde = pdes[e] = pdes.get(e) or _Pde(slices[e], puts[e])
                pde.frames(item[2], item[3])
                if item[3] == slices[e].out_t.size:
                    budgets[e] = pde.finish()
            else:
                _run_perm(todo[e][2], item[2], bases[e], puts[e], rings[e])

        rounds = parallel.run_rounds(comm, queues, work, label="drift study", quiet=quiet, hub=rf.hub,
                                     after_item=rf.item_finished)
    if multi:
        # each energy's PDE budget is in its group's pde/budget_json (no root attribute)
        rf.finish(rounds, "work items", note=f" ({len(slices)} energies)")
        return
    budget = budgets.get(0)
    if rank == 0 and budget is None and not todo[0][0]:
        budget = rfl.read_budget(rf.h5)                    # done by an earlier run
    budget = comm.bcast(budget, root=0)
    note = f" (PDE {'done' if budget is not None else 'to be recomputed'})"
    rf.finish(rounds, "work items", extra={rfl.BUDGET_ATTR: budget} if budget is not None else None, note=note)
