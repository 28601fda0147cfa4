"""Every statistic of the summary against numpy, on small synthetic run files."""

import json

import h5py
import numpy as np
import pytest

from hpcbelt.aggregate import stats
from hpcbelt.aggregate.driver import aggregate_file
from hpcbelt.aggregate.watt2021.options import Options
from hpcbelt.aggregate.watt2021.plan import plan
from hpcbelt.pitch_angle import runfile

from .agg_helpers import np_stats, write_db, write_run


@pytest.fixture(scope="module")
def comm():
    from mpi4py import MPI

    return MPI.COMM_SELF


def _agg(comm, run, out, **kw):
    opts = Options(**{"n_boot": 50, "n_sub": 20, **kw})
    return aggregate_file(run, output=out, opts=opts, comm=comm, quiet=True)


@pytest.fixture(scope="module", params=["chunked", "contiguous"])
def unfinished(tmp_path_factory, comm, request):
    """A run whose random ensembles have unfinished members (NaN, member_done = 0), in both layouts."""
    d = tmp_path_factory.mktemp("synth")
    done = {"drand_2min": np.array([1, 1, 0, 1, 1, 1, 0, 1, 1], np.uint8),
            "drand_6h": np.array([0, 1, 1, 1, 1, 1, 1], np.uint8)}
    data = write_run(d / "run.h5", done=done, status="running", db_path=write_db(d / "db.h5"),
                     layout=request.param)
    _agg(comm, d / "run.h5", d / "sum.h5", memory_bytes=1 << 20)
    return d, data


def test_statistics_match_numpy_on_finished_members(unfinished):
    d, data = unfinished
    with h5py.File(d / "sum.h5") as h5:
        assert not h5.attrs["all_members_finished"]
        assert json.loads(h5.attrs["members_finished_json"]) == {"drand_2min": 7, "drand_6h": 6,
                                                                  "mean_of_profiles": 1, "mean_inputs": 1}
        for name, (f, di, flags) in data.items():
            ok = flags == 1
            assert h5[name].attrs["members_used"] == ok.sum()
            assert h5[f"{name}/members_used"][()].tolist() == np.flatnonzero(ok).tolist()
            for q, raw in (("f", f), ("daa_integral", di)):
                ref = np_stats(raw[ok])
                for s in stats.STAT_NAMES:
                    got = h5[f"{name}/{q}/{s}"][()]
                    if s == "mean":
                        np.testing.assert_allclose(got, ref[s], rtol=1e-13, err_msg=f"{name}/{q}/{s}")
                    else:
                        assert np.array_equal(got, ref[s]), f"{name}/{q}/{s}"


def test_pdf_counts_and_normalisation(unfinished):
    d, data = unfinished
    with h5py.File(d / "sum.h5") as h5:
        edges = h5["pdf_bin_edges_log10f"][()]
        ia = int(np.argmin(np.abs(h5["alpha_deg"][()] - 30.0)))
        assert h5.attrs["pdf_alpha_deg"] == h5["alpha_deg"][ia]
        for name, (f, _, flags) in data.items():
            col = f[flags == 1][:, :, ia]
            n = col.shape[0]
            counts = h5[f"{name}/pdf/counts"][()]
            for t in range(col.shape[1]):
                assert np.array_equal(counts[t], np.histogram(np.log10(col[:, t]), bins=edges)[0])
            # automatic bins cover every value: nothing outside, every column has unit area
            assert h5[f"{name}/pdf/below"][()].sum() == h5[f"{name}/pdf/above"][()].sum() == 0
            assert (counts.sum(axis=1) == n).all()
            dens = h5[f"{name}/pdf/density"][()]
            np.testing.assert_allclose((dens * np.diff(edges)).sum(axis=1), 1.0, rtol=1e-12)
            assert np.allclose(h5[f"{name}/pdf/column_max1"][()].max(axis=1), 1.0)
            assert h5[f"{name}/pdf/density"].attrs["units"] == "1/decade"
            assert "column-normalised" in h5[f"{name}/pdf"].attrs["normalisation"]
        assert edges[0] <= np.log10(min(f[flg == 1][:, :, ia].min() for f, _, flg in data.values()))
        assert edges[-1] >= np.log10(max(f[flg == 1][:, :, ia].max() for f, _, flg in data.values()))


def test_snapshots_ratios_bootstrap_convergence(unfinished):
    d, data = unfinished
    with h5py.File(d / "sum.h5") as h5:
        t_days = h5["time_days"][()]
        alpha = h5["alpha_deg"][()]
        ia = int(np.argmin(np.abs(alpha - 30.0)))
        ti = h5["snapshots/time_index"][()]
        assert h5["snapshots/day_requested"][()].tolist() == [2.0, 10.0, 30.0]
        assert ti.tolist() == [int(np.argmin(np.abs(t_days - x))) for x in (2, 10, 30)]
        names = [n.decode() if isinstance(n, bytes) else n for n in h5["ratios/experiments"][()]]
        ra = [int(np.argmin(np.abs(alpha - x))) for x in (30, 45, 60, 70)]
        med = {n: np.median(data[n][0][data[n][2] == 1], axis=0) for n in names}
        for i, a in enumerate(names):
            for j, b in enumerate(names):
                np.testing.assert_allclose(h5["ratios/median_f"][i, j], med[a][np.ix_(ti, ra)] / med[b][np.ix_(ti, ra)],
                                           rtol=1e-13)
        np.testing.assert_allclose(h5["ratios/constant_runs"][()],
                                   (data["mean_inputs"][0][0] / data["mean_of_profiles"][0][0])[np.ix_(ti, ra)],
                                   rtol=1e-13)
        for name in ("drand_2min", "drand_6h"):
            f, _, flags = data[name]
            col = f[flags == 1][:, :, ia]
            np.testing.assert_array_equal(h5[f"snapshots/{name}/median"][()], med[name][ti])
            lo, hi = h5[f"{name}/bootstrap/median_ci_low"][()], h5[f"{name}/bootstrap/median_ci_high"][()]
            assert np.all(lo <= hi)
            assert np.all((lo >= col.min(axis=0)) & (hi <= col.max(axis=0)))
            sizes = h5[f"{name}/convergence/ensemble_size"][()]
            assert sizes[-1] == col.shape[0]
            first = h5[f"{name}/convergence/median_first_n"][()]
            for k, n in enumerate(sizes):
                np.testing.assert_array_equal(first[k], np.median(col[:n][:, ti], axis=0))


