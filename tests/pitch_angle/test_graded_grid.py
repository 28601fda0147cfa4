"""The graded pitch-angle grid (``[grid] spacing = "graded"``, issue 17): a cell face on the
loss-cone angle and nodes graded towards it, so that the loss-cone layer sqrt(D tau_L) ~ 0.01-0.06 deg
is resolved at about the paper's cost.

Independent references (none shares code with operator.py's grid construction):
* a P1 finite-element eigen-solver on a 3,000-element mesh graded towards 0 and the loss cone
  (test_physics_operator.fem_slowest_rate; its own error, from 3,000 -> 12,000 elements, is 1e-6);
* the uniform grid refined to 1/256 deg (23,041 nodes, the layer resolved at h / sqrt(D tau_L) = 0.1);
* the Legendre case (T = const, D = const, no loss): eigenvalues -4 D n (n + 1) exactly;
* the content budget of one explicit step, written out here.
"""

import re

import numpy as np
import pytest
from scipy.linalg import eigh_tridiagonal

from hpcbelt.errors import InputError
from hpcbelt.pitch_angle.operator import (DEFAULT_GROWTH, DEFAULT_MIN_DALPHA_DEG, explicit_dt_limit, graded_nodes_deg,
                                          grid_from_nodes, make_grid, symmetric_tridiagonal)
from hpcbelt.pitch_angle.physics import loss_cone_deg_from_altitude
from hpcbelt.pitch_angle.solver import run_member, stencil
from hpcbelt.pitch_angle.study import load_study

from .helpers import ROOT
from .test_physics_operator import fem_slowest_rate, slowest_rate, smooth_daa

pytestmark = pytest.mark.accuracy

L, E = 3.0, 0.5
DAY = 86400.0
LC = loss_cone_deg_from_altitude(L, 100.0)          # 8.62 deg
WATT = ROOT / "inputs" / "watt2021.toml"


def graded(h=1.0, refine=1, lc=LC, **kw):
    """The default graded grid, or its refinement: h, min_dalpha_deg / refine, growth ** (1 / refine)."""
    return make_grid(h / refine, lc, L, E, spacing="graded", min_dalpha_deg=DEFAULT_MIN_DALPHA_DEG / refine,
                     growth=DEFAULT_GROWTH ** (1.0 / refine), **kw)


@pytest.fixture(scope="module")
def fem_rate():
    return fem_slowest_rate(lambda a: smooth_daa(np.degrees(a)), LC)


def test_graded_grid_layout():
    g = graded()
    a = g.alpha_deg
    assert g.n <= 150 and g.spacing == "graded"
    # the angles the aggregation reads are nodes, exactly: 0, 90, 30 (PDFs), 45, 60, 70 (ratios),
    # and every uniform-grid node beyond the graded zone (a_LC + ln(h/delta)/ln(r) cells)
    for want in (0.0, 5.0, 10.0, 30.0, 45.0, 60.0, 70.0, 90.0):
        assert want in a
    assert set(np.arange(15.0, 91.0)) <= set(a.tolist()) and set(np.arange(0.0, 4.0)) <= set(a.tolist())
    # a face exactly on the loss cone: every cell wholly inside (lambda > 0) or outside (lambda = 0)
    j = int(np.flatnonzero(a < LC)[-1])
    assert g.faces_rad[j] == np.radians(LC)
    assert np.all(g.loss_rate_per_s[:j + 1] > 0) and np.all(g.loss_rate_per_s[j + 1:] == 0)
    # spacing: ~delta at the face, growing by at most the growth factor (+ the stretch of a
    # stretch between anchors) up to h = 1 deg
    s = np.diff(a)
    assert s.min() == pytest.approx(DEFAULT_MIN_DALPHA_DEG, rel=0.15) and s.max() == pytest.approx(1.0, abs=0.05)
    ratio = np.maximum(s[1:] / s[:-1], s[:-1] / s[1:])
    assert ratio.max() < DEFAULT_GROWTH * 1.15
    # faces halfway between nodes, volumes tile [0, 90 deg]
    np.testing.assert_allclose(g.faces_rad, 0.5 * (g.alpha_rad[1:] + g.alpha_rad[:-1]), rtol=0, atol=1e-15)
    assert g.volume.sum() == pytest.approx(make_grid(1.0, LC, L, E).volume.sum(), rel=1e-13)


