"""Convergence orders of the radial solver against exact references (issue 17).

References, all written here or in tests/radial/reference.py:

* the Chebyshev eigen-solution of the Sturm-Liouville problem (exact in time, ~1e-12 of the
  peak; converged, see the first test) for the issue's problem: D_LL = 3e-5 L^6 /day,
  L = 2-8, a Gaussian at L = 5 of standard deviation 0.5, 24 h;
* the analytic steady state ``A + B / L^3`` between two fixed values (D_LL ~ L^6);
* the eigen-solution of the solver's own semi-discrete system (exact in time), for the order
  in time alone.

Errors are max |F - F_ref| / max F_ref over the cells (cell averages in the measure L^-2 dL).
An order is ``log2(e(n) / e(2 n))`` between successive doublings; every order is asked to be
>= 1.9 (second order; the measured ones are 1.94-2.01, the margin absorbs the approach to the
asymptotic regime on the coarsest grids).
"""

import numpy as np
import pytest

from hpcbelt.drift import coefficients as co, initial
from hpcbelt.lmlt import Grid
from hpcbelt.radial.solver import RadialDiffusion

from .reference import DAY, L_A, L_B, D_issue, SpectralReference, cell_average, gaussian

pytestmark = pytest.mark.accuracy



_REFS = {}


def reference(boundary, N=64):
    if (boundary, N) not in _REFS:
        _REFS[boundary, N] = SpectralReference(L_A, L_B, D_issue, boundary, N=N)
    return _REFS[boundary, N]


def error(boundary, n, dt, theta=0.5, startup_steps=2, old_edges=False):
    e = np.linspace(L_A, L_B, n + 1)
    s = RadialDiffusion(e, D_issue, boundary=boundary, theta=theta, startup_steps=startup_steps)
    if old_edges:   # before issue 17: the fixed value at the ghost-cell centre, a full cell from F_0
        dL = e[1] - e[0]
        s.c_lo = 0.0 if s.c_lo == 0 else float(D_issue(e[0]) / (e[0] ** 2 * dL))
        s.c_hi = 0.0 if s.c_hi == 0 else float(D_issue(e[-1]) / (e[-1] ** 2 * dL))
    F = cell_average(gaussian, e)
    s.advance(F, DAY, dt)
    ref = reference(boundary).cell_averages(gaussian, DAY, e)
    return np.max(np.abs(F - ref)) / ref.max()


def orders(errors):
    errors = np.asarray(errors)
    return np.log2(errors[:-1] / errors[1:])


BOUNDARIES = [("fixed", "fixed"), ("zero_flux", "zero_flux"), ("fixed", "zero_flux")]


@pytest.mark.parametrize("boundary", BOUNDARIES)
def test_spectral_reference_is_converged(boundary):
    # N = 64 (used below) against N = 96: measured 4e-12 of the peak, far below the smallest
    # error measured against it (2e-5); tolerance 1e-9.  Small matrices: fast.
    e = np.linspace(L_A, L_B, 481)
    a = reference(boundary).cell_averages(gaussian, DAY, e)
    b = reference(boundary, N=96).cell_averages(gaussian, DAY, e)
    assert np.max(np.abs(a - b)) < 1e-9 * b.max()
    assert 0.4 < b.max() < 0.5                    # the Gaussian did spread (peak 0.46-0.47)


@pytest.mark.parametrize("boundary", BOUNDARIES)
def test_space_order_crank_nicolson(boundary):
    # the default scheme; dt = 60 s leaves the time error below 1e-7 (dt = 15 s gives the same
    # errors to 3 digits), so this is the spatial order.  Measured: 1.29e-3, 3.21e-4, 8.03e-5,
    # 2.01e-5 (fixed ends; zero flux 0.5 % larger), orders 2.00.
    errs = [error(boundary, n, 60.0) for n in (60, 120, 240, 480)]
    assert np.all(orders(errs) >= 1.9), errs
    assert errs[-1] < 2.5e-5, errs


def test_space_order_backward_euler_fixed_ends():
    # dt = 1 s keeps backward Euler's O(dt) error at ~2e-6, 1/40 of the spatial error at 240
    # cells.  Measured orders 2.004, 1.998, 1.985.
    errs = [error(("fixed", "fixed"), n, 1.0, theta=1.0) for n in (30, 60, 120, 240)]
    assert np.all(orders(errs) >= 1.9), errs


def test_ghost_centre_edges_were_first_order():
    # the scheme before issue 17 (documents what the edge value fixed, and that the tests above
    # can fail): measured 1.50e-2, 7.8e-3, 4.0e-3, orders 0.94-0.97
    errs = [error(("fixed", "fixed"), n, 60.0, old_edges=True) for n in (30, 60, 120)]
    assert np.all((orders(errs) > 0.8) & (orders(errs) < 1.2)), errs
    assert errs[-1] > 10 * error(("fixed", "fixed"), 120, 60.0)


def _steady_exact(edges, F_a, F_b):
    """Cell averages (measure L^-2 dL) of the steady state A + B L^-3 with F(L_A) = F_a, F(L_B) = F_b."""
    B = (F_a - F_b) / (L_A ** -3 - L_B ** -3)
    A = F_a - B * L_A ** -3
    lo, hi = edges[:-1], edges[1:]
    return A + B * 0.25 * (lo ** -4 - hi ** -4) / (1 / lo - 1 / hi)


