"""Beyond the paper's T << drift period (issue 15): the finite-update coefficients in the PDE and
the radial solver, and Ornstein-Uhlenbeck noise for the test particles."""

import numpy as np
import pytest

from hpcbelt import dipole
from hpcbelt.drift import coefficients as co
from hpcbelt.drift import kernels
from hpcbelt.drift.solver import DriftDiffusionSolver
from hpcbelt.lmlt import Grid
from hpcbelt.particles import sequences
from hpcbelt.radial.solver import RadialDiffusion

from .helpers import hpcbelt, make_study

W, T = 0.5, 200.0


def test_ou_path_has_the_ou_autocorrelation_and_variance():
    """One OU path of 400,000 samples every tau_c / 10 from the innovations: variance W^2 and
    autocorrelation exp(-lag / tau_c) at lags 0.1-3 tau_c.  The sample autocorrelation of an AR(1)
    with n effective samples errs by ~ sqrt((1 + rho^2) / (1 - rho^2) / n) ~ 0.007 here; 0.02."""
    tau_c, h, Wv = 50.0, 5.0, 2e-4
    xi = sequences.base_sequence(7, 400_000, 1.0)
    w = sequences.ou_path(xi, Wv, tau_c, h)
    assert np.var(w) == pytest.approx(Wv ** 2, rel=0.03)
    z = (w - w.mean()) / w.std()
    for lag in (1, 2, 5, 10, 30):
        r = np.mean(z[:-lag] * z[lag:])
        assert r == pytest.approx(np.exp(-lag * h / tau_c), abs=0.02), lag


def test_a_permutation_of_the_innovations_is_again_an_ou_path():
    """The particles' permutations reorder the innovations, never w itself: each permuted path keeps
    the correlation (a permutation of w would have none at lag 1)."""
    tau_c, h = 50.0, 5.0
    xi = sequences.base_sequence(3, 100_000, 1.0)
    for p in range(3):
        w = sequences.ou_path(sequences.permuted_sequence(3, p, xi), 1.0, tau_c, h)
        z = (w - w.mean()) / w.std()
        assert np.mean(z[:-1] * z[1:]) == pytest.approx(np.exp(-h / tau_c), abs=0.02)
    shuffled = sequences.permuted_sequence(3, 0, sequences.ou_path(xi, 1.0, tau_c, h))
    assert abs(np.mean(shuffled[:-1] * shuffled[1:])) < 0.02


def _radial_operator(rad, f):
    fl = np.r_[rad.F_lo, f, rad.F_hi]
    return np.r_[rad.c, rad.c_hi] * (fl[2:] - f) - np.r_[rad.c_lo, rad.c] * (f - fl[:-2])


