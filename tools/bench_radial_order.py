#!/usr/bin/env python
"""Accuracy and cost of the radial-diffusion solver (issue 17), against an exact-in-time reference.

    nice .venv/bin/python tools/bench_radial_order.py            all tables (~30 s on one core)
    nice .venv/bin/python tools/bench_radial_order.py --no-sweep  without the cost-at-equal-accuracy sweep

Problem (the issue's): ``D_LL = 3e-5 L^6 /day``, L = 2-8, F = 0 at both ends, Gaussian at
L = 5 (standard deviation 0.5), 24 h.  Reference: the Chebyshev eigen-solution of
tests/radial/reference.py (N = 128, exact in time, ~1e-12 of the peak), averaged over each cell
in the measure L^-2 dL.  Errors are max |F - F_ref| / max F_ref at 24 h.

Schemes: "old" = backward Euler with the fixed value at the ghost-cell centre (half a cell
outside the edge: the scheme before issue 17, emulated by the full-cell boundary conductance),
"BE" = backward Euler with the value on the edge, "CN" = plain Crank-Nicolson with the value on
the edge, "CN+R" = the same with the Rannacher start-up (each of the first two steps as two
backward-Euler half steps: the solver's default), "SpacePy" = spacepy.lib.solve_cn
(vertex-centred Crank-Nicolson, f = 0 on the end nodes, n + 1 nodes on the same edges; errors
against the reference at the nodes), if importable.

Tables:
1. error / peak at 30, 120, 480, 1920 cells, dt = 60 s (the drift study's radial step) and, for
   BE, dt = 1 s (its spatial error alone); time per step before (a Python loop over
   ``theta_step``, the code before issue 17) and after (``theta_steps``, factorised once), and
   SpacePy's (one ctypes call per step);
2. the cheapest run (cells, step, seconds on this machine) reaching 1e-3 and 1e-4 of the peak,
   from a sweep of cells x steps; cost = steps x measured time per step;
3. sharp fronts on the study grid (dL = 0.025) with the drift-averaged D_LL of
   inputs/lejosne2023.toml: the MLT average of the paper's injection and one-cell spikes, after
   5 min (one output interval): min F, the excess total variation (0 for the exact solution,
   which is unimodal: diffusion creates no new extrema) and the error; then the study's radial
   run itself over 24 h.
"""

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hpcbelt.drift import coefficients as co, initial  # noqa: E402
from hpcbelt.lmlt import Grid  # noqa: E402
from hpcbelt.radial.solver import RadialDiffusion, theta_step  # noqa: E402
from tests.radial.reference import DAY, L_A, L_B, D_issue, SpectralReference, cell_average, gaussian  # noqa: E402

D_LL, F0 = D_issue, gaussian        # the issue's test problem


REF = SpectralReference(L_A, L_B, D_LL, ("fixed", "fixed"), N=128)


def solver(n, scheme):
    e = np.linspace(L_A, L_B, n + 1)
    s = RadialDiffusion(e, D_LL, theta=1.0 if scheme in ("old", "BE") else 0.5,
                        startup_steps=2 if scheme == "CN+R" else 0)
    if scheme == "old":          # the ghost value at the ghost-cell centre, one full cell from F_0
        dL = e[1] - e[0]
        s.c_lo = float(D_LL(e[0]) / (e[0] ** 2 * dL))
        s.c_hi = float(D_LL(e[-1]) / (e[-1] ** 2 * dL))
    return s


_REF_CACHE = {}


def reference(n):
    if n not in _REF_CACHE:
        e = np.linspace(L_A, L_B, n + 1)
        _REF_CACHE[n] = REF.cell_averages(F0, DAY, e)
    return _REF_CACHE[n]


def spacepy_cn():
    # spacepy writes a configuration directory on import ($SPACEPY/.spacepy, else ~/.spacepy)
    os.environ.setdefault("SPACEPY", tempfile.mkdtemp(prefix="bench-radial-spacepy-"))
    try:
        from spacepy import lib
    except ImportError:
        return None
    return lib.solve_cn if getattr(lib, "have_libspacepy", False) else None


def spacepy_error(solve_cn, n, dt):
    import ctypes
    dptr = ctypes.POINTER(ctypes.c_double)
    L = np.linspace(L_A, L_B, n + 1)
    h = L[1] - L[0]
    Dm, Dp = D_LL(L - h / 2), D_LL(L + h / 2)
    f = F0(L)
    f[0] = f[-1] = 0.0
    S = np.zeros_like(L)
    k = max(1, int(np.ceil(DAY / dt - 1e-9)))
    args = [a.ctypes.data_as(dptr) for a in (f, L, Dm, Dm, Dp, Dp)]
    t0 = time.perf_counter()
    for _ in range(k):
        solve_cn(*args, ctypes.c_double(DAY / k), ctypes.c_int(L.size), S.ctypes.data_as(dptr))
    wall = time.perf_counter() - t0
    ref = REF.values(F0, DAY, L)
    return np.max(np.abs(f - ref)) / ref.max(), wall / k


