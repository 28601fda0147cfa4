"""Order in L of the drift-diffusion PDE against an exact solution of the 2-D equation (issue 17).

The reference is a spectral solution of Eq. 28 itself, not the 1-D radial solution (near an
absorbing edge the two differ by about 1e-3 of the peak, which would hide a second-order PDE):
Chebyshev collocation in L (40 intervals) times Fourier collocation in MLT (F stays pi-periodic
in MLT from an MLT-independent start: 12 points on [0, pi)), the edge rows eliminated (F = 0 on
the edges, or zero radial flux: ``a . grad F = 0``), integrated exactly in time by the matrix
exponential of the autonomous fixed-frame operator.  Its error in the MLT average, measured
against 48 x 24 points, is below 2e-6 of the peak (fixed) and 1e-7 (zero flux).

The problem is the issue's: ``D_LL = K L^6 / 2 = 3e-5 L^6 /day``, L = 2-8, a Gaussian at L = 5
(width 0.5), 24 h, F = 0 on both edges or zero flux at both, with the drift of electrons of
1 MeV at L = 5 (drift periods 8-19 min).  The PDE is integrated in time by Crank-Nicolson on its
own bonds (:meth:`DriftDiffusionSolver.bonds` at mid-step), h = 150 s: halving h twice changes
the errors below by less than 0.2 %, so what is measured is the error of the discretisation in
L (and MLT).

Measured, max |<F>_MLT - reference| / peak at 24 h, at 24 / 48 / 96 rings (dL = 0.25 / 0.125 /
0.0625), the same to 1 % at 16 and at 32 MLT cells: fixed 7.9e-3, 2.0e-3, 5.0e-4 (orders 1.97,
1.99); zero flux 7.9e-3, 2.0e-3, 5.1e-4 (1.97, 1.99).  Before issue 17 (the fixed value half a
cell outside the edge, the ring-pair conductances dL/L too large) they were 1.9e-2, 1.0e-2,
5.1e-3 (orders 0.95, 0.96) and 9.8e-3, 6.3e-3, 3.7e-3 (0.65, 0.76).  ``tools/bench_drift_order.py``
prints the table, also at 192 rings and for 200 keV electrons.

Why 1 MeV: with the paper's 200 keV electrons (drift periods of hours) the MLT-dependent part of
F is about ten times larger, and the coarse MLT grids' extra azimuthal diffusion (kernels module,
"Resolution in MLT") damps it; that error does not vanish as dL -> 0 at a fixed number of MLT
cells and floors the MLT-average error at 0.6-1.5e-3 of the peak at 16-32 cells for dL <= 0.06
(it shrinks as the MLT cells are refined).  With the faster drift the floor is far below
the L error down to dL = 0.03 (orders 1.89-1.91 / 1.98-1.99 from 96 to 192 rings at 16 / 32
cells), so this test sees the order in L.

Tolerances: order >= 1.9 (measured 1.97-2.00; the reference and time-step errors move the
orders by < 0.01), and the error at 96 rings within 25 % of its measured value (a regression
guard: the computation is deterministic, and a first-order scheme is 7-10 times off).
Runtime: 6-9 s.
"""

import numpy as np
import pytest
import scipy.linalg as sla

from hpcbelt import dipole
from hpcbelt.drift import coefficients as co
from hpcbelt.drift import kernels
from hpcbelt.drift.solver import DriftDiffusionSolver
from hpcbelt.lmlt import Grid
from hpcbelt.radial.solver import RadialDiffusion

pytestmark = pytest.mark.accuracy

K = 6e-5 / co.SECONDS_PER_DAY                 # D_LL = K L^6 / 2 = 3e-5 L^6 /day
L_MIN, L_MAX, L0, WIDTH = 2.0, 8.0, 5.0, 0.5
DURATION = 86400.0
M_1MEV = dipole.first_invariant_J_per_T(1000.0, 5.0)


def omega(L):
    return dipole.drift_angular_frequency_rad_per_s(M_1MEV, L)


def gaussian(L):
    return np.exp(-0.5 * ((L - L0) / WIDTH) ** 2)


# --- the exact 2-D solution ---------------------------------------------------------------

