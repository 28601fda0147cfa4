"""End-to-end runs through the real command line: rank-count invariance, I/O modes, file layout."""

import h5py
import numpy as np
import pytest
from .helpers import hpcbelt, make_study

from hpcbelt.pitch_angle.study import load_study, member_rng

VARIABLE_ATTRS = {"start_time", "end_time", "mpi_size", "parallel_io", "host", "git_commit"}


def read_all(path):
    """Every dataset and every attribute of a file (root attributes that legitimately differ
    between runs, such as times and MPI size, are returned separately)."""
    data, attrs = {}, {}

    def visit(name, obj):
        for k, v in obj.attrs.items():
            if k not in ("DIMENSION_LIST", "REFERENCE_LIST"):
                attrs[f"{name}@{k}"] = v
        if isinstance(obj, h5py.Dataset):
            data[name] = obj[()]

    with h5py.File(path, "r") as fh:
        fh.visititems(visit)
        root = dict(fh.attrs)
    fixed = {k: v for k, v in root.items() if k not in VARIABLE_ATTRS and not k.startswith("restart")}
    return data, attrs, fixed, root


def assert_same_results(a, b):
    da, aa, ra, _ = read_all(a)
    db, ab, rb, _ = read_all(b)
    assert sorted(da) == sorted(db)
    for k in da:
        assert da[k].dtype == db[k].dtype, k
        assert np.array_equal(da[k], db[k], equal_nan=True), f"{k} differs"
    assert aa.keys() == ab.keys()
    assert ra.keys() == rb.keys() and all(np.all(ra[k] == rb[k]) for k in ra)


@pytest.mark.parametrize("method", ["exact", "explicit"])
def test_bitwise_identical_for_1_2_3_ranks(tmp_path, method):
    study = make_study(tmp_path, method=method, dalpha=6.0, days=1.0, members=5, dt=2.0)
    outs = []
    for n in (None, 2, 3):
        out = tmp_path / f"run_{n}.h5"
        r = hpcbelt("run", study, "-o", out, "--quiet", ranks=n)
        assert r.returncode == 0, r.stderr
        outs.append(out)
    _, _, _, root2 = read_all(outs[1])
    assert root2["mpi_size"] == 2 and root2["parallel_io"] == "mpio"
    assert_same_results(outs[0], outs[1])
    assert_same_results(outs[0], outs[2])


def test_more_ranks_than_members(tmp_path):
    study = make_study(tmp_path, members=1, days=0.5, dalpha=9.0)
    text = study.read_text()
    # keep only the first experiment: 1 member on 3 ranks leaves 2 ranks idle
    study.write_text(text.split("[[experiment]]")[0] + "[[experiment]]" + text.split("[[experiment]]")[1])
    r = hpcbelt("run", study, "-o", tmp_path / "one.h5", "--quiet", ranks=3)
    assert r.returncode == 0, r.stderr
    with h5py.File(tmp_path / "one.h5") as fh:
        assert fh["drand_1h/member_done"][()].tolist() == [1]
        assert np.isfinite(fh["drand_1h/f"][()]).all()


def test_funnel_fallback_matches_mpio(tmp_path):
    # h5py without MPI support funnels writes through rank 0.  HPCBELT_IO=funnel selects the
    # same code path on this (MPI-enabled) h5py; the results must be identical.
    study = make_study(tmp_path, dalpha=6.0, days=1.0, members=4)
    r1 = hpcbelt("run", study, "-o", tmp_path / "mpio.h5", "--quiet", ranks=2)
    r2 = hpcbelt("run", study, "-o", tmp_path / "funnel.h5", "--quiet", ranks=3, env={"HPCBELT_IO": "funnel"})
    assert r1.returncode == 0 and r2.returncode == 0, r1.stderr + r2.stderr
    assert_same_results(tmp_path / "mpio.h5", tmp_path / "funnel.h5")
    with h5py.File(tmp_path / "funnel.h5") as fh:
        assert fh.attrs["parallel_io"] == "funnel"


def test_file_layout_units_scales_and_provenance(tmp_path):
    study = make_study(tmp_path, dalpha=3.0, days=1.0, members=3)
    out = tmp_path / "run.h5"
    r = hpcbelt("run", study, "-o", out, ranks=2)
    assert r.returncode == 0, r.stderr
    assert "members [" in r.stderr and "ETA" in r.stderr          # progress bar from rank 0
    s = load_study(study)
    with h5py.File(out, "r") as fh:
        for key in ("hpcbelt_version", "git_commit", "mpi_size", "host", "start_time", "end_time",
                    "study_toml", "kind", "parallel_io", "status"):
            assert key in fh.attrs, key
        assert fh.attrs["study_toml"] == study.read_text()
        assert fh.attrs["status"] == "complete" and fh.attrs["mpi_size"] == 2
        np.testing.assert_array_equal(fh["time_s"][()], np.arange(0, 86401, 21600.0))
        np.testing.assert_array_equal(fh["alpha_deg"][()], np.arange(0, 90.1, 3.0))

        def check_units(name, obj):
            if isinstance(obj, h5py.Dataset):
                assert "units" in obj.attrs, name
        fh.visititems(check_units)
        for ex in s.experiments:
            g = fh[ex.name]
            assert g["f"].shape == (ex.members, 5, 31)
            assert g["daa_integral"].shape == g["f"].shape
            assert g["profile_index"].shape == (ex.members, ex.n_segments)
            assert g["member_done"][()].tolist() == [1] * ex.members
            assert [d[0].name for d in g["f"].dims] == [f"/{ex.name}/member", "/time_s", "/alpha_deg"]
            # stored draws are those of the member's own stream
            if ex.mode == "random":
                for m in range(ex.members):
                    draws = member_rng(s.seed, ex.name, m).integers(0, s.database.n_profiles, ex.n_segments)
                    assert g["profile_index"][m].tolist() == draws.tolist()
            # daa_integral equals the sum of the drawn profiles times the segment lengths
            prof = g["profile_index"][0]
            rows = np.where(prof >= 0, prof, s.database.n_profiles - 1 - prof)
            seg_len = np.diff(np.append(g["segment_start_s"][()], 86400.0))
            expect = (s.profiles[rows] * seg_len[:, None]).sum(axis=0)
            np.testing.assert_allclose(g["daa_integral"][0, -1], expect, rtol=1e-12)
            assert g["f"][()].min() >= 0


def test_output_depends_on_seed_and_member(tmp_path):
    a = member_rng(1, "x", 0).integers(0, 1000, 20)
    assert not np.array_equal(a, member_rng(2, "x", 0).integers(0, 1000, 20))
    assert not np.array_equal(a, member_rng(1, "y", 0).integers(0, 1000, 20))
    assert not np.array_equal(a, member_rng(1, "x", 1).integers(0, 1000, 20))
    assert np.array_equal(a, member_rng(1, "x", 0).integers(0, 1000, 20))
