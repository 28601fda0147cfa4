"""Every rank decision in one place: dealing work, rounds with an agreed stop, gathering,
progress, the root-side message hub and error agreement.

Physics and kernel modules never import mpi4py; drivers receive a communicator and hand their
work to one of two loops here:

* :func:`run_rounds` -- the loop of ``hpcbelt run``: items (ensemble members, permutations, PDE
  chunks) in rounds of one item per rank; between rounds the ranks agree whether a stop signal
  arrived, progress over all ranks is drawn by rank 0, and the count of items left is returned.
* :func:`deal_and_gather` -- independent items whose results rank 0 needs in item order (the
  database build, the aggregation passes), with every-rank error agreement.

Work items are dealt round-robin (:func:`deal`); since every item's random stream depends only
on the study seed and the item's identity, results do not depend on the number of ranks.
"""

from __future__ import annotations

import os
import sys
import time
import traceback
from dataclasses import dataclass
from typing import Any, Callable

TAG_HUB = 7301


def world():
    """MPI.COMM_WORLD (mpi4py initialises MPI on import; a plain ``python`` run is size 1)."""
    from mpi4py import MPI

    return MPI.COMM_WORLD


def deal(items: list, size: int) -> list[list]:
    """Round-robin queues, one per rank: item i goes to rank i mod size."""
    return [list(items[r::size]) for r in range(size)]


@dataclass(frozen=True)
class Rounds:
    """What :func:`run_rounds` did (same on every rank)."""

    stopped: str | None        # name of the agreed stop signal, or None when every item ran
    remaining: int             # items of all ranks not run
    total: int                 # items of all ranks


def run_rounds(comm, queues: list[list], work: Callable[[Any], None], *, label: str, quiet: bool = False,
               hub: "Hub | None" = None, after_item: Callable[[], None] | None = None) -> Rounds:
    """Run ``work(item)`` for this rank's queue, in rounds of one item per rank (collective).

    ``queues[r]`` is rank r's list of items (:func:`deal` makes round-robin queues; a driver
    may balance them itself).  Before every round the ranks agree (:class:`StopRequests`) whether
    SIGTERM, SIGUSR1 or SIGINT has arrived anywhere; if so every rank stops before the same
    round, so nobody waits in a collective the others never reach.  After each item
    ``after_item()`` runs (e.g. pushing the item's data to disk) and one unit of progress goes to
    rank 0's bar.  ``hub`` carries that progress (and, in funnel I/O, the data); it is drained
    here before returning.  Its ``round_done()``, when set, runs on every rank after every
    round, with or without an item (the run file's collective writes of the round).
    """
    rank = comm.Get_rank()
    mine = queues[rank]
    total = sum(len(q) for q in queues)
    progress = Progress(total, label, enabled=(rank == 0 and not quiet))
    if hub is None:
        hub = Hub(comm, progress)
    else:
        hub.progress = progress
    n_rounds = max((len(q) for q in queues), default=0)
    stopped, ran = None, 0
    with StopRequests() as stop:
        for r in range(n_rounds):
            stopped = stop.agreed(comm)
            if stopped:
                break
            did = r < len(mine)
            if did:
                work(mine[r])
                ran += 1
            if hub.round_done is not None:       # the round's collective writes, on every rank
                hub.round_done()
            if did:
                if after_item is not None:
                    after_item()
                hub.advance(1)                   # progress counts items that are on disk
        hub.finish()
    remaining = comm.allreduce(len(mine) - ran)
    return Rounds(stopped, int(remaining), int(total))


def deal_and_gather(comm, items: list, fn: Callable, *, context: Callable | None = None,
                    label: str | None = None, quiet: bool = True) -> list | None:
    """``[fn(item) for item in items]`` computed round-robin over ranks, gathered on rank 0.

    Returns the results in item order on rank 0 and None elsewhere.  With ``context`` (a
    factory of a context manager, e.g. opening a file once per rank) the call is
    ``fn(resource, item)``.  An InputError on any rank is raised on every rank
    (:func:`all_agree`).  ``label`` draws a progress bar over all ranks on rank 0.
    """
    import contextlib

    rank, size = comm.Get_rank(), comm.Get_size()
    mine = list(range(rank, len(items), size))
    progress = Progress(len(items), label or "", enabled=bool(label) and rank == 0 and not quiet)
    hub = Hub(comm, progress)

    def work():
        out = {}
        with (context() if context is not None else contextlib.nullcontext()) as res:
            for i in mine:
                out[i] = fn(res, items[i]) if context is not None else fn(items[i])
                hub.advance(1)
        return out

    try:
        part = all_agree(comm, work)
    finally:
        hub.finish()
    if size == 1:
        return [part[i] for i in range(len(items))]
    parts = comm.gather(part, root=0)
    del part
    if rank != 0:
        return None
    merged = {}
    for p in parts:
        merged.update(p)
    return [merged[i] for i in range(len(items))]


