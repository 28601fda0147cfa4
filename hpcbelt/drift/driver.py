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
"""

from __future__ import annotations

import json
import sys

import numpy as np

from .. import constants as C
from .. import output
from ..parallel import Hub, Progress
from ..particles import sequences
from ..particles.tracker import ParticleExperiment, run_permutation
from ..radial.solver import RadialDiffusion
from . import coefficients as co
from .solver import DriftDiffusionSolver
from .study import Study

LAYOUT_VERSION = 1
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


def assign(study: Study, size: int):
    """Which rank runs what: the PDE (and radial) on rank 0, permutations greedily to the least-loaded
    rank in index order.  Costs are rough seconds (measured rates); the assignment does not change
    any result, only the balance."""
    g = study.grid
    n_steps = int(np.ceil(study.duration_s / study.doc["time"]["dt_s"]))
    load = np.zeros(size)
    load[0] = 6e-7 * n_steps * g.n_L * g.n_mlt
    owner = []
    if study.particles_on:
        pa = study.doc["particles"]
        per_perm = 9e-8 * pa["per_permutation"] * pa["duration_h"] * 3600.0 / min(pa["dt_max_s"], 100.0) * 1.5
        for _ in range(pa["permutations"]):
            r = int(np.argmin(load))
            owner.append(r)
            load[r] += per_perm
    return np.array(owner, dtype=int)


def _layout(study: Study, exp: ParticleExperiment | None):
    g = study.grid
    nt = study.out_t.size

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
        F = pde.create_dataset("F", shape=(nt, g.n_L, g.n_mlt), dtype="f8", chunks=(1, g.n_L, g.n_mlt),
                               fillvalue=np.nan)
        output.units(F, F_UNITS, F_DOC + "; NaN until written")
        for name, doc in (("number", "sum of F times the cell measure"),
                          ("lost_L_min", "cumulative number that left through L_min"),
                          ("lost_L_max", "cumulative number that left through L_max")):
            d = pde.create_dataset(name, shape=(nt,), dtype="f8", fillvalue=np.nan)
            output.units(d, "rad", doc)
            d.dims[0].attach_scale(h5["time_s"])
        pf = pde.create_dataset("probe_F", shape=(len(study.probes), nt), dtype="f8", fillvalue=np.nan)
        output.units(pf, F_UNITS, "measure-weighted average of F over each probe box")
        pf.dims[1].attach_scale(h5["time_s"])
        F.dims[0].attach_scale(h5["time_s"])
        F.dims[1].attach_scale(h5["pde/L_grid"])
        F.dims[2].attach_scale(h5["pde/mlt_h"])
        if study.radial_on:
            rad = h5.create_group("radial")
            RF = rad.create_dataset("F", shape=(nt, g.n_L), dtype="f8", fillvalue=np.nan)
            output.units(RF, F_UNITS, "solution of the radial diffusion equation (Eq. 22)")
            RF.dims[0].attach_scale(h5["time_s"])
            RF.dims[1].attach_scale(h5["pde/L_grid"])
            output.units(rad.create_dataset("D_LL_per_s", shape=(g.n_L,), dtype="f8"), "1/s",
                         "radial diffusion coefficient at the cell centres")
            for name in ("lost_L_min", "lost_L_max"):
                d = rad.create_dataset(name, shape=(nt,), dtype="f8", fillvalue=np.nan)
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
            pF = part.create_dataset("F", shape=(P, s["n_rec"], bg.n_L, bg.n_mlt), dtype="f4",
                                     chunks=(1, s["n_rec"], bg.n_L, bg.n_mlt), fillvalue=np.nan)
            output.units(pF, F_UNITS, F_DOC + "; particles binned with that measure; NaN until written")
            for i, sc in enumerate(("particles/perm", "particles/time_s", "particles/L_grid", "particles/mlt_h")):
                pF.dims[i].attach_scale(h5[sc])
            pp = part.create_dataset("probe_F", shape=(P, len(study.probes), s["n_rec"]), dtype="f8", fillvalue=np.nan)
            output.units(pp, F_UNITS, "F at each probe box from the particles inside it")
            pp.dims[0].attach_scale(h5["particles/perm"])
            pp.dims[2].attach_scale(h5["particles/time_s"])
            ng = part.create_dataset("number_in_grid", shape=(P, s["n_rec"]), dtype="f8", fillvalue=np.nan)
            output.units(ng, "rad", "number of particles (measure units) inside the binning grid")
            output.units(part.create_dataset("w_base_V_per_m", data=exp.base_sequence()), "V/m",
                         "the original Gaussian sequence of w, one value per update_s")
            output.units(part.create_dataset("permutation", shape=(P, s["n_updates"]), dtype="i4", fillvalue=-1),
                         "1", "indices into w_base_V_per_m used by each permutation, in time order")
            done = part.create_dataset("perm_done", shape=(P,), dtype="u1", fillvalue=0)
            output.units(done, "1", "1 once the permutation is completely written")
            if exp.keep_positions:
                pos = part.create_dataset("positions", shape=(P, exp.per_permutation, s["n_rec"], 2), dtype="f4",
                                          chunks=(1, exp.per_permutation, s["n_rec"], 2), fillvalue=np.nan)
                output.units(pos, "R_E", "X = L cos(phi), Y = L sin(phi) (X towards midnight); NaN once escaped")

    return make


def _run_pde(study: Study, put, hub):
    """PDE (and radial) on this rank, writing every output frame as it comes.  Returns the budget."""
    g = study.grid
    ph, t, gr = study.physics, study.doc["time"], study.doc["grid"]
    bnd = (gr["boundary_L_min"], gr["boundary_L_max"])
    bval = (gr["F_L_min"], gr["F_L_max"])
    solver = DriftDiffusionSolver.from_physics(
        g, study.F0, W_mV_per_m=ph["W_mV_per_m"], update_s=ph["update_s"], energy_keV=ph["energy_keV"],
        L_energy=ph["L_energy"], dt_s=t["dt_s"], corotation=ph["corotation"], R_E_m=ph["earth_radius_km"] * 1e3,
        B_E_nT=ph["B_E_nT"], method=t["method"], boundary=bnd, boundary_values=bval, kmax=t["kmax"])
    from .grid import box_weights

    pw = [box_weights(g, *b) for b in study.probe_boxes()]
    rad = None
    if study.radial_on:
        r = study.doc["radial"]
        if r["D_LL"] == "drift_averaged":
            K = _K(study)
            law = lambda L: co.drift_averaged_D_LL_per_s(L, K)  # noqa: E731
        else:
            law = lambda L: co.power_law_D_LL_per_s(L, r["D0_per_day"], r["power"])  # noqa: E731
        rad = RadialDiffusion(g.L_edges, law, boundary=bnd, boundary_values=bval, theta=r["theta"])
        Fr = study.F0.mean(axis=1).copy()
        put("radial/D_LL_per_s", slice(None), law(g.L_centres))
    n_out = study.out_t.size - 1
    probe_series = np.full((len(pw), n_out + 1), np.nan)
    for k in range(n_out + 1):
        if k > 0:
            solver.advance(study.output_every_s)
            if rad is not None:
                rad.advance(Fr, study.output_every_s, study.doc["radial"]["dt_s"])
        F = solver.fixed_frame()
        put("pde/F", (k, slice(None), slice(None)), F)
        put("pde/number", k, solver.number())
        put("pde/lost_L_min", k, solver.lost_lo)
        put("pde/lost_L_max", k, solver.lost_hi)
        probe_series[:, k] = [np.sum(w * F) / np.sum(w) for w in pw]
        if rad is not None:
            put("radial/F", (k, slice(None)), Fr)
            put("radial/lost_L_min", k, rad.lost_lo)
            put("radial/lost_L_max", k, rad.lost_hi)
        hub.advance(1)
    put("pde/probe_F", (slice(None), slice(None)), probe_series)
    b = solver.budget()
    b["cg_iterations"] = solver.iterations
    b["explicit_substeps"] = solver.substeps
    return b


def restart_state(study: Study, path):
    """``hpcbelt run --restart`` is not implemented for drift-diffusion studies (refused cleanly)."""
    from ..errors import InputError

    raise InputError(f"restart file {path}: --restart is not supported for kind = 'drift_diffusion' yet; "
                     "rerun with --overwrite")


def run(study: Study, comm, out_path, quiet: bool = False, done=None) -> None:
    """Run the study and write ``out_path`` (all ranks call this).  ``done`` must be None (no restart)."""
    if done is not None:
        restart_state(study, out_path)
    rank, size = comm.Get_rank(), comm.Get_size()
    mode = output.io_mode(comm)
    if mode == "funnel" and rank == 0 and not output.h5py_has_mpi():
        print("hpcbelt: warning: h5py has no MPI support; writes are funnelled through rank 0 "
              "(slower; see README 'Cluster install')", file=sys.stderr, flush=True)
    exp = _experiment(study) if study.particles_on else None
    attrs = output.provenance(comm, mode)
    attrs.update({
        "kind": "drift_diffusion",
        "study_toml": study.text,
        "study_overrides": json.dumps(list(study.overrides)),
        "study_config_json": json.dumps(study.doc, sort_keys=True),
        "study_file": study.path,
        "title": study.doc["title"],
        "layout_version": LAYOUT_VERSION,
        "seed": study.seed,
        "K_per_s": _K(study),
        "earth_rotation_rad_per_s": C.EARTH_ROTATION_RAD_PER_S,
    })
    rf = output.RunFile.create(out_path, comm, mode, _layout(study, exp), attrs)
    owner = assign(study, size)
    total = study.out_t.size + len(owner)
    progress = Progress(total, "drift study", enabled=(rank == 0 and not quiet))
    hub = Hub(comm, progress, on_write=rf.write)
    put = rf.write if mode in ("mpio", "serial") else hub.write

    budget = None
    if rank == 0:
        budget = _run_pde(study, put, hub)
    if exp is not None:
        base = exp.base_sequence()
        for p in np.flatnonzero(owner == rank):
            res = run_permutation(exp, int(p), base)
            put("particles/F", (int(p), slice(None), slice(None), slice(None)), res["F"])
            put("particles/probe_F", (int(p), slice(None), slice(None)), res["probe_F"])
            put("particles/number_in_grid", (int(p), slice(None)), res["number_in_grid"])
            put("particles/permutation", (int(p), slice(None)), sequences.permutation_indices(study.seed, int(p),
                                                                                             base.size).astype(np.int32))
            if exp.keep_positions:
                put("particles/positions", (int(p), slice(None), slice(None), slice(None)), res["positions"])
            put("particles/perm_done", int(p), 1)
            hub.advance(1)
    hub.finish()
    budget = comm.bcast(budget, root=0)
    end = comm.bcast(output.now_iso() if rank == 0 else None, root=0)
    rf.close({"end_time": end, "status": "complete", "pde_budget_json": json.dumps(budget, sort_keys=True)})
