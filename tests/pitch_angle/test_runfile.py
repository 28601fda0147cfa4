"""The run-file layout round trip: written by the writer through RunFile.put, read back by the
reader the aggregation uses, and the restart check on the same file (hpcbelt/pitch_angle/runfile.py)."""

import h5py
import numpy as np
import pytest

from hpcbelt import output
from hpcbelt.config import StudyFile
from hpcbelt.errors import InputError
from hpcbelt.parallel import Rounds
from hpcbelt.pitch_angle import runfile
from hpcbelt.pitch_angle.runfile import DAA_INTEGRAL, F, MEMBER_DONE, PROFILE_INDEX, dataset_path
from hpcbelt.pitch_angle.study import load_study

from .helpers import make_study

pytestmark = pytest.mark.unit

FINISHED = {"drand_1h": [0, 2], "drand_6h": [1], "mean_of_profiles": [0], "mean_inputs": [],
            "profile_3": [0]}


@pytest.fixture
def comm():
    from mpi4py import MPI

    return MPI.COMM_SELF


def known(e, m, shape):
    """Distinct, exactly representable values for member m of experiment e."""
    return 1000.0 * e + 10.0 * m + np.arange(np.prod(shape), dtype=float).reshape(shape) / 8.0


@pytest.fixture
def written(tmp_path, comm):
    """A tiny study's run file with only the FINISHED members written (through the production writer)."""
    study = load_study(make_study(tmp_path, dalpha=9.0, days=0.5, members=3))
    path = tmp_path / "run.h5"
    rf = output.RunFile.open_run(path, comm, resume=False, kind=runfile.KIND, study=study,
                                 layout_version=runfile.LAYOUT_VERSION, layout=runfile.layout(study),
                                 method=study.method, f_units=runfile.F_UNITS)
    shape = (study.out_t.size, study.grid.n)
    values = {}
    for e, ex in enumerate(study.experiments):
        for m in FINISHED[ex.name]:
            f, d = known(e, m, shape), -known(e, m, shape)
            idx = np.arange(ex.n_segments, dtype=np.int32) + m
            rf.put(dataset_path(ex.name, F), (m, slice(None), slice(None)), f)
            rf.put(dataset_path(ex.name, DAA_INTEGRAL), (m, slice(None), slice(None)), d)
            rf.put(dataset_path(ex.name, PROFILE_INDEX), (m, slice(None)), idx)
            rf.put(dataset_path(ex.name, runfile.MEMBER_CHECKSUM), (m, slice(None)), runfile.member_digest(f, d, idx))
            rf.put(dataset_path(ex.name, MEMBER_DONE), m, 1)
            rf.item_finished()
            values[(ex.name, m)] = (f, d, idx)
    n = sum(len(v) for v in FINISHED.values())
    rf.finish(Rounds(stopped=None, remaining=0, total=n), "members")
    return study, path, values


def test_layout_names_shapes_and_fill_values(written):
    study, path, values = written
    with h5py.File(path, "r") as h5:
        assert h5.attrs["kind"] == runfile.KIND and h5.attrs["layout_version"] == runfile.LAYOUT_VERSION
        assert h5.attrs["status"] == "complete" and h5.attrs["f_units"] == runfile.F_UNITS
        for name in (runfile.TIME, runfile.ALPHA, f"{runfile.GRID}/{runfile.CELL_WEIGHT}",
                     f"{runfile.GRID}/{runfile.LOSS_RATE}", f"{runfile.DATABASE}/{runfile.DAA_MEAN}",
                     f"{runfile.DATABASE}/{runfile.DAA_OF_MEAN_INPUTS}"):
            assert isinstance(h5[name], h5py.Dataset), name
        for ex in study.experiments:
            g = h5[ex.name]
            assert g[runfile.MEMBER][()].tolist() == list(range(ex.members))
            np.testing.assert_array_equal(g[runfile.SEGMENT_START][()], ex.seg_t)
            assert g[F].shape == g[DAA_INTEGRAL].shape == (ex.members, study.out_t.size, study.grid.n)
            assert g[PROFILE_INDEX].shape == (ex.members, ex.n_segments)
            assert g[F].attrs["units"] == runfile.F_UNITS
            for m in range(ex.members):
                if m in FINISHED[ex.name]:
                    f, d, idx = values[(ex.name, m)]
                    np.testing.assert_array_equal(g[F][m], f)
                    np.testing.assert_array_equal(g[DAA_INTEGRAL][m], d)
                    np.testing.assert_array_equal(g[PROFILE_INDEX][m], idx)
                    assert g[MEMBER_DONE][m] == 1
                else:
                    assert np.isnan(g[F][m]).all() and np.isnan(g[DAA_INTEGRAL][m]).all()
                    assert (g[PROFILE_INDEX][m] == runfile.NOT_WRITTEN).all()
                    assert g[MEMBER_DONE][m] == 0