def root_decides(comm, fn: Callable[[], Any]) -> Any:
    """Run ``fn`` on rank 0 and broadcast its result, or its InputError, to every rank.

    Used for input checks that touch the file system, so every rank raises the same error at
    the same point and no rank waits forever in a collective the others never reach.
    """
    from .errors import InputError

    result, error = None, None
    if comm.Get_rank() == 0:
        try:
            result = fn()
        except InputError as exc:
            error = (type(exc), str(exc))      # the subclass too: its exit code (e.g. 74) survives
    result, error = comm.bcast((result, error), root=0)
    if error is not None:
        raise error[0](error[1])
    return result


def all_agree(comm, fn: Callable[[], Any]) -> Any:
    """Run ``fn`` on every rank; if any rank hits an InputError, every rank raises the first one.

    The counterpart of :func:`root_decides` for work that every rank does itself (e.g. reading
    its share of a file that turns out to be corrupted): no rank goes on to a collective alone.
    """
    from .errors import InputError

    result, error = None, None
    try:
        result = fn()
    except InputError as exc:
        error = (type(exc), str(exc))
    first = next((e for e in comm.allgather(error) if e is not None), None)
    if first is not None:
        raise first[0](first[1])
    return result


def abort_on_exception(comm) -> None:
    """Install an excepthook that aborts all ranks on an unexpected error (no hang)."""
    if comm.Get_size() == 1:
        return

    def hook(kind, value, tb):
        sys.stderr.write(f"hpcbelt: rank {comm.Get_rank()}: unexpected error, aborting all ranks\n")
        traceback.print_exception(kind, value, tb)
        sys.stderr.flush()
        comm.Abort(1)

    sys.excepthook = hook


class Progress:
    """A progress bar with ETA over all ranks' work, drawn by rank 0 only."""

    def __init__(self, total: int, label: str, enabled: bool = True, stream=None):
        self.total = max(int(total), 1)
        self.label = label
        self.enabled = enabled
        self.stream = stream or sys.stderr
        self.tty = self.enabled and hasattr(self.stream, "isatty") and self.stream.isatty()
        self.done = 0
        self.t0 = time.monotonic()
        self._last_print = -1e9
        self._last_frac = -1.0

    def advance(self, n: int = 1) -> None:
        self.done += n
        if not self.enabled:
            return
        now = time.monotonic()
        frac = self.done / self.total
        finished = self.done >= self.total
        # terminals: redraw at most 5 times a second; logs (Slurm): a line every 10 % or minute
        if self.tty:
            if now - self._last_print < 0.2 and not finished:
                return
        elif not finished and frac - self._last_frac < 0.1 and now - self._last_print < 60:
            return
        self._last_print, self._last_frac = now, frac
        elapsed = now - self.t0
        eta = elapsed * (1 - frac) / frac if frac > 0 else float("nan")
        width = 30
        bar = "#" * int(width * frac) + "-" * (width - int(width * frac))
        text = (f"{self.label} [{bar}] {self.done}/{self.total} "
                f"{100 * frac:5.1f}%  elapsed {_hms(elapsed)}  ETA {_hms(eta)}")
        if self.tty:
            self.stream.write("\r" + text + ("\n" if finished else ""))
        else:
            self.stream.write(text + "\n")
        self.stream.flush()


def _hms(seconds: float) -> str:
    if seconds != seconds:  # NaN
        return "--:--:--"
    s = int(round(seconds))
    return f"{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"