def test_no_loss_cone_gives_the_uniform_grid_and_generic_builder_matches_uniform():
    np.testing.assert_array_equal(graded(lc=0.0).alpha_deg, make_grid(1.0, 0.0, L, E).alpha_deg)
    u = make_grid(1.0, LC, L, E)
    v = grid_from_nodes(u.alpha_deg, LC, L, E)
    for name in ("volume", "face_weight", "loss_rate_per_s"):
        np.testing.assert_allclose(getattr(v, name), getattr(u, name), rtol=1e-12, atol=0)


def test_slowest_rate_within_0p1_percent_with_under_150_nodes(fem_rate):
    # the case: smooth_daa at L = 3, 0.5 MeV.  Uniform 1 deg: +3.3 % (first order, layer
    # unresolved); graded default (129 nodes): measured +2.7e-4, what is left being the 1 deg
    # outer spacing (second order).  Required: < 1e-3 against the FEM and the 1/256 deg uniform grid.
    g = graded()
    r = slowest_rate(g, smooth_daa(g.alpha_deg))
    u1 = make_grid(1.0, LC, L, E)
    assert slowest_rate(u1, smooth_daa(u1.alpha_deg)) / fem_rate - 1 == pytest.approx(0.033, abs=0.002)
    assert abs(r / fem_rate - 1) < 1e-3
    fine = make_grid(1 / 256, LC, L, E)
    r_fine = slowest_rate(fine, smooth_daa(fine.alpha_deg))
    assert abs(r_fine / fem_rate - 1) < 1e-5          # the two references agree (measured 2e-6)
    assert abs(r / r_fine - 1) < 1e-3


def test_graded_refinement_is_second_order(fem_rate):
    # refining = halving h and delta, growth -> sqrt(growth): the node density doubles everywhere.
    # Observed order from successive differences, measured 2.00 and 1.98 (levels 1, 2, 4, 8;
    # finer levels reach the eigenvalue round-off eps * D / delta^2 ~ 1e-6 relative).
    rates = []
    for k in (1, 2, 4, 8):
        g = graded(refine=k)
        rates.append(slowest_rate(g, smooth_daa(g.alpha_deg)))
    d = np.abs(np.diff(rates))
    orders = np.log2(d[:-1] / d[1:])
    assert np.all(orders >= 1.9), orders
    limit = rates[-1] + (rates[-1] - rates[-2]) / 3            # Richardson, second order
    assert abs(limit / fem_rate - 1) < 5e-6                   # measured 4e-7


def test_graded_nonuniform_scheme_second_order_on_legendre_case():
    # T = const, D = const, no loss, on the (non-uniform) graded nodes about 8.62 deg: the slowest
    # non-zero rate is 8 D (n = 1) and the next 24 D (n = 2).  Second order: the error falls
    # >= 3.7x per refinement (order >= 1.9).
    D = 1e-5
    errs = []
    for k in (1, 2, 4):
        nodes = graded_nodes_deg(1.0 / k, LC, DEFAULT_MIN_DALPHA_DEG / k, DEFAULT_GROWTH ** (1.0 / k))
        g = grid_from_nodes(nodes, 0.0, L, E, bounce=lambda a: np.ones_like(a))
        dg, off = symmetric_tridiagonal(g, np.full(g.n, D))
        w = np.sort(eigh_tridiagonal(dg, off, eigvals_only=True))[::-1]
        assert abs(w[0]) < 1e-13 * np.abs(dg).max()            # conservation: a zero mode (to round-off)
        errs.append([abs(-w[1] / (8 * D) - 1), abs(-w[2] / (24 * D) - 1)])
    errs = np.array(errs)
    assert np.all(errs[0] < 1e-3)
    assert np.all(errs[:-1] / errs[1:] > 3.7), errs


