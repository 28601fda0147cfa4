"""Unit tests of the block statistics (hpcbelt.aggregate.stats) against numpy."""

import numpy as np
import pytest

from hpcbelt.aggregate import stats


def test_block_stats_match_numpy():
    rng = np.random.default_rng(3)
    x = rng.lognormal(0, 2, (37, 5, 4))
    ref = x.copy()
    got = stats.block_stats(x)
    q = np.percentile(ref, [0, 5, 25, 50, 75, 95, 100], axis=0)
    for i, name in enumerate(("min", "p05", "p25", "median", "p75", "p95", "max")):
        assert np.array_equal(got[name], q[i]), name
    assert np.array_equal(got["min"], ref.min(axis=0)) and np.array_equal(got["max"], ref.max(axis=0))
    np.testing.assert_allclose(got["mean"], ref.mean(axis=0), rtol=1e-14)


def test_block_stats_single_member_is_that_member():
    x = np.arange(6.0).reshape(1, 2, 3)
    got = stats.block_stats(x.copy())
    for name in stats.STAT_NAMES:
        assert np.array_equal(got[name], x[0]), name


def test_column_histogram_matches_numpy_and_counts_outside():
    rng = np.random.default_rng(4)
    v = 10.0 ** rng.normal(2, 1, (200, 3))
    v[0, 0] = 0.0
    v[1, 0] = -1.0
    edges = np.linspace(1.0, 3.0, 9)
    counts, below, above, nonpos = stats.column_histogram(v, edges)
    for t in range(3):
        col = v[:, t]
        lg = np.log10(col[col > 0])
        assert np.array_equal(counts[t], np.histogram(lg, bins=edges)[0])
        assert below[t] == (lg < 1.0).sum() and above[t] == (lg > 3.0).sum()
        assert counts[t].sum() + below[t] + above[t] + nonpos[t] == 200
    assert nonpos.tolist() == [2, 0, 0]


def test_normalise_columns_unit_area_and_max1():
    counts = np.array([[0, 3, 1], [4, 0, 0], [0, 0, 0]])
    edges = np.array([0.0, 0.5, 1.5, 2.0])
    dens, max1 = stats.normalise_columns(counts, 4, edges)
    np.testing.assert_allclose((dens * np.diff(edges)).sum(axis=1), [1.0, 1.0, 0.0])
    assert np.array_equal(max1, [[0, 1, 1 / 3], [1, 0, 0], [0, 0, 0]])


@pytest.mark.parametrize("members,budget", [(10, 10 * 8 * 31 * 4), (10_000, 1 << 20), (10, 8 * 3), (3, 1 << 30)])
def test_plan_blocks_tile_the_grid_within_budget(members, budget):
    T, A = 25, 31
    blocks = stats.plan_blocks(members, T, A, budget)
    cover = np.zeros((T, A), int)
    for t0, t1, a0, a1 in blocks:
        cover[t0:t1, a0:a1] += 1
        # never above the budget, except the one-column minimum an exact percentile needs
        assert members * (t1 - t0) * (a1 - a0) * 8 <= max(budget, members * 8)
    assert (cover == 1).all()


def test_runs_of():
    from hpcbelt.output import read_runs, runs_of

    assert runs_of(np.array([0, 1, 2, 5, 7, 8])) == [(0, 3), (5, 6), (7, 9)]
    assert runs_of(np.array([], np.int64)) == []
    # slab reads are cut to at most MEMBERS_PER_READ members
    assert list(read_runs(np.arange(600))) == [(0, 256), (256, 512), (512, 600)]


def test_bootstrap_ci_reproducible_batched_and_sane():
    rng = np.random.default_rng(5)
    v = rng.normal(10, 1, 400)
    a = stats.bootstrap_median_ci(v, 300, np.random.default_rng(1), 0.9, max_elements=10**9)
    b = stats.bootstrap_median_ci(v, 300, np.random.default_rng(1), 0.9, max_elements=10**9)
    assert a == b
    lo, hi = a
    assert lo < np.median(v) < hi
    # the interval is about +-1.645 * 1.2533 * sigma / sqrt(n) wide for a normal sample
    half = 1.645 * 1.2533 / np.sqrt(400)
    assert 0.6 * half < (hi - lo) / 2 < 1.5 * half
    # small batches (memory bound) give an interval just as good
    lo2, hi2 = stats.bootstrap_median_ci(v, 300, np.random.default_rng(1), 0.9, max_elements=400 * 7)
    assert lo2 < np.median(v) < hi2 and abs((hi2 - lo2) - (hi - lo)) < 0.5 * (hi - lo)


def test_median_vs_size():
    v = np.arange(1.0, 11.0)
    sizes = stats.default_ensemble_sizes(10)
    assert sizes[0] == 1 and sizes[-1] == 10 and np.all(np.diff(sizes) > 0)
    first, lo, hi = stats.median_vs_size(v, sizes, 50, np.random.default_rng(0), 0.9)
    assert np.array_equal(first, [np.median(v[:k]) for k in sizes])
    # all members: every subset is the whole ensemble
    assert lo[-1] == hi[-1] == np.median(v)
    assert np.all(lo <= hi)
