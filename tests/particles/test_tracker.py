"""Test-particle tracker (Eq. 8): schedule, sampling measure, drift period, Eq. 11 moments,
integration error, reproducibility, and rank-count invariance of the permutations written by the
production driver (``hpcbelt run`` on 1, 2 and 3 ranks)."""

import importlib.util
import platform
import re
from pathlib import Path

import numba
import numpy as np
import pytest

from hpcbelt import dipole
from hpcbelt.drift import coefficients as co
from hpcbelt.lmlt import INJECTION_REGIONS, Grid
from hpcbelt.particles import sampling, sequences
from hpcbelt.particles.tracker import ParticleExperiment, run_permutation, schedule

GRID = Grid(2.0, 8.0, 0.1, 48)


def test_schedule_hits_every_update_and_record():
    s = schedule(3600.0, 200.0, 300.0, 100.0)
    ends = np.cumsum(s["dt"])
    for t in np.arange(200.0, 3600.0, 200.0):
        assert np.min(np.abs(ends - t)) < 1e-9
    assert ends[-1] == pytest.approx(3600.0)
    assert s["n_rec"] == 13 and list(s["rec"][s["rec"] >= 0]) == list(range(1, 13))
    assert np.all(s["dt"] / s["nsub"] <= 100.0 + 1e-9)
    starts = ends - s["dt"]
    np.testing.assert_array_equal(s["seg"], np.floor(starts / 200.0 + 1e-9).astype(int))
    with pytest.raises(ValueError, match="must divide"):
        schedule(1000.0, 200.0, 300.0, 100.0)


def test_sampling_represents_F_equal_one_in_the_canonical_measure():
    rng = sequences.position_rng(3, 0)
    L, phi, w = sampling.sample(rng, INJECTION_REGIONS, 200000)
    total = sum(r.measure for r in INJECTION_REGIONS)
    assert w.sum() == pytest.approx(total, rel=1e-12)
    # uniform in 1/L: mean of 1/L over the outer region is the midpoint of [1/7, 1/3.8]
    outer = L >= 3.8
    assert np.mean(1 / L[outer]) == pytest.approx(0.5 * (1 / 7 + 1 / 3.8), rel=2e-3)
    # binned with the same measure, F = 1 inside the region (to Poisson noise)
    g = Grid(2.0, 8.0, 0.5, 24)
    from hpcbelt.particles import kernels
    pos = np.stack([L * np.cos(phi), L * np.sin(phi)], axis=-1)[:, None, :]
    F = np.empty((1, g.n_L, g.n_mlt))
    kernels.bin_positions(pos, w, g.L_min, g.dL, g.n_L, g.n_mlt, 1 / (g.measure_L * g.dphi), F)
    inside = F[0, 4:10, :]          # L = 4 .. 7, every MLT
    assert abs(inside.mean() - 1) < 0.01
    assert np.all(np.abs(inside - 1) < 0.25)
    assert np.all(F[0, :1] == 0) and np.all(F[0, 10:] == 0)   # nothing below 2.5 or above 7


def test_unperturbed_drift_period():
    """With w = 0 the tracker keeps L and goes round in the period of hpcbelt.dipole."""
    M = dipole.first_invariant_J_per_T(200.0, 3.0)
    T_d = dipole.drift_period_h(M, 3.5) * 3600.0
    exp = ParticleExperiment(seed=0, bin_grid=GRID, duration_s=T_d, record_every_s=T_d, update_s=T_d, dt_max_s=50.0)
    pos = exp.integrate(np.array([3.5]), np.array([0.0]), np.zeros((1, 1)), np.zeros(1, dtype=np.int64))
    # RK4 at 50 s: phase error 2.6e-6 L (7e-7 rad) after one period
    assert pos[0, -1, 0] == pytest.approx(3.5, abs=1e-6)
    assert pos[0, -1, 1] == pytest.approx(0.0, abs=1e-5)


