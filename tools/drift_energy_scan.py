#!/usr/bin/env python
"""The regime map of issue 15 at other update times: ring particles only, per energy.

The full energy scan (PDE, radial solver, 200 x 10,000 particles and the ring particles at six
energies) is a study over energies in one run file:

    mpirun -n 2 .venv/bin/hpcbelt run inputs/lejosne2023_energies.toml -o results/energies.h5
    .venv/bin/hpcbelt aggregate-energies results/energies.h5 --figures results/energies

This tool measures D_LL from the ring particles alone (no PDE, no injection particles), a few
minutes per update time, for the regime map at other T:

    mpirun -n 2 .venv/bin/python tools/drift_energy_scan.py run --ring-only --set physics.update_s=1800 \
        --out results/T1800
    .venv/bin/python tools/drift_energy_scan.py analyse --out results/T1800

``run``: for each energy E of ``--energies``, the study at E (``--set physics.energy_keV=E``, its
RK4 step from ``[particles] max_drift_angle_per_step_rad`` or ``--rad-per-step``), ring particles
(``--ring`` per permutation on L = L_energy, the same permutations of the same w as the study)
split over the ranks, written to ``OUT/ring_E<E>keV.npz`` and ``.json``; ``--ring-only`` is
accepted for the commands of earlier versions (it is the only mode).  ``analyse``:
``OUT/scan.json``, the figures ``ratio_vs_omegaT.png`` and ``moments_eq11.png``
(:mod:`hpcbelt.aggregate.lejosne2023.energies`) and a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DEFAULT_ENERGIES = "50,100,200,500,1000,3000"


def _tag(E):
    return f"E{E:g}keV"


def cmd_run(args):
    from hpcbelt.drift import driver, scan
    from hpcbelt.drift.study import load_study
    from hpcbelt.parallel import world
    from hpcbelt.particles import diffusion

    comm = world()
    rank, size = comm.Get_rank(), comm.Get_size()
    out = Path(args.out)
    if rank == 0:
        out.mkdir(parents=True, exist_ok=True)
    comm.Barrier()
    energies = [float(e) for e in args.energies.split(",")]
    timing = {"ranks": size, "energies_keV": energies, "parts": []}
    t_all = time.perf_counter()
    for E in energies:
        sets = [*args.set, f"physics.energy_keV={E:g}"]
        if args.rad_per_step is not None:
            sets.append(f"particles.max_drift_angle_per_step_rad={args.rad_per_step:g}")
        study = load_study(args.study, sets)
        exp = driver.experiment(study)
        dt = study.particles.dt_max_s
        t0 = time.perf_counter()
        P = study.particles.permutations
        mine = list(range(rank, P, size))
        raw = scan.measure(exp, mine, study.physics.L_energy, args.ring, dt_max_s=dt)
        parts = comm.gather((mine, raw), root=0)
        t_ring = time.perf_counter() - t0
        if rank == 0:
            order = np.argsort(np.concatenate([m for m, _ in parts]))
            msd = np.concatenate([r["msd_v"] for _, r in parts if len(r["msd_v"])])[order]
            S = np.concatenate([r["S"] for _, r in parts if len(r["S"])])[order]
            mom = np.concatenate([r["moments"] for _, r in parts if len(r["moments"])])[order]
            raw0 = next(r for _, r in parts if r["time_s"] is not None)
            allraw = {"time_s": raw0["time_s"], "lag_s": raw0["lag_s"], "msd_v": msd, "S": S, "moments": mom,
                      "n_lost": sum(r["n_lost"] for _, r in parts)}
            np.savez(out / f"ring_{_tag(E)}.npz", **allraw)
            res = scan.compare(exp, allraw, study.physics.L_energy, args.t_fit)
            res.update({"dt_max_s": dt, "ring_per_permutation": args.ring, "sets": sets})
            (out / f"ring_{_tag(E)}.json").write_text(json.dumps(res, indent=1))
            print(f"{E:g} keV: Omega T = {res['omega_T']:.3f}, D_LL measured {res['D_LL_meas_per_day']:.4g} +- "
                  f"{res['D_LL_sigma_per_day']:.2g} /day; / paper {res['ratio_paper']:.3f} +- "
                  f"{res['ratio_paper_sigma']:.3f}, / finite-T {res['ratio_finite']:.3f} +- "
                  f"{res['ratio_finite_sigma']:.3f}  (ring {t_ring:.0f} s)", flush=True)
        timing["parts"].append({"energy_keV": E, "dt_max_s": dt, "ring_s": t_ring})
    timing["total_s"] = time.perf_counter() - t_all
    if rank == 0:
        (out / "timing.json").write_text(json.dumps(timing, indent=1))
        print(f"ring scan: {timing['total_s']:.0f} s on {size} ranks", flush=True)


def cmd_analyse(args):
    import matplotlib

    matplotlib.use("Agg")
    from hpcbelt.aggregate.lejosne2023 import energies as agg
    from hpcbelt.drift import driver, scan
    from hpcbelt.drift.study import load_study

    out = Path(args.out)
    rows = []
    for f in sorted(out.glob("ring_E*keV.json"), key=lambda p: json.loads(p.read_text())["energy_keV"]):
        r = json.loads(f.read_text())
        # recompute the comparison from the stored ring data (the same study and overrides)
        exp = driver.experiment(load_study(args.study, r["sets"]))
        with np.load(f.with_suffix(".npz")) as z:
            raw = {k: z[k] for k in z.files}
        raw["n_lost"] = int(raw["n_lost"])
        keep = {k: r[k] for k in ("dt_max_s", "ring_per_permutation", "sets")}
        r = scan.compare(exp, raw, r["L0"], r["t_fit_s"])
        r.update(keep)
        rows.append(r)
    if not rows:
        raise SystemExit(f"no ring_E*keV.json in {out}: run the ring scan first")
    (out / "scan.json").write_text(json.dumps(rows, indent=1))
    print("| E [keV] | Omega T | D_LL measured [1/day] | measured / paper (Eq. 21) | measured / finite-T | "
          "Eq. 11 <dL^2> / finite-T |")
    print("|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['energy_keV']:g} | {r['omega_T']:.3f} | {r['D_LL_meas_per_day']:.4g} +- "
              f"{r['D_LL_sigma_per_day']:.2g} | {r['ratio_paper']:.3f} +- {r['ratio_paper_sigma']:.3f} | "
              f"{r['ratio_finite']:.3f} +- {r['ratio_finite_sigma']:.3f} | {r['moments']['dL2_ratio']:.3f} |")
    agg.plot_ratio(rows, out / "ratio_vs_omegaT.png")
    agg.plot_moments(rows, out / "moments_eq11.png")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("study", nargs="?", default=str(ROOT / "inputs/lejosne2023_energies.toml"))
    r.add_argument("--energies", default=DEFAULT_ENERGIES, help="keV, comma-separated")
    r.add_argument("--out", default="results/energies")
    r.add_argument("--set", action="append", default=[],
                   help="TABLE.KEY=VALUE for every energy (e.g. physics.update_s=1800)")
    r.add_argument("--ring", type=int, default=500, help="ring particles per permutation (D_LL measurement)")
    r.add_argument("--rad-per-step", type=float, default=None,
                   help="largest Omega dt of the RK4 step at L_energy (default: the study's "
                        "max_drift_angle_per_step_rad)")
    r.add_argument("--t-fit", type=float, default=1800.0, help="fit S(tau) for tau >= this [s]")
    r.add_argument("--ring-only", action="store_true", help="accepted for earlier commands (the only mode)")
    a = sub.add_parser("analyse")
    a.add_argument("--out", default="results/energies")
    a.add_argument("--study", default=str(ROOT / "inputs/lejosne2023_energies.toml"), help="the study of the run")
    args = ap.parse_args(argv)
    return cmd_run(args) if args.cmd == "run" else cmd_analyse(args)


if __name__ == "__main__":
    sys.exit(main())