@pytest.mark.parametrize("budget,expect", [(2 * 7 * 31 * 8 * 3, "time"), (1024, "alpha")])
def test_block_shape_does_not_change_the_numbers(unfinished, comm, tmp_path, budget, expect):
    """Tiny budgets split the time axis (3 times per block), then the pitch-angle axis: same summary."""
    d, _ = unfinished
    run = runfile.inspect(d / "run.h5")
    blocks = plan(run, Options(memory_bytes=budget)).blocks["drand_2min"]
    if expect == "time":
        assert all(b[1] - b[0] == 3 and b[3] - b[2] == 31 for b in blocks[:-1])
    else:
        assert all(b[1] - b[0] == 1 and b[3] - b[2] < 31 for b in blocks)
    ref = _read(d / "sum.h5")
    out = tmp_path / "s.h5"
    _agg(comm, d / "run.h5", out, memory_bytes=budget)
    got = _read(out)
    assert sorted(got) == sorted(ref)
    for k in ref:
        if k.endswith("/mean"):
            np.testing.assert_allclose(got[k], ref[k], rtol=1e-13, err_msg=k)
        else:
            assert np.array_equal(got[k], ref[k], equal_nan=True), k


def test_explicit_bins_in_pass_one_equal_auto_bins(unfinished, comm, tmp_path):
    d, _ = unfinished
    with h5py.File(d / "sum.h5") as h5:
        edges = h5["pdf_bin_edges_log10f"][()]
    out = tmp_path / "bins.h5"
    _agg(comm, d / "run.h5", out, bins=(edges[0], edges[-1], edges.size - 1), memory_bytes=1 << 20)
    with h5py.File(d / "sum.h5") as a, h5py.File(out) as b:
        assert not b["pdf_bin_edges_log10f"].attrs["automatic"]
        np.testing.assert_allclose(b["pdf_bin_edges_log10f"][()], edges, rtol=1e-15)
        for n in ("drand_2min", "drand_6h", "mean_inputs"):
            assert np.array_equal(a[f"{n}/pdf/counts"][()], b[f"{n}/pdf/counts"][()])


def test_summary_is_self_describing(unfinished):
    d, _ = unfinished
    with h5py.File(d / "sum.h5") as h5:
        missing = []
        h5.visititems(lambda n, o: missing.append(n) if isinstance(o, h5py.Dataset) and "units" not in o.attrs
                      else None)
        assert missing == []
        a = h5.attrs
        assert a["kind"] == "aggregate_summary" and a["source_kind"] == "pitch_angle"
        assert a["source_path"] == str((d / "run.h5").resolve())
        assert len(a["source_sha256"]) == 64 and a["source_size_bytes"] == (d / "run.h5").stat().st_size
        assert a["source_status"] == "running"
        for key in ("hpcbelt_version", "git_commit", "created", "options_json", "percentile_method",
                    "memory_bound", "members_total_json", "mpi_size"):
            assert key in a, key
        assert json.loads(a["options_json"])["alpha_deg"] == 30.0
        assert h5["drand_2min/f/median"].dims[0][0].name == "/time_s"
        assert h5["database/file"].attrs["n_profiles"] == 40


def _read(path):
    out = {}
    with h5py.File(path) as h5:
        def visit(n, o):
            if isinstance(o, h5py.Dataset) and o.dtype.kind in "fiu":
                out[n] = o[()]
        h5.visititems(visit)
    return out


def test_experiments_without_finished_members_are_listed_not_aggregated(comm, tmp_path):
    """Like a run of a subset of the experiments: the others keep member_done = 0 everywhere."""
    from .agg_helpers import write_run

    done = {"drand_6h": np.zeros(7, np.uint8), "mean_inputs": np.zeros(1, np.uint8)}
    data = write_run(tmp_path / "run.h5", n_time=9, n_alpha=10, done=done)
    _agg(comm, tmp_path / "run.h5", tmp_path / "s.h5")
    with h5py.File(tmp_path / "s.h5") as h5:
        assert h5["drand_6h"].attrs["members_used"] == 0 and "f" not in h5["drand_6h"]
        assert "constant_runs" not in h5["ratios"]
        assert [n.decode() if isinstance(n, bytes) else n for n in h5["ratios/experiments"][()]] == [
            "drand_2min", "mean_of_profiles"]
        np.testing.assert_array_equal(h5["drand_2min/f/median"][()], np.percentile(data["drand_2min"][0], 50, axis=0))
    text = (tmp_path / "s.md").read_text()
    assert "| drand_6h | random | 6 h | 0 / 7 |" in text and "| drand_6h | no finished member |" in text