@pytest.mark.parametrize("method", ["explicit", "exact"])
def test_content_conserved_and_positive_on_graded_nodes(method):
    # loss off on the graded (non-uniform) nodes: sum f V conserved to round-off, f >= 0
    g = grid_from_nodes(graded_nodes_deg(3.0, LC, 0.05, 1.5), 0.0, L, E)
    rng = np.random.default_rng(1)
    profiles = 0.1 * smooth_daa(g.alpha_deg)[None, :] * rng.lognormal(0, 1, (5, 1)) * rng.uniform(0.2, 1, (5, g.n))
    f0 = rng.uniform(0, 5e3, g.n)
    out_t = np.arange(0, 0.5 * DAY + 1, 3 * 3600.0)
    seg_t = np.arange(0, 0.5 * DAY, 3600.0)
    rows = rng.integers(0, 5, seg_t.size)
    dt = 0.5
    assert dt <= explicit_dt_limit(g, profiles)
    f, _ = run_member(g, f0, profiles, rows, out_t, seg_t, method, dt_s=dt)
    content = f @ g.volume
    assert np.max(np.abs(content / content[0] - 1)) < 1e-12
    assert f.min() >= 0


def test_loss_budget_and_positivity_on_graded_grid():
    # with loss: one explicit step changes the content by exactly -dt sum V lambda f_new (implicit
    # loss, conservative diffusion); the exact method's content only decreases; f >= 0 in both.
    g = graded()
    d = smooth_daa(g.alpha_deg) * 0.1
    dt = explicit_dt_limit(g, d)
    f0 = np.full(g.n, 5e3)
    f1, _ = run_member(g, f0, d[None, :], np.array([0]), np.array([0.0, dt]), np.zeros(1), "explicit", dt)
    budget = f1[1] @ g.volume - f0 @ g.volume + dt * (g.volume * g.loss_rate_per_s) @ f1[1]
    assert abs(budget) < 1e-13 * (f0 @ g.volume)
    assert f1.min() >= 0
    assert stencil(g, d, dt)[0, 1].min() == pytest.approx(0, abs=1e-12)   # the limit is the positivity bound
    assert stencil(g, d, 0.99 * dt)[0, 1].min() > 0
    fe, _ = run_member(g, f0, d[None, :], np.array([0]), np.arange(0, 5 * DAY + 1, DAY), np.zeros(1), "exact")
    assert fe.min() >= 0 and np.all(np.diff(fe @ g.volume) < 0)


def test_exact_solution_decays_at_the_graded_slowest_rate():
    # the exact integrator on the graded grid: content decay between 20 and 30 days = the top
    # eigenvalue (the faster modes are gone by then), to 1e-4
    g = graded()
    d = smooth_daa(g.alpha_deg)
    f, _ = run_member(g, np.full(g.n, 5e3), d[None, :], np.array([0]), np.array([0, 20, 30]) * DAY,
                      np.zeros(1), "exact")
    n_t = f @ g.volume
    assert np.log(n_t[1] / n_t[2]) / (10 * DAY) == pytest.approx(slowest_rate(g, d), rel=1e-4)


def test_explicit_and_exact_agree_on_graded_grid():
    # switching profiles every 6 h for 10 days on a graded grid (delta = 0.05 deg so that the
    # explicit limit is ~0.4 s): explicit (dt = 0.25 s, first order) and exact agree to 1e-5
    # where f > 1e-6 f0 (measured 4e-7 at 2 days)
    g = make_grid(1.0, LC, L, E, spacing="graded", min_dalpha_deg=0.05)
    rng = np.random.default_rng(5)
    profiles = 0.1 * smooth_daa(g.alpha_deg)[None, :] * rng.lognormal(0, 0.8, (8, 1))
    out_t = np.arange(0, 10 * DAY + 1, DAY)
    seg_t = np.arange(0, 10 * DAY, 6 * 3600.0)
    rows = rng.integers(0, 8, seg_t.size)
    dt = 0.25
    assert dt <= explicit_dt_limit(g, profiles)
    fe, de = run_member(g, np.full(g.n, 5e3), profiles, rows, out_t, seg_t, "exact")
    fx, dx = run_member(g, np.full(g.n, 5e3), profiles, rows, out_t, seg_t, "explicit", dt_s=dt)
    mask = fe[-1] > 5e3 * 1e-6
    assert mask.sum() > g.n // 2
    assert np.max(np.abs(fx[-1][mask] / fe[-1][mask] - 1)) < 1e-5
    assert fx.min() >= 0 and fe.min() >= 0
    np.testing.assert_allclose(dx, de, rtol=1e-12)


