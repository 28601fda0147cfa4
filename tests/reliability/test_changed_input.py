"""Issue 11, class 3: a restart after an input changed is refused, naming the file.

A run file records the sha256 and path of every input (root attributes ``input_sha256_json``
and ``input_paths_json``); ``--restart`` re-hashes them (:func:`hpcbelt.output.restart_file`).
The faults are real rewrites of the files: a database regenerated with other values under the
same name, size and modification time, an initial-condition file edited in place.
"""

import json
import os

import h5py
import numpy as np
import pytest

from hpcbelt import guard, output
from hpcbelt.errors import InputError
from pitch_angle.helpers import make_study as make_pitch_study, write_test_database

from .decay_runs import ours, run, snapshot
from .test_input_as_output import drift_file_study


def _unfinish(path, dataset_done, members):
    """Clear the done flags of ``members``: the file of a run stopped before them."""
    with h5py.File(path, "r+") as fh:
        flags = fh[dataset_done]
        for m in members:
            flags[m] = 0
        fh.attrs["status"] = "interrupted (SIGTERM)"


@pytest.fixture()
def pitch_run(tmp_path):
    study = make_pitch_study(tmp_path / "p", dalpha=9.0, days=0.5, members=3)
    out = tmp_path / "run.h5"
    r = run("run", study, "-o", out, "--quiet", decay=False)
    assert r.returncode == 0, r.stderr
    with h5py.File(out, "r") as fh:
        ref = fh["drand_1h/f"][()]
    _unfinish(out, "drand_1h/member_done", [1, 2])
    return study, (study.parent / "db.h5").resolve(), out, ref


def test_run_file_records_every_input(pitch_run):
    study, db, out, _ = pitch_run
    with h5py.File(out, "r") as fh:
        digests = json.loads(fh.attrs["input_sha256_json"])
        paths = json.loads(fh.attrs["input_paths_json"])
        assert digests["database"] == fh["database"].attrs["sha256"]      # the pitch layout's own record
    assert digests == {"study file": guard.sha256_of(study), "database": guard.sha256_of(db)}
    assert paths == {"study file": str(study.resolve()), "database": str(db)}


def test_unchanged_inputs_restart_and_finish_bitwise(pitch_run):
    study, _, out, ref = pitch_run
    r = run("run", study, "-o", out, "--restart", "--quiet", ranks=3, decay=False)
    assert r.returncode == 0, r.stderr
    with h5py.File(out, "r") as fh:
        assert fh.attrs["status"] == "complete" and fh.attrs["restarts"] == 1
        np.testing.assert_array_equal(fh["drand_1h/f"][()], ref)


def test_database_rewritten_same_size_and_mtime_is_refused(pitch_run):
    study, db, out, _ = pitch_run
    st = db.stat()
    old = guard.sha256_of(db)
    write_test_database(db, seed=1)              # other values, same shapes, same name
    os.utime(db, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert db.stat().st_size == st.st_size and db.stat().st_mtime_ns == st.st_mtime_ns
    new = guard.sha256_of(db)
    assert new != old
    before = snapshot(out)
    r = run("run", study, "-o", out, "--restart", "--quiet", ranks=3, decay=False)
    assert r.returncode == 2, r.stderr
    assert ours(r.stderr) == [
        f"hpcbelt: error: database {db}: its content changed since the run in {out} started (sha256 "
        f"{old[:12]}... then, {new[:12]}... now); restart only continues a run with the same inputs: "
        "restore the file or rerun without --restart"], r.stderr
    assert snapshot(out) == before
    assert not guard.lock_path(out).exists()


def test_run_file_without_input_checksums_is_refused(pitch_run):
    study, _, out, _ = pitch_run
    with h5py.File(out, "r+") as fh:             # a file of the layout before the record existed
        del fh.attrs["input_sha256_json"]
        del fh.attrs["input_paths_json"]
    before = snapshot(out)
    r = run("run", study, "-o", out, "--restart", "--quiet", decay=False)
    assert r.returncode == 2
    assert ours(r.stderr) == [
        f"hpcbelt: error: restart file {out}: records no checksums of its inputs (written before hpcbelt "
        "recorded them), so an unchanged database or initial file cannot be confirmed: rerun without "
        "--restart"]
    assert snapshot(out) == before


def test_drift_initial_file_changed_is_refused(tmp_path):
    study = drift_file_study(tmp_path / "d")
    initial = (study.parent / "initial.h5").resolve()
    out = tmp_path / "run.h5"
    r = run("run", study, "-o", out, "--quiet", decay=False)
    assert r.returncode == 0, r.stderr
    with h5py.File(out, "r+") as fh:
        fh.attrs["status"] = "interrupted (SIGTERM)"
    r = run("run", study, "-o", out, "--restart", "--quiet", decay=False)
    assert r.returncode == 0, r.stderr                 # unchanged: accepted
    with h5py.File(initial, "r+") as fh:               # one value edited in place
        fh["F"][3, 4] = 2.5
    r = run("run", study, "-o", out, "--restart", "--quiet", ranks=3, decay=False)
    assert r.returncode == 2
    (line,) = ours(r.stderr)
    assert line.startswith(f"hpcbelt: error: initial-condition file {initial}: its content changed since "
                           f"the run in {out} started"), line


def test_restart_file_checks_the_files_the_study_reads_now(pitch_run, tmp_path):
    """With the study's inputs given, a copied study whose database copy differs is refused even
    though the recorded database is unchanged."""
    study, db, out, _ = pitch_run
    copy = tmp_path / "copy_db.h5"
    write_test_database(copy, seed=2)
    with h5py.File(out, "r") as fh:
        attrs = dict(fh.attrs)
    guard.check_inputs_unchanged(attrs, out)                       # the recorded paths: unchanged
    guard.check_inputs_unchanged(attrs, out, {"study file": study, "database": db})
    with pytest.raises(InputError, match=f"database {copy}: its content changed"):
        guard.check_inputs_unchanged(attrs, out, {"study file": study, "database": copy})
    with pytest.raises(InputError, match="the run recorded no initial-condition file"):
        guard.check_inputs_unchanged(attrs, out, {"database": db, "initial-condition file": copy})
    doc = json.loads(attrs["study_config_json"])
    with pytest.raises(InputError, match="its content changed"):
        with output.restart_file(out, "pitch_angle", "pitch-angle", int(attrs["layout_version"]), doc,
                                 inputs={"database": copy}):
            pass
