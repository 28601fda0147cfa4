"""Run a pitch-angle study: members spread over MPI ranks, one HDF5 file written in parallel.

The work items are the (experiment, member) pairs of the study, dealt round-robin over the
ranks (:func:`hpcbelt.parallel.deal`) and run in rounds with an agreed stop
(:func:`hpcbelt.parallel.run_rounds`); each member's arrays go to the run file through
:meth:`hpcbelt.output.RunFile.put`, whatever the I/O mode.  The file's layout is in
:mod:`.runfile`.

A study over energies keeps one work item per (experiment, member): the item draws the
member's database rows once and integrates them at every energy (each energy with its own
grid, profiles and propagators), writing one group per energy.  What a member computes at one
energy is bitwise what the single-energy study at that energy computes for it.
"""

from __future__ import annotations

from .. import output, parallel, resources
from ..errors import InputError
from . import runfile
from .runfile import DAA_INTEGRAL, F, MEMBER_CHECKSUM, MEMBER_DONE, PROFILE_INDEX, dataset_path
from .solver import PropagatorBank, bank_keys, build_propagators, member_intervals, run_member
from .study import Study


def run(study: Study, comm, out_path, quiet: bool = False, done: dict | None = None) -> None:
    """Integrate every unfinished member and write ``out_path`` (all ranks call this).

    ``done`` (from :func:`.runfile.restart_state`) continues an earlier run in place: finished
    members are kept, the rest (and finished ones whose checksum no longer matches) computed;
    the result is bitwise identical to an uninterrupted run.
    Raises RunInterrupted after leaving the file consistent if a stop signal arrives.
    """
    items = study.work_items()
    if done is not None:      # an item is done when its member is done at every energy
        items = [(e, m) for e, m in items if not all(done[g][m] for g in study.groups(e))]
    queues = parallel.deal(items, comm.Get_size())
    mine = queues[comm.Get_rank()]
    # method = "exact": one bank of propagators for all experiments, held once per node in
    # shared memory and built in slices by the node's ranks before the rounds start (the
    # allocation is collective over the node, so it cannot wait until each rank meets its first
    # member); without shared memory each rank builds its own, one experiment at a time.  The
    # bank comes before the file: a bank that does not fit is refused with the file untouched.
    node = parallel.NodeShared(comm) if study.method == "exact" else None
    shared = _node_banks(study, node, queues) if node is not None and node.available else {}
    if node is not None:
        node.warn_once("propagator banks are not shared by the ranks of a node")
    rf = output.RunFile.open_run(out_path, comm, resume=done is not None, kind=runfile.KIND, study=study,
                                 layout_version=runfile.LAYOUT_VERSION, layout=runfile.layout(study),
                                 method=study.method, f_units=runfile.F_UNITS)
    banks, bank_for = None, None     # this rank's private banks (one per energy) of experiment bank_for
    slices = study.slices

    def work(item):
        nonlocal banks, bank_for
        e, m = item
        ex = study.experiments[e]
        if e in shared:
            banks, bank_for = shared[e], e
        elif study.method == "exact" and bank_for != e:
            banks, bank_for = None, None          # the previous experiment's banks go first
            banks, bank_for = _propagators_for(study, e, mine), e
        rows, stored = study.segment_profiles(e, m)      # one draw, used at every energy
        for k, sl in enumerate(slices):
            name = sl.group(ex.name)
            f, dint = run_member(sl.grid, study.f0, sl.profiles, rows, study.out_t, ex.seg_t,
                                 study.method, study.dt_s, None if banks is None else banks[k])
            rf.put(dataset_path(name, F), (m, slice(None), slice(None)), f)
            rf.put(dataset_path(name, DAA_INTEGRAL), (m, slice(None), slice(None)), dint)
            rf.put(dataset_path(name, PROFILE_INDEX), (m, slice(None)), stored)
            # the checksum of exactly what was put, then (last) the done flag
            rf.put(dataset_path(name, MEMBER_CHECKSUM), (m, slice(None)), runfile.member_digest(f, dint, stored))
            rf.put(dataset_path(name, MEMBER_DONE), m, 1)

    rounds = parallel.run_rounds(comm, queues, work, label="members", quiet=quiet, hub=rf.hub,
                                 after_item=rf.item_finished)
    banks = shared = None
    if node is not None:
        node.free()
    rf.finish(rounds, "members")