def test_eq11_second_moments():
    """Eq. 11 of Lejosne & Albert 2023 from particles over a short interval.

    Conditions T << dt << drift period: T = 20 s, dt = 400 s (20 updates), 1 keV electrons whose
    drift (mostly corotation) turns phi by 0.03 rad during dt.  4000 independent sequences per
    starting MLT; the sample variance has a relative standard error sqrt(2/4000) = 2.2 %, so we
    ask for 8 % (plus the small phase-change effect, which we remove by averaging the formula
    over the unperturbed orbit).
    """
    W_mV, T, dt, L0 = 0.5, 20.0, 400.0, 3.0
    n_seq = 4000
    phis = np.array([0.3, 0.8, 1.3, 2.0, 2.6])
    exp = ParticleExperiment(seed=0, bin_grid=GRID, W_mV_per_m=W_mV, update_s=T, energy_keV=1.0, duration_s=dt,
                             record_every_s=dt, dt_max_s=T)
    rng = np.random.default_rng(2023)
    w = W_mV * 1e-3 * rng.standard_normal((n_seq, int(dt / T)))
    seq_of = np.repeat(np.arange(n_seq), phis.size)
    phi0 = np.tile(phis, n_seq)
    pos = exp.integrate(L0 * np.cos(phi0), L0 * np.sin(phi0), w, seq_of)
    L1 = np.hypot(pos[:, 1, 0], pos[:, 1, 1])
    phi1 = np.unwrap(np.stack([phi0, np.arctan2(pos[:, 1, 1], pos[:, 1, 0])]), axis=0)[1]
    dL = (L1 - L0).reshape(n_seq, phis.size)
    dphi = (phi1 - phi0).reshape(n_seq, phis.size)
    K = co.diffusion_constant_K_per_s(W_mV, T)
    M = dipole.first_invariant_J_per_T(1.0, 3.0)
    om = dipole.drift_angular_frequency_rad_per_s(M, L0)
    u = np.linspace(0, dt, 201)
    for j, p in enumerate(phis):
        pu = p + om * u
        avg = lambda f: np.trapezoid(f, u) / dt     # orbit average of the Eq. 11 angular factor
        var_L = np.var(dL[:, j]) / dt
        var_p = np.var(dphi[:, j]) / dt
        cov = np.mean((dL[:, j] - dL[:, j].mean()) * (dphi[:, j] - dphi[:, j].mean())) / dt
        # Eq. 11 in L units: <dL^2> = 2 K L^6 sin^2, <dphi^2> = 2 K L^4 cos^2, <dL dphi> = 2 K L^5 sin cos
        assert var_L == pytest.approx(2 * K * L0 ** 6 * avg(np.sin(pu) ** 2), rel=0.08)
        assert var_p == pytest.approx(2 * K * L0 ** 4 * avg(np.cos(pu) ** 2), rel=0.08)
        assert cov == pytest.approx(2 * K * L0 ** 5 * avg(np.sin(pu) * np.cos(pu)), rel=0.1, abs=0.05 * 2 * K * L0 ** 5)
        # and the plain Eq. 11 (phase frozen at phi0), with the phase-change allowance
        m = co.second_moments_per_s(L0, p, W_mV, T)
        assert var_L == pytest.approx(m[0], rel=0.12)


def test_integration_error_dt100_vs_dt10():
    """RK4 with steps <= 100 s ending on every w update against 10 s, 18 h, paper's case.

    Measured on 10,000 particles (seed 1, perm 0): median final position difference 6.5e-5 L,
    max over particles that stay inside L < 8 of 8.4e-3 L (low-L particles, whose fast drift
    makes the RK4 phase error largest).  Here 300 particles.
    """
    out = {}
    for dt in (100.0, 10.0):
        exp = ParticleExperiment(seed=1, bin_grid=GRID, dt_max_s=dt, per_permutation=300, keep_positions=True)
        out[dt] = run_permutation(exp, 0)["positions"].astype(float)
    L10 = np.hypot(out[10.0][..., 0], out[10.0][..., 1])
    ok = np.all(np.isfinite(L10), axis=1) & (np.nanmax(L10, axis=1) < 8)
    d = np.hypot(*(out[100.0] - out[10.0])[ok].transpose(2, 0, 1))
    assert np.median(d[:, -1]) < 5e-4
    assert d.max() < 0.02


def _track_once(X0, Y0, w, seq, n_seg, track=None):
    """``track`` (default ``kernels.track``) over ``n_seg`` 200 s updates (two RK4 steps each),
    every update recorded."""
    from hpcbelt.particles import kernels
    track = track or kernels.track
    iv_dt = np.full(n_seg, 200.0)
    out = np.empty((X0.size, n_seg + 1, 2))
    track(X0.copy(), Y0.copy(), w, seq.copy(), iv_dt, np.full(n_seg, 2, dtype=np.int64),
                  np.arange(n_seg), np.arange(1, n_seg + 1), n_seg + 1, 0.03, 3.0,
                  7.29e-5, 1.0 / (3.1e-5 * 6.371e6), 10.0, out)
    return out


def test_each_particle_is_independent_of_its_neighbours_and_of_N():
    """The vectorised particle loop (four lanes, a scalar remainder) gives every particle the same
    bits whether it is computed in a vector lane or in the remainder, at any index and any N: a
    permutation's result cannot depend on how many particles it holds or where one sits."""
    rng = np.random.default_rng(5)
    N = 1003                                           # not a multiple of the 4 (or 8) lanes
    L = rng.uniform(2.5, 6.0, N)
    phi = rng.uniform(0.0, 2.0 * np.pi, N)
    w = rng.normal(0.0, 5e-4, (7, 30))
    seq = np.arange(N) % 7
    X0, Y0 = L * np.cos(phi), L * np.sin(phi)
    full = _track_once(X0, Y0, w, seq, 30)
    for sl in (slice(0, 1000), slice(1, 1003), slice(3, 4), slice(998, 1003), slice(2, 9)):
        part = _track_once(X0[sl], Y0[sl], w, seq[sl], 30)
        np.testing.assert_array_equal(part, full[sl])