@pytest.mark.parametrize("noise,extra", [("piecewise_constant", {}), ("ornstein_uhlenbeck", {"correlation_s": 300.0})])
def test_finite_update_pde_is_the_radial_operator_with_the_same_coefficient(noise, extra):
    """With coefficients = 'finite_update' K depends on L through the drift frequency; the MLT
    average of the 2-D operator is still exactly the radial solver's with D_LL = K_eff(Omega(L))
    L^6 / 2, edges included (1e-12), and K_eff < K wherever Omega T is not small.  2 MeV electrons
    at L = 2-7 with T = 200 s: Omega T / 2 from 0.1 to 0.9."""
    g = Grid(2.0, 7.0, 0.125, 24)
    kw = dict(W_mV_per_m=W, update_s=T, energy_keV=2000.0, L_energy=3.0, dt_s=60.0,
              boundary=("fixed", "fixed"), boundary_values=(0.3, 1.7), noise=noise, **extra)
    s = DriftDiffusionSolver.from_physics(g, np.ones((g.n_L, g.n_mlt)), coefficients="finite_update", **kw)
    M = dipole.first_invariant_J_per_T(2000.0, 3.0)

    def D(L):
        om = dipole.drift_angular_frequency_rad_per_s(M, L)
        return co.drift_averaged_D_LL_per_s(L, co.effective_K_per_s(W, om, coefficients="finite_update",
                                                                      noise=noise, update_s=T, **extra))

    rad = RadialDiffusion(g.L_edges, D, boundary=("fixed", "fixed"), boundary_values=(0.3, 1.7))
    f = np.random.default_rng(1).uniform(0.2, 1.0, g.n_L)
    F = np.repeat(f[:, None], g.n_mlt, axis=1)
    y = np.empty_like(F)
    up_k, up_c, ring_c, g_lo, g_hi = s.bonds(1234.5)
    kernels.apply_laplacian(F, up_k, up_c, ring_c, g_lo, g_hi, y)
    y[0] -= g_lo * 0.3
    y[-1] -= g_hi * 1.7
    expected = _radial_operator(rad, f)
    np.testing.assert_allclose(-y.sum(axis=1) / (2 * np.pi), expected, rtol=0, atol=1e-12 * np.abs(expected).max())
    paper = DriftDiffusionSolver.from_physics(g, np.ones((g.n_L, g.n_mlt)), **kw)
    assert paper.K is not None and (s.K_ring < paper.K).all() and s.K_ring[-1] < 0.97 * paper.K


def test_paper_coefficients_are_a_scalar_K_as_before():
    g = Grid(2.0, 7.0, 0.125, 24)
    s = DriftDiffusionSolver.from_physics(g, np.ones((g.n_L, g.n_mlt)), W_mV_per_m=W, update_s=T,
                                          energy_keV=200.0, L_energy=3.0, dt_s=60.0)
    assert s.K == co.diffusion_constant_K_per_s(W, T)


def _study(tmp_path, **physics):
    text = "".join(f'{k} = {v!r}\n'.replace("'", '"') for k, v in physics.items())
    return make_study(tmp_path, **{"[physics]\n": "[physics]\n" + text})


@pytest.mark.parametrize("physics,needle", [
    ({"noise": "ornstein_uhlenbeck"}, "physics.correlation_s: required"),
    ({"noise": "ornstein_uhlenbeck", "correlation_s": 500.0}, "physics.update_s"),
    ({"correlation_s": 500.0}, "only used by noise"),
    ({"coefficients": "exact"}, "physics.coefficients"),
])
def test_bad_noise_keys_name_themselves(tmp_path, physics, needle):
    study = _study(tmp_path, **physics)
    r = hpcbelt("run", study, "-o", tmp_path / "x.h5")
    assert r.returncode == 2 and needle in r.stderr and r.stderr.count("error") == 1, r.stderr
    assert not (tmp_path / "x.h5").exists()


def test_a_run_records_its_noise_and_coefficients(tmp_path):
    """The run file says which noise and coefficients made it (self-describing)."""
    import h5py

    study = _study(tmp_path, noise="ornstein_uhlenbeck", correlation_s=1000.0, coefficients="finite_update")
    r = hpcbelt("run", study, "-o", tmp_path / "run.h5", "--quiet")
    assert r.returncode == 0, r.stderr
    with h5py.File(tmp_path / "run.h5") as h5:
        assert h5.attrs["noise"] == "ornstein_uhlenbeck" and h5.attrs["coefficients"] == "finite_update"
        assert h5.attrs["correlation_s"] == 1000.0
        assert h5.attrs["K_per_s"] == pytest.approx(co.diffusion_constant_K_per_s(W, 2000.0), rel=1e-12)
    r = hpcbelt("run", make_study(tmp_path / "paper"), "-o", tmp_path / "paper.h5", "--quiet")
    assert r.returncode == 0, r.stderr
    with h5py.File(tmp_path / "paper.h5") as h5:
        assert h5.attrs["noise"] == "piecewise_constant" and h5.attrs["coefficients"] == "paper"
        assert "correlation_s" not in h5.attrs
