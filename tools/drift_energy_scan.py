#!/usr/bin/env python
"""The energy scan of issue 15: particles and PDE at each energy, D_LL measured against predicted.

    mpirun -n 2 .venv/bin/python tools/drift_energy_scan.py run inputs/lejosne2023_energies.toml \\
        --energies 50,100,200,500,1000,3000 --out results/energies [--set physics.update_s=2000 ...]
    .venv/bin/python tools/drift_energy_scan.py analyse --out results/energies

``run``: for each energy E, ``hpcbelt run STUDY --set physics.energy_keV=E --set
particles.dt_max_s=<step>`` into ``OUT/E<E>keV.h5`` (the study's PDE, radial solver and
particles; the RK4 step keeps Omega dt <= --rad-per-step at L_energy, at most 100 s), then the
ring particles of :mod:`hpcbelt.particles.diffusion` (``--ring`` per permutation on L = L_energy,
the same permutations of the same w) for the measured D_LL, written to ``OUT/ring_E<E>keV.npz``
and ``OUT/ring_E<E>keV.json``; at the highest energy also the PDE alone with the paper's
coefficients (``OUT/E<E>keV_paper_pde.h5``).  Every part runs on all ranks of the launcher
(permutations are split between them); wall times go to ``OUT/timing.json``.

``analyse``: ``OUT/scan.json`` (per energy: Omega T, measured D_LL +- 1 sigma, the paper's and
the finite-T prediction, the ratios, the Eq. 11 moments, the probe at the end of the particle
run), ``OUT/ratio_vs_omegaT.png`` (measured / predicted against Omega T, both predictions, with
the curve sinc^2(Omega T / 2)), ``OUT/moments_eq11.png`` (the MLT-resolved <dL^2> of Eq. 11
per energy against sin^2(phi) sinc^2(Omega T / 2)) and ``OUT/probe_highest_energy.png`` (F(t) at the probe from the
particles, the finite-T PDE and the paper's PDE at the highest energy), and a Markdown table on
stdout.
"""

from __future__ import annotations

import argparse
import json
import math
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
    from hpcbelt import cli
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
        study = load_study(args.study, sets)
        exp0 = driver.experiment(study)
        dt = diffusion.rk4_step_s(exp0, rad_per_step=args.rad_per_step, cap_s=100.0)
        dt = float(f"{dt:.4g}")
        sets.append(f"particles.dt_max_s={dt:g}")
        t0 = time.perf_counter()
        if not args.ring_only:
            rc = cli.main(["run", args.study, *sum((["--set", s] for s in sets), []), "-o",
                           str(out / f"{_tag(E)}.h5"), "--overwrite", "--quiet"])
            if rc:
                raise SystemExit(f"hpcbelt run failed at {E:g} keV (exit {rc})")
        t_run = time.perf_counter() - t0
        # ring particles: the same permutations, recorded at every update of w
        study = load_study(args.study, sets)
        exp = driver.experiment(study)
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
                  f"{res['ratio_finite_sigma']:.3f}  (run {t_run:.0f} s, ring {t_ring:.0f} s)", flush=True)
        timing["parts"].append({"energy_keV": E, "dt_max_s": dt, "hpcbelt_run_s": t_run, "ring_s": t_ring})
    # the paper's PDE at the highest energy, for the probe figure
    E = max(energies)
    t0 = time.perf_counter()
    paper_sets = [*args.set, f"physics.energy_keV={E:g}", "physics.coefficients=paper", "particles.enabled=false"]
    rc = 0
    if not args.ring_only:
        rc = cli.main(["run", args.study, *sum((["--set", s] for s in paper_sets), []),
                       "-o", str(out / f"{_tag(E)}_paper_pde.h5"), "--overwrite", "--quiet"])
    if rc:
        raise SystemExit(f"hpcbelt run (paper PDE) failed (exit {rc})")
    timing["paper_pde_s"] = time.perf_counter() - t0
    timing["total_s"] = time.perf_counter() - t_all
    if rank == 0:
        try:
            import os
            timing["load_average_at_end"] = os.getloadavg()
        except OSError:
            pass
        (out / "timing.json").write_text(json.dumps(timing, indent=1))
        print(f"scan: {timing['total_s']:.0f} s on {size} ranks", flush=True)


