"""Radial diffusion solver: analytic solution, conservation, positivity, refined-grid agreement.

Convergence orders against an exact spectral reference: test_radial_order.py."""

import numpy as np
import pytest

from hpcbelt.drift import coefficients as co
from hpcbelt.radial.solver import DEFAULT_THETA, RadialDiffusion, theta_step


def _analytic_case(n, theta, dt_s):
    """D_LL = D0 L^4 turns the equation into the heat equation in u = 1/L (constant D0).

    With zero-flux edges ``F = 1 + cos(pi (u - u_a) / (u_b - u_a)) exp(-D0 (pi / du)^2 t)`` is exact.
    """
    L_a, L_b = 2.0, 6.0
    u_a, u_b = 1 / L_b, 1 / L_a
    lam = (np.pi / (u_b - u_a)) ** 2
    D0 = 1.0 / (lam * 86400.0)               # one e-folding per day
    edges = np.linspace(L_a, L_b, n + 1)
    solver = RadialDiffusion(edges, lambda L: D0 * L ** 4, boundary=("zero_flux", "zero_flux"), theta=theta)

    def exact_cell_avg(t):
        # cell average in the measure L^-2 dL = du of 1 + cos(k (u - u_a)) e^{-lam D0 t}
        k = np.pi / (u_b - u_a)
        u_lo, u_hi = 1 / edges[1:], 1 / edges[:-1]
        return 1 + (np.sin(k * (u_hi - u_a)) - np.sin(k * (u_lo - u_a))) / (k * (u_hi - u_lo)) * np.exp(-lam * D0 * t)

    F0 = exact_cell_avg(0.0)
    t, F = solver.run(F0, 86400.0, dt_s, 3600.0)
    return np.max(np.abs(F[-1] - exact_cell_avg(86400.0))), solver, F


def test_analytic_crank_nicolson_second_order():
    e1 = _analytic_case(50, 0.5, 600.0)[0]
    e2 = _analytic_case(100, 0.5, 300.0)[0]
    # amplitude after one day is e^-1 = 0.37; measured max error 1.04e-3 at 50 cells,
    # 2.8e-4 at 100, 7.3e-5 at 200: second order in space and time together
    assert e1 < 1.5e-3
    assert e1 / e2 > 3.0


def test_analytic_backward_euler_first_order_in_time():
    e1 = _analytic_case(200, 1.0, 600.0)[0]
    e2 = _analytic_case(200, 1.0, 300.0)[0]
    assert e1 < 2e-3
    assert 1.7 < e1 / e2 < 2.3


def test_conservation_with_zero_flux():
    err, solver, F = _analytic_case(40, 1.0, 3600.0)
    n = [solver.number(f) for f in F]
    assert np.ptp(n) < 1e-13 * n[0]


@pytest.mark.parametrize("theta", [1.0, 0.5])
def test_lejosne_D_LL_budget_positivity_and_refinement(theta):
    # the step initial F (the paper's injection region): backward Euler is non-negative by
    # construction, Crank-Nicolson (the default) by its Rannacher start-up (test_radial_order.py)
    K = co.diffusion_constant_K_per_s(0.5, 200.0)
    D = lambda L: co.drift_averaged_D_LL_per_s(L, K)
    sols = []
    for n, dt in ((120, 300.0), (480, 75.0)):
        edges = np.linspace(2.0, 8.0, n + 1)
        Lc = 0.5 * (edges[1:] + edges[:-1])
        F0 = np.where((Lc >= 3.8) & (Lc <= 7.0), 1.0, 0.0)
        s = RadialDiffusion(edges, D, boundary=("fixed", "fixed"), theta=theta)
        t, F = s.run(F0, 86400.0, dt, 3600.0)
        assert F.min() >= 0.0
        # number budget: initial = final + what left through both edges
        assert s.number(F[0]) == pytest.approx(s.number(F[-1]) + s.lost_lo + s.lost_hi, rel=1e-12)
        assert s.lost_hi > 0
        sols.append((Lc, F[-1]))
    # coarse vs fine at L = 3.5 (cell averages, fine grid averaged 4 -> 1)
    coarse = sols[0][1]
    fine = sols[1][1].reshape(-1, 4).mean(axis=1)
    assert np.max(np.abs(coarse - fine)) < 0.01


