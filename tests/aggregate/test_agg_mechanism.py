"""The mechanism diagnostics of a pitch-angle summary (issue 13), from a real run through the
real command line, against quantities recomputed here from the raw run file by other routes."""

import shutil

import h5py
import numpy as np
import pytest

from hpcbelt.pitch_angle import spectral
from hpcbelt.pitch_angle.study import load_study

from .agg_helpers import pa_helpers

pa = pa_helpers()
DAY = 86400.0


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    d = tmp_path_factory.mktemp("mech")
    study = pa.make_study(d, dalpha=6.0, days=3.0, members=6)
    r = pa.hpcbelt("run", study, "-o", d / "run.h5", "--quiet")
    assert r.returncode == 0, r.stderr
    r = pa.hpcbelt("aggregate", d / "run.h5", "-o", d / "s.h5", "--bootstrap", "20")
    assert r.returncode == 0, r.stderr
    return d


def test_statistics_over_the_reference_run(run):
    """Mean, median and geometric mean at the PDF angle equal numpy's over the raw members (1e-12),
    and the mean and median equal pass 1's (a second route through the aggregation)."""
    with h5py.File(run / "run.h5") as raw, h5py.File(run / "s.h5") as s:
        g = s["mechanism"]
        assert g.attrs["available"] and g.attrs["reference_experiment"] == "mean_of_profiles"
        ia = int(np.flatnonzero(s["alpha_deg"][()] == g.attrs["alpha_deg"])[0])
        ref = raw["mean_of_profiles/f"][0, :, ia]
        for name in ("drand_1h", "drand_6h", "profile_3"):
            f = raw[f"{name}/f"][:, :, ia]
            e = g[name]
            np.testing.assert_allclose(e["f_geometric_mean"][()], np.exp(np.log(f).mean(axis=0)), rtol=1e-12)
            np.testing.assert_allclose(e["f_mean"][()], s[f"{name}/f/mean"][:, ia], rtol=1e-12)
            np.testing.assert_allclose(e["f_median"][()], s[f"{name}/f/median"][:, ia], rtol=1e-12)
            np.testing.assert_allclose(e["f_median_over_reference"][()], np.median(f, axis=0) / ref, rtol=1e-12)
            assert e["f_mean"].attrs["units"] == raw["drand_1h/f"].attrs["units"]
            # AM-GM: the geometric mean is never above the mean
            assert (e["f_geometric_mean"][()] <= e["f_mean"][()] * (1 + 1e-12)).all()


def test_rates_obey_the_bound_and_match_the_library(run):
    """The ensemble mean's rate is below the <D> run's (the Jensen bound) and both are what
    hpcbelt.pitch_angle.spectral gives for the study's own grid and database (1e-12)."""
    study = load_study(run / "study.toml")
    n_db = study.database.n_profiles
    nb = spectral.below_gap(study.grid, study.profiles[n_db])
    with h5py.File(run / "s.h5") as s:
        g = s["mechanism"]
        assert g.attrs["nodes_below_gap"] == nb
        d_rate = g.attrs["rate_mean_profile_per_day"]
        assert d_rate == pytest.approx(spectral.rate_of_mean_profile(study.grid, study.profiles[n_db], nb) * DAY,
                                       rel=1e-12)
        for name, tau in (("drand_1h", 3600.0), ("drand_6h", 21600.0)):
            rate = g[name].attrs["rate_of_mean_propagator_per_day"]
            assert 0 < rate <= d_rate * (1 + 1e-9)
            assert rate == pytest.approx(spectral.rate_of_mean_propagator(study.grid, study.profiles[:n_db], tau, nb)
                                         * DAY, rel=1e-12)
        assert "rate_of_mean_propagator_per_day" not in g["profile_3"].attrs


def test_commuting_part_and_rest_member_by_member(run):
    """Each member's commuting part summed segment by segment in a plain loop (another route than
    the library's matrix product), the rest as ln f(t)/f(0) minus it; percentiles over members."""
    study = load_study(run / "study.toml")
    n_db = study.database.n_profiles
    nb = spectral.below_gap(study.grid, study.profiles[n_db])
    rates = spectral.segment_rates(study.grid, study.profiles[:n_db], nb)
    ex = next(e for e in study.experiments if e.name == "drand_1h")
    with h5py.File(run / "run.h5") as raw, h5py.File(run / "s.h5") as s:
        t = s["time_s"][()]
        g = s["mechanism/drand_1h"]
        ia = int(np.flatnonzero(s["alpha_deg"][()] == s["mechanism"].attrs["alpha_deg"])[0])
        f = raw["drand_1h/f"][:, :, ia]
        rows = raw["drand_1h/profile_index"][()]
        seg_end = np.append(ex.seg_t[1:], np.inf)
        com = np.zeros_like(f)
        for m in range(f.shape[0]):
            for j, tj in enumerate(t):
                for s0, s1, k in zip(ex.seg_t, seg_end, rows[m]):
                    com[m, j] -= rates[k] * max(0.0, min(tj, s1) - s0)
        rest = np.log(f / f[:, :1]) - com
        for k, q in (("p05", 5), ("median", 50), ("p95", 95)):
            np.testing.assert_allclose(g[f"commuting/{k}"][()], np.percentile(com, q, axis=0), rtol=1e-9, atol=1e-12)
            np.testing.assert_allclose(g[f"rest/{k}"][()], np.percentile(rest, q, axis=0), rtol=1e-9, atol=1e-12)
        assert g["commuting/median"][0] == 0 and g["rest/median"][0] == 0


def test_without_the_database_the_summary_says_why(run, tmp_path):
    """The database gone: the mechanism group is there with available = False and the reason;
    everything else is aggregated as before and the report says so in one line."""
    shutil.copy(run / "run.h5", tmp_path / "run.h5")
    moved = run / "db.h5.away"
    (run / "db.h5").rename(moved)
    try:
        r = pa.hpcbelt("aggregate", tmp_path / "run.h5", "-o", tmp_path / "s.h5", "--bootstrap", "20")
    finally:
        moved.rename(run / "db.h5")
    assert r.returncode == 0, r.stderr
    with h5py.File(tmp_path / "s.h5") as s:
        g = s["mechanism"]
        assert not g.attrs["available"] and "not found" in g.attrs["reason"]
        assert "drand_1h" in s and "f" in s["drand_1h"]
    assert "Mechanism diagnostics not computed" in (tmp_path / "s.md").read_text()
