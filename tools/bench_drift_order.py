#!/usr/bin/env python
"""Order in L of the drift-diffusion PDE before and after issue 17, against the exact 2-D solution.

    nice .venv/bin/python tools/bench_drift_order.py             both tables (~5 min on one core)
    nice .venv/bin/python tools/bench_drift_order.py --quick     1 MeV only, up to 96 rings (~20 s)
    nice .venv/bin/python tools/bench_drift_order.py --no-floor  without table 2

Problem (the issue's): ``D_LL = K L^6 / 2 = 3e-5 L^6 /day``, L = 2-8, a Gaussian at L = 5 (width
0.5), 24 h, F = 0 on both edges ("fixed") or zero flux at both, with the drift of electrons of
1 MeV at L = 5 (periods 8-19 min, as in tests/drift/test_pde_order.py) and of the paper's
200 keV at L = 3 (52 min - 5.5 h).  Reference: the spectral solution of the 2-D equation of
tests/drift/test_pde_order.py (Chebyshev in L x Fourier in MLT, exact in time), with 48 x 24
points (1 MeV) and 48 x 32 (200 keV): error in the MLT average below 1e-6 of the peak.  The PDE
is integrated by Crank-Nicolson on its bonds at mid-step with h = 150 s (time error < 1e-3 of
the errors shown).  Errors: max over rings |<F>_MLT - reference| / peak at 24 h.

"old" = the bonds before issue 17 (the value of a fixed edge at a ghost-ring centre half a cell
outside the edge; ring-pair conductances from the midpoint angles alone, dL / L too large),
a frozen copy below; "new" = :func:`hpcbelt.drift.kernels.build_bonds`.

Table 1: error / peak and order (log2 of the ratio to the next coarser grid) at 24, 48, 96, 192
rings, 16 and 32 MLT cells.  Table 2 (200 keV): the MLT-resolution floor of the new scheme, at
48, 96 and 192 rings with 16 to 128 MLT cells.
"""

import argparse
import math
import sys
import time
from pathlib import Path

import numba
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hpcbelt import dipole  # noqa: E402
from hpcbelt.drift.kernels import _slope  # noqa: E402
from tests.drift import test_pde_order as po  # noqa: E402


@numba.njit(cache=False)
def old_build_bonds(L_centres, dL, dphi, theta, K, kmax, up_k, up_c, ring_c, g_lo, g_hi):
    """``hpcbelt.drift.kernels.build_bonds`` as it was before issue 17 (for the comparison only)."""
    nL = L_centres.shape[0]
    nphi = ring_c.shape[1]
    ratio = dphi / dL
    for i in range(nL - 1):
        Lf = 0.5 * (L_centres[i] + L_centres[i + 1])
        Lf4 = Lf * Lf * Lf * Lf
        s_cells = (theta[i + 1] - theta[i]) / dphi
        s_cells -= nphi * math.floor(s_cells / nphi)
        for k in range(nphi):
            phi_k = (k + 0.5) * dphi + theta[i]
            r0 = _slope(Lf, phi_k, dL, dphi, kmax)
            r = _slope(Lf, phi_k + 0.5 * r0 * dphi, dL, dphi, kmax)
            n_lo = math.floor(r - s_cells)
            beta = r - (n_lo + s_cells)
            for b in range(2):
                n = n_lo + b
                w = 1.0 - beta if b == 0 else beta
                phi_m = phi_k + 0.5 * (n + s_cells) * dphi
                sn = math.sin(phi_m)
                up_k[i, k, b] = (k + n) % nphi
                up_c[i, k, b] = w * K * Lf4 * sn * sn * ratio
    for i in range(nL):
        L = L_centres[i]
        for k in range(nphi):
            phi_m = (k + 1.0) * dphi + theta[i]
            sn = math.sin(phi_m)
            cs = math.cos(phi_m)
            rem = cs * cs / ratio - kmax * kmax * L * L * sn * sn * ratio
            ring_c[i, k] = K * L * L * rem if rem > 0.0 else 0.0
    L_lo = L_centres[0] - 0.5 * dL
    L_hi = L_centres[nL - 1] + 0.5 * dL
    for k in range(nphi):
        s0 = math.sin((k + 0.5) * dphi + theta[0])
        s1 = math.sin((k + 0.5) * dphi + theta[nL - 1])
        g_lo[k] = K * L_lo ** 4 * s0 * s0 * ratio
        g_hi[k] = K * L_hi ** 4 * s1 * s1 * ratio