def spacepy_time_per_step(solve_cn, n, repeat=3):
    """Best-of-``repeat`` seconds per SpacePy step (runs of at least 200 steps)."""
    dt = DAY / int(np.clip(2e6 / n, 200, 20000))
    return min(spacepy_error(solve_cn, n, dt)[1] for _ in range(repeat))


def error(n, scheme, dt):
    s = solver(n, scheme)
    F = cell_average(F0, s.L_edges)
    s.advance(F, DAY, dt)
    ref = reference(n)
    return np.max(np.abs(F - ref)) / ref.max()


def time_per_step(n, old_code=False, repeat=3):
    """Best-of-``repeat`` seconds per backward-Euler step (CN costs the same)."""
    s = solver(n, "BE")
    F = cell_average(F0, s.L_edges)
    k = int(np.clip(2e6 / n, 200, 20000))
    tmp = np.empty_like(F)
    theta_step(F, s.m, s.c, s.c_lo, s.c_hi, 0.0, 0.0, 60.0, 1.0, tmp)   # compile outside the timing
    s.advance(F, 60.0, 60.0)
    best = np.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        if old_code:
            for _ in range(k):
                lo, hi = theta_step(F, s.m, s.c, s.c_lo, s.c_hi, s.F_lo, s.F_hi, 60.0, s.theta, tmp)
                s.lost_lo += lo
                s.lost_hi += hi
                F[:] = tmp
        else:
            s.advance(F, 60.0 * k, 60.0)
        best = min(best, (time.perf_counter() - t0) / k)
    return best


def table_orders(sp):
    print("## 1. error / peak at 24 h (issue 17's Gaussian problem)\n")
    head = "| cells | old, dt 60 s | BE, dt 60 s | BE, dt 1 s | CN, dt 60 s | CN+R, dt 60 s |"
    line = "|---:|---:|---:|---:|---:|---:|"
    if sp:
        head += " SpacePy CN, dt 60 s |"
        line += "---:|"
    head += " us/step before | us/step after |"
    line += "---:|---:|"
    if sp:
        head += " us/step SpacePy |"
        line += "---:|"
    print(head + "\n" + line)
    for n in (30, 120, 480, 1920):
        row = [error(n, "old", 60.0), error(n, "BE", 60.0), error(n, "BE", 1.0), error(n, "CN", 60.0),
               error(n, "CN+R", 60.0)]
        cells = [f"{e:.2e}" for e in row]
        if sp:
            cells.append(f"{spacepy_error(sp, n, 60.0)[0]:.2e}")
        cells += [f"{1e6 * time_per_step(n, old_code=True):.2f}", f"{1e6 * time_per_step(n):.2f}"]
        if sp:
            cells.append(f"{1e6 * spacepy_time_per_step(sp, n):.2f}")
        print(f"| {n} | " + " | ".join(cells) + " |")
    print()


SWEEP_N = (15, 20, 30, 40, 60, 80, 120, 160, 240, 320, 480, 640, 960, 1280, 1920, 2560)
SWEEP_DT = (86400.0, 43200.0, 21600.0, 14400.0, 7200.0, 3600.0, 1800.0, 900.0, 600.0, 300.0, 120.0, 60.0, 30.0, 15.0, 10.0, 5.0, 2.0, 1.0)
TARGETS = (1e-3, 1e-4)