class Hub:
    """Point-to-point traffic from worker ranks to rank 0 while everybody computes.

    Workers post non-blocking messages (progress counts, and in funnel mode the data to write);
    rank 0 drains them whenever it calls :meth:`poll`, and :meth:`finish` on rank 0 keeps
    draining until every worker has said it is done.  ``on_write(path, selection, array)`` is
    called on rank 0 for funnelled writes; ``round_done()``, if given, by :func:`run_rounds` on
    every rank after every round.
    """

    def __init__(self, comm, progress: Progress | None, on_write: Callable | None = None):
        # A private duplicate of the communicator (collective): messages of consecutive hubs
        # (e.g. two aggregation passes, or a pass and the run after it) can never be taken for
        # each other's, so a worker's "done" of one hub cannot end another hub's drain early.
        self.comm = comm.Dup() if comm.Get_size() > 1 else comm
        self.rank = comm.Get_rank()
        self.size = comm.Get_size()
        self.progress = progress
        self.on_write = on_write
        self.round_done: Callable[[], None] | None = None
        self._pending: list = []
        self._finished = 0
        self._closed = False

    # -- worker side ---------------------------------------------------------------------
    def _post(self, msg) -> None:
        self._pending.append(self.comm.isend(msg, dest=0, tag=TAG_HUB))
        self._pending = [r for r in self._pending if not r.Test()]

    def advance(self, n: int = 1) -> None:
        """Report ``n`` finished work units."""
        if self.rank == 0:
            if self.progress:
                self.progress.advance(n)
            self.poll()
        else:
            self._post(("progress", n))

    def write(self, path: str, selection, array) -> None:
        """Funnel a write to rank 0 (rank 0 writes directly)."""
        if self.rank == 0:
            self.on_write(path, selection, array)
        else:
            self._post(("write", path, selection, array))

    # -- root side -------------------------------------------------------------------------
    def poll(self) -> None:
        if self.rank != 0 or self.size == 1 or self._closed:
            return
        from mpi4py import MPI

        while self.comm.iprobe(source=MPI.ANY_SOURCE, tag=TAG_HUB):
            self._handle(self.comm.recv(source=MPI.ANY_SOURCE, tag=TAG_HUB))

    def _handle(self, msg) -> None:
        kind = msg[0]
        if kind == "progress":
            if self.progress:
                self.progress.advance(msg[1])
        elif kind == "write":
            self.on_write(*msg[1:])
        elif kind == "done":
            self._finished += 1

    def finish(self) -> None:
        """Workers: flush and say done.  Rank 0: receive until all workers are done (collective;
        a second call does nothing)."""
        if self.size == 1 or self._closed:
            return
        if self.rank != 0:
            self._pending.append(self.comm.isend(("done",), dest=0, tag=TAG_HUB))
            from mpi4py import MPI

            MPI.Request.Waitall(self._pending)
            self._pending = []
        else:
            from mpi4py import MPI

            while self._finished < self.size - 1:
                self._handle(self.comm.recv(source=MPI.ANY_SOURCE, tag=TAG_HUB))
        self.comm.Free()          # every message of this hub is delivered (each worker's "done" is its last)
        self._closed = True


class StopRequests:
    """Catch SIGTERM, SIGUSR1 and SIGINT so a run can stop between work items.

    Slurm sends SIGTERM at a time limit (and ``--signal`` can send SIGUSR1 earlier); mpirun and
    srun forward both to every rank.  The handler only records the signal; :meth:`agreed` is a
    collective OR over ranks, called once per round of work items, so every rank stops after
    the same round and nobody is left waiting in a collective.  A second SIGINT kills at once.

    Instances share one process-wide record: the command line installs the handlers as soon as
    it starts (a signal during start-up must not kill the run), and a driver's own
    ``with StopRequests()`` nests inside without losing what was already received.
    """

    SIGNALS = ("SIGTERM", "SIGUSR1", "SIGINT")
    _received: str | None = None
    _depth = 0
    _old: dict = {}

    @property
    def received(self) -> str | None:
        return StopRequests._received

    def __enter__(self):
        import signal

        cls = StopRequests
        if cls._depth == 0:
            cls._received = None
            for name in self.SIGNALS:
                sig = getattr(signal, name)
                try:
                    cls._old[sig] = signal.signal(sig, cls._handle)
                except ValueError:  # not the main thread
                    pass
        cls._depth += 1
        return self

    def __exit__(self, *exc):
        import signal

        cls = StopRequests
        cls._depth -= 1
        if cls._depth == 0:
            for sig, old in cls._old.items():
                signal.signal(sig, old)
            cls._old = {}
        return False

    @staticmethod
    def request(reason: str) -> None:
        """Ask this rank to stop at the next round, as a signal would (e.g. after an I/O error);
        the first reason recorded is kept."""
        StopRequests._received = StopRequests._received or reason

    @staticmethod
    def _handle(signum, frame):
        import signal

        StopRequests.request(signal.Signals(signum).name)
        if signum == signal.SIGINT:
            signal.signal(signal.SIGINT, signal.default_int_handler)

    def agreed(self, comm) -> str | None:
        """The first signal name any rank received, or None (collective)."""
        names = comm.allgather(self.received)
        return next((n for n in names if n), None)


