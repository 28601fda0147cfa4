"""The D_aa database format (hpcbelt.daa_database): one checker for the writer and the loader,
one writer for the tests' positional calls and the product's keywords, the Fig 1 distribution
and its one plotting function."""

import subprocess
import sys

import h5py
import numpy as np
import pytest

from hpcbelt import daa_database as D
from hpcbelt.errors import InputError

pytestmark = pytest.mark.unit


def _arrays(n=30, na=19, seed=2):
    rng = np.random.default_rng(seed)
    a = np.linspace(0, 90, na)
    d = rng.lognormal(-12, 1.2, (n, na))
    d[:, -1] = 0.0                      # no resonance at 90 deg
    d[4, 10] = 0.0
    return a, d


def test_positional_write_round_trips_through_the_loader(tmp_path):
    a, d = _arrays()
    m = 0.5 * d.mean(axis=0)
    D.write(tmp_path / "db.h5", a, d, daa_of_mean_inputs=m, L=3.0, energy_MeV=0.5,
            description="test database")
    db = D.load(tmp_path / "db.h5")
    np.testing.assert_array_equal(db.alpha_deg, a)
    np.testing.assert_array_equal(db.daa, d)
    np.testing.assert_array_equal(db.daa_of_mean_inputs, m)
    assert (db.L, db.energy_MeV, db.n_profiles, db.extra) == (3.0, 0.5, 30, {})
    with h5py.File(tmp_path / "db.h5") as fh:
        assert fh.attrs["format"] == D.FORMAT and fh.attrs["format_version"] == D.FORMAT_VERSION
        assert fh.attrs["description"] == "test database"
        for name in fh:                 # units and a description on every dataset
            assert fh[name].attrs["units"] == D.DATASETS[name][0]
            assert fh[name].attrs["description"]
        np.testing.assert_array_equal(fh["daa_mean"][()], d.mean(axis=0))


def test_writer_is_deterministic_and_stores_the_product_columns(tmp_path):
    a, d = _arrays()
    n = d.shape[0]
    kw = dict(alpha_deg=a, daa=d, daa_of_mean_inputs=d.mean(axis=0), X=np.linspace(7, 12, n),
              Y=np.geomspace(1e-8, 1e-6, n), B_eq_nT=np.full(n, 1100.0), L=3, energy_MeV=0.5,
              wave_model="oblique", description="d", provenance={"b": 1, "a": [2, 3]})
    D.write(tmp_path / "one.h5", **kw)
    D.write(tmp_path / "two.h5", **kw)
    assert (tmp_path / "one.h5").read_bytes() == (tmp_path / "two.h5").read_bytes()
    with h5py.File(tmp_path / "one.h5") as fh:
        assert list(fh) == sorted(D.DATASETS)   # every dataset of the format
        assert fh.attrs["provenance"] == '{\n "a": [\n  2,\n  3\n ],\n "b": 1\n}'
        assert fh.attrs["wave_model"] == "oblique" and fh.attrs["L"] == 3.0
    db = D.load(tmp_path / "one.h5")
    assert sorted(db.extra) == ["B_eq_nT", "X", "Y"]
    assert D.content_digest(tmp_path / "one.h5") == D.content_digest(tmp_path / "two.h5")


@pytest.mark.parametrize("case, words", [
    ("nan", ["'daa'", "non-finite", "profile 3 (row 3), pitch angle 25 deg"]),
    ("negative", ["'daa'", "negative", "profile 2 (row 2), pitch angle 50 deg"]),
    ("shape", ["'daa' has shape (30, 16)", "expected (n_profiles, 19)"]),
    ("alpha", ["'alpha_deg' must be strictly increasing"]),
    ("mean", ["'daa_of_mean_inputs'", "negative", "pitch angle 5 deg"]),
    ("column", ["'X' has shape (29,)", "expected (30,)"]),
])
def test_one_checker_for_the_writer_and_the_loader(tmp_path, case, words):
    a, d = _arrays()
    m, X = None, None
    if case == "nan":
        d[2, 5] = np.nan
    elif case == "negative":
        d[1, 10] = -1e-7
    elif case == "shape":
        d = d[:, :-3]
    elif case == "alpha":
        a = a[::-1].copy()
    elif case == "mean":
        m = d.mean(axis=0)
        m[1] = -1.0
    else:
        X = np.ones(29)
    path = tmp_path / "db.h5"
    with pytest.raises(ValueError) as written:
        D.write(path, a, d, daa_of_mean_inputs=m, X=X, L=3.0, energy_MeV=0.5)
    assert not path.exists()
    # what another tool (or a damaged copy) could leave on disk: the same arrays, written raw
    with h5py.File(path, "w") as fh:
        for name, arr, units in (("alpha_deg", a, "deg"), ("daa", d, "1/s"), ("daa_of_mean_inputs", m, "1/s"),
                                 ("X", X, "1")):
            if arr is not None:
                fh.create_dataset(name, data=np.asarray(arr, float)).attrs["units"] = units
    with pytest.raises(InputError) as loaded:
        D.load(path)
    for w in words:
        assert w in str(loaded.value), str(loaded.value)
    # the same message, from the same check (both name the file)
    assert str(loaded.value) == str(written.value)


def test_loader_refuses_other_units_and_accepts_the_spellings_of_per_second(tmp_path):
    a, d = _arrays()
    for units, ok in (("1/s", True), ("s^-1", True), ("s -1", True), ("1/day", False)):
        D.write(tmp_path / "db.h5", a, d)
        with h5py.File(tmp_path / "db.h5", "a") as fh:
            fh["daa"].attrs["units"] = units
        if ok:
            D.load(tmp_path / "db.h5")
        else:
            with pytest.raises(InputError, match="units '1/day'; expected 1/s"):
                D.load(tmp_path / "db.h5")
    assert all(D.DAA_UNITS[u] == 1.0 for u in D.PER_SECOND)


