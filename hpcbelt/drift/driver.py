"""Run a drift-diffusion study: PDE (+ radial) on one rank, particle permutations over all ranks.

Output layout (dataset names are a contract with users and job templates):

    /time_s                         (n_time,)                  s, dimension scale (PDE and radial outputs)
    /probe/name, L_lo, L_hi, mlt_lo_h, mlt_hi_h  (n_probe,)    the probe boxes
    /pde/L_grid                     (n_L,)                     cell centres in L, dimension scale
    /pde/mlt_h                      (n_mlt,)                   cell-centre MLT [h], dimension scale
    /pde/L_edges                    (n_L + 1,)                 cell edges in L
    /pde/cell_measure               (n_L,)                     (1/L_lo - 1/L_hi) dphi of each cell of a ring
    /pde/F                          (time, L, mlt)             F (cell averages, fixed MLT frame)
    /pde/number                     (time,)                    sum F dmu, dmu = L^-2 dL dphi
    /pde/lost_L_min, lost_L_max     (time,)                    cumulative number that left through each edge
    /pde/probe_F                    (probe, time)              measure-weighted average of F over each probe box
    /pde/budget_json                ()  S1024                  the particle budget of the PDE (JSON; also the root
                                                               attribute pde_budget_json)
    /pde/done                       ()  u1                     1 once pde/* and radial/* are completely written
    /radial/F                       (time, L)                  radial solver (if [radial] enabled)
    /radial/D_LL_per_s              (L,)                       D_LL used, at the cell centres
    /radial/lost_L_min, lost_L_max  (time,)
    /particles/time_s               (n_ptime,)                 s, dimension scale
    /particles/perm                 (P,)                       permutation index, dimension scale
    /particles/L_grid, mlt_h        binning grid (the PDE grid coarsened by coarsen_L x coarsen_mlt)
    /particles/F                    (perm, time, L, mlt) f4    F implied by each permutation's particles
    /particles/probe_F              (perm, probe, time)        F at the probe boxes (exact box counts)
    /particles/number_in_grid       (perm, time)               sum F dmu inside the binning grid
    /particles/w_base_V_per_m       (n_updates,)               the original sequence of w
    /particles/permutation          (perm, n_updates) i4       index order of each permutation
    /particles/perm_done            (perm,) u1                 1 once the permutation is written
    /particles/positions            (perm, N, time, 2) f4      X, Y [R_E] (only with keep_positions)

Checkpoint and restart (the pitch-angle driver's contract, issue 4).  Every dataset that is
written during the run is preallocated and the whole layout is flushed before anything is
computed, so a run killed at any moment leaves a readable file.  The work is a list of items:
the PDE (with the radial solver), cut into chunks of consecutive output frames that run in order
on rank 0, and one item per unfinished permutation.  Items are done in rounds of one item per
rank; between rounds all ranks agree whether SIGTERM, SIGUSR1 or SIGINT has arrived and, if so,
stop together with the file consistent (RunInterrupted, exit 75).  A permutation counts as written
once ``particles/perm_done`` is 1; the PDE once ``pde/done`` is 1.  The PDE is deterministic and
keeps no solver state in the file: ``--restart`` recomputes it from the start unless it is done, and
computes the unfinished permutations, so the final datasets are bitwise identical to those of
an uninterrupted run on any number of ranks.
"""

from __future__ import annotations

import json

import numpy as np

from .. import constants as C
from .. import output
from ..errors import InputError, RunInterrupted
from ..parallel import Hub, Progress, StopRequests
from ..particles import sequences
from ..particles.tracker import ParticleExperiment, run_permutation
from ..radial.solver import RadialDiffusion
from . import coefficients as co
from .solver import DriftDiffusionSolver
from .study import Study

LAYOUT_VERSION = 2   # 2: preallocated datasets, pde/done, pde/budget_json (restartable)
F_UNITS = "1"
F_DOC = ("distribution function F (phase-space density of the canonical coordinates; the number of "
         "particles in a region is the integral of F L^-2 dL dphi); 1 = the initial injection level")