def test_steady_state_holds_the_fixed_values_on_the_edges():
    # analytic: (D_LL / L^2 F')' = 0 with D_LL ~ L^6 gives F = A + B / L^3; F = 1 on L = 2 and
    # 0.2 on L = 8 tests both edges (the Gaussian problem hardly reaches L = 2).  The scheme's
    # steady state (the same for every theta) is reached by 3 backward-Euler steps of 1e12 s
    # (the slowest mode, 2.9e-7 /s, is left at (1 + 2.9e5)^-3).  Measured: 2.6e-3, 6.9e-4,
    # 1.8e-4, 4.4e-5 at 80 ... 640 cells, orders 1.94, 1.97, 1.99 (the coarser 20 and 40 cells
    # give 1.77 and 1.88: F' ~ L^-4 is steep at L = 2 and not yet resolved; the ghost centre
    # gave order 1.0).
    errs = []
    for n in (80, 160, 320, 640):
        e = np.linspace(L_A, L_B, n + 1)
        s = RadialDiffusion(e, D_issue, boundary_values=(1.0, 0.2), theta=1.0)
        F = np.zeros(n)
        s.advance(F, 3e12, 1e12)
        errs.append(np.max(np.abs(F - _steady_exact(e, 1.0, 0.2))))
    assert np.all(orders(errs) >= 1.9), errs
    assert errs[-1] < 5e-5, errs


def _semi_discrete_exact(s, F, t):
    """Exact-in-time solution of the solver's ODE system m dF/dt = A F (F_b = 0), by the
    eigen-decomposition of the symmetric M^-1/2 A M^-1/2."""
    cl = np.r_[s.c_lo, s.c]
    cr = np.r_[s.c, s.c_hi]
    A = np.diag(-(cl + cr)) + np.diag(s.c, 1) + np.diag(s.c, -1)
    r = 1.0 / np.sqrt(s.m)
    lam, Q = np.linalg.eigh(r[:, None] * A * r[None, :])
    return r * (Q @ (np.exp(lam * t) * (Q.T @ (F / r))))


@pytest.mark.parametrize("startup_steps", [0, 2])
def test_time_order_crank_nicolson(startup_steps):
    # 120 cells, fixed ends; reference: the semi-discrete system solved exactly in time, so the
    # error is the time error alone.  Measured (startup 2): 9.4e-4 ... 3.6e-6 at dt = 2 h ... 7.5
    # min, orders 2.00-2.01 (plain CN 4.8e-4 ... 1.9e-6).  The start-up's four half steps of
    # backward Euler cost a constant factor 2 here, not the order.
    e = np.linspace(L_A, L_B, 121)
    errs = []
    for dt in (7200.0, 3600.0, 1800.0, 900.0, 450.0):
        s = RadialDiffusion(e, D_issue, theta=0.5, startup_steps=startup_steps)
        F = cell_average(gaussian, e)
        exact = _semi_discrete_exact(s, F, DAY)
        s.advance(F, DAY, dt)
        errs.append(np.max(np.abs(F - exact)) / exact.max())
    assert np.all(orders(errs) >= 1.9), errs
    # and backward Euler is first order in time on the same test (measured 1.00-1.01)
    be = []
    for dt in (1800.0, 900.0):
        s = RadialDiffusion(e, D_issue, theta=1.0)
        F = cell_average(gaussian, e)
        exact = _semi_discrete_exact(s, F, DAY)
        s.advance(F, DAY, dt)
        be.append(np.max(np.abs(F - exact)) / exact.max())
    assert 0.9 < orders(be)[0] < 1.1


def _tv_excess(F):
    """Total variation beyond that of a unimodal profile vanishing at the ends, relative to the
    peak: 0 (to round-off) for the exact solution, since diffusion creates no new extrema."""
    return float((np.sum(np.abs(np.diff(F))) + F[0] + F[-1] - 2 * F.max()) / F.max())


@pytest.mark.parametrize("start", ["injection", "spike L=5", "spike L=7.9"])
@pytest.mark.parametrize("dt", [300.0, 3600.0])
def test_sharp_fronts_stay_non_negative_without_new_extrema(start, dt):
    # the study grid (L = 2-8, dL = 0.025) and D_LL of inputs/lejosne2023.toml, absorbing
    # edges, 24 h with hourly output.  Measured with the start-up: min F >= 0 and excess total
    # variation <= 1e-15 at every output; plain Crank-Nicolson: minima down to -1 of the peak
    # or excess variation 0.1-90 (a sign-flipping grid-scale oscillation).
    g = Grid(2.0, 8.0, 0.025, 24)
    K = co.diffusion_constant_K_per_s(0.5, 200.0)
    D = lambda L: co.drift_averaged_D_LL_per_s(L, K)    # noqa: E731
    if start == "injection":
        F0 = initial.injection(g).mean(axis=1)
    else:
        F0 = np.zeros(g.n_L)
        F0[np.searchsorted(g.L_centres, float(start.split("=")[1]))] = 1.0
    for theta, startup in ((0.5, 2), (1.0, 0)):
        _, F = RadialDiffusion(g.L_edges, D, theta=theta, startup_steps=startup).run(F0, DAY, dt, 3600.0)
        assert F.min() >= 0.0, (theta, F.min())
        assert max(_tv_excess(f) for f in F[1:]) < 1e-12
    if start != "injection":      # what the start-up is for
        _, F = RadialDiffusion(g.L_edges, D, theta=0.5, startup_steps=0).run(F0, DAY, dt, 3600.0)
        assert F.min() < -0.1 * F[1:].max() or max(_tv_excess(f) for f in F[1:]) > 0.05