def _cheb(n):
    """Chebyshev-Gauss-Lobatto points ``x_j = cos(pi j / n)`` and the differentiation matrix."""
    x = np.cos(np.pi * np.arange(n + 1) / n)
    c = np.hstack([2.0, np.ones(n - 1), 2.0]) * (-1.0) ** np.arange(n + 1)
    dx = x[:, None] - x[None, :]
    D = np.outer(c, 1.0 / c) / (dx + np.eye(n + 1))
    return D - np.diag(D.sum(axis=1)), x


def _fourier(n, period):
    """Differentiation matrix on ``n`` (even) equispaced points of a ``period``-periodic function."""
    j = np.arange(1, n)
    col = np.zeros(n)
    col[1:] = 0.5 * (-1.0) ** j / np.tan(j * np.pi / n)
    return sla.toeplitz(col, -col) * (2.0 * np.pi / period)


def reference_mlt_average(boundary, n_cheb=40, n_phi=12, omega=omega):
    """MLT average of the exact solution at ``DURATION``, as Chebyshev coefficients in ``(L - 5) / 3``.

    Fixed frame, Eq. 28 in divergence form with ``g = a . grad F = L sin(phi) F_L + cos(phi) F_phi``:
    ``dF/dt = -Omega F_phi + L^2 d_L (K L^3 sin(phi) g) + d_phi (K L^4 cos(phi) g)``.
    """
    D, x = _cheb(n_cheb)
    L = (L_MIN + 0.5 * (L_MAX - L_MIN) * (x + 1.0))[:, None]
    phi = ((np.arange(n_phi) + 0.5) * np.pi / n_phi)[None, :]
    Lg, s, c = np.broadcast_arrays(L, np.sin(phi), np.cos(phi))
    dL = np.kron(D * 2.0 / (L_MAX - L_MIN), np.eye(n_phi))     # node (i, j) is i * n_phi + j
    dp = np.kron(np.eye(n_cheb + 1), _fourier(n_phi, np.pi))

    def diag(a):
        return np.diag(a.ravel())

    g = diag(Lg * s) @ dL + diag(c) @ dp
    A = (-diag(omega(Lg)) @ dp + diag(Lg ** 2) @ dL @ diag(K * Lg ** 3 * s) @ g
         + dp @ diag(K * Lg ** 4 * c) @ g)
    n = A.shape[0]
    edge = np.zeros(n, bool)
    edge[:n_phi] = edge[-n_phi:] = True
    P = np.zeros((n, n - 2 * n_phi))                   # all nodes from the interior ones
    P[~edge, np.arange(n - 2 * n_phi)] = 1.0
    if boundary == "zero_flux":                        # g = 0 on the edge nodes (none at sin(phi) = 0)
        P[edge] = -np.linalg.solve(g[np.ix_(edge, edge)], g[np.ix_(edge, ~edge)])
    F0 = np.broadcast_to(gaussian(L), Lg.shape).ravel()
    F = (P @ (sla.expm(A[~edge] @ P * DURATION) @ F0[~edge])).reshape(n_cheb + 1, n_phi)
    f = F.mean(axis=1)                                 # mode 0 in MLT, at the Chebyshev points
    return np.polynomial.chebyshev.chebfit(x, f, n_cheb)


def cell_averages(fun, grid, nq=8):
    """Averages over the L cells in the measure L^-2 dL (Gauss-Legendre, nq points per cell)."""
    xq, wq = np.polynomial.legendre.leggauss(nq)
    e = grid.L_edges
    Lq = 0.5 * (e[:-1, None] + e[1:, None]) + 0.5 * grid.dL * xq[None, :]
    w = wq[None, :] / Lq ** 2
    return (fun(Lq) * w).sum(axis=1) / w.sum(axis=1)


def reference_cells(coef, grid):
    """Cell averages (measure L^-2 dL) of the reference's Chebyshev series ``coef``."""
    return cell_averages(lambda L: np.polynomial.chebyshev.chebval((L - 5.0) / 3.0, coef), grid)


# --- the PDE, integrated accurately in time -----------------------------------------------

