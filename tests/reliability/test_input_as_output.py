"""Issue 11, class 2: an input named as the output is refused, and the input is left untouched.

``hpcbelt run -o`` naming the study file, the database or the initial-condition file -- by its
own name, through ``--overwrite``/``--restart``, a symbolic link, a hard link or a ``..`` path --
and ``hpcbelt aggregate`` writing its summary, report or figures over the run file or an input
the run recorded: one line, exit 2, the file byte-identical and unmodified afterwards.
"""

import os
from pathlib import Path

import h5py
import numpy as np
import pytest

from drift.helpers import make_study as make_drift_study
from pitch_angle.helpers import make_study as make_pitch_study

from .decay_runs import decay_study, ours, run, snapshot


def _refused(r, out, what, target):
    assert r.returncode == 2, r.stderr
    assert ours(r.stderr) == [f"hpcbelt: error: output {out}: is the {what} ({target}); an input is "
                              "never overwritten: choose another output name"], r.stderr


@pytest.fixture()
def pitch(tmp_path):
    s = make_pitch_study(tmp_path / "p", dalpha=9.0, days=0.5, members=2)
    return s, (s.parent / "db.h5").resolve()


@pytest.mark.parametrize("flags", [(), ("--overwrite",), ("--restart",)])
def test_run_output_is_the_database_or_the_study_file(pitch, tmp_path, flags):
    study, db = pitch
    for what, target in (("database", db), ("study file", study)):
        before = snapshot(target)
        for how, out in _aliases_in(tmp_path, what, target).items():
            r = run("run", study, "-o", out, *flags, "--quiet", decay=False)
            _refused(r, out, what, target)
            assert snapshot(target) == before, (what, how)
        assert not any(p.name.endswith(".lock") for p in target.parent.iterdir())


def _aliases_in(tmp_path, what, target):
    """Other names of ``target``: a symbolic link, a hard link, a path through '..'."""
    d = tmp_path / what.replace(" ", "_")
    d.mkdir(exist_ok=True)
    links = d / "links"
    links.mkdir(exist_ok=True)
    sym, hard = links / f"sym_{target.name}", links / f"hard_{target.name}"
    if not sym.exists():
        sym.symlink_to(target)
        os.link(target, hard)
    (target.parent / "sub").mkdir(exist_ok=True)
    return {"itself": target, "symlink": sym, "hard link": hard,
            "dot-dot": target.parent / "sub" / ".." / target.name}


def test_run_output_is_the_study_file_under_mpirun(tmp_path):
    s = decay_study(tmp_path)
    before = snapshot(s)
    out = tmp_path / "x" / ".." / s.name
    (tmp_path / "x").mkdir()
    r = run("run", s, "-o", out, "--overwrite", "--quiet", ranks=3)
    _refused(r, out, "study file", s)
    assert snapshot(s) == before


def _write_initial(path):
    L = np.linspace(2.05, 5.95, 40)
    mlt = (np.arange(48) + 0.5) * 0.5
    with h5py.File(path, "w") as fh:
        fh["F"] = np.exp(-0.5 * ((L[:, None] - 4.0) / 0.5) ** 2) * np.ones((1, 48))
        fh["L_grid"] = L
        fh["mlt_h"] = mlt
    return path


def drift_file_study(directory):
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    _write_initial(directory / "initial.h5")
    return make_drift_study(directory, **{'kind = "injection"': 'kind = "file"\npath = "initial.h5"',
                                          "[particles]\nenabled = true": "[particles]\nenabled = false"})


@pytest.mark.parametrize("flags", [("--overwrite",), ("--restart",)])
def test_run_output_is_the_initial_condition_file(tmp_path, flags):
    study = drift_file_study(tmp_path / "d")
    initial = (study.parent / "initial.h5").resolve()
    before = snapshot(initial)
    for how, out in _aliases_in(tmp_path, "initial", initial).items():
        r = run("run", study, "-o", out, *flags, "--quiet", decay=False)
        _refused(r, out, "initial-condition file", initial)
        assert snapshot(initial) == before, how


def test_study_input_files_name_every_input(pitch, tmp_path):
    from hpcbelt.drift.study import load_study as load_drift
    from hpcbelt.pitch_angle.study import load_study as load_pitch

    study, db = pitch
    assert load_pitch(study).input_files() == {"study file": study, "database": db}
    d = drift_file_study(tmp_path / "d")
    assert load_drift(d).input_files() == {"study file": d,
                                           "initial-condition file": (d.parent / "initial.h5").resolve()}
    inj = make_drift_study(tmp_path / "inj")
    assert load_drift(inj).input_files() == {"study file": inj}


@pytest.fixture(scope="module")
def pitch_run(tmp_path_factory):
    d = tmp_path_factory.mktemp("agg_inputs")
    study = make_pitch_study(d / "p", dalpha=9.0, days=0.5, members=2)
    out = d / "run.h5"
    r = run("run", study, "-o", out, "--quiet", decay=False)
    assert r.returncode == 0, r.stderr
    return study, (study.parent / "db.h5").resolve(), out


@pytest.mark.parametrize("flag", ["-o", "--report"])
def test_aggregate_never_writes_over_the_recorded_inputs(pitch_run, tmp_path, flag):
    study, db, out = pitch_run
    name = "output" if flag == "-o" else "--report"
    for what, target in (("database", db), ("study file", study.resolve())):
        before = snapshot(target)
        for how, path in _aliases_in(tmp_path, what, target).items():
            args = ["aggregate", out, flag, path, "--overwrite", "--quiet"]
            if flag == "--report":
                args += ["-o", tmp_path / "s.h5"]
            r = run(*args, decay=False)
            assert r.returncode == 2, r.stderr
            assert ours(r.stderr) == [f"hpcbelt: error: {name} {path}: is the {what} ({target}); an input "
                                      "is never overwritten: choose another output name"], (how, r.stderr)
            assert snapshot(target) == before, how
    assert not (tmp_path / "s.h5").exists()


def test_aggregate_summary_report_or_figures_over_the_run_file(pitch_run, tmp_path):
    _, _, out = pitch_run
    before = snapshot(out)
    hard = tmp_path / "hard_run.h5"
    os.link(out, hard)
    r = run("aggregate", out, "-o", hard, "--overwrite", "--quiet", decay=False)
    assert r.returncode == 2 and ours(r.stderr) == [
        f"hpcbelt: error: output {hard}: is the run file itself; choose another name"]
    r = run("aggregate", out, "-o", tmp_path / "s.h5", "--report", hard, "--quiet", decay=False)
    assert r.returncode == 2 and "--report" in r.stderr and "must differ from the run file" in r.stderr
    r = run("aggregate", out, "-o", tmp_path / "s.h5", "--figures", hard, "--quiet", decay=False)
    assert r.returncode == 2 and ours(r.stderr) == [
        f"hpcbelt: error: --figures {hard}: is the run file ({out}); an input is never overwritten: "
        "choose another output name"]
    assert snapshot(out) == before
    assert not (tmp_path / "s.h5").exists()
