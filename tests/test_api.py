"""The in-process API (hpcbelt/api.py): the same studies, errors and files as the command line.

Tiny studies of both kinds (pitch_angle, drift_diffusion).  Files are compared dataset by
dataset, bitwise (values, dtype, shape), with the file the real ``hpcbelt`` command writes in
its own process as the reference: the API is correct when it writes the command's bytes.  The
tests marked ``mpi`` run under ``mpirun -n 2`` (or 3) with ``--with-mpi``; elsewhere pytest-mpi
skips them.
"""

import importlib.util
import json
import os
import signal
import subprocess
import sys
import tomllib
from pathlib import Path

import h5py
import numpy as np
import pytest

import hpcbelt
from hpcbelt import api, guard
from hpcbelt.errors import InputError, RunInterrupted

ROOT = Path(__file__).resolve().parents[1]


def _load(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


pa = _load("hpcbelt_tests_api_pa", ROOT / "tests" / "pitch_angle" / "helpers.py")
dr = _load("hpcbelt_tests_api_drift", ROOT / "tests" / "drift" / "helpers.py")

TINY_DRIFT = {"dL = 0.1": "dL = 0.5", "n_mlt = 48": "n_mlt = 8", "permutations = 5": "permutations = 3",
              "per_permutation = 300": "per_permutation = 40"}
TINY_DXX = {"grid": {"alpha_step_deg": 10.0, "n_lat": 24}, "table": {"method": "direct"},
            "synthetic": {"n_profiles": 3}}


def make_pa(d):
    return pa.make_study(Path(d) / "pa", dalpha=6.0, days=0.5, members=2, method="exact")


def make_drift(d):
    return dr.make_study(Path(d) / "drift", **TINY_DRIFT)


def cli(*args, cwd=None):
    """The real command line in a fresh serial process (any MPI launcher's variables removed,
    so that it is a singleton even when called from a rank of an mpirun job)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OMPI_", "PMIX_", "PMI_", "HYDRA_"))}
    env.update(OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    r = subprocess.run([sys.executable, "-m", "hpcbelt", *map(str, args)], capture_output=True, text=True,
                       timeout=300, env=env, cwd=cwd)
    return r


def datasets(path) -> dict:
    out = {}
    with h5py.File(path, "r") as h5:
        h5.visititems(lambda n, o: out.__setitem__(n, o[()]) if isinstance(o, h5py.Dataset) else None)
    return out


def assert_same_datasets(a, b):
    """Every dataset of ``a`` and ``b``: same names, dtype, shape and bytes."""
    da, db = datasets(a), datasets(b)
    assert sorted(da) == sorted(db)
    assert da, f"{a}: no datasets"
    for name in da:
        x, y = np.asarray(da[name]), np.asarray(db[name])
        assert (x.dtype, x.shape) == (y.dtype, y.shape), name
        if x.dtype == object:                       # variable-length strings
            assert x.tolist() == y.tolist(), name
        else:
            assert x.tobytes() == y.tobytes(), name


def root_attr(path, name):
    with h5py.File(path, "r") as h5:
        v = h5.attrs[name]
    return v.decode() if isinstance(v, bytes) else v


@pytest.fixture(scope="module")
def refs(tmp_path_factory):
    """Tiny studies of both kinds and their run files written by ``hpcbelt run`` (two processes)."""
    d = tmp_path_factory.mktemp("api")
    studies = {"pa": make_pa(d), "drift": make_drift(d)}
    runs = {}
    for name, study in studies.items():
        runs[name] = d / f"{name}_cli.h5"
        r = cli("run", study, "-o", runs[name], "--quiet")
        assert r.returncode == 0, r.stderr
    return d, studies, runs


# ------------------------------------------------------------------------------------------
# the package surface
# ------------------------------------------------------------------------------------------

def test_import_is_cheap_and_the_api_applies_the_runtime_settings():
    code = ("import os, sys, hpcbelt\n"
            "heavy = sorted(m for m in ('numpy', 'mpi4py', 'h5py', 'xarray', 'numba') if m in sys.modules)\n"
            "before = [os.environ.get(v) for v in ('OMP_NUM_THREADS', 'OMPI_MCA_io')]\n"
            "hpcbelt.load_study\n"
            "after = [os.environ.get(v) for v in ('OMP_NUM_THREADS', 'OPENBLAS_NUM_THREADS', 'OMPI_MCA_io')]\n"
            "print(heavy, before, after, 'numpy' in sys.modules)\n")
    env = {k: v for k, v in os.environ.items()
           if k not in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "OMPI_MCA_io")}
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
    assert r.returncode == 0, r.stderr
    # import hpcbelt: nothing heavy, no settings; hpcbelt.load_study (hpcbelt.api): the settings
    # of the command line, still before numpy is imported
    assert r.stdout.split() == ["[]", "[None,", "None]", "['1',", "'1',", "'romio321']", "False"], r.stdout


def test_public_names_are_exported_lazily_and_listed():
    for name in ("load_study", "run", "restart", "aggregate", "build_database", "open_run", "open_summary"):
        assert name in hpcbelt.__all__ and name in dir(hpcbelt)
        assert callable(getattr(hpcbelt, name)), name
    assert hpcbelt.load_study is api.load_study and hpcbelt.run is api.run
    # hpcbelt.aggregate is the subpackage (its modules import as before) and calls api.aggregate
    import importlib

    driver = importlib.import_module("hpcbelt.aggregate.driver")
    assert hpcbelt.aggregate.driver is driver and callable(hpcbelt.aggregate)
    with pytest.raises(TypeError, match="unexpected keyword argument 'no_such_option'"):
        hpcbelt.aggregate("x.h5", no_such_option=1)
    with pytest.raises(AttributeError):
        hpcbelt.no_such_name


# ------------------------------------------------------------------------------------------
# load: file and dict
# ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["pa", "drift"])
def test_a_dict_loads_the_same_study_as_its_file(refs, kind):
    d, studies, _ = refs
    path = studies[kind]
    doc = tomllib.loads(path.read_text())
    from_file = hpcbelt.load_study(path, overrides={"seed": 3})
    from_dict = hpcbelt.load_study(doc, overrides=["seed=3"], base_dir=path.parent)
    assert from_dict.doc == from_file.doc and from_file.doc["seed"] == 3
    assert from_dict.overrides == from_file.overrides == ("seed=3",)
    assert Path(from_dict.path) == path.parent / "<dict>"
    # its TOML text is the study: it reads back as the dict
    assert tomllib.loads(from_dict.text) == doc
    # the dict has no study file to record; its other inputs are the file's
    files = dict(from_file.input_files())
    files.pop("study file")
    assert from_dict.input_files() == files


def test_relative_paths_of_a_dict_resolve_against_base_dir(refs, monkeypatch):
    d, studies, _ = refs
    doc = tomllib.loads(studies["pa"].read_text())
    monkeypatch.chdir(studies["pa"].parent)                 # default: the current directory
    assert Path(hpcbelt.load_study(doc).database.path) == (studies["pa"].parent / "db.h5").resolve()
    monkeypatch.chdir(d)
    with pytest.raises(InputError, match="db.h5"):
        hpcbelt.load_study(doc)


BAD = [
    ("unknown key", lambda doc: doc["grid"].update(dalpha_degs=6.0)),
    ("wrong type", lambda doc: doc["grid"].update(dalpha_deg="six")),
    ("missing table key", lambda doc: doc["experiment"][0].pop("name")),
    ("unknown top-level key", lambda doc: doc.update(sed=1)),
]


@pytest.mark.parametrize("what, spoil", BAD, ids=[b[0] for b in BAD])
def test_bad_input_has_the_same_message_from_a_dict_and_from_its_file(tmp_path, refs, what, spoil):
    d, studies, _ = refs
    doc = tomllib.loads(studies["pa"].read_text())
    spoil(doc)
    from hpcbelt.config import to_toml

    bad = studies["pa"].parent / f"bad_{what.replace(' ', '_')}.toml"
    bad.write_text(to_toml(doc))
    with pytest.raises(InputError) as from_file:
        hpcbelt.load_study(bad)
    with pytest.raises(InputError) as from_dict:
        hpcbelt.load_study(doc, base_dir=bad.parent)
    assert str(from_dict.value) == str(from_file.value).replace(str(bad), str(bad.parent / "<dict>"))
    assert str(bad) in str(from_file.value)
    # and the command line prints the file's message
    r = cli("run", bad, "-o", tmp_path / "never.h5")
    assert r.returncode == 2 and r.stderr.strip() == f"hpcbelt: error: {from_file.value}"
    assert not (tmp_path / "never.h5").exists()


def test_values_toml_cannot_hold_are_refused_naming_the_key():
    with pytest.raises(InputError, match=r"^<dict>: grid.dalpha_deg: expected a string, number"):
        hpcbelt.load_study({"kind": "pitch_angle", "grid": {"dalpha_deg": object()}})
    with pytest.raises(InputError, match=r"^<dict>: kind: expected one of"):
        hpcbelt.load_study({"kind": "no_such_kind"})
    with pytest.raises(TypeError):
        hpcbelt.load_study(42)


def test_experiments_subset_and_its_refusal_for_a_kind_without_experiments(refs):
    _, studies, _ = refs
    one = hpcbelt.load_study(studies["pa"], experiments="drand_6h, profile_3")
    assert [e.name for e in one.experiments] == ["drand_6h", "profile_3"]
    assert [e.name for e in hpcbelt.load_study(studies["pa"], experiments=["profile_3"]).experiments] == ["profile_3"]
    with pytest.raises(InputError, match=r"--experiments: only studies with \[\[experiment\]\] tables"):
        hpcbelt.load_study(studies["drift"], experiments=["x"])


def test_short_repr_of_a_study(refs):
    _, studies, _ = refs
    for path in studies.values():
        text = repr(hpcbelt.load_study(path, overrides={"seed": 4}))
        assert "\n" not in text and len(text) < 300 and str(path) in text and "1 override" in text


# ------------------------------------------------------------------------------------------
# run / restart
# ------------------------------------------------------------------------------------------

def test_two_studies_in_one_process_write_the_files_of_two_processes(refs, tmp_path):
    d, studies, runs = refs
    # one after the other in this process, the pitch-angle study twice (from its dict, then
    # from its file) around the drift study: nothing of one run may leak into the next
    doc = tomllib.loads(studies["pa"].read_text())
    first = hpcbelt.run(hpcbelt.load_study(doc, base_dir=studies["pa"].parent), tmp_path / "pa_1.h5")
    second = hpcbelt.run(hpcbelt.load_study(studies["drift"]), tmp_path / "drift.h5")
    third = hpcbelt.run(studies["pa"], tmp_path / "pa_2.h5")         # a path: loaded by run
    assert first == tmp_path / "pa_1.h5" and isinstance(first, Path)
    assert_same_datasets(first, runs["pa"])
    assert_same_datasets(second, runs["drift"])
    assert_same_datasets(third, runs["pa"])
    for out in (first, second, third):
        assert not guard.lock_path(out).exists()
    assert root_attr(first, "study_file").endswith("<dict>")
    assert root_attr(first, "study_config_json") == root_attr(runs["pa"], "study_config_json")


def test_an_interrupted_run_restarts_in_process_to_the_same_bytes(refs, tmp_path, monkeypatch):
    from hpcbelt.parallel import StopRequests

    _, studies, runs = refs
    study = hpcbelt.load_study(studies["pa"])
    out = tmp_path / "pa.h5"
    calls = {"n": 0}
    agreed = StopRequests.agreed

    def stop_after_two_rounds(self, comm):          # as if SIGTERM arrived during round 3
        calls["n"] += 1
        if calls["n"] == 3:
            StopRequests.request("SIGTERM")
        return agreed(self, comm)

    before = signal.getsignal(signal.SIGTERM)
    monkeypatch.setattr(StopRequests, "agreed", stop_after_two_rounds)
    with pytest.raises(RunInterrupted) as stopped:
        hpcbelt.run(study, out)
    monkeypatch.undo()
    assert stopped.value.exit_code == 75 and "SIGTERM" in str(stopped.value)
    assert signal.getsignal(signal.SIGTERM) is before          # the handlers are put back
    assert not guard.lock_path(out).exists()                   # and the lock released
    with h5py.File(out, "r") as h5:
        done = sum(int(h5[ex.name]["member_done"][()].sum()) for ex in study.experiments)
    assert 0 < done < len(study.work_items())
    with pytest.raises(InputError, match="exists"):           # neither overwritten nor continued
        hpcbelt.run(study, out)
    assert hpcbelt.restart(study, out) == out
    assert_same_datasets(out, runs["pa"])
    assert root_attr(out, "restarts") == 1
    # a finished run: nothing to do, the file stays as it is
    stamp = out.stat().st_mtime_ns, out.read_bytes()
    hpcbelt.restart(study, out)
    assert (out.stat().st_mtime_ns, out.read_bytes()) == stamp


def test_a_library_run_never_damages_an_existing_file_nor_leaves_a_lock(refs, tmp_path):
    _, studies, runs = refs
    study = hpcbelt.load_study(studies["drift"])
    out = tmp_path / "taken.h5"
    out.write_bytes(b"not mine")
    with pytest.raises(InputError, match="file exists; pass --overwrite"):
        hpcbelt.run(study, out)
    assert out.read_bytes() == b"not mine" and not guard.lock_path(out).exists()
    # a live writer holds the lock: refused, its lock kept
    lock = guard.RunLock.acquire(tmp_path / "busy.h5")
    try:
        with pytest.raises(InputError, match="busy.h5"):
            hpcbelt.run(study, tmp_path / "busy.h5", overwrite=True)
        assert guard.lock_path(tmp_path / "busy.h5").exists()
    finally:
        lock.release()
    # the study's own inputs are never an output
    with pytest.raises(InputError, match="is the study file"):
        hpcbelt.run(study, studies["drift"], overwrite=True)
    hpcbelt.run(study, out, overwrite=True)
    assert_same_datasets(out, runs["drift"])


# ------------------------------------------------------------------------------------------
# aggregate, build_database
# ------------------------------------------------------------------------------------------

def test_aggregate_in_process_writes_the_summary_of_the_command(refs, tmp_path):
    _, _, runs = refs
    r = cli("aggregate", runs["pa"], "-o", tmp_path / "cli.h5", "--bootstrap", "0", "--subsets", "0",
            "--days", "0.25,0.5", "--quiet")
    assert r.returncode == 0, r.stderr
    got = hpcbelt.aggregate(runs["pa"], tmp_path / "api.h5", bootstrap=0, subsets=0, days=(0.25, 0.5))
    assert got == tmp_path / "api.h5" and (tmp_path / "api.md").exists()
    assert_same_datasets(got, tmp_path / "cli.h5")
    assert root_attr(got, "options_json") == root_attr(tmp_path / "cli.h5", "options_json")
    # the drift kind, with defaults
    r = cli("aggregate", runs["drift"], "-o", tmp_path / "dcli.h5", "--quiet")
    assert r.returncode == 0, r.stderr
    assert_same_datasets(hpcbelt.aggregate(runs["drift"], tmp_path / "dapi.h5"), tmp_path / "dcli.h5")
    # a malformed option: the command's message
    r = cli("aggregate", runs["pa"], "-o", tmp_path / "x.h5", "--days", "soon")
    with pytest.raises(InputError) as bad:
        hpcbelt.aggregate(runs["pa"], tmp_path / "x.h5", days="soon")
    assert r.returncode == 2 and r.stderr.strip() == f"hpcbelt: error: {bad.value}"
    assert not (tmp_path / "x.h5").exists()


def test_build_database_in_process_writes_the_database_of_the_command(tmp_path):
    from hpcbelt.config import to_toml

    cfg = tmp_path / "dxx.toml"
    cfg.write_text(to_toml(TINY_DXX))
    r = cli("dxx", "build", "-o", tmp_path / "cli.h5", "--config", cfg, "--set", "synthetic.seed=5", "--quiet")
    assert r.returncode == 0, r.stderr
    a = hpcbelt.build_database(tmp_path / "file.h5", config=cfg, overrides={"synthetic.seed": 5})
    b = hpcbelt.build_database(tmp_path / "dict.h5", config=TINY_DXX, overrides=["synthetic.seed=5"],
                               comm=_self())
    assert a == tmp_path / "file.h5"
    assert_same_datasets(a, tmp_path / "cli.h5")
    assert_same_datasets(b, tmp_path / "cli.h5")
    settings = [json.loads(root_attr(p, "provenance"))["settings"] for p in (a, b, tmp_path / "cli.h5")]
    assert settings[0] == settings[1] == settings[2]
    with pytest.raises(InputError, match="exists"):
        hpcbelt.build_database(a, config=cfg)
    with pytest.raises(InputError, match="unknown key 'n_lat_x'"):
        hpcbelt.build_database(tmp_path / "bad.h5", config={"grid": {"n_lat_x": 3}})
    assert not (tmp_path / "bad.h5").exists()


# ------------------------------------------------------------------------------------------
# communicators passed in (mpirun -n 2 / -n 3 ... -m mpi --with-mpi)
# ------------------------------------------------------------------------------------------

def _shared_references(comm, d):
    """Rank 0 writes the tiny studies and their run files with the command line (serial)."""
    ok = None
    if comm.Get_rank() == 0:
        paths = {"pa": make_pa(d), "drift": make_drift(d)}
        for name, study in paths.items():
            r = cli("run", study, "-o", d / f"{name}_cli.h5", "--quiet")
            ok = ok or (r.returncode != 0 and r.stderr)
    ok = comm.bcast(ok, root=0)
    assert not ok, ok
    return {"pa": d / "pa" / "study.toml", "drift": d / "drift" / "study.toml"}


@pytest.mark.mpi(min_size=2)
def test_run_on_comm_world_equals_the_serial_command(comm, shared_dir):
    studies = _shared_references(comm, shared_dir)
    doc = tomllib.loads(studies["pa"].read_text())
    study = hpcbelt.load_study(doc, base_dir=studies["pa"].parent)     # every rank loads it
    out = hpcbelt.run(study, shared_dir / "pa_world.h5", comm=comm)
    drift = hpcbelt.run(studies["drift"], shared_dir / "drift_world.h5", comm=comm)
    comm.Barrier()
    if comm.Get_rank() == 0:
        assert root_attr(out, "mpi_size") == comm.Get_size()
        assert_same_datasets(out, shared_dir / "pa_cli.h5")
        assert_same_datasets(drift, shared_dir / "drift_cli.h5")
        assert not guard.lock_path(out).exists()
    # and its aggregation equals the serial one's
    got = hpcbelt.aggregate(out, shared_dir / "sum_world.h5", comm=comm, bootstrap=20, subsets=5)
    comm.Barrier()
    if comm.Get_rank() == 0:
        ref = hpcbelt.aggregate(shared_dir / "pa_cli.h5", shared_dir / "sum_serial.h5", comm=_self(),
                                bootstrap=20, subsets=5)
        assert_same_datasets(got, ref)
    comm.Barrier()


def _self():
    from mpi4py import MPI

    return MPI.COMM_SELF


@pytest.mark.mpi(min_size=2)
def test_runs_on_split_communicators_equal_the_serial_command(comm, shared_dir):
    studies = _shared_references(comm, shared_dir)
    color = comm.Get_rank() % 2                  # even ranks: the pitch-angle study; odd: drift
    sub = comm.Split(color, comm.Get_rank())
    try:
        name = ("pa", "drift")[color]
        out = hpcbelt.run(hpcbelt.load_study(studies[name]), shared_dir / f"{name}_split.h5", comm=sub)
        assert out.exists()
        sub.Barrier()
        if sub.Get_rank() == 0:
            assert root_attr(out, "mpi_size") == sub.Get_size()
            assert_same_datasets(out, shared_dir / f"{name}_cli.h5")
    finally:
        sub.Free()
    comm.Barrier()


def test_a_listing_read_into_a_closed_pipe_ends_without_a_traceback():
    """``hpcbelt keys KIND | head``: the reader may close the pipe before anything is written."""
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-m", "hpcbelt", "keys", "drift_diffusion"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()                     # no reader at all: every write fails with EPIPE
    err = proc.stderr.read().decode()
    rc = proc.wait()
    assert "Traceback" not in err and "BrokenPipe" not in err, err
    assert rc == 1
