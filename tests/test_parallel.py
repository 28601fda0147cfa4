"""The two work loops of hpcbelt.parallel, in process: serially (COMM_SELF) and under mpirun (mpi marker,
run on 2 and 3 ranks by tools/run_tests.sh)."""

import pytest

from hpcbelt.errors import InputError
from hpcbelt.parallel import StopRequests, deal, deal_and_gather, run_rounds


def test_deal_is_round_robin():
    assert deal(list(range(7)), 3) == [[0, 3, 6], [1, 4], [2, 5]]
    assert deal([], 2) == [[], []]


@pytest.mark.unit
def test_serial_loops():
    from mpi4py import MPI

    comm = MPI.COMM_SELF
    seen = []
    r = run_rounds(comm, deal(list("abcd"), 1), seen.append, label="t", quiet=True)
    assert seen == list("abcd") and r.stopped is None and r.remaining == 0 and r.total == 4
    assert deal_and_gather(comm, [1, 2, 3], lambda x: x * x) == [1, 4, 9]


@pytest.mark.mpi(min_size=2)
def test_deal_and_gather_in_item_order_on_root(comm):
    items = list(range(11))
    out = deal_and_gather(comm, items, lambda x: (x, comm.Get_rank()))
    if comm.Get_rank() == 0:
        assert [x for x, _ in out] == items
        assert [r for _, r in out] == [i % comm.Get_size() for i in items]
    else:
        assert out is None


@pytest.mark.mpi(min_size=2)
def test_deal_and_gather_error_on_one_rank_is_raised_on_all(comm):
    def fn(x):
        if x == 3:
            raise InputError("item 3 is bad")
        return x

    with pytest.raises(InputError, match="item 3 is bad"):
        deal_and_gather(comm, list(range(6)), fn)
    comm.Barrier()        # every rank got here: nobody is left in a collective


@pytest.mark.mpi(min_size=2)
def test_run_rounds_stops_every_rank_at_the_same_round(comm):
    rank, size = comm.Get_rank(), comm.Get_size()
    ran = []

    def work(item):
        ran.append(item)
        if rank == size - 1 and len(ran) == 2:
            StopRequests.request("SIGUSR1")        # as the signal handler records it, on one rank only

    with StopRequests():
        r = run_rounds(comm, deal(list(range(5 * size)), size), work, label="t", quiet=True)
    assert r.stopped == "SIGUSR1"
    assert len(ran) == 2                             # every rank ran rounds 0 and 1, then all stopped
    assert r.total == 5 * size and r.remaining == 3 * size


@pytest.mark.mpi(min_size=2)
def test_consecutive_hubs_never_take_each_others_messages(comm):
    # rank 0 is slow to drain the first hub while the workers race on to the second: each hub
    # must count exactly its own progress (a worker's "done" of one hub ending another hub's
    # drain early would leave messages, or funnelled writes, behind)
    import time

    from hpcbelt.parallel import Hub, Progress

    size = comm.Get_size()
    first = Hub(comm, Progress(1, "a", enabled=False))
    first.advance(1)
    if comm.Get_rank() == 0:
        time.sleep(0.3)
    first.finish()
    second = Hub(comm, Progress(1, "b", enabled=False))
    for _ in range(3):
        second.advance(1)
    second.finish()
    if comm.Get_rank() == 0:
        assert first.progress.done == size
        assert second.progress.done == 3 * size


def test_write_order_keeps_every_ranks_order_and_is_the_same_everywhere():
    from hpcbelt.output import write_order

    a = ["e1/f", "e1/daa", "e1/checksum", "e1/done"]
    b = ["e2/f", "e2/daa", "e2/checksum", "e2/done"]
    for seqs in ([a, b], [b, a], [a, [], b], [a, a, b]):
        order = write_order(seqs)
        assert sorted(order) == sorted({(n, 0) for n in a + b})
        for seq in seqs:
            pos = [order.index((n, 0)) for n in seq]
            assert pos == sorted(pos)
    assert write_order([a, b]) == write_order([b, a])
    # a dataset written several times in a round (frames) is several ordered writes
    frames = ["F", "N", "F", "N", "budget", "done"]
    order = write_order([frames, ["P", "done"]])
    assert order.index(("F", 1)) > order.index(("N", 0)) and order.index(("done", 0)) > order.index(("budget", 0))
    assert order.index(("done", 0)) > order.index(("P", 0)) and len(order) == 7
    with pytest.raises(RuntimeError, match="contradicting"):
        write_order([["x", "y"], ["y", "x"]])


def test_hyperslab_of_integer_and_full_slice_selections():
    from hpcbelt.output import _hyperslab

    assert _hyperslab((5, 3, 4), (2, slice(None), slice(None))) == ((2, 0, 0), (1, 3, 4))
    assert _hyperslab((5, 3), 4) == ((4, 0), (1, 3))
    assert _hyperslab((5,), 0) == ((0,), (1,))
    assert _hyperslab((7, 2), (slice(None), slice(None))) == ((0, 0), (7, 2))
    for bad in ((5,), (slice(1, 3),), (-1,), (0, 0, 0)):
        assert _hyperslab((5, 3), bad) is None
    assert _hyperslab((), ()) is None                       # scalars are written independently