def _experiment(study: Study) -> ParticleExperiment:
    ph, pa = study.physics, study.doc["particles"]
    return ParticleExperiment(
        seed=study.seed, bin_grid=study.bin_grid, W_mV_per_m=ph["W_mV_per_m"], update_s=ph["update_s"],
        energy_keV=ph["energy_keV"], L_energy=ph["L_energy"], duration_s=pa["duration_h"] * 3600.0,
        record_every_s=study.output_every_s, dt_max_s=pa["dt_max_s"], per_permutation=pa["per_permutation"],
        probes=study.probe_boxes(), corotation=ph["corotation"], keep_positions=pa["keep_positions"],
        L_escape=pa["L_escape"], R_E_m=ph["earth_radius_km"] * 1e3, B_E_nT=ph["B_E_nT"])


def _K(study: Study) -> float:
    ph = study.physics
    return float(co.diffusion_constant_K_per_s(ph["W_mV_per_m"], ph["update_s"], R_E_m=ph["earth_radius_km"] * 1e3,
                                               B_E_nT=ph["B_E_nT"]))


# Measured rates (tools/bench_drift.py; the paper's study on this 2-core machine): seconds per PDE
# cell and step, and per particle RK4 step.  They set the balance of the rounds, never a result.
PDE_S_PER_CELL_STEP = 7.5e-7   # the paper's grid, implicit: 39 s for 24 h (loaded machine)
PARTICLE_S_PER_STEP = 9e-8     # the paper's permutation: 0.56 s (10,000 particles, 648 steps)


def costs(study: Study, exp: ParticleExperiment | None):
    """Rough seconds of the whole PDE (with the radial solver) and of one permutation."""
    g = study.grid
    n_steps = int(np.ceil(study.duration_s / study.doc["time"]["dt_s"]))
    pde = PDE_S_PER_CELL_STEP * n_steps * g.n_L * g.n_mlt
    perm = 0.0 if exp is None else PARTICLE_S_PER_STEP * exp.per_permutation * float(exp.sched["nsub"].sum())
    return pde, perm


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
        n_frames = study.out_t.size
        n_chunks = n_frames if not perms or perm_cost <= 0 else int(np.clip(round(pde_cost / perm_cost), 1, n_frames))
        for ks in np.array_split(np.arange(n_frames), n_chunks):
            queues[0].append(("pde", int(ks[0]), int(ks[-1]) + 1))
        load[0] = pde_cost
    for p in perms:
        r = int(np.argmin(load))
        queues[r].append(("perm", p))
        load[r] += max(perm_cost, 1e-9)
    return queues


def _radial_law(study: Study):
    r = study.doc["radial"]
    if r["D_LL"] == "drift_averaged":
        K = _K(study)
        return lambda L: co.drift_averaged_D_LL_per_s(L, K)
    return lambda L: co.power_law_D_LL_per_s(L, r["D0_per_day"], r["power"])