@pytest.mark.skipif(platform.machine() not in ("x86_64", "AMD64"), reason="checks x86 packed instructions")
def test_the_particle_loop_is_vectorised():
    """The tracker's square roots and divisions run on packed registers (``sqrtpd`` / ``vsqrtpd``,
    ``divpd``), not one particle at a time.  numba's default error model tests each division for a
    zero divisor and that branch alone blocked vectorisation (3.4x slower, README "Speed"); this
    compiles the kernel afresh with the options it is declared with and reads its assembly."""
    from hpcbelt.particles import kernels
    opts = dict(kernels.track.targetoptions)
    assert opts.get("error_model") == "numpy"
    opts.pop("nopython", None)
    opts.pop("boundscheck", None)
    fresh = numba.njit(**opts)(kernels.track.py_func)
    L = np.random.default_rng(0).uniform(2.5, 6.0, 64)
    _track_once(L, 0.0 * L, np.full((1, 2), 5e-4), np.zeros(64, dtype=np.int64), 2, track=fresh)
    asm = fresh.inspect_asm(fresh.signatures[0])
    assert re.search(r"\bv?sqrtpd\b", asm), "square roots are scalar: the particle loop is not vectorised"
    assert re.search(r"\bv?divpd\b", asm), "divisions are scalar: the particle loop is not vectorised"


def _drift_helpers():
    """tests/drift/helpers.py (tiny study files and the real command line)."""
    path = Path(__file__).resolve().parents[1] / "drift" / "helpers.py"
    spec = importlib.util.spec_from_file_location("hpcbelt_tests_drift_helpers", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


PERM_DATASETS = ("F", "probe_F", "number_in_grid", "permutation", "perm_done", "w_base_V_per_m")


def test_permutation_results_independent_of_rank_count(tmp_path):
    """What a permutation produces depends only on (seed, index), not on which rank runs it: the
    particle datasets that ``hpcbelt run`` writes on 1, 2 and 3 ranks are bitwise the same, and
    equal to the permutation computed here by the function the driver calls."""
    import h5py

    from hpcbelt.drift import driver
    from hpcbelt.drift.study import load_study

    dh = _drift_helpers()
    study = dh.make_study(tmp_path, **{"permutations = 5": "permutations = 7", "seed = 5": "seed = 11"})
    got = {}
    for ranks in (None, 2, 3):
        out = tmp_path / f"run{ranks}.h5"
        r = dh.hpcbelt("run", study, "-o", out, "--quiet", ranks=ranks, timeout=300)
        assert r.returncode == 0, r.stderr
        with h5py.File(out, "r") as fh:
            got[ranks] = {k: fh["particles"][k][()] for k in PERM_DATASETS}
            assert fh.attrs["mpi_size"] == (ranks or 1)
    for ranks in (2, 3):
        for k in PERM_DATASETS:
            a, b = got[None][k], got[ranks][k]
            assert a.dtype == b.dtype and a.tobytes() == b.tobytes(), (ranks, k)
    exp = driver.experiment(load_study(study))
    for p in (0, 6):
        ref = run_permutation(exp, p)
        np.testing.assert_array_equal(got[3]["F"][p], ref["F"])
        np.testing.assert_array_equal(got[3]["probe_F"][p], ref["probe_F"])
    assert got[None]["perm_done"].all()


def test_permutations_reorder_one_sequence():
    """Different permutations differ, with the same values of w."""
    exp = ParticleExperiment(seed=11, bin_grid=GRID, per_permutation=200, duration_s=3600.0)
    base = exp.base_sequence()
    a = sequences.permuted_sequence(11, 0, base)
    b = sequences.permuted_sequence(11, 1, base)
    assert not np.array_equal(a, b) and np.array_equal(np.sort(a), np.sort(b))
    assert not np.array_equal(run_permutation(exp, 0, base)["F"], run_permutation(exp, 1, base)["F"])


def test_bad_inputs():
    """ValueError naming the parameter (the drift study names the key: tests/drift/test_study_run.py)."""
    with pytest.raises(ValueError, match="seed"):
        sequences.base_sequence(-1, 10, 1e-3)
    with pytest.raises(ValueError, match="per_permutation"):
        ParticleExperiment(seed=0, bin_grid=GRID, per_permutation=0)
    with pytest.raises(ValueError, match="per_permutation"):
        ParticleExperiment(seed=0, bin_grid=GRID, per_permutation=1)      # fewer than the two regions
    with pytest.raises(ValueError, match="W_mV_per_m"):
        ParticleExperiment(seed=0, bin_grid=GRID, W_mV_per_m=-1.0)
    with pytest.raises(ValueError, match="particles"):
        sampling.sample(sequences.position_rng(0, 0), INJECTION_REGIONS, 1)