def old_bonds_of(s, t):
    """The pre-issue-17 bonds of solver ``s`` at time ``t`` (written into arrays of our own)."""
    if not hasattr(s, "_old"):
        nL, nphi = s.grid.n_L, s.grid.n_mlt
        s._old = (np.zeros((nL - 1, nphi, 2), np.int64), np.zeros((nL - 1, nphi, 2)), np.zeros((nL, nphi)),
                  np.zeros(nphi), np.zeros(nphi))
    up_k, up_c, ring_c, g_lo, g_hi = s._old
    old_build_bonds(s.grid.L_centres, s.grid.dL, s.grid.dphi, s.theta(t), s.K, s.kmax, up_k, up_c, ring_c,
                    g_lo, g_hi)
    if s.boundary[0] == "zero_flux":
        g_lo[:] = 0.0
    if s.boundary[1] == "zero_flux":
        g_hi[:] = 0.0
    return s._old


ELECTRONS = {"1 MeV": (1000.0, 5.0, (48, 24)), "200 keV": (200.0, 3.0, (48, 32))}


def omega_of(label):
    energy, L_energy, _ = ELECTRONS[label]
    M = dipole.first_invariant_J_per_T(energy, L_energy)
    return lambda L: dipole.drift_angular_frequency_rad_per_s(M, L)


def error(boundary, coef, n_L, n_mlt, om, bonds_of=None):
    g, avg = po.pde_mlt_average(boundary, n_L, n_mlt, omega=om, bonds_of=bonds_of)
    ref = po.reference_cells(coef, g)
    return float(np.max(np.abs(avg - ref)) / ref.max())


def fmt_order(errs):
    return ["  -  "] + [f"{math.log2(a / b):5.2f}" for a, b in zip(errs, errs[1:])]


def table_order(labels, rings, mlts):
    print("Table 1: max |<F>_MLT - exact| / peak after 24 h, and order in L (vs the next coarser grid)")
    for label in labels:
        om = omega_of(label)
        for boundary in ("fixed", "zero_flux"):
            t0 = time.perf_counter()
            coef = po.reference_mlt_average(boundary, *ELECTRONS[label][2], omega=om)
            print(f"\n{label}, {boundary} edges (reference {time.perf_counter() - t0:.0f} s)")
            print(f"  {'n_mlt':>5} {'rings':>5} {'dL':>7} | {'old':>9} {'order':>5} | {'new':>9} {'order':>5}")
            for n_mlt in mlts:
                old = [error(boundary, coef, n, n_mlt, om, old_bonds_of) for n in rings]
                new = [error(boundary, coef, n, n_mlt, om) for n in rings]
                for n, eo, oo, en, on in zip(rings, old, fmt_order(old), new, fmt_order(new)):
                    print(f"  {n_mlt:5d} {n:5d} {6.0 / n:7.4f} | {eo:9.2e} {oo} | {en:9.2e} {on}", flush=True)


def table_floor():
    print("\nTable 2: 200 keV, new scheme: error / peak at a fixed number of rings as the MLT cells are refined")
    om = omega_of("200 keV")
    for boundary in ("fixed", "zero_flux"):
        coef = po.reference_mlt_average(boundary, *ELECTRONS["200 keV"][2], omega=om)
        print(f"\n{boundary} edges\n  {'rings':>5} | " + " ".join(f"{m:>9d}" for m in (16, 32, 64, 128)))
        for n in (48, 96, 192):
            errs = [error(boundary, coef, n, m, om) for m in (16, 32, 64, 128)]
            print(f"  {n:5d} | " + " ".join(f"{e:9.2e}" for e in errs), flush=True)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="1 MeV only, up to 96 rings, no table 2")
    ap.add_argument("--no-floor", action="store_true", help="skip table 2")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    if args.quick:
        table_order(["1 MeV"], (24, 48, 96), (16, 32))
    else:
        table_order(["1 MeV", "200 keV"], (24, 48, 96, 192), (16, 32))
        if not args.no_floor:
            table_floor()
    print(f"\n({time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    main()