def test_study_interpolates_the_database_onto_the_graded_grid():
    s = load_study(WATT, ["grid.spacing=graded"])
    u = load_study(WATT)
    assert u.grid.spacing == "uniform" and u.grid.n == 91          # the shipped default stays the paper's
    g = s.grid
    assert g.spacing == "graded" and g.n <= 150
    assert s.profiles.shape == (s.database.n_profiles + 2, g.n) and s.f0.shape == (g.n,)
    db = s.database
    for row in (0, 7, db.n_profiles - 1):
        np.testing.assert_allclose(s.profiles[row], np.interp(g.alpha_deg, db.alpha_deg, db.daa[row]), rtol=1e-12)
    np.testing.assert_allclose(s.profiles[db.n_profiles], np.interp(g.alpha_deg, db.alpha_deg, db.daa.mean(0)),
                               rtol=1e-12)
    np.testing.assert_allclose(s.profiles[db.n_profiles + 1],
                               np.interp(g.alpha_deg, db.alpha_deg, db.daa_of_mean_inputs), rtol=1e-12)
    # on the nodes the two grids share, the same D and the same f0
    common = np.flatnonzero(np.isin(g.alpha_deg, u.grid.alpha_deg))
    np.testing.assert_array_equal(s.profiles[:, common], u.profiles[:, np.isin(u.grid.alpha_deg, g.alpha_deg)])


@pytest.mark.parametrize("overrides, message", [
    (["grid.spacing=graded", "grid.min_dalpha_deg=2"], "grid.min_dalpha_deg: expected at most grid.dalpha_deg = 1"),
    (["grid.spacing=graded", "grid.min_dalpha_deg=1e-4"], "grid.min_dalpha_deg: expected 0.001 <= min_dalpha_deg"),
    (["grid.spacing=graded", "grid.min_dalpha_deg=0"], "grid.min_dalpha_deg: expected a positive value"),
    (["grid.growth=1.001"], "grid.growth: expected 1.01 <= growth <= 2"),
    (["grid.growth=3"], "grid.growth: expected 1.01 <= growth <= 2"),
    (["grid.growth=nan"], "grid.growth: expected a finite number"),
    (["grid.spacing=geometric"], "grid.spacing: expected one of 'uniform', 'graded'"),
    (["grid.spacing=graded", "grid.dalpha_deg=0.7"], "grid.dalpha_deg: 90 deg is not a multiple"),
    (["grid.spacing=graded", "physics.loss_cone_deg=0.002"],
     "grid.min_dalpha_deg: the loss cone (0.002 deg) is within min_dalpha_deg = 0.005 deg of 0 or 90 deg"),
    (["grid.spacing=graded", "time.method=explicit"], "time.dt_s = 0.1 s exceeds the explicit stability limit"),
])
def test_bad_grid_keys_name_the_key(tmp_path, overrides, message):
    # a copy of watt2021.toml that gives the loss cone as an angle (so it can be overridden)
    study = tmp_path / "study.toml"
    database = (WATT.parent / "hiss_L3_0.5MeV.h5").as_posix()
    study.write_text(WATT.read_text().replace("loss_cone_altitude_km = 100.0", "loss_cone_deg = 8.62")
                     .replace('path = "hiss_L3_0.5MeV.h5"', f'path = "{database}"'))
    with pytest.raises(InputError, match=re.escape(message)):
        load_study(study, overrides)
