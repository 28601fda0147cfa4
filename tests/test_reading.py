"""hpcbelt.open_run / open_summary (hpcbelt/reading.py) on tiny real runs of each study kind and
their summaries, and the raw-file contract with ``xarray.open_datatree(path, engine="h5netcdf")``."""

import importlib.util
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pytest

pytestmark = pytest.mark.e2e

try:
    import xarray as xr
except ImportError:
    xr = None
try:
    import h5netcdf
except ImportError:
    h5netcdf = None

# the optional extra (pip install hpcbelt[xarray]); test_without_xarray runs either way.  The
# setup installs it, so under CI (CI set) nothing here may skip: a missing extra fails instead.
IN_CI = bool(os.environ.get("CI"))
NEEDS_XARRAY = pytest.mark.skipif(not IN_CI and (xr is None or not hasattr(xr, "DataTree")),
                                  reason="xarray >= 2025.1 not installed (pip install hpcbelt[xarray])")
NEEDS_H5NETCDF = pytest.mark.skipif(not IN_CI and h5netcdf is None,
                                    reason="h5netcdf not installed (pip install hpcbelt[xarray])")

import hpcbelt  # noqa: E402
from hpcbelt import reading  # noqa: E402
from hpcbelt.errors import InputError  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
FILES = ("pa_run", "pa_summary", "drift_run", "drift_summary")

# Kinds of file that must open with xarray.open_datatree(path, engine="h5netcdf") as they are
# written.  None does today (see _netcdf_problems); add each one here once its writers are fixed.
MUST_OPEN_WITH_H5NETCDF: set = set()


