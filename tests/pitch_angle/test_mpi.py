"""In-process MPI tests (pytest-mpi): run under ``mpirun -n 2`` and ``-n 3`` with --with-mpi.

The driver is called on COMM_WORLD, writes one file in parallel, and every rank checks every
member against the serial solver computed locally, so a member written by the wrong rank, into
the wrong slot or with a rank-dependent stream fails here.
"""


import h5py
import numpy as np
import pytest

from hpcbelt.errors import InputError
from hpcbelt.parallel import Hub, Progress, deal, root_decides
from hpcbelt.pitch_angle import driver
from hpcbelt.pitch_angle.solver import run_member
from hpcbelt.pitch_angle.study import load_study

from .helpers import make_study

pytestmark = pytest.mark.mpi(min_size=2)


@pytest.mark.parametrize("method", ["exact", "explicit"])
def test_parallel_file_matches_serial_solver(comm, shared_dir, method):
    d = shared_dir
    if comm.Get_rank() == 0:
        make_study(d, method=method, dalpha=6.0, days=0.5, members=comm.Get_size() + 2, dt=2.0)
    comm.Barrier()
    study = root_decides(comm, lambda: load_study(d / "study.toml"))
    out = d / "run.h5"
    driver.run(study, comm, out, quiet=True)
    with h5py.File(out, "r") as fh:
        assert fh.attrs["mpi_size"] == comm.Get_size()
        assert fh.attrs["parallel_io"] == "mpio"
        for e, ex in enumerate(study.experiments):
            assert fh[ex.name]["member_done"][()].all()
            for m in range(ex.members):
                rows, stored = study.segment_profiles(e, m)
                f, dint = run_member(study.grid, study.f0, study.profiles, rows, study.out_t, ex.seg_t,
                                     method, study.dt_s)
                np.testing.assert_array_equal(fh[ex.name]["f"][m], f)
                np.testing.assert_array_equal(fh[ex.name]["daa_integral"][m], dint)
                np.testing.assert_array_equal(fh[ex.name]["profile_index"][m], stored)


def test_input_error_reaches_every_rank(comm):
    def bad():
        raise InputError("study.toml: physics.L: expected L > 1")

    with pytest.raises(InputError, match="physics.L"):
        root_decides(comm, bad)
    # and the communicator is still usable afterwards (no rank left inside a collective)
    assert comm.allreduce(1) == comm.Get_size()


def test_round_robin_partition_covers_every_item_once(comm):
    items = list(range(17))
    mine = deal(items, comm.Get_size())[comm.Get_rank()]
    everything = sorted(x for part in comm.allgather(mine) for x in part)
    assert everything == items


def test_hub_counts_every_workers_progress_and_funnels_writes(comm):
    written = []
    progress = Progress(total=3 * comm.Get_size(), label="t", enabled=False)
    hub = Hub(comm, progress, on_write=lambda path, sel, arr: written.append((path, sel, arr.sum())))
    for i in range(3):
        hub.advance(1)
        hub.write("x", (comm.Get_rank(), i), np.full(4, float(comm.Get_rank())))
    hub.finish()
    if comm.Get_rank() == 0:
        assert progress.done == 3 * comm.Get_size()
        assert sorted(w[1] for w in written) == [(r, i) for r in range(comm.Get_size()) for i in range(3)]


def test_shared_bank_is_one_copy_per_node_built_in_slices(comm, shared_dir):
    """The node's ranks see one window (a write by one rank is read by all), rank 0 of the node
    holds all its bytes, the slices cover every key once, and every matrix is bitwise the one a
    private bank builds for the same key."""
    from hpcbelt.parallel import NodeShared
    from hpcbelt.pitch_angle.solver import PropagatorBank

    d = shared_dir
    if comm.Get_rank() == 0:
        make_study(d, method="exact", dalpha=6.0, days=0.5, members=comm.Get_size() + 2)
    comm.Barrier()
    study = root_decides(comm, lambda: load_study(d / "study.toml"))
    node = NodeShared(comm)
    assert node.available and node.node_size == comm.Get_size()      # one machine = one node
    probe = node.allocate((4,))
    if node.node_rank == node.node_size - 1:
        probe[:] = 7.0
    node.publish()
    assert (probe == 7.0).all()
    queues = deal(study.work_items(), comm.Get_size())
    per_energy = driver._node_banks(study, node, queues)            # {experiment: [bank of each energy]}
    assert all(len(b) == 1 for b in per_energy.values())            # one energy: one bank
    banks = {e: b[0] for e, b in per_energy.items()}
    sizes = [w.Shared_query(0)[0].nbytes for w in node._windows]
    mine = [len(w.Shared_query(node.node_rank)[0]) for w in node._windows]
    bank = next(iter(banks.values()))
    assert all(b is bank for b in banks.values())                   # one bank for all experiments
    assert sizes[1:] == [bank.count * study.grid.n ** 2 * 8]
    assert all(m == 0 for m in mine) or node.node_rank == 0          # only node rank 0 allocates
    keys = sorted(bank.index, key=bank.index.get)
    assert keys == sorted(keys) and len({t for _, t in keys}) > 1    # by profile; several lengths
    slices = comm.allgather(tuple(driver._profile_boundary(keys, b) for b in node.part(bank.count)))
    assert slices[0][0] == 0 and slices[-1][1] == bank.count
    assert all(a[1] == b[0] for a, b in zip(slices, slices[1:]))
    # a profile is decomposed by one rank only: no slice boundary falls inside a profile's keys
    assert all(lo in (0, len(keys)) or keys[lo][0] != keys[lo - 1][0] for lo, _ in slices)
    private = PropagatorBank(study.grid, study.profiles)
    rows = private.rows(np.array([k for k, _ in keys]), np.array([t for _, t in keys]))
    np.testing.assert_array_equal(bank.matrices, private.matrices[rows])
    node.free()