def env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


class NodeShared:
    """Arrays held once per node, in MPI-3 shared-memory windows, and split work to fill them.

    The ranks of ``comm`` that share a node (``Split_type(COMM_TYPE_SHARED)``) allocate one
    window per array (:meth:`allocate`, collective over the node); each fills the disjoint slice
    :meth:`part` gives it, :meth:`publish` makes every slice visible to every rank of the node,
    and then all read the same memory.  Where shared windows are not available, or with
    ``HPCBELT_SHARED_BANK=0`` (``env``), :attr:`available` is False and the caller keeps one
    private array per rank instead; ``reason`` says why, and :meth:`warn_once` prints it once per
    job.  Collective over ``comm`` (construction) and over the node (allocate, publish, free):
    every rank must make the same calls in the same order, outside of :func:`run_rounds`.
    """

    def __init__(self, comm, env: str = "HPCBELT_SHARED_BANK"):
        self.comm = comm
        self.node = None
        self._windows: list = []
        reason = None
        if comm.Get_size() > 1:
            if os.environ.get(env, "").strip().lower() in ("0", "false", "no", "off"):
                reason = f"{env}={os.environ[env].strip()}"
            else:
                try:
                    from mpi4py import MPI

                    self.node = comm.Split_type(MPI.COMM_TYPE_SHARED)
                except Exception as exc:          # noqa: BLE001 - any MPI without shared memory
                    reason = f"no MPI shared-memory communicator ({exc})"
        # every rank learns whether any fell back (one warning line for the whole job)
        reasons = comm.allgather(reason)
        self.reason = next((r for r in reasons if r), None)
        if self.reason is not None and self.node is not None:
            self.node.Free()
            self.node = None

    @property
    def available(self) -> bool:
        return self.node is not None

    @property
    def node_rank(self) -> int:
        return self.node.Get_rank() if self.node is not None else 0

    @property
    def node_size(self) -> int:
        return self.node.Get_size() if self.node is not None else 1

    def node_world_ranks(self) -> list[int]:
        """The ``comm`` ranks on this node, in node-rank order (just this rank when not shared)."""
        if self.node is None:
            return [self.comm.Get_rank()]
        return self.node.allgather(self.comm.Get_rank())

    def warn_once(self, what: str) -> None:
        if self.reason is not None and self.comm.Get_rank() == 0:
            print(f"hpcbelt: warning: {what}: every rank builds its own copy ({self.reason})",
                  file=sys.stderr, flush=True)

    def part(self, count: int) -> tuple[int, int]:
        """This rank's contiguous slice [lo, hi) of ``count`` rows, balanced over the node."""
        size, rank = self.node_size, self.node_rank
        return (rank * count) // size, ((rank + 1) * count) // size

    def allocate(self, shape: tuple, dtype=float):
        """An (uninitialised) array of ``shape`` held once on this node (collective over the node)."""
        import numpy as np
        from mpi4py import MPI

        dtype = np.dtype(dtype)
        nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
        win = MPI.Win.Allocate_shared(nbytes if self.node_rank == 0 else 0, dtype.itemsize,
                                      comm=self.node)
        self._windows.append(win)
        buf, _ = win.Shared_query(0)
        arr = np.ndarray(buffer=buf, dtype=dtype, shape=shape) if nbytes else np.zeros(shape, dtype)
        win.Fence()
        return arr

    def publish(self) -> None:
        """Every rank's writes to the node's windows are complete and visible (collective over the node)."""
        for win in self._windows:
            win.Fence()
        self.node.Barrier()

    def free(self) -> None:
        """Release the windows (collective over the node); the arrays must not be used after."""
        for win in self._windows:
            win.Free()
        self._windows = []
        if self.node is not None:
            self.node.Free()
            self.node = None