def test_reader_lists_finished_members_and_reads_their_values(written):
    study, path, values = written
    run = runfile.inspect(path)
    assert [ex.name for ex in run.experiments] == [ex.name for ex in study.experiments]
    np.testing.assert_array_equal(run.time_s, study.out_t)
    np.testing.assert_array_equal(run.alpha_deg, study.grid.alpha_deg)
    assert run.f_units == runfile.F_UNITS and run.loss_cone_deg == study.grid.loss_cone_deg
    assert run.root["kind"] == runfile.KIND and run.root["seed"] == study.seed
    assert run.database["n_profiles"] == study.database.n_profiles
    np.testing.assert_array_equal(run.database["daa_mean"], study.profiles[study.database.n_profiles])
    with output.open_h5(path) as h5:
        for e, (info, ex) in enumerate(zip(run.experiments, study.experiments)):
            assert info.members == ex.members and info.mode == ex.mode
            assert info.done.tolist() == FINISHED[ex.name]
            if not info.n_done:
                continue
            T, A = run.n_time, run.n_alpha
            for dset, sign in ((F, 1.0), (DAA_INTEGRAL, -1.0)):
                out = runfile.read_slab(h5, dataset_path(ex.name, dset), info, 1, T, 2, A - 1,
                                        np.empty((info.n_done, T - 1, A - 3)))
                want = np.stack([sign * known(e, m, (T, A))[1:T, 2:A - 1] for m in FINISHED[ex.name]])
                np.testing.assert_array_equal(out, want)
            col = runfile.read_member_column(h5, dataset_path(ex.name, F), info, 0, info.n_done, 3,
                                             np.empty((info.n_done, T)))
            np.testing.assert_array_equal(col, np.stack([known(e, m, (T, A))[:, 3] for m in FINISHED[ex.name]]))


def test_restart_state_of_the_same_file(written, tmp_path):
    study, path, _ = written
    state = runfile.restart_state(study, path)
    assert sorted(state) == sorted(FINISHED)
    for ex in study.experiments:
        assert state[ex.name].dtype == bool
        assert np.flatnonzero(state[ex.name]).tolist() == FINISHED[ex.name]
    other = load_study(make_study(tmp_path / "other", dalpha=9.0, days=0.5, members=3,
                                  **{"seed = 11": "seed = 12"}))
    with pytest.raises(InputError, match="different study"):
        runfile.restart_state(other, path)


def test_reader_refuses_a_finished_member_holding_nan(written):
    study, path, _ = written
    with h5py.File(path, "r+") as h5:
        h5[dataset_path("drand_1h", MEMBER_DONE)][1] = 1         # marked done, never written
    run = runfile.inspect(path)
    info = run.experiment("drand_1h")
    with output.open_h5(path) as h5, pytest.raises(InputError, match="member 1 is marked finished"):
        runfile.read_slab(h5, dataset_path("drand_1h", F), info, 0, run.n_time, 0, run.n_alpha,
                          np.empty((info.n_done, run.n_time, run.n_alpha)))


def test_loader_takes_a_study_file_or_a_path(tmp_path):
    path = make_study(tmp_path, dalpha=9.0, days=0.5, members=2)
    a = load_study(path, ["time.output_every_s=7200"], experiments=["drand_6h", "profile_3"])
    b = load_study(StudyFile.read(path), ["time.output_every_s=7200"], experiments=["drand_6h", "profile_3"])
    assert [ex.name for ex in a.experiments] == [ex.name for ex in b.experiments] == ["drand_6h", "profile_3"]
    assert a.doc == b.doc and a.text == b.text == path.read_text() and a.path == b.path == str(path)
    np.testing.assert_array_equal(a.out_t, np.arange(0, 43201, 7200.0))
    with pytest.raises(InputError, match="--experiments: nope not in"):
        load_study(StudyFile.read(path), experiments=["nope"])
