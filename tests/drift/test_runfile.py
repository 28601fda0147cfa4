"""The run-file layout round trip: the writer of hpcbelt.drift.runfile on a tiny study, known values
written through RunFile.put, read back by the reader the aggregation uses and by restart_state."""

import h5py
import numpy as np
import pytest

from hpcbelt import output
from hpcbelt.drift import driver, runfile
from hpcbelt.drift.study import load_study
from hpcbelt.errors import InputError
from hpcbelt.parallel import Rounds

from .helpers import make_study


@pytest.fixture
def comm():
    from mpi4py import MPI

    return MPI.COMM_SELF


def _known(shape, offset=0.0):
    return offset + np.arange(np.prod(shape), dtype=float).reshape(shape) / 7.0


@pytest.fixture
def written(tmp_path, comm):
    """A run file made by the writer, with every dataset of the PDE and of permutations 1 and 3 set."""
    study = load_study(make_study(tmp_path))
    exp = driver.experiment(study)
    path = tmp_path / "run.h5"
    rf = output.RunFile.open_run(path, comm, resume=False, kind=runfile.KIND, study=study,
                                 layout_version=runfile.LAYOUT_VERSION, layout=runfile.layout(study, exp),
                                 K_per_s=study.K_per_s)
    g, bg, nt, n_rec = study.grid, exp.bin_grid, study.out_t.size, exp.sched["n_rec"]
    vals = {"pde_F": _known((nt, g.n_L, g.n_mlt)), "probe_F": _known((len(study.probes), nt), 0.5),
            "radial_F": _known((nt, g.n_L), 2.0), "part": {}}
    rf.put(runfile.PDE_F, (slice(None), slice(None), slice(None)), vals["pde_F"])
    rf.put(runfile.PDE_PROBE_F, (slice(None), slice(None)), vals["probe_F"])
    rf.put(runfile.RADIAL_F, (slice(None), slice(None)), vals["radial_F"])
    rf.put(runfile.PDE_BUDGET, (), np.bytes_(b'{"imbalance": 0.0}'))
    rf.put(runfile.PDE_DONE, (), 1)
    for p in (1, 3):
        F = _known((n_rec, bg.n_L, bg.n_mlt), p).astype(np.float32)
        probe, num = _known((len(study.probes), n_rec), 10 * p), _known((n_rec,), 100 * p)
        rf.put(runfile.PART_F, (p, slice(None), slice(None), slice(None)), F)
        rf.put(runfile.PART_PROBE_F, (p, slice(None), slice(None)), probe)
        rf.put(runfile.PART_NUMBER, (p, slice(None)), num)
        rf.put(runfile.PART_CHECKSUM, (p, slice(None)), runfile.perm_digest(F, probe, num, np.full(exp.sched["n_updates"], -1)))
        rf.put(runfile.PART_DONE, p, 1)
        rf.item_finished()
        vals["part"][p] = (F, probe, num)
    rf.finish(Rounds(None, 0, 3), "work items", extra={runfile.BUDGET_ATTR: '{"imbalance": 0.0}'})
    with h5py.File(path, "r+") as fh:   # the PDE's checksum of what is in the file (number, lost_*: the fill)
        fh[runfile.PDE_CHECKSUM][...] = runfile.pde_file_digest(fh)
    return study, exp, path, vals


def test_reader_returns_what_the_writer_wrote(written):
    study, exp, path, vals = written
    run = runfile.inspect(path)
    np.testing.assert_array_equal(run.time_s, study.out_t)
    np.testing.assert_array_equal(run.L_grid, study.grid.L_centres)
    np.testing.assert_array_equal(run.mlt_h, study.grid.mlt_h)
    np.testing.assert_array_equal(run.L_edges, study.grid.L_edges)
    np.testing.assert_array_equal(run.cell_measure, study.grid.ring_measure)
    assert run.probes == [{"name": p.name, **dict(zip(runfile.PROBE_BOX, p.box))} for p in study.probes]
    assert run.pde_done and run.has_radial and run.root["kind"] == runfile.KIND
    assert run.root["status"] == "complete" and run.root["layout_version"] == runfile.LAYOUT_VERSION
    assert run.root["K_per_s"] == study.K_per_s
    pt = run.particles
    assert pt["n_perm"] == study.n_perm and pt["done"].tolist() == [1, 3]
    np.testing.assert_array_equal(pt["time_s"], exp.sched["time_s"])
    np.testing.assert_array_equal(pt["L_grid"], exp.bin_grid.L_centres)
    with output.open_h5(path) as h5:
        np.testing.assert_array_equal(runfile.read_pde_frames(h5, run, 1, 4), vals["pde_F"][1:4])
        series = runfile.read_pde_series(h5, run)
        np.testing.assert_array_equal(series["probe_F"], vals["probe_F"])
        np.testing.assert_array_equal(series["radial_F"], vals["radial_F"])
        F, probe, num = runfile.read_particle_block(h5, run, 1, 3, 2, 5, series=True)
        for row, p in enumerate((1, 3)):
            np.testing.assert_array_equal(F[row], vals["part"][p][0][1:3, 2:5])
            np.testing.assert_array_equal(probe[row], vals["part"][p][1][:, 1:3])
            np.testing.assert_array_equal(num[row], vals["part"][p][2][1:3])
        F, probe, num = runfile.read_particle_block(h5, run, 0, 1, 0, 1, series=False)
        assert F.shape == (2, 1, 1, exp.bin_grid.n_mlt) and probe is None and num is None
        assert runfile.read_budget(h5) == '{"imbalance": 0.0}'
    with h5py.File(path, "r") as fh:                     # units on every dataset
        missing = []
        fh.visititems(lambda n, o: missing.append(n) if isinstance(o, h5py.Dataset) and "units" not in o.attrs
                      else None)
        assert missing == []


def test_restart_state_reads_the_done_flags(written, tmp_path):
    study, _, path, _ = written
    done = runfile.restart_state(study, path)
    assert done["pde"].tolist() == [True]
    assert done["particles"].tolist() == [False, True, False, True, False]
    other = load_study(make_study(tmp_path / "other", **{"seed = 5": "seed = 6"}))
    with pytest.raises(InputError, match="different study"):
        runfile.restart_state(other, path)


def test_reader_refuses_damaged_files(written):
    study, _, path, _ = written
    with h5py.File(path, "r+") as fh:
        fh[runfile.PART_F][3, 0, 0, 0] = np.nan          # marked done, but not all there
    run = runfile.inspect(path)
    with output.open_h5(path) as h5, pytest.raises(InputError, match="permutation 3 is marked finished"):
        runfile.read_particle_block(h5, run, 0, 1, 0, 1, series=False)
    with h5py.File(path, "r+") as fh:
        del fh[runfile.PDE_PROBE_F]
    with pytest.raises(InputError, match="dataset 'pde/probe_F' missing"):
        runfile.inspect(path)
    with h5py.File(path, "r+") as fh:
        fh.attrs["layout_version"] = 7
    with pytest.raises(InputError, match="layout_version = 7"):
        runfile.inspect(path)