def test_private_banks_give_the_same_file_with_one_warning(comm, shared_dir, monkeypatch, capsys):
    d = shared_dir
    if comm.Get_rank() == 0:
        make_study(d, method="exact", dalpha=6.0, days=0.5, members=comm.Get_size() + 1)
    comm.Barrier()
    study = root_decides(comm, lambda: load_study(d / "study.toml"))
    driver.run(study, comm, d / "shared.h5", quiet=True)
    capsys.readouterr()
    monkeypatch.setenv("HPCBELT_SHARED_BANK", "0")
    driver.run(study, comm, d / "private.h5", quiet=True)
    err = capsys.readouterr().err
    warnings = [ln for ln in err.splitlines() if "propagator banks are not shared" in ln]
    assert len(warnings) == (1 if comm.Get_rank() == 0 else 0), err
    assert "HPCBELT_SHARED_BANK=0" in "".join(warnings) or comm.Get_rank() != 0
    with h5py.File(d / "shared.h5", "r") as a, h5py.File(d / "private.h5", "r") as b:
        for ex in study.experiments:
            for name in ("f", "daa_integral", "profile_index", "member_checksum"):
                np.testing.assert_array_equal(a[ex.name][name][()], b[ex.name][name][()])


def test_collective_and_independent_writes_give_the_same_file(comm, shared_dir, monkeypatch):
    """Fewer members than ranks in the last round (ranks join it with empty selections), then
    the same study with HPCBELT_WRITES=independent: every dataset bitwise equal."""
    from hpcbelt.output import RunFile

    d = shared_dir
    if comm.Get_rank() == 0:
        make_study(d, method="exact", dalpha=6.0, days=0.5, members=comm.Get_size() + 1)
    comm.Barrier()
    study = root_decides(comm, lambda: load_study(d / "study.toml"))
    seen = []
    real_write = RunFile._write_collective

    def spy(self, name, dset, entry):
        seen.append(entry is None)
        real_write(self, name, dset, entry)

    monkeypatch.setattr(RunFile, "_write_collective", spy)
    driver.run(study, comm, d / "collective.h5", quiet=True)
    monkeypatch.setattr(RunFile, "_write_collective", real_write)
    assert seen and not all(seen)
    assert comm.allreduce(any(seen)) if comm.Get_size() > 1 else True    # someone joined empty
    monkeypatch.setenv("HPCBELT_WRITES", "independent")
    driver.run(study, comm, d / "independent.h5", quiet=True)
    with h5py.File(d / "collective.h5", "r") as a, h5py.File(d / "independent.h5", "r") as b:
        names = []
        a.visititems(lambda n, o: names.append(n) if isinstance(o, h5py.Dataset) else None)
        for n in names:
            np.testing.assert_array_equal(a[n][()], b[n][()])
        assert len(names) > 10


def test_a_bank_larger_than_the_node_memory_is_refused_before_the_file(comm, shared_dir, monkeypatch):
    """The node's whole bank (all experiments) is checked against the node's available memory
    before the run file exists: the same InputError on every rank, nothing written."""
    from hpcbelt import resources

    d = shared_dir
    if comm.Get_rank() == 0:
        make_study(d, method="exact", dalpha=6.0, days=0.5, members=comm.Get_size() + 1)
    comm.Barrier()
    study = root_decides(comm, lambda: load_study(d / "study.toml"))
    monkeypatch.setattr(resources, "available_memory", lambda: 1 << 10)     # 1 KiB left on the node
    with pytest.raises(InputError) as err:
        driver.run(study, comm, d / "run.h5", quiet=True)
    messages = comm.allgather(str(err.value))
    assert len(set(messages)) == 1 and "propagator bank" in messages[0]
    assert "one copy per node" in messages[0] and "method = 'explicit'" in messages[0]
    assert not (d / "run.h5").exists()