def _probe(path):
    """(t_pde, F_pde, t_particles, mean F particles, its std error) at the first probe."""
    import h5py

    from hpcbelt.drift import runfile as rfl

    with h5py.File(path, "r") as h5:
        t = h5[rfl.TIME][()]
        Fp = h5[rfl.PDE_PROBE_F][0]
        if rfl.PARTICLES not in h5:
            return t, Fp, None, None, None
        done = h5[rfl.PART_DONE][()] == 1
        pt = h5[rfl.PART_TIME][()]
        pf = h5[rfl.PART_PROBE_F][()][done, 0, :]
    return t, Fp, pt, pf.mean(axis=0), pf.std(axis=0, ddof=1) / math.sqrt(max(pf.shape[0], 1))


def cmd_analyse(args):
    out = Path(args.out)
    rows = []
    from hpcbelt.drift import driver, scan
    from hpcbelt.drift.study import load_study

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
        run = out / f"{_tag(r['energy_keV'])}.h5"
        if run.exists():
            t, Fp, pt, pm, ps = _probe(run)
            r["probe_end"] = {"t_h": float(pt[-1] / 3600), "particles": float(pm[-1]),
                              "particles_sigma": float(ps[-1]), "pde_finite": float(np.interp(pt[-1], t, Fp))}
        rows.append(r)
    if not rows:
        raise SystemExit(f"no ring_E*keV.json in {out}: run the scan first")
    (out / "scan.json").write_text(json.dumps(rows, indent=1))
    print("| E [keV] | Omega T | D_LL measured [1/day] | measured / paper (Eq. 21) | measured / finite-T | "
          "Eq. 11 <dL^2> / finite-T | probe F particles vs PDE (end) |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        pe = r.get("probe_end")
        probe = (f"{pe['particles']:.4f} +- {pe['particles_sigma']:.4f} vs {pe['pde_finite']:.4f}" if pe else "")
        print(f"| {r['energy_keV']:g} | {r['omega_T']:.3f} | {r['D_LL_meas_per_day']:.4g} +- "
              f"{r['D_LL_sigma_per_day']:.2g} | {r['ratio_paper']:.3f} +- {r['ratio_paper_sigma']:.3f} | "
              f"{r['ratio_finite']:.3f} +- "
              f"{r['ratio_finite_sigma']:.3f} | {r['moments']['dL2_ratio']:.3f} | {probe} |")
    _figures(out, rows)


def _figures(out, rows):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from hpcbelt.drift import coefficients as co

    x = np.array([r["omega_T"] for r in rows])
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for key, lab, mk in (("paper", "measured / paper (Eq. 21)", "o"), ("finite", "measured / finite-T", "s")):
        ax.errorbar(x, [r[f"ratio_{key}"] for r in rows], yerr=[r[f"ratio_{key}_sigma"] for r in rows], fmt=mk,
                    capsize=3, label=lab)
    xs = np.geomspace(min(x.min(), 0.05) * 0.8, x.max() * 1.3, 200)
    ax.plot(xs, co.finite_update_factor(xs, 1.0), "k--", lw=1, label=r"sinc$^2(\Omega T/2)$ (finite-T / paper)")
    ax.axhline(1.0, color="grey", lw=0.8)
    for r in rows:
        ax.annotate(f"{r['energy_keV']:g} keV", (r["omega_T"], r["ratio_paper"]), textcoords="offset points",
                    xytext=(4, -12), fontsize=7)
    ax.set_xscale("log")
    if min(r["ratio_paper"] for r in rows) < 0.1:       # the paper's coefficient off by orders of magnitude
        ax.set_yscale("log")
    ax.set_xlabel(r"$\Omega T$ (drift frequency at L = 3 x update time)")
    ax.set_ylabel(r"$D_{LL}$ measured / predicted")
    ax.set_title(f"Test particles vs the coefficients, T = {rows[0]['update_s']:g} s, L = {rows[0]['L0']:g}")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "ratio_vs_omegaT.png", dpi=120)
    plt.close(fig)
    # Eq. 11, MLT-resolved: <dL^2> / (T L^6) over one update, in units of the paper's 2 K
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for i, r in enumerate(rows):
        m = r["moments"]
        K2 = 2 * r["K_paper_per_s"]
        ax.plot(m["mlt_h"], np.array(m["dL2_rate_per_s"]) / K2, "o", ms=3, color=f"C{i}",
                label=f"{r['energy_keV']:g} keV (Omega T = {r['omega_T']:.2f})")
        ax.plot(m["mlt_h"], np.array(m["dL2_predicted_per_s"]) / K2, "-", lw=1, color=f"C{i}")
    ax.set_xlabel("MLT at mid-interval [h]")
    ax.set_ylabel(r"$\langle\Delta L^2\rangle / (2 K L^6 T)$")
    ax.set_title(r"Eq. 11: particles (dots), $\sin^2\phi\,\mathrm{sinc}^2(\Omega T/2)$ (lines)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out / "moments_eq11.png", dpi=120)
    plt.close(fig)
    E = max(r["energy_keV"] for r in rows)
    run, paper = out / f"{_tag(E)}.h5", out / f"{_tag(E)}_paper_pde.h5"
    if run.exists():
        t, Fp, pt, pm, ps = _probe(run)
        fig, ax = plt.subplots(figsize=(6.4, 4.2))
        ax.fill_between(pt / 3600, pm - 2 * ps, pm + 2 * ps, color="C0", alpha=0.3, lw=0)
        ax.plot(pt / 3600, pm, "C0", label="particles (mean, 2 sigma band)")
        ax.plot(t / 3600, Fp, "C1", label='PDE, coefficients = "finite_update"')
        if paper.exists():
            tp, Fpp, *_ = _probe(paper)
            ax.plot(tp / 3600, Fpp, "C2--", label='PDE, coefficients = "paper"')
        ax.set_xlabel("t [h]")
        ax.set_ylabel("F at L = 3.5, 22 MLT")
        ax.set_title(f"{E:g} keV electrons (L = 3), T = {rows[0]['update_s']:g} s")
        ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(out / "probe_highest_energy.png", dpi=120)
        plt.close(fig)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("study", nargs="?", default=str(ROOT / "inputs/lejosne2023_energies.toml"))
    r.add_argument("--energies", default=DEFAULT_ENERGIES, help="keV, comma-separated")
    r.add_argument("--out", default="results/energies")
    r.add_argument("--set", action="append", default=[],
                   help="TABLE.KEY=VALUE for every run (e.g. physics.update_s=1800)")
    r.add_argument("--ring", type=int, default=500, help="ring particles per permutation (D_LL measurement)")
    r.add_argument("--rad-per-step", type=float, default=0.2, help="largest Omega dt of the RK4 step at L_energy")
    r.add_argument("--t-fit", type=float, default=1800.0, help="fit S(tau) for tau >= this [s]")
    r.add_argument("--ring-only", action="store_true", help="only the ring particles (no hpcbelt run): the regime "
                   "map at other T")
    a = sub.add_parser("analyse")
    a.add_argument("--out", default="results/energies")
    a.add_argument("--study", default=str(ROOT / "inputs/lejosne2023_energies.toml"), help="the study of the run")
    args = ap.parse_args(argv)
    return cmd_run(args) if args.cmd == "run" else cmd_analyse(args)


if __name__ == "__main__":
    sys.exit(main())