def _load(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


pa = _load("hpcbelt_tests_reading_pa", ROOT / "tests" / "pitch_angle" / "helpers.py")
dr = _load("hpcbelt_tests_reading_drift", ROOT / "tests" / "drift" / "helpers.py")

TINY_DRIFT = {"dL = 0.1": "dL = 0.5", "n_mlt = 48": "n_mlt = 8", "permutations = 5": "permutations = 3",
              "per_permutation = 300": "per_permutation = 40", "coarsen_mlt = 2": "coarsen_mlt = 2\nkeep_positions = true"}


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A tiny pitch-angle run and a tiny drift-diffusion run (real 'hpcbelt run'), and their
    summaries (real 'hpcbelt aggregate'); the two studies run side by side."""
    d = tmp_path_factory.mktemp("reading")
    pa_study = pa.make_study(d / "pa", dalpha=6.0, days=1.0, members=3)
    dr_study = dr.make_study(d / "drift", **TINY_DRIFT)
    out = {"pa_run": d / "pa" / "run.h5", "drift_run": d / "drift" / "run.h5",
           "pa_summary": d / "pa" / "run_summary.h5", "drift_summary": d / "drift" / "run_summary.h5"}
    env = dr.mpi_env()

    def cli(*args):
        return subprocess.Popen([sys.executable, "-m", "hpcbelt", *map(str, args)], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    stages = ([("run", pa_study, "-o", out["pa_run"], "--quiet"),
               ("run", dr_study, "-o", out["drift_run"], "--quiet")],
              [("aggregate", out["pa_run"], "--quiet", "--days", "0.5,1", "--bootstrap", "20", "--subsets", "5",
                "--no-checksum"),
               ("aggregate", out["drift_run"], "--quiet", "--hours", "0.5,1.5", "--no-checksum")])
    for stage in stages:
        for p in [cli(*args) for args in stage]:
            _, err = p.communicate(timeout=300)
            assert p.returncode == 0, err
    return out


def _open(path):
    with h5py.File(path, "r") as h5:
        kind = h5.attrs["kind"]
    return hpcbelt.open_summary(path) if kind == "aggregate_summary" else hpcbelt.open_run(path)


def _h5_datasets(h5):
    out = []
    h5.visititems(lambda n, o: out.append("/" + n) if isinstance(o, h5py.Dataset) else None)
    return out


def _h5_value(d):
    if h5py.check_string_dtype(d.dtype) is not None:
        v = d[()]
        if d.ndim == 0:
            return np.asarray(v.decode() if isinstance(v, bytes) else v, dtype=str)
        return np.array([x.decode() if isinstance(x, bytes) else x for x in v.ravel()], dtype=str).reshape(v.shape)
    return d[()]


def _attr(v):
    if isinstance(v, bytes):
        return v.decode()
    return v


def _variable(tree, h5path):
    """The tree's variable for the HDF5 dataset ``h5path``: in the node of its group, by name or,
    when renamed, by its ``hdf5_path`` attribute."""
    group, name = h5path.rsplit("/", 1)
    ds = tree[group or "/"].to_dataset(inherit=False)
    hits = [v for v in ds.variables.values() if v.attrs.get("hdf5_path") == h5path]
    if hits:
        return hits[0]
    assert name in ds.variables and "hdf5_path" not in ds.variables[name].attrs, f"{h5path} not in the tree"
    return ds.variables[name]


def _same_attrs(tree_attrs, h5_attrs, where):
    for k in h5_attrs:
        if k in reading._SKIP_ATTRS:
            continue
        a, b = np.asarray(tree_attrs[k]), np.asarray(_attr(h5_attrs[k]))
        same = np.array_equal(a, b, equal_nan=a.dtype.kind in "fc" and b.dtype.kind in "fc")
        assert same, f"{where} attribute {k}: {a!r} != {b!r}"


# ------------------------------------------------------------------------------------------
# Round trip, coordinates, masks, laziness
# ------------------------------------------------------------------------------------------

@NEEDS_XARRAY
@pytest.mark.parametrize("which", FILES)
def test_every_dataset_round_trips(files, which):
    """Every dataset of the file is one variable of the tree, with the same values (NaN included),
    dtype, shape, units, description and other attributes; every group is a node with its
    attributes; the root attributes are the file's (JSON left as text)."""
    path = files[which]
    with _open(path) as tree, h5py.File(path, "r") as h5:
        names = _h5_datasets(h5)
        assert len(names) > 10
        for n in names:
            d, v = h5[n], _variable(tree, n)
            assert v.shape == d.shape, n
            ref = _h5_value(d)
            if ref.dtype.kind != "U":
                assert v.dtype == d.dtype, n
            np.testing.assert_array_equal(v.values, ref, err_msg=n)
            _same_attrs(v.attrs, d.attrs, n)
            assert "units" in v.attrs, n
        groups = ["/"]
        h5.visititems(lambda n, o: groups.append("/" + n) if isinstance(o, h5py.Group) else None)
        assert sorted(node.path for node in tree.subtree) == sorted(groups)
        for g in groups:
            _same_attrs(tree[g].attrs, h5[g].attrs, g)
        assert tree.attrs["kind"] == h5.attrs["kind"]
        key = "study_config_json" if which.endswith("run") else "options_json"
        assert isinstance(tree.attrs[key], str) and tree.attrs[key].startswith("{")
        # nothing in the tree but the file's datasets, the finished flags and copied scales
        extra = [(node.path, k) for node in tree.subtree for k, var in node.to_dataset(inherit=False).variables.items()
                 if (f"{node.path.rstrip('/')}/{k}" not in names and var.attrs.get("hdf5_path") not in names
                     and not k.endswith("finished"))]
        assert extra == []


@NEEDS_XARRAY
def test_coordinates_attached(files):
    """Dimension names and index coordinates come from the file's dimension scales, wherever the
    scale lives; names that would hide an inherited dimension are qualified by their path."""
    with hpcbelt.open_run(files["pa_run"]) as run, h5py.File(files["pa_run"]) as h5:
        f = run["drand_1h"]["f"]
        assert f.dims == ("member", "time_s", "alpha_deg")
        np.testing.assert_array_equal(f.time_s, h5["time_s"][()])
        np.testing.assert_array_equal(f.alpha_deg, h5["alpha_deg"][()])
        np.testing.assert_array_equal(f.member, np.arange(3))
        assert f.time_s.attrs["units"] == "s" and f.alpha_deg.attrs["units"] == "deg"
        assert f.attrs["units"] == h5.attrs["f_units"]
        assert run["drand_1h"]["profile_index"].dims == ("member", "segment_start_s")
        assert run["drand_1h"]["member_checksum"].dims == ("member", "member_checksum_dim_1")
        assert run["database"]["daa_mean"].dims == ("alpha_deg",)
        assert run["drand_6h"].sizes["segment_start_s"] == 4
        col = f.sel(alpha_deg=30, method="nearest").isel(member=0)
        np.testing.assert_array_equal(col, h5["drand_1h/f"][0, :, 5])
    with hpcbelt.open_run(files["drift_run"]) as run, h5py.File(files["drift_run"]) as h5:
        assert run["pde"]["F"].dims == ("time_s", "L_grid", "mlt_h")
        assert run["pde"]["F"].mlt_h.attrs["units"] == "h"
        # radial/F is attached to the scale pde/L_grid: copied into /radial as its coordinate
        rf = run["radial"]["F"]
        assert rf.dims == ("time_s", "L_grid")
        np.testing.assert_array_equal(rf.L_grid, h5["pde/L_grid"][()])
        assert rf.L_grid.attrs["hdf5_path"] == "/pde/L_grid"
        # particles/time_s would hide the root's time_s: particles_time_s
        pf = run["particles"]["F"]
        assert pf.dims == ("perm", "particles_time_s", "L_grid", "mlt_h")
        np.testing.assert_array_equal(pf.particles_time_s, h5["particles/time_s"][()])
        np.testing.assert_array_equal(pf.L_grid, h5["particles/L_grid"][()])
        assert run["particles"]["positions"].shape == h5["particles/positions"].shape
        # axes without a scale that are per permutation (preallocated next to perm_done): perm
        assert run["particles"]["positions"].dims[0] == "perm"
        assert run["particles"]["number_in_grid"].dims == ("perm", "number_in_grid_dim_1")
        assert run["particles"]["permutation"].dims == ("perm", "permutation_dim_1")
        assert run["particles"]["w_base_V_per_m"].dims == ("w_base_V_per_m_dim_0",)
        assert run["pde"]["probe_F"].dims == ("probe_F_dim_0", "time_s")
        assert run["probe"]["name"].values.tolist() == [n.decode() for n in h5["probe/name"][()]]
        assert run["pde"]["budget_json"].values.item().startswith("{")
    with hpcbelt.open_summary(files["pa_summary"]) as s:
        assert s["drand_1h/f"]["median"].dims == ("time_s", "alpha_deg")
        assert s["drand_1h/pdf"]["counts"].dims == ("time_s", "counts_dim_1")
        assert s["snapshots/drand_1h"]["median"].sizes["median_dim_0"] == 2
        assert s["database/file"]["database_file_alpha_deg"].attrs["hdf5_path"] == "/database/file/alpha_deg"
    with hpcbelt.open_summary(files["drift_summary"]) as s:
        m = s["maps"]["particles_F_mean"]
        assert m.dims == ("particles_F_mean_dim_0", "particles_L_grid", "particles_mlt_h")
        assert s["particles"]["F_mean"].dims == ("particles_time_s", "particles_L_grid", "particles_mlt_h")
        assert s["pde"]["mlt_mean"].dims == ("time_s", "L_grid")


def _copy(src, dst, edit):
    shutil.copy(src, dst)
    with h5py.File(dst, "r+") as h5:
        edit(h5)
    return dst


@NEEDS_XARRAY
def test_unfinished_members_masked(files, tmp_path):
    """member_done = 0: that member's f and daa_integral read as NaN (whatever the file holds),
    for any selection; the finished coordinate says which members are done; integer datasets
    and the flags are unchanged; mask_unfinished=False shows the raw values."""
    def stop(h5):
        h5["drand_1h/member_done"][1] = 0

    p = _copy(files["pa_run"], tmp_path / "stopped.h5", stop)
    with h5py.File(p) as h5:
        raw = h5["drand_1h/f"][()]
        raw_d = h5["drand_1h/daa_integral"][()]
        pidx = h5["drand_1h/profile_index"][()]
    assert np.isfinite(raw).all()
    with hpcbelt.open_run(p) as run:
        e = run["drand_1h"]
        assert e["finished"].values.tolist() == [True, False, True]
        assert e["finished"].dims == ("member",)
        f = e["f"]
        assert np.isnan(f.values[1]).all() and np.isnan(e["daa_integral"].values[1]).all()
        np.testing.assert_array_equal(f.values[[0, 2]], raw[[0, 2]])
        np.testing.assert_array_equal(e["daa_integral"].values[[0, 2]], raw_d[[0, 2]])
        assert np.isnan(f.isel(member=1).values).all()
        np.testing.assert_array_equal(f.isel(member=2).values, raw[2])
        sub = f[::-1, 2, 3:9:2].values                             # members 2, 1, 0
        assert np.isnan(sub[1]).all()
        np.testing.assert_array_equal(sub[[0, 2]], raw[[2, 0], 2, 3:9:2])
        np.testing.assert_array_equal(f.isel(member=[2, 1]).values[1], np.full(raw[1].shape, np.nan))
        np.testing.assert_array_equal(f.sel(member=e["finished"]).values, raw[[0, 2]])
        np.testing.assert_array_equal(e["profile_index"].values, pidx)
        assert e["member_done"].values.tolist() == [1, 0, 1]
        assert run["drand_6h"]["finished"].values.all()
        median = f.sel(alpha_deg=30, method="nearest").median("member")
        np.testing.assert_allclose(median, np.median(raw[[0, 2], :, 5], axis=0))
    with hpcbelt.open_run(p, mask_unfinished=False) as run:
        np.testing.assert_array_equal(run["drand_1h"]["f"].values, raw)
        assert run["drand_1h"]["finished"].values.tolist() == [True, False, True]


@NEEDS_XARRAY
def test_unfinished_drift_masked(files, tmp_path):
    """perm_done = 0 masks that permutation; pde/done = 0 masks what the PDE writes (pde/* and,
    per the layout, radial/*), not the grid written with the layout."""
    def stop(h5):
        h5["particles/perm_done"][0] = 0
        h5["pde/done"][()] = 0

    p = _copy(files["drift_run"], tmp_path / "stopped.h5", stop)
    with h5py.File(p) as h5:
        raw = {n: h5[n][()] for n in ("particles/F", "particles/positions", "particles/probe_F", "pde/L_edges",
                                      "radial/D_LL_per_s", "particles/permutation")}
    with hpcbelt.open_run(p) as run:
        part = run["particles"]
        assert part["finished"].values.tolist() == [False, True, True]
        assert np.isnan(part["F"].values[0]).all() and np.isnan(part["probe_F"].values[0]).all()
        assert np.isnan(part["positions"].values[0]).all() and np.isnan(part["number_in_grid"].values[0]).all()
        np.testing.assert_array_equal(part["F"].values[1:], raw["particles/F"][1:])
        np.testing.assert_array_equal(part["positions"].values[1:], raw["particles/positions"][1:])
        np.testing.assert_array_equal(part["permutation"].values, raw["particles/permutation"])
        assert not bool(run["pde"]["finished"]) and not bool(run["radial"]["finished"])
        for name in ("F", "probe_F", "number", "lost_L_min"):
            assert np.isnan(run["pde"][name].values).all(), name
        assert np.isnan(run["radial"]["F"].values).all()
        np.testing.assert_array_equal(run["pde"]["L_edges"].values, raw["pde/L_edges"])
        np.testing.assert_array_equal(run["radial"]["D_LL_per_s"].values, raw["radial/D_LL_per_s"])
    with hpcbelt.open_run(p, mask_unfinished=False) as run:
        assert np.isfinite(run["pde"]["F"].values).all()


@NEEDS_XARRAY
def test_open_is_lazy(files, tmp_path, monkeypatch):
    """An 8 GiB dataset (unallocated, so the test file is small) opens at once and nothing of it
    is read until a selection is asked for; then only that selection."""
    n = 1 << 17

    def grow(h5):
        g = h5.create_group("huge")
        m = g.create_dataset("member", data=np.arange(n))
        m.make_scale("member")
        f = g.create_dataset("f", shape=(n, 8192), dtype="f8", chunks=(1, 8192), fillvalue=np.nan)
        f.attrs["units"] = "1"
        f.dims[0].attach_scale(m)
        done = g.create_dataset("member_done", data=np.ones(n, np.uint8))
        done.dims[0].attach_scale(m)

    p = _copy(files["pa_run"], tmp_path / "huge.h5", grow)
    calls = []
    read = reading._H5Array._read
    monkeypatch.setattr(reading._H5Array, "_read", lambda self, key: calls.append(key) or read(self, key))
    t0 = time.perf_counter()
    run = hpcbelt.open_run(p)
    opened = time.perf_counter() - t0
    try:
        f = run["huge"]["f"]
        assert f.nbytes == n * 8192 * 8
        assert opened < 3.0, opened
        assert calls == [] and not f.variable._in_memory
        assert not run["drand_1h"]["f"].variable._in_memory
        v = f.isel(member=5, f_dim_1=slice(0, 10)).values
        assert v.shape == (10,) and np.isnan(v).all()
        assert len(calls) == 1 and calls[0] == (5, slice(0, 10, 1))
    finally:
        run.close()


@NEEDS_XARRAY
def test_dask_chunks(files, tmp_path):
    if IN_CI:
        import dask.array as da           # installed by the setup: under CI its absence fails
    else:
        da = pytest.importorskip("dask.array")

    def stop(h5):
        h5["drand_1h/member_done"][1] = 0

    p = _copy(files["pa_run"], tmp_path / "stopped.h5", stop)
    with h5py.File(p) as h5:
        raw = h5["drand_1h/f"][()]
    with hpcbelt.open_run(p, chunks={"member": 1}) as run:
        f = run["drand_1h"]["f"]
        assert isinstance(f.data, da.Array) and f.chunks[0] == (1, 1, 1)
        v = f.compute().values
        assert np.isnan(v[1]).all()
        np.testing.assert_array_equal(v[[0, 2]], raw[[0, 2]])
    with hpcbelt.open_summary(files["pa_summary"], chunks="auto") as s:
        assert isinstance(s["drand_1h/f"]["median"].data, da.Array)


@NEEDS_XARRAY
def test_close_releases_the_file(files, tmp_path):
    p = _copy(files["pa_run"], tmp_path / "run.h5", lambda h5: None)
    with hpcbelt.open_run(p) as run:
        f = run["drand_1h"]["f"]
    with pytest.raises(Exception):
        f.values
    with h5py.File(p, "r+") as h5:          # no reader left holding the file
        h5.attrs["touched"] = 1


@NEEDS_XARRAY
def test_wrong_files(files, tmp_path):
    with pytest.raises(InputError, match="open_summary"):
        hpcbelt.open_run(files["pa_summary"])
    with pytest.raises(InputError, match="not an hpcbelt summary.*open_run"):
        hpcbelt.open_summary(files["drift_run"])
    with pytest.raises(InputError, match="file not found"):
        hpcbelt.open_run(tmp_path / "nope.h5")
    (tmp_path / "text.h5").write_text("not hdf5")
    with pytest.raises(InputError, match="not an HDF5 file"):
        hpcbelt.open_run(tmp_path / "text.h5")
    with h5py.File(tmp_path / "plain.h5", "w") as h5:
        h5["x"] = 1
    with pytest.raises(InputError, match="kind = None"):
        hpcbelt.open_run(tmp_path / "plain.h5")


def test_without_xarray(tmp_path, monkeypatch):
    """xarray is an optional extra: the functions say how to get it (before touching the file);
    chunks= without dask says so too; import hpcbelt needs neither xarray nor h5py."""
    path = tmp_path / "run.h5"
    if xr is not None:
        monkeypatch.setitem(sys.modules, "dask", None)
        monkeypatch.setitem(sys.modules, "dask.array", None)
        with pytest.raises(ImportError, match="pip install dask"):
            hpcbelt.open_run(path, chunks={"member": 1})
    monkeypatch.setitem(sys.modules, "xarray", None)
    for fn in (hpcbelt.open_run, hpcbelt.open_summary):
        with pytest.raises(ImportError, match=re.escape("pip install hpcbelt[xarray]")):
            fn(path)
    code = ("import sys, hpcbelt, hpcbelt.reading; hpcbelt.open_run; "
            "assert 'xarray' not in sys.modules and 'h5py' not in sys.modules, sorted(sys.modules)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr


# ------------------------------------------------------------------------------------------
# The README snippet
# ------------------------------------------------------------------------------------------

def _readme_snippet():
    """The README's python block that calls hpcbelt.open_run, on the tiny run's file "run.h5"."""
    text = (ROOT / "README.md").read_text()
    for block in re.findall(r"```python\n(.*?)```", text, flags=re.S):
        if "hpcbelt.open_run(" in block:
            return re.sub(r'hpcbelt\.open_run\("[^"]*"\)', 'hpcbelt.open_run("run.h5")', block)
    raise AssertionError("README.md has no python block calling hpcbelt.open_run")


@NEEDS_XARRAY
def test_readme_snippet_runs(files, tmp_path, monkeypatch):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shutil.copy(files["pa_run"], tmp_path / "run.h5")
    monkeypatch.chdir(tmp_path)
    try:
        exec(compile(_readme_snippet(), "README snippet", "exec"), {})
    finally:
        plt.close("all")
    assert any(tmp_path.glob("*.png"))


# ------------------------------------------------------------------------------------------
# The raw-file contract: xarray.open_datatree(path, engine="h5netcdf")
# ------------------------------------------------------------------------------------------

def _is_scale(d):
    return d.attrs.get("CLASS") in (b"DIMENSION_SCALE", "DIMENSION_SCALE")


def _outside(scale_group: str, group: str) -> bool:
    return not (scale_group == "/" or group == scale_group or group.startswith(scale_group + "/"))


def _netcdf_problems(h5) -> list:
    """What in a file h5netcdf or xarray's DataTree cannot take: (problem, dataset, detail) for

    mixed    a dataset with some axes on dimension scales and some without ("malformed variable
             ... has mixing of labeled and unlabeled dimensions": h5netcdf refuses it)
    foreign  an axis attached to a scale outside the dataset's group and its ancestors (netCDF
             dimensions are visible downwards only: KeyError in h5netcdf)
    shadow   a dataset named like a dimension scale of an ancestor group, but another object
             (xarray's DataTree: "group ... is not aligned with its parents")
    """
    found = []
    scales_in = {}
    for n in _h5_datasets(h5):
        if _is_scale(h5[n]):
            scales_in.setdefault(h5[n].parent.name, {})[n.rsplit("/", 1)[-1]] = n
    for n in _h5_datasets(h5):
        d = h5[n]
        g = d.parent.name
        if d.ndim and not _is_scale(d):
            on = [len(d.dims[i]) > 0 for i in range(d.ndim)]
            if any(on) and not all(on):
                found.append(("mixed", n, [i for i in range(d.ndim) if not on[i]]))
            found += [("foreign", n, d.dims[i][0].name) for i in range(d.ndim)
                      if on[i] and _outside(d.dims[i][0].parent.name, g)]
        name, anc = n.rsplit("/", 1)[-1], g
        while anc != "/":
            anc = anc.rsplit("/", 1)[0] or "/"
            other = scales_in.get(anc, {}).get(name)
            if other is not None and other != n:
                found.append(("shadow", n, other))
                break
    return found


def _numeric(h5):
    return {n for n in _h5_datasets(h5) if h5[n].dtype.kind in "fiu" and not _is_scale(h5[n])}


def _check_values(pairs, h5, left, where):
    """Each (dataset path, values) read by h5netcdf equals h5py's; the paths are taken off ``left``."""
    for n, v in pairs:
        if n in h5 and h5[n].dtype.kind in "fiu" and not _is_scale(h5[n]):
            np.testing.assert_array_equal(np.asarray(v), h5[n][()], err_msg=f"{where}: {n}")
            left.discard(n)


def _check_tree(tree, h5, where):
    left = _numeric(h5)
    for node in tree.subtree:
        _check_values([(f"{node.path.rstrip('/')}/{k}", v.values)
                       for k, v in node.to_dataset(inherit=False).data_vars.items()], h5, left, where)
    assert not left, left


# What h5netcdf cannot take in today's files, as (problem, dataset name), and who writes it.
TODAY = {
    "pa_run": {("mixed", "member_checksum")},                         # pitch_angle/runfile.py _experiment_layout
    "pa_summary": {("mixed", "counts"), ("mixed", "density"), ("mixed", "column_max1"),   # watt2021/summary.py _pdf
                   *(("mixed", s) for s in ("mean", "min", "p05", "p25", "median", "p75", "p95", "max")),  # _snapshots
                   ("mixed", "random"), ("mixed", "mean_inputs"), ("mixed", "mean_of_profiles"),          # _fig3
                   ("shadow", "alpha_deg"),                           # _database (file/alpha_deg), _ratios
                   ("shadow", "time_s")},                             # _snapshots (snapshots/time_s)
    "drift_run": {("mixed", "perm_checksum"), ("mixed", "probe_F"),   # drift/runfile.py layout
                  ("foreign", "F"), ("shadow", "time_s")},            # radial/F -> pde/L_grid; particles/time_s
    "drift_summary": {("mixed", "particles_F_mean"), ("mixed", "pde_F"), ("mixed", "probe_F_mean"),
                      ("mixed", "probe_F_sem"), ("mixed", "probe_F"),  # aggregate/lejosne2023/summary.py
                      ("foreign", "particles_F_mean"),                # maps/ -> particles/L_grid, mlt_h
                      ("shadow", "time_s"), ("shadow", "L_grid"), ("shadow", "mlt_h")},    # particles/*
}

PHONY = pytest.mark.filterwarnings("ignore:The 'phony_dims' kwarg:UserWarning")


@NEEDS_XARRAY
@NEEDS_H5NETCDF
@PHONY
@pytest.mark.parametrize("which", FILES)
def test_h5netcdf_contract_today(files, which):
    """xarray.open_datatree(path, engine="h5netcdf") on the raw file opens it and reads every
    numeric dataset as h5py does once the file has none of the problems of _netcdf_problems.
    Today every kind has some (TODAY): open_datatree fails, and every group without a problem
    opens alone with xarray.open_dataset(path, engine="h5netcdf", group=...), same values."""
    path = files[which]
    with h5py.File(path) as h5:
        problems = _netcdf_problems(h5)
        assert {(p, n.rsplit("/", 1)[-1]) for p, n, _ in problems} == TODAY[which]
        if which in MUST_OPEN_WITH_H5NETCDF:
            assert not problems, problems
        if problems:
            with pytest.raises((ValueError, KeyError)):
                xr.open_datatree(path, engine="h5netcdf").load()
        else:
            with xr.open_datatree(path, engine="h5netcdf") as tree:
                _check_tree(tree, h5, which)
        # a group alone fails on its mixed and foreign datasets (a shadowing one only breaks the tree)
        bad = {h5[n].parent.name for p, n, _ in problems if p != "shadow"}
        good = {h5[n].parent.name for n in _h5_datasets(h5)} - {h5[n].parent.name for _, n, _ in problems}
        assert good
        for g in sorted(bad):
            with pytest.raises((ValueError, KeyError)):
                xr.open_dataset(path, engine="h5netcdf", group=g).load()
        for g in sorted(good):
            with xr.open_dataset(path, engine="h5netcdf", group=g) as ds:
                _check_values([(f"{g.rstrip('/')}/{k}", v.values) for k, v in ds.data_vars.items()], h5, set(),
                              f"{which} {g}")


def _apply_fixes(h5):
    """What the writers would do: a shadowing dataset renamed <group path>_<name>, a local copy of
    a foreign scale, a scale <dataset>_dim_<i> for each unscaled axis of a mixed dataset."""
    for kind, n, _ in _netcdf_problems(h5):
        if kind == "shadow":
            g, name = h5[n].parent, n.rsplit("/", 1)[-1]
            g.move(name, f"{g.name.strip('/').replace('/', '_')}_{name}")
    for n in _h5_datasets(h5):
        d, g = h5[n], h5[n].parent
        if not d.ndim or _is_scale(d):
            continue
        on = [len(d.dims[i]) > 0 for i in range(d.ndim)]
        for i in range(d.ndim):
            if on[i] and _outside(d.dims[i][0].parent.name, g.name):
                s = d.dims[i][0]
                local = s.name.rsplit("/", 1)[-1]
                if local not in g:
                    g.create_dataset(local, data=s[()]).make_scale(local)
                d.dims[i].detach_scale(s)
                d.dims[i].attach_scale(g[local])
            elif not on[i] and any(on):
                sname = f"{n.rsplit('/', 1)[-1]}_dim_{i}"
                if sname not in g:
                    g.create_dataset(sname, data=np.arange(d.shape[i])).make_scale(sname)
                d.dims[i].attach_scale(g[sname])


@NEEDS_XARRAY
@NEEDS_H5NETCDF
@PHONY
@pytest.mark.parametrize("which", FILES)
def test_h5netcdf_contract_after_the_writer_fixes(files, tmp_path, which):
    """The fixes for the problems of _netcdf_problems are all it takes: applied to a copy
    (_apply_fixes), xarray.open_datatree(path, engine="h5netcdf") opens the file and reads every
    numeric dataset as h5py does -- and hpcbelt.open_run / open_summary still read it."""
    p = _copy(files[which], tmp_path / "fixed.h5", _apply_fixes)
    with h5py.File(p) as h5:
        assert _netcdf_problems(h5) == []
        with xr.open_datatree(p, engine="h5netcdf") as tree:
            _check_tree(tree, h5, which)
        with _open(p) as tree:
            for n in _h5_datasets(h5):
                np.testing.assert_array_equal(_variable(tree, n).values, _h5_value(h5[n]), err_msg=n)
