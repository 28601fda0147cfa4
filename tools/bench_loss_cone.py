"""Loss-cone layer of the pitch-angle solver (issue 17): decay rates against the grid.

Prints, for the uniform grid (the paper's, down to 1/512 deg) and the graded grid
(``[grid] spacing = "graded"``, its default and a refinement sequence):

* the slowest decay rate -max eig(A) of a smooth test profile (tests' smooth_daa: D > 0 at every
  angle, so the top eigenvalue is the loss mode; this is the profile of issue 17's numbers) and
  its error against the converged value, a P1 finite-element eigen-solver on a 12,000-element
  mesh graded towards 0 and the loss cone (independent of operator.py);
* for database profiles (the mean <D>, D(<X>,<Y>), two rows): D = 0 above ~83 deg, so particles
  there never decay and the top eigenvalue is exactly 0; what the findings use is f(30 deg) at
  30 days from the isotropic start, and its e-folding rate -d ln f(30 deg)/dt at 30 days.  Both
  are computed from the eigen-decomposition of the block of the operator that holds 30 deg,
  keeping the modes slower than 3e-5 /s (the others are below e^-50 after 20 days).
  Reference: the graded grid refined 16 times (1,959 nodes); the uniform 1/128 deg grid
  (11,521 nodes, its layer resolved at h / sqrt(D tau_L) < 0.5) is shown as an independent check.

    nice .venv/bin/python tools/bench_loss_cone.py            # the tables (about a minute)
    nice .venv/bin/python tools/bench_loss_cone.py --quick    # smooth profile only (seconds)
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla
from scipy.linalg import eigh_tridiagonal

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hpcbelt import daa_database as dbmod  # noqa: E402
from hpcbelt.pitch_angle.operator import (DEFAULT_GROWTH, DEFAULT_MIN_DALPHA_DEG, make_grid,  # noqa: E402
                                          symmetric_tridiagonal, weight)
from hpcbelt.pitch_angle.physics import loss_cone_deg_from_altitude, loss_time_s  # noqa: E402

L, E = 3.0, 0.5
DAY = 86400.0
LC = loss_cone_deg_from_altitude(L, 100.0)
DB = ROOT / "inputs" / "hiss_L3_0.5MeV.h5"


def smooth_daa(alpha_deg):
    """The tests' smooth profile [1/s] (tests/pitch_angle/test_physics_operator.py)."""
    return 1e-5 * (0.5 + np.sin(np.radians(alpha_deg)) ** 2)


def slowest_rate(grid, daa):
    diag, off = symmetric_tridiagonal(grid, daa)
    w = eigh_tridiagonal(diag, off, eigvals_only=True, select="i", select_range=(grid.n - 1, grid.n - 1))
    return float(-w[0])