def _layout(study: Study, exp: ParticleExperiment | None):
    """Every dataset of the file.  What the run writes later is preallocated (early allocation,
    contiguous), so writing it changes no metadata and a killed run leaves a readable file."""
    g = study.grid
    nt = study.out_t.size
    alloc = output.preallocated

    def make(h5):
        output.scale(h5, "time_s", study.out_t, "s", "output times of the PDE and the radial solver")
        pr = h5.create_group("probe")
        # fixed-length ASCII: parallel HDF5 cannot write variable-length strings
        output.units(pr.create_dataset("name", data=np.array([p["name"].encode() for p in study.probes], dtype="S64")),
                     "1", "probe names (ASCII)")
        for key, unit in (("L_lo", "1"), ("L_hi", "1"), ("mlt_lo_h", "h"), ("mlt_hi_h", "h")):
            output.units(pr.create_dataset(key, data=np.array([p[key] for p in study.probes], float)), unit)
        pde = h5.create_group("pde")
        output.scale(h5, "pde/L_grid", g.L_centres, "1", "L at the cell centres")
        output.scale(h5, "pde/mlt_h", g.mlt_h, "h", "MLT at the cell centres (0 = midnight)")
        output.units(pde.create_dataset("L_edges", data=g.L_edges), "1", "cell edges in L")
        output.units(pde.create_dataset("cell_measure", data=g.measure_L * g.dphi), "rad",
                     "(1/L_lo - 1/L_hi) dphi: measure of each cell of a ring (number = sum F * measure)")
        F = alloc(pde, "F", (nt, g.n_L, g.n_mlt), "f8", np.nan)
        output.units(F, F_UNITS, F_DOC + "; NaN until written; valid where pde/done = 1")
        for name, doc in (("number", "sum of F times the cell measure"),
                          ("lost_L_min", "cumulative number that left through L_min"),
                          ("lost_L_max", "cumulative number that left through L_max")):
            d = alloc(pde, name, (nt,), "f8", np.nan)
            output.units(d, "rad", doc)
            d.dims[0].attach_scale(h5["time_s"])
        pf = alloc(pde, "probe_F", (len(study.probes), nt), "f8", np.nan)
        output.units(pf, F_UNITS, "measure-weighted average of F over each probe box")
        pf.dims[1].attach_scale(h5["time_s"])
        F.dims[0].attach_scale(h5["time_s"])
        F.dims[1].attach_scale(h5["pde/L_grid"])
        F.dims[2].attach_scale(h5["pde/mlt_h"])
        output.units(alloc(pde, "budget_json", (), "S1024", b""), "1",
                     "particle budget of the PDE (JSON, as the root attribute pde_budget_json); empty until done")
        output.units(alloc(pde, "done", (), "u1", 0), "1",
                     "1 once pde/* and radial/* are completely written (they are recomputed on restart otherwise)")
        if study.radial_on:
            rad = h5.create_group("radial")
            RF = alloc(rad, "F", (nt, g.n_L), "f8", np.nan)
            output.units(RF, F_UNITS, "solution of the radial diffusion equation (Eq. 22)")
            RF.dims[0].attach_scale(h5["time_s"])
            RF.dims[1].attach_scale(h5["pde/L_grid"])
            output.units(rad.create_dataset("D_LL_per_s", data=_radial_law(study)(g.L_centres)), "1/s",
                         "radial diffusion coefficient at the cell centres")
            for name in ("lost_L_min", "lost_L_max"):
                d = alloc(rad, name, (nt,), "f8", np.nan)
                output.units(d, "1", f"cumulative number (per radian of MLT) that left through {name[5:]}")
        if exp is not None:
            bg = exp.bin_grid
            s = exp.sched
            P = study.doc["particles"]["permutations"]
            part = h5.create_group("particles")
            output.scale(h5, "particles/time_s", s["time_s"], "s", "recording times of the particles")
            output.scale(h5, "particles/perm", np.arange(P), "1", "permutation index")
            output.scale(h5, "particles/L_grid", bg.L_centres, "1", "binning grid: L at the cell centres")
            output.scale(h5, "particles/mlt_h", bg.mlt_h, "h", "binning grid: MLT at the cell centres")
            pF = alloc(part, "F", (P, s["n_rec"], bg.n_L, bg.n_mlt), "f4", np.nan)
            output.units(pF, F_UNITS, F_DOC + "; particles binned with that measure; NaN until written")
            for i, sc in enumerate(("particles/perm", "particles/time_s", "particles/L_grid", "particles/mlt_h")):
                pF.dims[i].attach_scale(h5[sc])
            pp = alloc(part, "probe_F", (P, len(study.probes), s["n_rec"]), "f8", np.nan)
            output.units(pp, F_UNITS, "F at each probe box from the particles inside it")
            pp.dims[0].attach_scale(h5["particles/perm"])
            pp.dims[2].attach_scale(h5["particles/time_s"])
            ng = alloc(part, "number_in_grid", (P, s["n_rec"]), "f8", np.nan)
            output.units(ng, "rad", "number of particles (measure units) inside the binning grid")
            output.units(part.create_dataset("w_base_V_per_m", data=exp.base_sequence()), "V/m",
                         "the original Gaussian sequence of w, one value per update_s")
            output.units(alloc(part, "permutation", (P, s["n_updates"]), "i4", -1),
                         "1", "indices into w_base_V_per_m used by each permutation, in time order")
            done = alloc(part, "perm_done", (P,), "u1", 0)
            output.units(done, "1", "1 once the permutation is completely written")
            done.dims[0].attach_scale(h5["particles/perm"])
            if exp.keep_positions:
                pos = alloc(part, "positions", (P, exp.per_permutation, s["n_rec"], 2), "f4", np.nan)
                output.units(pos, "R_E", "X = L cos(phi), Y = L sin(phi) (X towards midnight); NaN once escaped")

    return make