def _propagators_for(study: Study, e: int, mine) -> list[PropagatorBank]:
    """Every propagator this rank's members of experiment ``e`` need, one bank per energy, each
    built in one allocation.

    One experiment at a time bounds memory by its own intervals (e.g. 2,377 x 91 x 91 x 8 B =
    157 MB per interval length and energy on the 1 deg grid) however many experiments a study
    has; items come in experiment order, so each experiment's banks are built once per rank.
    The members draw the same rows at every energy, so every energy's bank has the same keys.
    """
    ex = study.experiments[e]
    plans = [member_intervals(study.segment_profiles(e, m)[0], study.out_t, ex.seg_t)
             for ee, m in mine if ee == e]
    banks = []
    for sl in study.slices:
        bank = PropagatorBank(sl.grid, sl.profiles)
        bank.prepare([p[0] for p in plans], [p[1] for p in plans])
        banks.append(bank)
    return banks


def _node_banks(study: Study, node: "parallel.NodeShared", queues) -> dict[int, list[PropagatorBank]]:
    """The propagators of every experiment that this node's ranks will run, in one shared copy
    per energy (``{experiment: [bank of each energy]}``).

    The node needs the (profile, length) pairs of the members dealt to its ranks (their
    intervals follow from the seed and the member alone: each rank lists a slice of them and
    the node shares the lists).  The keys of all experiments go into one window, sorted by
    profile, and each rank builds a contiguous slice that starts and ends on a profile boundary,
    so each database row is decomposed once per node whatever the number of interval lengths it
    is wanted for; after :meth:`~hpcbelt.parallel.NodeShared.publish` every rank reads all of
    it.  Each matrix is computed exactly as a private bank computes it, so results are bitwise
    the same in both modes and on any number of ranks.  A bank larger than the node's available
    memory is refused (InputError, the same on every rank) before anything is allocated.
    Over energies the members draw the same rows at every energy, so every energy's window has
    the same keys; the memory check covers all of them (one window per energy, allocated after
    the check).  Collective over ``study``'s communicator.
    """
    ours = [item for r in node.node_world_ranks() for item in queues[r]]
    wanted = []
    for e, ex in enumerate(study.experiments):
        members = [m for ee, m in ours if ee == e]
        lo, hi = node.part(len(members))        # the node's ranks plan disjoint slices
        wanted.extend(bank_keys(member_intervals(study.segment_profiles(e, m)[0], study.out_t, ex.seg_t)[:2]
                                for m in members[lo:hi]))
    keys = sorted({key for got in node.node.allgather(wanted) for key in got})
    slices = study.slices
    nbytes = len(slices) * resources.propagator_bank_bytes(study.grid.n, len(keys), 1)
    at = f" at each of {len(slices)} energies" if study.multi_energy else ""

    def fits():
        problem = resources.memory_problem(nbytes, f"the exact method's propagator bank ({len(keys):,} "
                                           f"matrices of {study.grid.n}^2 angles{at}, one copy per node)")
        if problem and node.node_rank == 0:
            raise InputError(f"{study.path}: {problem}; use fewer distinct interval lengths "
                             "(output_every_s, switch_every_s), fewer profiles or method = 'explicit'")

    parallel.all_agree(node.comm, fits)
    lo, hi = (_profile_boundary(keys, b) for b in node.part(len(keys)))
    banks = []
    for sl in slices:
        store = node.allocate((len(keys), study.grid.n, study.grid.n))
        build_propagators(sl.grid, sl.profiles, keys[lo:hi], store[lo:hi])
        banks.append(PropagatorBank.over(sl.grid, sl.profiles, keys, store))
    node.publish()
    return {e: banks for e in {e for e, _ in ours}}


def _profile_boundary(keys: list[tuple[int, float]], i: int) -> int:
    """The first index >= i where a new profile starts in ``keys`` (sorted by profile)."""
    while 0 < i < len(keys) and keys[i][0] == keys[i - 1][0]:
        i += 1
    return i