@pytest.mark.parametrize("theta", [1.0, 0.5])
def test_budget_with_fixed_values_on_the_edges(theta):
    # F_b = 1 at L_min, 0.2 at L_max: particles come in through both edges (negative losses)
    # and the budget stays exact to round-off
    e = np.linspace(2.0, 8.0, 121)
    s = RadialDiffusion(e, lambda L: 3e-5 * L ** 6 / 86400.0, boundary_values=(1.0, 0.2), theta=theta)
    F = np.exp(-(s.L_centres - 5.0) ** 2 / 0.5)
    n0 = s.number(F)
    s.advance(F, 86400.0, 600.0)
    assert s.lost_lo < 0 and s.lost_hi < 0
    assert n0 == pytest.approx(s.number(F) + s.lost_lo + s.lost_hi, rel=1e-12)


def test_bad_arguments():
    """ValueError naming the parameter (the drift study's schema names the key)."""
    with pytest.raises(ValueError, match="boundary"):
        RadialDiffusion(np.linspace(2, 3, 5), lambda L: L, boundary=("open", "fixed"))
    with pytest.raises(ValueError, match="theta"):
        RadialDiffusion(np.linspace(2, 3, 5), lambda L: L, theta=0.2)
    with pytest.raises(ValueError, match="startup_steps"):
        RadialDiffusion(np.linspace(2, 3, 5), lambda L: L, startup_steps=-1)
    with pytest.raises(ValueError, match="startup_steps"):
        RadialDiffusion(np.linspace(2, 3, 5), lambda L: L, startup_steps=1.5)


def test_default_is_crank_nicolson_with_startup():
    s = RadialDiffusion(np.linspace(2, 3, 5), lambda L: L)
    assert DEFAULT_THETA == 0.5 and s.theta == 0.5 and s.startup_left == 2
    assert RadialDiffusion(np.linspace(2, 3, 5), lambda L: L, theta=1.0).startup_left == 0


@pytest.mark.parametrize("theta", [1.0, 0.5, 0.7])
@pytest.mark.parametrize("boundary", [("fixed", "fixed"), ("zero_flux", "fixed"), ("fixed", "zero_flux")])
def test_advance_is_bitwise_theta_step_after_theta_step(theta, boundary):
    """advance() runs theta_steps (the matrix factorised once); the single-step kernel, called
    step by step with its edge fluxes summed, gives bitwise the same F and budget."""
    e = np.linspace(2.0, 8.0, 101)
    D = lambda L: 3e-5 * L ** 6 / 86400.0
    s = RadialDiffusion(e, D, boundary=boundary, boundary_values=(0.3, 0.7), theta=theta, startup_steps=0)
    F0 = np.random.default_rng(1).random(100)
    F = F0.copy()
    s.advance(F, 3600.0, 60.0)
    s.advance(F, 1800.0, 60.0)
    G, tmp, lo, hi = F0.copy(), np.empty(100), 0.0, 0.0
    for _ in range(90):
        a, b = theta_step(G, s.m, s.c, s.c_lo, s.c_hi, s.F_lo, s.F_hi, 60.0, theta, tmp)
        lo += a
        hi += b
        G[:] = tmp
    assert np.array_equal(F, G) and lo == s.lost_lo and hi == s.lost_hi


def test_startup_is_two_backward_euler_half_steps_per_step():
    e = np.linspace(2.0, 8.0, 61)
    D = lambda L: 3e-5 * L ** 6 / 86400.0
    F0 = np.exp(-(0.5 * (e[1:] + e[:-1]) - 5.0) ** 2)
    cn = RadialDiffusion(e, D, theta=0.5, startup_steps=2)
    F = F0.copy()
    cn.advance(F, 300.0, 300.0)          # one step: start-up
    cn.advance(F, 900.0, 300.0)          # three steps: one start-up, two Crank-Nicolson
    be = RadialDiffusion(e, D, theta=1.0)
    plain = RadialDiffusion(e, D, theta=0.5, startup_steps=0)
    G = F0.copy()
    be.advance(G, 600.0, 150.0)          # four backward-Euler half steps
    plain.advance(G, 600.0, 300.0)       # then two Crank-Nicolson steps
    assert np.array_equal(F, G) and cn.startup_left == 0
    assert cn.lost_hi == pytest.approx(be.lost_hi + plain.lost_hi, rel=1e-14)
