"""Bounded memory: a 10,000-member run aggregates in a budget far below its size."""

import subprocess
import sys
import tracemalloc

import h5py
import numpy as np
import pytest

from hpcbelt.aggregate.driver import aggregate_file
from hpcbelt.aggregate.watt2021.options import Options

from .agg_helpers import ROOT, write_run

MEMBERS, N_TIME, N_ALPHA = 10_000, 13, 19
DATA_BYTES = 2 * MEMBERS * N_TIME * N_ALPHA * 8          # f and daa_integral of the ensemble: 39.5 MB
BUDGET = 2 * 2**20


@pytest.fixture(scope="module", params=["chunked", "contiguous"])
def big(tmp_path_factory, request):
    """The same 10,000-member run in both storage layouts the pitch-angle driver has used."""
    d = tmp_path_factory.mktemp("big")
    exps = (("drand", "random", MEMBERS, 120.0), ("mean_of_profiles", "mean_of_profiles", 1, None))
    write_run(d / "big.h5", experiments=exps, n_time=N_TIME, n_alpha=N_ALPHA, seed=7, layout=request.param)
    write_run(d / "small.h5", experiments=(("drand", "random", 10, 120.0),) + exps[1:], n_time=N_TIME,
              n_alpha=N_ALPHA, seed=7, layout=request.param)
    return d


def test_10000_members_within_budget(big):
    from mpi4py import MPI

    # import everything first: module code objects are Python allocations too
    import hpcbelt.daa_database  # noqa: F401
    import hpcbelt.aggregate.watt2021.figures  # noqa: F401
    import hpcbelt.aggregate.watt2021.report  # noqa: F401
    import hpcbelt.aggregate.watt2021.summary  # noqa: F401

    opts = Options(memory_bytes=BUDGET, n_boot=100, n_sub=20)
    tracemalloc.start()
    try:
        aggregate_file(big / "big.h5", output=big / "big_s.h5", opts=opts, comm=MPI.COMM_SELF, quiet=True)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # numpy allocations: the budget plus a little (outputs, 1 MiB checksum buffer), 1/15 of the data
    assert peak < BUDGET + 1.0 * 2**20, peak
    assert DATA_BYTES > 15 * peak
    # and the statistics are still exact: spot-check two columns against numpy
    with h5py.File(big / "big.h5") as run, h5py.File(big / "big_s.h5") as s:
        for t, a in ((6, 3), (12, 18)):
            col = run["drand/f"][:, t, a]
            assert s["drand/f/median"][t, a] == np.percentile(col, 50)
            assert s["drand/f/p95"][t, a] == np.percentile(col, 95)
            assert np.isclose(s["drand/daa_integral/mean"][t, a], run["drand/daa_integral"][:, t, a].mean(),
                              rtol=1e-12)
        assert s["drand/pdf/counts"][()].sum() == MEMBERS * N_TIME
        assert s.attrs["memory_budget_bytes_per_rank"] == BUDGET


def _max_rss_kb(run, out):
    code = ("import resource, sys; from hpcbelt.cli import main; "
            f"c = main(['aggregate', {str(run)!r}, '-o', {str(out)!r}, '--quiet', '--memory-mb', '2', "
            "'--bootstrap', '50', '--subsets', '10', '--no-checksum']); "
            "print(c, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    c, kb = r.stdout.split()[-2:]
    assert c == "0"
    return int(kb)


def test_peak_rss_does_not_grow_with_members(big):
    """Whole-process peak (HDF5's own buffers included): 10,000 members cost about what 10 do."""
    small = _max_rss_kb(big / "small.h5", big / "small_s.h5")
    large = _max_rss_kb(big / "big.h5", big / "big_s2.h5")
    assert large - small < 12 * 1024, (small, large)     # < 12 MB more, for 39.5 MB of member data


def test_drift_many_permutations_within_budget(tmp_path):
    """3,000 permutations (29 MB of particle F): numpy peak stays near the 2 MiB budget."""
    from mpi4py import MPI

    from hpcbelt.aggregate.lejosne2023.options import Options as DriftOptions

    from .agg_helpers import write_drift_run

    data = write_drift_run(tmp_path / "drift.h5", n_perm=3000, n_ptime=10, n_L=40, n_mlt=24, n_time=6)
    pbytes = data["part_F"].nbytes
    del data
    import hpcbelt.aggregate.lejosne2023.figures  # noqa: F401
    import hpcbelt.aggregate.lejosne2023.report  # noqa: F401
    import hpcbelt.aggregate.lejosne2023.summary  # noqa: F401

    tracemalloc.start()
    try:
        aggregate_file(tmp_path / "drift.h5", output=tmp_path / "s.h5", comm=MPI.COMM_SELF, quiet=True,
                       drift_opts=DriftOptions(hours=(3.0,), memory_bytes=BUDGET))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < BUDGET + 1.0 * 2**20, peak
    assert pbytes > 10 * peak
    with h5py.File(tmp_path / "drift.h5") as run, h5py.File(tmp_path / "s.h5") as s:
        col = run["particles/F"][:, 4, 7, 3].astype(float)
        assert np.isclose(s["particles/F_mean"][4, 7, 3], col.mean(), rtol=1e-12)
        assert np.isclose(s["particles/F_sem"][4, 7, 3], col.std(ddof=1) / np.sqrt(col.size), rtol=1e-9)
