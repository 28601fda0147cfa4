#!/usr/bin/env python
"""Benchmarks of the drift-diffusion study (Lejosne & Albert 2023), for the README figures.

    python tools/bench_drift.py tracker      particle-steps per second on one core, and the
                                             integration error (dt_max vs dt_max / 10)
    python tools/bench_drift.py pde          the paper's 24 h PDE run on the default grid, one core
    python tools/bench_drift.py particles    wall time of the paper's full particle experiment
                                             (200 permutations x 10,000 particles x 18 h, positions
                                             every 5 min, binned per permutation) through the
                                             production driver: ``mpirun -n NP hpcbelt run`` on
                                             inputs/lejosne2023.toml with the PDE cut to 15 min and
                                             no radial solver, so the permutations are nearly all
                                             the work (NP=2 by default)
    python tools/bench_drift.py tracker_ou   particle-steps per second per core with Ornstein-Uhlenbeck noise
                                             (tau_c = 100 s sampled every 20 s, 10,000 particles x 18 h at
                                             3 MeV with the energy scan's RK4 step), against the paper's
                                             piecewise-constant case measured in the same run
    python tools/bench_drift.py all          tracker + tracker_ou + pde + particles

Options: --perms, --particles, --hours, --dt-max to shrink the particle runs.
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hpcbelt.drift import initial  # noqa: E402
from hpcbelt.drift.solver import DriftDiffusionSolver  # noqa: E402
from hpcbelt.lmlt import PAPER_PROBE, Grid  # noqa: E402
from hpcbelt.particles import sampling, sequences  # noqa: E402
from hpcbelt.particles.tracker import ParticleExperiment  # noqa: E402

GRID = Grid(2.0, 8.0, 0.025, 288)          # the default grid of inputs/lejosne2023.toml


def bench_tracker(args):
    exp = ParticleExperiment(seed=2023, bin_grid=GRID.coarsened(4, 6), per_permutation=args.particles,
                             duration_s=args.hours * 3600.0, dt_max_s=args.dt_max)
    base = exp.base_sequence()
    w = sequences.permuted_sequence(exp.seed, 0, base)
    L, phi, _ = sampling.sample(sequences.position_rng(exp.seed, 0), exp.regions, exp.per_permutation)
    X, Y, seq = L * np.cos(phi), L * np.sin(phi), np.zeros(L.size, dtype=np.int64)
    exp.integrate(X[:8], Y[:8], w, seq[:8])                       # compile outside the timing
    t0 = time.perf_counter()
    pos = exp.integrate(X, Y, w, seq)
    wall = time.perf_counter() - t0
    steps = int(exp.sched["nsub"].sum()) * L.size
    print(f"tracker: {L.size} particles x {args.hours:g} h, RK4 dt_max = {args.dt_max:g} s "
          f"({exp.sched['nsub'].sum()} steps each): {wall:.2f} s, {steps / wall:.3g} particle-steps/s on one core")
    # integration error against dt_max / 10 on a subset
    n = min(2000, L.size)
    fine = ParticleExperiment(seed=2023, bin_grid=exp.bin_grid, per_permutation=n, duration_s=exp.duration_s,
                              dt_max_s=args.dt_max / 10)
    ref = fine.integrate(X[:n], Y[:n], w, seq[:n])
    Lr = np.hypot(ref[..., 0], ref[..., 1])
    inside = np.all(np.isfinite(Lr), axis=1) & (np.nanmax(Lr, axis=1) < GRID.L_max)
    d = np.hypot(*(pos[:n] - ref)[inside].transpose(2, 0, 1))
    print(f"tracker error vs dt_max/10 after {args.hours:g} h, {inside.sum()} particles that stay inside "
          f"L < {GRID.L_max:g}: median {np.median(d[:, -1]):.2g} R_E, 99th percentile {np.percentile(d[:, -1], 99):.2g}, "
          f"max over all times {d.max():.2g} R_E")


def _steps_per_s(exp, n):
    """Particle-steps per second of the tracker on one core for ``n`` particles of ``exp``
    (best of 3, after compiling), including the making of w (the OU recursion)."""
    base = exp.base_sequence()
    L, phi, _ = sampling.sample(sequences.position_rng(exp.seed, 0), exp.regions, n)
    X, Y, seq = L * np.cos(phi), L * np.sin(phi), np.zeros(L.size, dtype=np.int64)
    exp.integrate(X[:8], Y[:8], exp.permutation_sequence(0, base), seq[:8])
    best = np.inf
    for rep in range(3):
        t0 = time.perf_counter()
        w = exp.permutation_sequence(rep, base)
        exp.integrate(X, Y, w, seq)
        best = min(best, time.perf_counter() - t0)
    return int(exp.sched["nsub"].sum()) * n / best


def bench_tracker_ou(args):
    from hpcbelt.particles import diffusion

    n, dur = args.particles, args.hours * 3600.0
    paper = ParticleExperiment(seed=2023, bin_grid=GRID.coarsened(4, 6), per_permutation=n, duration_s=dur)
    hot = ParticleExperiment(seed=2023, bin_grid=GRID.coarsened(4, 6), per_permutation=n, duration_s=dur,
                             energy_keV=3000.0)
    dt = diffusion.rk4_step_s(hot, rad_per_step=0.2)
    ou = ParticleExperiment(seed=2023, bin_grid=GRID.coarsened(4, 6), per_permutation=n, duration_s=dur,
                            energy_keV=3000.0, noise="ornstein_uhlenbeck", correlation_s=100.0, update_s=20.0,
                            dt_max_s=dt)
    r_paper = _steps_per_s(paper, n)
    r_ou = _steps_per_s(ou, n)
    try:
        load = os.getloadavg()[0]
    except OSError:
        load = float("nan")
    print(f"tracker, OU noise (tau_c = 100 s, h = 20 s, 3 MeV, dt = {dt:.3g} s, {ou.sched['nsub'].sum()} steps "
          f"each): {r_ou:.3g} particle-steps/s/core; paper's case in the same run {r_paper:.3g} "
          f"(ratio {r_ou / r_paper:.2f}); load average {load:.1f} on {os.cpu_count()} cores")


def bench_pde(args):
    s = DriftDiffusionSolver.from_physics(GRID, initial.injection(GRID), W_mV_per_m=0.5, update_s=200.0,
                                          energy_keV=200.0, L_energy=3.0, dt_s=args.dt_pde)
    s.step(1.0)                                                   # compile outside the timing
    s = DriftDiffusionSolver.from_physics(GRID, initial.injection(GRID), W_mV_per_m=0.5, update_s=200.0,
                                          energy_keV=200.0, L_energy=3.0, dt_s=args.dt_pde)
    t0 = time.perf_counter()
    r = s.run(24 * 3600.0, 300.0, probes=(PAPER_PROBE,))
    wall = time.perf_counter() - t0
    b = r["budget"]
    print(f"pde: 24 h on {GRID.n_L} x {GRID.n_mlt} cells, dt = {args.dt_pde:g} s, outputs every 5 min: {wall:.1f} s "
          f"on one core ({s.iterations / (86400 / args.dt_pde):.0f} CG iterations per step); "
          f"budget imbalance {b['imbalance']:.2g} of {b['initial']:.4f}, min F {r['F'].min():.2g}")


STUDY = ROOT / "inputs" / "lejosne2023.toml"


def _run_study(out, nprocs, sets):
    """``mpirun -n nprocs hpcbelt run inputs/lejosne2023.toml --set ...``; returns the wall time [s]."""
    env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
               OMPI_MCA_rmaps_base_oversubscribe="1")
    cmd = [shutil.which("mpirun"), "-n", str(nprocs), sys.executable, "-m", "hpcbelt", "run", str(STUDY),
           "-o", str(out), "--overwrite", "--quiet"]
    for s in sets:
        cmd += ["--set", s]
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, env=env, cwd=ROOT)
    return time.perf_counter() - t0


def bench_particles(args):
    """The particle experiment through the production driver (``hpcbelt run``, all ranks)."""
    import h5py

    from hpcbelt.drift import driver
    from hpcbelt.drift.study import load_study

    nprocs = int(os.environ.get("NP", "2"))
    # the PDE cut to 15 min (3 output frames) and no radial solver: the permutations are the work
    common = ["time.duration_h=0.25", "radial.enabled=false"]
    sets = common + [f"particles.permutations={args.perms}", f"particles.per_permutation={args.particles}",
                     f"particles.duration_h={args.hours!r}", f"particles.dt_max_s={args.dt_max!r}"]
    with tempfile.TemporaryDirectory(prefix="hpcbelt-bench-") as d:
        # compile (numba caches) on every rank outside the timing: one tiny permutation per rank
        _run_study(Path(d) / "warm.h5", nprocs, common + [f"particles.permutations={nprocs}",
                                                          "particles.per_permutation=10", "particles.duration_h=1"])
        out = Path(d) / "particles.h5"
        wall = _run_study(out, nprocs, sets)
        with h5py.File(out, "r") as fh:
            assert fh.attrs["status"] == "complete" and fh["particles/perm_done"][()].all()
            size = int(fh.attrs["mpi_size"])
    exp = driver.experiment(load_study(STUDY, sets))
    steps = int(exp.sched["nsub"].sum()) * args.particles * args.perms
    print(f"particles: {args.perms} permutations x {args.particles} particles x {args.hours:g} h, positions every "
          f"5 min, binned, written: {wall:.1f} s wall for 'hpcbelt run' on {size} ranks, start-up and a 15 min "
          f"PDE included ({steps / wall / size:.3g} particle-steps/s per rank)")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("what", choices=("tracker", "tracker_ou", "pde", "particles", "all"))
    ap.add_argument("--perms", type=int, default=200)
    ap.add_argument("--particles", type=int, default=10000)
    ap.add_argument("--hours", type=float, default=18.0)
    ap.add_argument("--dt-max", type=float, default=100.0)
    ap.add_argument("--dt-pde", type=float, default=120.0)
    args = ap.parse_args()
    if args.what in ("tracker", "all"):
        bench_tracker(args)
    if args.what in ("tracker_ou", "all"):
        bench_tracker_ou(args)
    if args.what in ("pde", "all"):
        bench_pde(args)
    if args.what in ("particles", "all"):
        bench_particles(args)


if __name__ == "__main__":
    main()