class _Pde:
    """The PDE (and the radial solver) on rank 0, advanced chunk by chunk of output frames."""

    def __init__(self, study: Study, put):
        from .grid import box_weights

        self.study, self.put = study, put
        g = study.grid
        ph, t, gr = study.physics, study.doc["time"], study.doc["grid"]
        bnd = (gr["boundary_L_min"], gr["boundary_L_max"])
        bval = (gr["F_L_min"], gr["F_L_max"])
        self.solver = DriftDiffusionSolver.from_physics(
            g, study.F0, W_mV_per_m=ph["W_mV_per_m"], update_s=ph["update_s"], energy_keV=ph["energy_keV"],
            L_energy=ph["L_energy"], dt_s=t["dt_s"], corotation=ph["corotation"],
            R_E_m=ph["earth_radius_km"] * 1e3, B_E_nT=ph["B_E_nT"], method=t["method"], boundary=bnd,
            boundary_values=bval, kmax=t["kmax"])
        self.pw = [box_weights(g, *b) for b in study.probe_boxes()]
        self.rad = self.Fr = None
        if study.radial_on:
            self.rad = RadialDiffusion(g.L_edges, _radial_law(study), boundary=bnd, boundary_values=bval,
                                       theta=study.doc["radial"]["theta"])
            self.Fr = study.F0.mean(axis=1).copy()
        self.probe_series = np.full((len(self.pw), study.out_t.size), np.nan)
        self.next = 0

    def frames(self, k0: int, k1: int) -> None:
        """Advance to output frames k0 .. k1-1 (in order) and write each as it comes."""
        assert k0 == self.next, (k0, self.next)
        study, solver, rad, put = self.study, self.solver, self.rad, self.put
        for k in range(k0, k1):
            if k > 0:
                solver.advance(study.output_every_s)
                if rad is not None:
                    rad.advance(self.Fr, study.output_every_s, study.doc["radial"]["dt_s"])
            F = solver.fixed_frame()
            put("pde/F", (k, slice(None), slice(None)), F)
            put("pde/number", k, solver.number())
            put("pde/lost_L_min", k, solver.lost_lo)
            put("pde/lost_L_max", k, solver.lost_hi)
            self.probe_series[:, k] = [np.sum(w * F) / np.sum(w) for w in self.pw]
            if rad is not None:
                put("radial/F", (k, slice(None)), self.Fr)
                put("radial/lost_L_min", k, rad.lost_lo)
                put("radial/lost_L_max", k, rad.lost_hi)
        self.next = k1

    def finish(self) -> str:
        """Write the probe series and the budget, then mark the PDE done; returns the budget (JSON)."""
        assert self.next == self.study.out_t.size
        self.put("pde/probe_F", (slice(None), slice(None)), self.probe_series)
        b = self.solver.budget()
        b["cg_iterations"] = self.solver.iterations
        b["explicit_substeps"] = self.solver.substeps
        text = json.dumps(b, sort_keys=True)
        self.put("pde/budget_json", (), np.bytes_(text.encode()))
        self.put("pde/done", (), 1)
        return text


def _run_perm(exp: ParticleExperiment, p: int, base, put) -> None:
    res = run_permutation(exp, p, base)
    put("particles/F", (p, slice(None), slice(None), slice(None)), res["F"])
    put("particles/probe_F", (p, slice(None), slice(None)), res["probe_F"])
    put("particles/number_in_grid", (p, slice(None)), res["number_in_grid"])
    put("particles/permutation", (p, slice(None)),
        sequences.permutation_indices(exp.seed, p, base.size).astype(np.int32))
    if exp.keep_positions:
        put("particles/positions", (p, slice(None), slice(None), slice(None)), res["positions"])
    put("particles/perm_done", p, 1)


