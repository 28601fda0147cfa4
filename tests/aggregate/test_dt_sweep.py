"""The dt-sweep aggregation against numpy on real run files, whole and split per experiment."""

import h5py
import numpy as np
import pytest

from pitch_angle.helpers import hpcbelt, make_study

from hpcbelt.aggregate.watt2021 import sweep


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    d = tmp_path_factory.mktemp("sweep")
    study = make_study(d, days=1.0, dalpha=6.0, members=5)
    whole = d / "whole.h5"
    assert hpcbelt("run", study, "-o", whole, "--quiet").returncode == 0
    parts = []
    for names in ("drand_1h,mean_of_profiles", "drand_6h,mean_inputs,profile_3"):
        p = d / f"part_{len(parts)}.h5"
        r = hpcbelt("run", study, "-o", p, "--quiet", "--experiments", names)
        assert r.returncode == 0, r.stderr
        parts.append(p)
    return d, whole, parts


def test_statistics_match_numpy_and_split_runs_agree(runs, tmp_path):
    d, whole, parts = runs
    r = hpcbelt("aggregate-sweep", whole, "-o", tmp_path / "a.h5", "--figures", tmp_path / "fig", "--alpha-deg", "30")
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "fig" / "dt_sweep.png").is_file() and (tmp_path / "a.md").is_file()
    with h5py.File(whole) as fh, h5py.File(tmp_path / "a.h5") as s:
        ia = list(fh["alpha_deg"][()]).index(30.0)
        np.testing.assert_array_equal(s["dt_s"][()], [3600.0, 21600.0])
        for i, name in enumerate(("drand_1h", "drand_6h")):
            vals = fh[name]["f"][:, -1, ia]
            for p in (5, 25, 50, 75, 95):
                assert s[f"f_p{p}"][i] == np.percentile(vals, p)
        assert s["constant/mean_of_profiles"][()] == fh["mean_of_profiles"]["f"][0, -1, ia]
        assert s["constant/mean_inputs"][()] == fh["mean_inputs"]["f"][0, -1, ia]
        for name in ("dt_s", "f_p50", "constant/mean_inputs"):
            assert "units" in s[name].attrs
    # the same study split over two files (a job array) gives the same numbers
    r = hpcbelt("aggregate-sweep", *parts, "-o", tmp_path / "b.h5")
    assert r.returncode == 0, r.stderr
    with h5py.File(tmp_path / "a.h5") as a, h5py.File(tmp_path / "b.h5") as b:
        for p in (5, 25, 50, 75, 95):
            np.testing.assert_array_equal(a[f"f_p{p}"][()], b[f"f_p{p}"][()])


def test_figure_plots_the_statistics(runs, tmp_path):
    _, whole, _ = runs
    data = sweep.collect([whole], 30.0)
    st = sweep.statistics(data)
    ax = sweep.figure(tmp_path / "f.png", data, st)
    median = [ln for ln in ax.get_lines() if ln.get_label() == "ensemble median"][0]
    np.testing.assert_array_equal(median.get_xdata(), st["dt_s"])
    np.testing.assert_array_equal(median.get_ydata(), st["p50"])
    levels = {ln.get_label(): ln.get_ydata()[0] for ln in ax.get_lines() if ln.get_label().startswith("constant")}
    assert levels["constant <D(X_i, Y_i)>"] == data["constant"]["mean_of_profiles"]


def test_bad_sweep_input(runs, tmp_path):
    _, whole, parts = runs
    r = hpcbelt("aggregate-sweep", whole, parts[0])
    assert r.returncode == 2 and "appears in both" in r.stderr
    r = hpcbelt("aggregate-sweep", whole, "--alpha-deg", "31")
    assert r.returncode == 2 and "not a grid angle" in r.stderr
    r = hpcbelt("aggregate-sweep", whole, "-o", whole)
    assert r.returncode == 2