def test_distribution_counts_every_profile_and_keeps_the_window(tmp_path):
    a, d = _arrays(n=200)
    d[7, 3] = 1e-40                           # far below the window: counted in no bin
    D.write(tmp_path / "db.h5", a, d)
    db = D.load(tmp_path / "db.h5")
    dist = D.distribution(db, n_bins=40)
    assert dist["readable"] and dist["n_profiles"] == 200
    edges = dist["edges"]
    assert edges.size == 41 and edges[-1] - edges[0] <= D.WINDOW_DECADES
    assert edges[-1] >= np.log10(d.max())
    assert edges[-1] - edges[0] == D.WINDOW_DECADES        # the 1e-40 is below the window
    assert float(edges[0] * 4).is_integer() and float(edges[-1] * 4).is_integer()   # quarter decades
    missing = np.zeros(a.size, int)
    missing[3] = 1
    np.testing.assert_array_equal(dist["counts"].sum(axis=1) + dist["zeros"], 200 - missing)
    np.testing.assert_array_equal(dist["zeros"], (d == 0).sum(axis=0))
    width = np.diff(edges)
    np.testing.assert_allclose((dist["density"] * width).sum(axis=1), (200 - dist["zeros"] - missing) / 200)
    j = int(np.argmin(abs(a - 45)))
    assert dist["qq_alpha_deg"] == a[j]
    np.testing.assert_array_equal(dist["qq_sample_log10"], np.log10(np.sort(d[d[:, j] > 0, j])))
    assert dist["qq_normal"].size == dist["qq_sample_log10"].size
    assert np.all(np.diff(dist["qq_normal"]) > 0) and abs(dist["qq_normal"].mean()) < 1e-12
    np.testing.assert_array_equal(dist["daa_mean_db_grid"], d.mean(axis=0))
    # the run-facing wrapper: the same arrays, plus whether the file is the one the run used
    run = D.database_distribution({"path": str(tmp_path / "db.h5"), "sha256": db.sha256}, n_bins=40)
    assert run["sha256_matches_run"] and list(run)[:4] == ["readable", "path", "sha256", "sha256_matches_run"]
    for k in dist:
        np.testing.assert_array_equal(run[k], dist[k])


def test_database_distribution_without_a_usable_file(tmp_path):
    assert D.database_distribution({})["reason"] == "the run file records no database path"
    assert "not found" in D.database_distribution({"path": str(tmp_path / "gone.h5")})["reason"]
    (tmp_path / "junk.h5").write_bytes(b"not hdf5")
    r = D.database_distribution({"path": str(tmp_path / "junk.h5")})
    assert not r["readable"] and "not a readable HDF5 file" in r["reason"]
    a, d = _arrays()
    D.write(tmp_path / "zero.h5", a, 0 * d)
    r = D.database_distribution({"path": str(tmp_path / "zero.h5")})
    assert r == {"readable": False, "reason": f"{tmp_path / 'zero.h5'}: no positive D_aa"}


def test_plot_fig1_draws_the_distribution_and_the_two_means(tmp_path):
    pytest.importorskip("matplotlib")
    from hpcbelt.dxx.plot import plot_fig1

    a, d = _arrays(n=100)
    D.write(tmp_path / "db.h5", a, d, daa_of_mean_inputs=0.7 * d.mean(axis=0))
    db = D.load(tmp_path / "db.h5")
    dist = D.distribution(db)
    grid = np.linspace(0, 90, 46)              # the means may be on another grid
    mean, m0 = db.mean_on_grid(grid), 0.7 * db.mean_on_grid(grid)
    fig, shown = plot_fig1(dist, grid, mean, m0, title="t")
    assert len(fig.axes) >= 3
    lines = fig.axes[0].get_lines()
    np.testing.assert_array_equal(lines[0].get_xdata(), grid)
    np.testing.assert_array_equal(lines[0].get_ydata(), np.where(mean > 0, mean, np.nan))
    np.testing.assert_array_equal(shown["daa_of_mean_inputs"], np.where(m0 > 0, m0, np.nan))
    j30 = int(np.argmin(abs(a - 30)))
    np.testing.assert_array_equal(shown["pdf_30deg"], dist["density"][j30])
    np.testing.assert_array_equal(fig.axes[1].get_lines()[0].get_ydata(), dist["density"][j30])
    np.testing.assert_array_equal(shown["qq_sample_log10"], dist["qq_sample_log10"])
    col = shown["pdf_column_max1"]
    assert col.shape == dist["density"].shape and np.all(col.max(axis=1)[dist["density"].max(axis=1) > 0] == 1)
    # without the database file: panel (a) with the two means only, and the reason
    fig, shown = plot_fig1({"readable": False, "reason": "database file x.h5 not found"}, grid, mean, m0)
    assert len(fig.axes) == 1 and set(shown) == {"daa_mean", "daa_of_mean_inputs"}
    assert "not found" in fig.axes[0].get_title()


def test_dxx_does_not_import_the_aggregation():
    code = ("import sys, hpcbelt.dxx.cli, hpcbelt.dxx.plot, hpcbelt.dxx.importer, hpcbelt.dxx.driver; "
            "print(sorted(m for m in sys.modules if m.startswith('hpcbelt.aggregate')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