def fem_slowest_rate(daa_func, loss_cone_deg, n_el=12000):
    """P1 finite elements, mesh graded towards 0 and the loss-cone edge (element edge on it)."""
    lc = np.radians(loss_cone_deg)
    s = np.linspace(0, 1, n_el // 2 + 1)
    x = np.unique(np.concatenate([lc * np.sin(np.pi * s / 2) ** 2,
                                  lc + (np.pi / 2 - lc) * np.sin(np.pi * s / 2) ** 2]))
    gx, gw = np.polynomial.legendre.leggauss(4)
    a0, a1 = x[:-1, None], x[1:, None]
    h = a1 - a0
    q = 0.5 * (a0 + a1) + 0.5 * h * gx[None, :]
    w = 0.5 * h * gw[None, :]
    G = weight(q)
    lam = np.where(q < lc, 1.0 / loss_time_s(q, L, E), 0.0)
    phi = [(a1 - q) / h, (q - a0) / h]
    dphi = [-1 / h, 1 / h]
    n = x.size
    e = np.arange(n - 1)
    rows, cols, kv, mv = [], [], [], []
    for i in range(2):
        for j in range(2):
            rows.append(e + i)
            cols.append(e + j)
            kv.append((w * daa_func(q) * G).sum(1) * (dphi[i] * dphi[j])[:, 0]
                      + (w * G * lam * phi[i] * phi[j]).sum(1))
            mv.append((w * G * phi[i] * phi[j]).sum(1))
    rows, cols = np.concatenate(rows), np.concatenate(cols)
    K = sp.csc_matrix((np.concatenate(kv), (rows, cols)), shape=(n, n))
    M = sp.csc_matrix((np.concatenate(mv), (rows, cols)), shape=(n, n))
    return float(spla.eigsh(K, k=1, M=M, sigma=0, which="LM", return_eigenvectors=False)[0])


def f_at_30deg(grid, daa, t_s, mu_max=3e-5):
    """f(30 deg, t) from f = 1 at t = 0 and the rate -d ln f(30 deg)/dt, for constant ``daa``."""
    i30 = int(np.flatnonzero(grid.alpha_deg == 30.0)[0])
    diag, off = symmetric_tridiagonal(grid, daa)
    cut = np.flatnonzero(off == 0.0)                  # D = 0 faces split the operator into blocks
    lo = int(cut[cut < i30].max()) + 1 if (cut < i30).any() else 0
    hi = int(cut[cut >= i30].min()) if (cut >= i30).any() else grid.n - 1
    w, q = eigh_tridiagonal(diag[lo:hi + 1], off[lo:hi], select="v", select_range=(-mu_max, 1.0))
    sq = np.sqrt(grid.volume[lo:hi + 1])
    coef = q[i30 - lo] / sq[i30 - lo] * (q.T @ sq)   # f0 = 1: f(30, t) = sum coef e^{w t}
    e = np.exp(np.outer(np.atleast_1d(t_s), w))
    f = e @ coef
    rate = -(e @ (coef * w)) / f
    return f, rate


def grids():
    """(label, grid) of the tables: uniform sequence and the graded default + refinement."""
    out = [(f"uniform {h:g} deg", make_grid(h, LC, L, E)) for h in (1.0, 0.5, 0.25, 0.125)]
    for s in (1, 2, 4, 8):
        out.append((f"graded 1/{s}" if s > 1 else "graded (default)", make_grid(1.0 / s, LC, L, E, spacing="graded",
                                                min_dalpha_deg=DEFAULT_MIN_DALPHA_DEG / s,
                                                growth=DEFAULT_GROWTH ** (1.0 / s))))
    return out


def smooth_table():
    t0 = time.perf_counter()
    ref = fem_slowest_rate(lambda a: smooth_daa(np.degrees(a)), LC)
    print(f"# smooth profile, slowest decay rate; reference: FEM (12,000 elements) {ref:.9e} /s "
          f"({time.perf_counter() - t0:.1f} s)")
    print(f"{'grid':>22} {'nodes':>6} {'rate [1/s]':>16} {'rel. error':>11}")
    rows = [(f"uniform {h:g} deg", make_grid(h, LC, L, E)) for h in
            (1.0, 0.5, 0.25, 0.125, 1 / 16, 1 / 64, 1 / 256, 1 / 512)] + grids()[4:]
    for label, g in rows:
        r = slowest_rate(g, smooth_daa(g.alpha_deg))
        print(f"{label:>22} {g.n:6d} {r:16.9e} {r / ref - 1:+11.2e}")
    # second order of the graded refinement from successive differences
    # (1/32 and finer: round-off of the eigenvalue, eps * max|S| ~ eps D / delta^2, reaches 1e-6)
    seq = [slowest_rate(g, smooth_daa(g.alpha_deg)) for g in
           (make_grid(1.0 / s, LC, L, E, spacing="graded", min_dalpha_deg=DEFAULT_MIN_DALPHA_DEG / s,
                      growth=DEFAULT_GROWTH ** (1.0 / s)) for s in (1, 2, 4, 8))]
    d = np.abs(np.diff(seq))
    print("graded refinement: observed orders log2(|r_h - r_h/2| / |r_h/2 - r_h/4|) =",
          " ".join(f"{x:.2f}" for x in np.log2(d[:-1] / d[1:])))
    lim = seq[-1] + (seq[-1] - seq[-2]) / 3
    print(f"graded Richardson limit {lim:.9e} /s, {lim / ref - 1:+.1e} from FEM")


def database_table():
    db = dbmod.load(DB)
    profiles = {"<D> (mean_of_profiles)": db.daa.mean(axis=0), "D(<X>,<Y>) (mean_inputs)": db.daa_of_mean_inputs,
                "row 0": db.daa[0], "row 1515 (largest D at a_LC)": db.daa[1515]}
    t = np.array([20.0, 30.0]) * DAY
    refs = [("uniform 1/128 deg", make_grid(1 / 128, LC, L, E)),
            ("graded 1/16 (ref.)", make_grid(1 / 16, LC, L, E, spacing="graded",
                                             min_dalpha_deg=DEFAULT_MIN_DALPHA_DEG / 16,
                                             growth=DEFAULT_GROWTH ** (1 / 16)))]
    for name, prof in profiles.items():
        print(f"\n# {name}: f(30 deg, 30 d) / f0 and -d ln f(30 deg)/dt at 30 d")
        print(f"{'grid':>22} {'nodes':>6} {'f30(30 d)':>12} {'err':>9} {'rate [1/s]':>12} {'err':>9}")
        res = []
        for label, g in grids() + refs:
            d = dbmod.interpolate_profiles(db.alpha_deg, prof[None, :], g.alpha_deg)[0]
            f, r = f_at_30deg(g, d, t)
            res.append((label, g.n, f[-1], r[-1]))
        f_ref, r_ref = res[-1][2], res[-1][3]
        for label, n, f, r in res:
            print(f"{label:>22} {n:6d} {f:12.6e} {f / f_ref - 1:+9.2e} {r:12.6e} {r / r_ref - 1:+9.2e}")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="smooth profile only")
    args = p.parse_args(argv)
    print(f"loss cone {LC:.4f} deg (L = {L:g}, {E:g} MeV, 100 km); graded default: min_dalpha_deg = "
          f"{DEFAULT_MIN_DALPHA_DEG:g}, growth = {DEFAULT_GROWTH:g}")
    smooth_table()
    if not args.quick:
        database_table()


if __name__ == "__main__":
    main()