def table_cost(sp):
    print("## 2. cheapest run reaching a given error / peak (cost = steps x time per step)\n")
    tstep = {n: time_per_step(n) for n in SWEEP_N}
    schemes = ["old", "BE", "CN", "CN+R"] + (["SpacePy"] if sp else [])
    best = {(s, tg): None for s in schemes for tg in TARGETS}
    sp_tstep = {n: spacepy_time_per_step(sp, n) for n in SWEEP_N} if sp else {}
    for scheme in schemes:
        for n in SWEEP_N:
            prev = np.inf
            for dt in SWEEP_DT:
                steps = int(np.ceil(DAY / dt - 1e-9))
                if scheme == "SpacePy":
                    e = spacepy_error(sp, n, dt)[0] if steps * n < 3e7 else np.inf
                    cost = steps * sp_tstep[n]
                else:
                    if steps * n > 1e8:
                        break
                    e = error(n, scheme, dt)
                    cost = steps * tstep[n]
                for tg in TARGETS:
                    if e <= tg and (best[scheme, tg] is None or cost < best[scheme, tg][0]):
                        best[scheme, tg] = (cost, n, dt, e)
                if e <= min(TARGETS) or e > 0.8 * prev:      # reached, or the spatial floor
                    break
                prev = e
    print("| scheme | " + " | ".join(f"to {tg:.0e}: cells, dt, err, seconds" for tg in TARGETS) + " |")
    print("|---|" + "---|" * len(TARGETS))
    for scheme in schemes:
        cells = []
        for tg in TARGETS:
            b = best[scheme, tg]
            cells.append("not reached" if b is None else f"{b[1]}, {b[2]:g} s, {b[3]:.1e}, {b[0]:.2g} s")
        print(f"| {scheme} | " + " | ".join(cells) + " |")
    for tg in TARGETS:
        if best["CN", tg]:
            ratios = ", ".join(f"{s} {best[s, tg][0] / best['CN', tg][0]:.1f}x" for s in schemes
                               if s != "CN" and best[s, tg])
            print(f"\ncost relative to CN at {tg:.0e}: {ratios}")
    print("\n(grid of the sweep: cells", SWEEP_N, "steps", SWEEP_DT, "s: ratios are good to a factor ~1.5)\n")


def tv_excess(F):
    """Total variation beyond that of a unimodal profile with zero ends (0 for the exact solution)."""
    return float(np.sum(np.abs(np.diff(F))) + F[0] + F[-1] - 2 * F.max())


FRONT_SCHEMES = (("BE", 1.0, 0), ("CN", 0.5, 0), ("CN+R", 0.5, 2))


def table_fronts():
    print("## 3. sharp fronts on the study grid (L = 2-8, dL = 0.025, drift-averaged D_LL of "
          "inputs/lejosne2023.toml, F = 0 at both edges)\n")
    g = Grid(2.0, 8.0, 0.025, 288)
    K = co.diffusion_constant_K_per_s(0.5, 200.0)
    D = lambda L: co.drift_averaged_D_LL_per_s(L, K)    # noqa: E731
    inj = initial.injection(g).mean(axis=1)
    spike = np.zeros(g.n_L)
    spike[np.searchsorted(g.L_centres, 6.0)] = 1.0
    spike_out = np.zeros(g.n_L)
    spike_out[np.searchsorted(g.L_centres, 7.9)] = 1.0
    print("after 5 min (one output interval); error against the same scheme at dt = 0.25 s (CN, monotone there)\n")
    print("| initial F | scheme | dt | min F | excess total variation | max error |")
    print("|---|---|---:|---:|---:|---:|")
    for name, F_init in (("injection (MLT average)", inj), ("one-cell spike at L = 6", spike),
                         ("one-cell spike at L = 7.9", spike_out)):
        ref = F_init.copy()
        RadialDiffusion(g.L_edges, D, theta=0.5, startup_steps=0).advance(ref, 300.0, 0.25)
        for label, theta, start in FRONT_SCHEMES:
            for dt in (300.0, 60.0):
                s = RadialDiffusion(g.L_edges, D, theta=theta, startup_steps=start)
                F = F_init.copy()
                s.advance(F, 300.0, dt)
                print(f"| {name} | {label} | {dt:g} s | {F.min():.2e} | {tv_excess(F):.2e} | "
                      f"{np.max(np.abs(F - ref)):.2e} |")
    print("\nthe drift study's radial run (injection, dt = 60 s, outputs every 300 s, 24 h): over all outputs\n")
    print("| scheme | min F | max excess total variation | number at 24 h / initial |")
    print("|---|---:|---:|---:|")
    for label, theta, start in FRONT_SCHEMES:
        s = RadialDiffusion(g.L_edges, D, theta=theta, startup_steps=start)
        t, F = s.run(inj, DAY, 60.0, 300.0)
        print(f"| {label} | {F[1:].min():.2e} | {max(tv_excess(f) for f in F[1:]):.2e} | "
              f"{s.number(F[-1]) / s.number(F[0]):.6f} |")
    print()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--no-sweep", action="store_true", help="skip table 2 (the cost sweep)")
    args = ap.parse_args()
    sp = spacepy_cn()
    print(f"reference: Chebyshev N = {REF.N}; SpacePy: {'spacepy.lib.solve_cn' if sp else 'not importable'}\n")
    table_orders(sp)
    if not args.no_sweep:
        table_cost(sp)
    table_fronts()


if __name__ == "__main__":
    main()
