"""Real run files from the real 'hpcbelt run', aggregated through the real command line."""

import shutil

import h5py
import numpy as np
import pytest

from .agg_helpers import np_stats, pa_helpers

pa = pa_helpers()


@pytest.fixture(scope="module")
def real(tmp_path_factory):
    d = tmp_path_factory.mktemp("real")
    study = pa.make_study(d, dalpha=6.0, days=12.0, members=5)
    r = pa.hpcbelt("run", study, "-o", d / "run.h5", "--quiet")
    assert r.returncode == 0, r.stderr
    return d


def _numeric(path):
    out = {}
    with h5py.File(path) as h5:
        h5.visititems(lambda n, o: out.__setitem__(n, o[()]) if isinstance(o, h5py.Dataset)
                      and o.dtype.kind in "fiu" else None)
    return out


def test_make_run_signature_and_rank_invariance(real):
    """The Makefile's call (RUN -o RUN_summary.h5 --figures DIR), serially and on 2 and 3 ranks."""
    d = real
    outs = {}
    # (2 ranks are covered in-process by test_agg_mpi.py; 3 is the uneven count)
    for n in (None, 3):
        out = d / f"run_summary_{n}.h5"
        figs = ["--figures", d / "figs"] if n == 3 else []
        r = pa.hpcbelt("aggregate", d / "run.h5", "-o", out, *figs, "--memory-mb", "0.01", "--bootstrap", "100",
                       ranks=n)
        assert r.returncode == 0, r.stderr
        assert "aggregated" in r.stderr
        outs[n] = _numeric(out)
        assert (d / f"run_summary_{n}.md").exists()
    assert len(list((d / "figs").glob("*.png"))) == 6      # with energies_ratio (a note for one energy)
    for n in (3,):
        assert sorted(outs[n]) == sorted(outs[None])
        for k in outs[None]:
            assert np.array_equal(outs[n][k], outs[None][k], equal_nan=True), (n, k)
    with h5py.File(d / "run_summary_3.h5") as h5:
        assert h5.attrs["mpi_size"] == 3


def test_statistics_of_a_real_run(real):
    d = real
    r = pa.hpcbelt("aggregate", d / "run.h5", "--bootstrap", "50")
    assert r.returncode == 0, r.stderr
    with h5py.File(d / "run.h5") as run, h5py.File(d / "run_summary.h5") as s:
        assert s.attrs["source_status"] == "complete" and s.attrs["all_members_finished"]
        for name in ("drand_1h", "drand_6h", "mean_of_profiles", "mean_inputs", "profile_3"):
            for q in ("f", "daa_integral"):
                ref = np_stats(run[f"{name}/{q}"][()])
                for k, v in ref.items():
                    np.testing.assert_allclose(s[f"{name}/{q}/{k}"][()], v, rtol=1e-13, atol=0, err_msg=f"{name}/{q}/{k}")
        # constant runs: f(D(<X>,<Y>)) / f(<D>) > 1, since D(<X>,<Y>) is half the mean profile here
        assert np.all(s["ratios/constant_runs"][()] > 1.0)
    text = (d / "run_summary.md").read_text()
    assert "| drand_1h | random | 1 h | 5 / 5 |" in text


def test_unfinished_real_run(real, tmp_path):
    """A run that stopped early: member 1 of drand_1h never written (NaN, member_done = 0)."""
    p = tmp_path / "stopped.h5"
    shutil.copy(real / "run.h5", p)
    with h5py.File(p, "r+") as h5:
        h5["drand_1h/member_done"][1] = 0
        h5["drand_1h/f"][1] = np.nan
        h5["drand_1h/daa_integral"][1] = np.nan
        h5.attrs["status"] = "running"
        f = h5["drand_1h/f"][()][[0, 2, 3, 4]]
    r = pa.hpcbelt("aggregate", p, "-o", tmp_path / "s.h5", "--bootstrap", "20")
    assert r.returncode == 0, r.stderr
    assert "unfinished run" in r.stderr and "drand_1h 4/5" in r.stderr
    with h5py.File(tmp_path / "s.h5") as s:
        assert s["drand_1h"].attrs["members_used"] == 4
        assert s["drand_1h/members_used"][()].tolist() == [0, 2, 3, 4]
        assert np.array_equal(s["drand_1h/f/median"][()], np.percentile(f, 50, axis=0))
    assert "**unfinished run**" in (tmp_path / "s.md").read_text()