def pde_mlt_average(boundary, n_L, n_mlt, h=150.0, omega=omega, bonds_of=None):
    """The PDE's MLT average at ``DURATION`` from the measure-weighted cell averages of the Gaussian.

    ``bonds_of(solver, t)`` gives the bond arrays at time t (default: :meth:`DriftDiffusionSolver.bonds`;
    tools/bench_drift_order.py passes the bonds from before issue 17).
    """
    g = Grid(L_MIN, L_MAX, (L_MAX - L_MIN) / n_L, n_mlt)
    F0 = np.repeat(cell_averages(gaussian, g)[:, None], n_mlt, axis=1)
    s = DriftDiffusionSolver(g, F0, K, omega(g.L_centres), h, boundary=(boundary, boundary))
    bonds_of = bonds_of or DriftDiffusionSolver.bonds
    F, m = s.F, s.m[:, None]
    y = np.empty_like(F)
    work = np.zeros((6, n_L, n_mlt))
    n = int(round(DURATION / h))
    for j in range(n):                          # Crank-Nicolson with the bonds at mid-step
        bonds = bonds_of(s, (j + 0.5) * h)
        kernels.apply_laplacian(F, *bonds, y)
        F -= 0.5 * h * y / m
        kernels.implicit_step(F, s.m, 0.5 * h, 0.0, 0.0, *bonds, 1e-13, 5000, work)
    return g, F.mean(axis=1)


MEASURED_96 = {"fixed": 5.05e-4, "zero_flux": 5.08e-4}    # error / peak at 96 rings, 16 MLT cells


@pytest.mark.parametrize("boundary", ["fixed", "zero_flux"])
def test_mlt_average_converges_at_second_order_in_L(boundary):
    coef = reference_mlt_average(boundary)
    for n_mlt in (16, 32):
        err = []
        for n_L in (24, 48, 96):
            g, avg = pde_mlt_average(boundary, n_L, n_mlt)
            ref = reference_cells(coef, g)
            err.append(np.max(np.abs(avg - ref)) / ref.max())
        order = np.log2(np.array(err[:-1]) / np.array(err[1:]))
        assert np.all(order >= 1.9), (boundary, n_mlt, err, order)
        assert err[-1] < 1.25 * MEASURED_96[boundary], (boundary, n_mlt, err)


@pytest.mark.parametrize("boundary", [("fixed", "fixed"), ("zero_flux", "zero_flux"), ("fixed", "zero_flux")])
@pytest.mark.parametrize("kmax", [8.0, 1.5])
def test_mlt_average_of_operator_is_the_radial_operator(boundary, kmax):
    """For an MLT-independent F the MLT average of the 2-D operator, at any rotation of the rings,
    is the radial solver's operator with ``D_LL = K L^6 / 2`` (Eq. 21), edges included, to
    round-off (issue 17: before, each ring pair conducted about dL/L too much, and the fixed
    edges sat half a cell outside)."""
    rng = np.random.default_rng(17)
    g = Grid(2.0, 7.0, 0.125, 24)
    values = (0.3, 1.7)
    rad = RadialDiffusion(g.L_edges, lambda L: co.drift_averaged_D_LL_per_s(L, K), boundary=boundary,
                          boundary_values=values)
    f = rng.uniform(0.2, 1.0, g.n_L)
    fl = np.r_[rad.F_lo, f, rad.F_hi]
    cl = np.r_[rad.c_lo, rad.c]
    cr = np.r_[rad.c, rad.c_hi]
    expected = cr * (fl[2:] - f) - cl * (f - fl[:-2])           # m_i df_i/dt of the radial solver
    F = np.repeat(f[:, None], g.n_mlt, axis=1)
    y = np.empty_like(F)
    for _ in range(4):
        s = DriftDiffusionSolver(g, F, K, rng.uniform(0.0, 1e-3, g.n_L), 60.0, boundary=boundary,
                                 boundary_values=values, kmax=kmax)
        up_k, up_c, ring_c, g_lo, g_hi = s.bonds(rng.uniform(0.0, 1e5))     # rings rotated at random
        kernels.apply_laplacian(F, up_k, up_c, ring_c, g_lo, g_hi, y)
        y[0] -= g_lo * values[0]
        y[-1] -= g_hi * values[1]
        got = -y.sum(axis=1) / (2.0 * np.pi)                    # ring sums of m_p dF_p/dt, per radian
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12 * np.abs(expected).max())
        # still a graph Laplacian with non-negative conductances (symmetric: each bond used from both ends)
        assert up_c.min() >= 0.0 and ring_c.min() >= 0.0 and g_lo.min() >= 0.0 and g_hi.min() >= 0.0