def restart_state(study: Study, path) -> dict:
    """Check that ``path`` is an earlier run of this very study; return what is done.

    ``{"pde": [pde/done], "particles": perm_done}`` (the latter only with particles).  Refused
    (InputError) when the file is not a drift-diffusion run, was written by another hpcbelt
    version or file layout, or by a study whose validated configuration differs in any key
    (the checks shared with every study kind: :func:`hpcbelt.output.restart_file`).
    """
    with output.restart_file(path, "drift_diffusion", "drift-diffusion", LAYOUT_VERSION, study.doc) as fh:
        try:
            done = {"pde": np.array([fh["pde/done"][()]], bool)}
            if study.particles_on:
                done["particles"] = np.asarray(fh["particles/perm_done"][()], bool)
        except KeyError as exc:
            raise InputError(f"restart file {path}: damaged run file ({exc})") from None
    if study.particles_on and done["particles"].shape != (study.doc["particles"]["permutations"],):
        raise InputError(f"restart file {path}: particles/perm_done has shape {done['particles'].shape}, "
                         f"expected ({study.doc['particles']['permutations']},)")
    return done


def run(study: Study, comm, out_path, quiet: bool = False, done: dict | None = None) -> None:
    """Run every unfinished work item and write ``out_path`` (all ranks call this).

    ``done`` (from :func:`restart_state`) continues an earlier run in place: finished
    permutations are kept, the PDE is recomputed unless done; the datasets end up bitwise
    identical to an uninterrupted run.  Raises RunInterrupted after leaving the file consistent
    if a stop signal arrives.
    """
    rank, size = comm.Get_rank(), comm.Get_size()
    mode = output.io_mode_announced(comm)
    exp = _experiment(study) if study.particles_on else None
    P = study.doc["particles"]["permutations"] if exp is not None else 0
    if done is None:
        pde_todo, perms = True, list(range(P))
    else:
        pde_todo = not bool(np.all(done["pde"]))
        perms = [p for p in range(P) if not done["particles"][p]] if exp is not None else []
    queues = plan(study, size, pde_todo, perms, exp)
    mine = queues[rank]
    n_items = sum(len(q) for q in queues)
    base = exp.base_sequence() if exp is not None else None
    pde, budget, stopped = None, None, None
    # signals are caught from before the file is created: one arriving while the layout is
    # written (seconds for a big study) stops the run at the first round with the file complete
    with StopRequests() as stop:
        if done is None:
            attrs = output.run_attrs(comm, mode, "drift_diffusion", study, LAYOUT_VERSION,
                                     K_per_s=_K(study),
                                     earth_rotation_rad_per_s=C.EARTH_ROTATION_RAD_PER_S)
            rf = output.RunFile.create(out_path, comm, mode, _layout(study, exp), attrs)
        else:
            rf = output.RunFile.resume(out_path, comm, mode)
        progress = Progress(n_items, "drift study", enabled=(rank == 0 and not quiet))
        hub = Hub(comm, progress, on_write=rf.write)
        put = rf.write if mode in ("mpio", "serial") else hub.write

        # rounds of one item per rank; between rounds all ranks agree whether to stop
        for r in range(max(len(q) for q in queues)):
            stopped = stop.agreed(comm)
            if stopped:
                break
            if r >= len(mine):
                continue
            item = mine[r]
            if item[0] == "pde":
                pde = pde or _Pde(study, put)
                pde.frames(item[1], item[2])
                if item[2] == study.out_t.size:
                    budget = pde.finish()
            else:
                _run_perm(exp, item[1], base, put)
            rf.member_finished()
            hub.advance(1)
        hub.finish()
        if rf.writes_here and mode != "mpio":
            rf.member_finished()
    if rank == 0 and budget is None and not pde_todo:
        budget = rf.h5["pde/budget_json"][()].decode()     # done by an earlier run
    budget = comm.bcast(budget, root=0)
    end = comm.bcast(output.now_iso() if rank == 0 else None, root=0)
    final = {"end_time": end}
    if budget is not None:
        final["pde_budget_json"] = budget
    if stopped:
        left = comm.allreduce(max(len(mine) - r, 0))
        rf.close({**final, "status": f"interrupted ({stopped})"})
        raise RunInterrupted(f"stopped by {stopped} with {left} of {n_items} work items left (PDE "
                             f"{'done' if budget is not None else 'to be recomputed'}); {out_path} is "
                             "consistent: resume with 'hpcbelt run --restart'")
    rf.close({**final, "status": "complete"})
