"""In-process MPI tests (pytest-mpi, run under mpirun -n 2 and -n 3 with --with-mpi)."""

import h5py
import numpy as np
import pytest

from hpcbelt.aggregate.driver import aggregate_file
from hpcbelt.aggregate.watt2021.options import Options
from hpcbelt.errors import InputError

from .agg_helpers import write_db, write_run

pytestmark = pytest.mark.mpi(min_size=2)


def _numeric(path):
    out = {}
    with h5py.File(path) as h5:
        h5.visititems(lambda n, o: out.__setitem__(n, o[()]) if isinstance(o, h5py.Dataset)
                      and o.dtype.kind in "fiu" else None)
    return out


@pytest.mark.parametrize("budget", [1 << 20, 3000])
def test_parallel_summary_equals_serial(comm, shared_dir, budget):
    """Blocks dealt over ranks give bit-identical numbers to one rank (budget 3000 B: alpha split)."""
    from mpi4py import MPI

    d = shared_dir
    if comm.Get_rank() == 0:
        done = {"drand_2min": np.array([1, 0, 1, 1, 1, 1, 1, 0, 1], np.uint8)}
        write_run(d / "run.h5", done=done, db_path=write_db(d / "db.h5"))
    comm.Barrier()
    opts = Options(memory_bytes=budget, n_boot=30, n_sub=10)
    aggregate_file(d / "run.h5", output=d / "par.h5", figures_dir=d / "figs", opts=opts, comm=comm, quiet=True)
    if comm.Get_rank() == 0:
        aggregate_file(d / "run.h5", output=d / "ser.h5", opts=opts, comm=MPI.COMM_SELF, quiet=True)
        a, b = _numeric(d / "par.h5"), _numeric(d / "ser.h5")
        assert sorted(a) == sorted(b)
        for k in a:
            assert np.array_equal(a[k], b[k], equal_nan=True), k
        with h5py.File(d / "par.h5") as h5:
            assert h5.attrs["mpi_size"] == comm.Get_size()
            assert h5["drand_2min"].attrs["members_used"] == 7
        assert (d / "figs" / "fig4_median_daa_pdfs.png").exists()
    comm.Barrier()


def test_error_on_one_rank_reaches_every_rank(comm, shared_dir):
    """A corrupted member read by whichever rank owns its block stops all ranks with one message."""
    d = shared_dir
    if comm.Get_rank() == 0:
        write_run(d / "run.h5", n_time=25)
        with h5py.File(d / "run.h5", "r+") as h5:
            h5["drand_6h/daa_integral"][4, 20, 7] = np.inf
    comm.Barrier()
    with pytest.raises(InputError, match="member 4 is marked finished"):
        aggregate_file(d / "run.h5", output=d / "s.h5", opts=Options(memory_bytes=4096, n_boot=5, n_sub=2),
                       comm=comm, quiet=True)
    comm.Barrier()
    assert not (d / "s.h5").exists()
    assert not [p for p in d.iterdir() if ".tmp-" in p.name]


def test_drift_parallel_summary_equals_serial(comm, shared_dir):
    from mpi4py import MPI

    from hpcbelt.aggregate.lejosne2023.options import DriftOptions

    from .agg_helpers import write_drift_run

    d = shared_dir
    if comm.Get_rank() == 0:
        write_drift_run(d / "drift.h5", n_perm=9, perm_done=[1, 1, 1, 0, 1, 1, 1, 1, 1])
    comm.Barrier()
    dopts = DriftOptions(hours=(3.0,), memory_bytes=2048)
    aggregate_file(d / "drift.h5", output=d / "par.h5", drift_opts=dopts, comm=comm, quiet=True)
    if comm.Get_rank() == 0:
        aggregate_file(d / "drift.h5", output=d / "ser.h5", drift_opts=dopts, comm=MPI.COMM_SELF, quiet=True)
        a, b = _numeric(d / "par.h5"), _numeric(d / "ser.h5")
        assert sorted(a) == sorted(b)
        for k in a:
            assert np.array_equal(a[k], b[k], equal_nan=True), k
    comm.Barrier()


@pytest.mark.parametrize("budget", [1 << 20, 3000])
def test_skipped_damaged_members_equal_unfinished_ones(comm, shared_dir, budget, capsys):
    """--skip-damaged over the ranks: each damaged member is found once, warned about once (rank 0)
    and left out of every pass (statistics, automatic PDF bins and pass 2, bootstrap, ensemble
    sizes); the summary equals bitwise (tolerance 0) the serial summary of the same file with
    those members unfinished (budget 3000 B: the pitch-angle axis is split too)."""
    import shutil

    from mpi4py import MPI

    d = shared_dir
    bad = {"drand_2min": 3, "drand_6h": 6}
    if comm.Get_rank() == 0:
        write_run(d / "run.h5", db_path=write_db(d / "db.h5"))
        shutil.copy(d / "run.h5", d / "unfinished.h5")
        with h5py.File(d / "run.h5", "r+") as h5:
            h5["drand_2min/f"][3, 5, 7] = -1e300
            h5["drand_6h/daa_integral"][6, 20, 1] = np.nan
        with h5py.File(d / "unfinished.h5", "r+") as h5:
            for name, m in bad.items():
                h5[f"{name}/member_done"][m] = 0
    comm.Barrier()
    opts = Options(memory_bytes=budget, n_boot=30, n_sub=10)
    with pytest.raises(InputError, match="drand_2min member 3 is marked finished"):
        aggregate_file(d / "run.h5", output=d / "refused.h5", opts=opts, comm=comm, quiet=True)
    capsys.readouterr()
    aggregate_file(d / "run.h5", output=d / "skip.h5", opts=opts, comm=comm, quiet=True, skip_damaged=True)
    warned = [x for x in capsys.readouterr().err.splitlines() if x.startswith("hpcbelt: warning:")]
    assert len(warned) == (2 if comm.Get_rank() == 0 else 0), warned
    if comm.Get_rank() == 0:
        assert "drand_2min member 3: drand_2min/f holds a negative value (-1e+300)" in warned[0]
        assert "drand_6h member 6: drand_6h/daa_integral holds a non-finite value (nan)" in warned[1]
        aggregate_file(d / "unfinished.h5", output=d / "ref.h5", opts=opts, comm=MPI.COMM_SELF, quiet=True)
        a, b = _numeric(d / "skip.h5"), _numeric(d / "ref.h5")
        assert sorted(a) == sorted(b)
        for k in a:
            if k.endswith("/members_damaged"):
                name = k.split("/")[0]
                assert a[k].tolist() == ([bad[name]] if name in bad else []) and b[k].size == 0, k
            else:
                assert np.array_equal(a[k], b[k], equal_nan=True), k
        with h5py.File(d / "skip.h5") as h5:
            assert h5["drand_2min"].attrs["members_used"] == 8 and h5["drand_2min"].attrs["members_damaged"] == 1
            assert h5.attrs["items_skipped_damaged"] == 2
    comm.Barrier()
    assert not (d / "refused.h5").exists()
