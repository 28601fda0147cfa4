"""The shipped examples (issue 16): ``hpcbelt examples list`` / ``copy``, and a wheel that carries
them -- built, installed into a fresh virtual environment and run there, outside the repository.

The example files are the repository's ``inputs/`` (a user contract, never moved):
``hpcbelt/examples/data/`` links to them and the wheel carries their contents."""

import errno
import hashlib
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tomllib
import zipfile
from pathlib import Path

import pytest

from hpcbelt import examples
from hpcbelt.cli import main
from hpcbelt.errors import InputError

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[1]
INPUTS = ROOT / "inputs"
DATA = ROOT / "hpcbelt" / "examples" / "data"
HPCBELT = Path(sys.executable).with_name("hpcbelt")
MPI_ENV = {"OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1",
           "OMPI_MCA_rmaps_base_oversubscribe": "1"}


def sha(path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def tree(path: Path) -> list[str]:
    return sorted(p.relative_to(path).as_posix() for p in path.rglob("*")) if path.exists() else []


def clean_env(**extra) -> dict:
    """This environment without anything that would point Python at the repository."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYTHONSTARTUP")}
    env.update(MPI_ENV, **extra)
    return env


# --------------------------------------------------------------------------------------------
# the catalogue
# --------------------------------------------------------------------------------------------

def test_catalogue_files_are_the_inputs():
    names = [e.name for e in examples.list_examples()]
    assert len(names) == len(set(names)) and "watt2021" in names
    shipped = {f for e in examples.list_examples() for f in e.files}
    # data/ holds exactly the catalogue's files, each a link to the same file of inputs/
    assert sorted(p.name for p in DATA.iterdir()) == sorted(shipped)
    for f in shipped:
        link = DATA / f
        assert link.is_symlink() and os.readlink(link) == f"../../../inputs/{f}", f
        assert os.path.samefile(link, INPUTS / f)
        res = examples.example_file(f)
        assert res.is_file() and res.read_bytes() == (INPUTS / f).read_bytes()


@pytest.mark.parametrize("example", examples.list_examples(), ids=lambda e: e.name)
def test_copied_example_is_self_contained(tmp_path, example):
    """Every file the copied study (or database configuration) reads is in the copy."""
    from hpcbelt import guard, studies
    from hpcbelt.config import StudyFile, read_toml, validate

    d = tmp_path / "copy"
    written = examples.copy_example(example.name, d)
    assert written == [d / f for f in example.files]
    assert tree(d) == sorted(example.files)
    for f in example.files:
        assert sha(d / f) == sha(INPUTS / f)
    study = d / example.study
    doc = tomllib.loads(study.read_text())
    if "kind" in doc:
        source = StudyFile.read(study)
        loaded = studies.kind_of_study(source.doc, study).get("load")(source, [])
        for what, path in guard.study_inputs(loaded).items():
            assert path is not None and Path(path).resolve().parent == d.resolve(), (what, path)
        db = doc.get("database", {}).get("path")
        assert db is None or db in example.files
    else:                       # the database's build configuration
        from hpcbelt.dxx.config import full_schema

        validate(read_toml(study)[0], full_schema(), str(study))
    assert str(d / example.study) in example.command(d)


# --------------------------------------------------------------------------------------------
# copy_example and the command, in process
# --------------------------------------------------------------------------------------------

def test_list_command(capsys):
    assert main(["examples", "list"]) == 0
    out = capsys.readouterr().out
    for e in examples.list_examples():
        line = next(ln for ln in out.splitlines() if ln.startswith(e.name + " "))
        assert e.title in line
        for f in e.files:
            assert f in out
    assert "hiss_L3_0.5MeV.h5 (1.7 MiB)" in out


def test_copy_command_refuses_then_overwrites(tmp_path, capsys):
    d = tmp_path / "a" / "ex"          # missing parents are created
    assert main(["examples", "copy", "watt2021", str(d)]) == 0
    err = capsys.readouterr().err
    assert f"mpirun -n 2 hpcbelt run {d}/watt2021.toml" in err
    assert tree(d) == ["hiss_L3_0.5MeV.h5", "watt2021.toml"]

    (d / "watt2021.toml").write_text("edited")
    assert main(["examples", "copy", "watt2021", str(d)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("hpcbelt: error: ") and "--overwrite" in err[0]
    assert (d / "watt2021.toml").read_text() == "edited"

    # another example into the same directory: only its own files conflict
    assert main(["examples", "copy", "lejosne2023", str(d)]) == 0
    assert main(["examples", "copy", "watt2021", str(d), "--overwrite"]) == 0
    capsys.readouterr()
    assert sha(d / "watt2021.toml") == sha(INPUTS / "watt2021.toml")
    assert tree(d) == ["hiss_L3_0.5MeV.h5", "lejosne2023.toml", "watt2021.toml"]


def _file_parent(tmp_path):
    (tmp_path / "afile").write_text("x")
    return tmp_path / "afile" / "ex", f"afile/ex: cannot create the directory: {tmp_path}/afile is not a directory"


def _is_file(tmp_path):
    (tmp_path / "ex").write_text("x")
    return tmp_path / "ex", "not a directory"


def _dir_in_the_way(tmp_path):
    (tmp_path / "ex" / "watt2021.toml").mkdir(parents=True)
    return tmp_path / "ex", "is a directory"


@pytest.mark.parametrize("name, make, overwrite", [
    ("nope", lambda t: (t / "ex", "unknown example 'nope'; the examples are: watt2021"), False),
    ("watt2021", _is_file, True),
    ("watt2021", _file_parent, False),
    ("watt2021", _dir_in_the_way, True),
    ("watt2021", lambda t: (DATA, "is the shipped file"), True),
    ("watt2021", lambda t: (INPUTS, "is the shipped file"), True),
])
def test_bad_input_one_line_exit_2_nothing_written(tmp_path, capsys, name, make, overwrite):
    d, message = make(tmp_path)
    before = tree(tmp_path)
    data_before = {p.name: (p.is_symlink(), sha(p)) for p in DATA.iterdir()}
    argv = ["examples", "copy", name, str(d)] + (["--overwrite"] if overwrite else [])
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("hpcbelt: error: ") and message in err[0], err
    assert tree(tmp_path) == before
    assert {p.name: (p.is_symlink(), sha(p)) for p in DATA.iterdir()} == data_before


def test_unwritable_directory(tmp_path, capsys):
    if os.geteuid() != 0:
        ro = tmp_path / "ro"
        ro.mkdir()
        ro.chmod(0o500)
        d = ro / "ex"
    elif Path("/sys").is_dir():
        d = Path("/sys/hpcbelt-example-test")      # even root may not create files in sysfs
    else:                                           # pragma: no cover
        pytest.skip("root, and no sysfs to be refused by")
    try:
        assert main(["examples", "copy", "watt2021", str(d)]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith(f"hpcbelt: error: {d}: cannot"), err
        assert not d.exists()
    finally:
        if os.geteuid() != 0:
            (tmp_path / "ro").chmod(0o700)


@pytest.mark.parametrize("existing", [False, True])
def test_failure_midway_leaves_nothing_half_written(tmp_path, monkeypatch, existing):
    """The disk fills while the database is copied: no file of the example appears, the ones
    already there (--overwrite) are untouched, a directory created for the copy is removed."""
    d = tmp_path / "new" / "ex"
    if existing:
        d.mkdir(parents=True)
        (d / "watt2021.toml").write_text("mine")
    before = tree(tmp_path)
    real = shutil.copyfileobj
    calls = []

    def full_disk(src, dst, length=0):
        calls.append(1)
        if len(calls) == 2:
            dst.write(src.read(1000))
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(src, dst, length)

    monkeypatch.setattr(examples.shutil, "copyfileobj", full_disk)
    with pytest.raises(InputError, match="cannot write example watt2021 there: No space left on device"):
        examples.copy_example("watt2021", d, overwrite=True)
    assert len(calls) == 2
    assert tree(tmp_path) == before
    if existing:
        assert (d / "watt2021.toml").read_text() == "mine"


def test_real_command_line(tmp_path):
    """The installed console script: exit codes and the one error line."""
    r = subprocess.run([str(HPCBELT), "examples", "copy", "watt2021x", "ex"], cwd=tmp_path,
                       capture_output=True, text=True, timeout=60, env=clean_env())
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr.splitlines() == ["hpcbelt: error: unknown example 'watt2021x'; the examples are: "
                                     + ", ".join(examples.names()) + " (hpcbelt examples list)"]
    assert tree(tmp_path) == []
    r = subprocess.run([str(HPCBELT), "examples", "copy", "watt2021", "ex"], cwd=tmp_path,
                       capture_output=True, text=True, timeout=60, env=clean_env())
    assert r.returncode == 0, r.stderr
    assert tree(tmp_path) == ["ex", "ex/hiss_L3_0.5MeV.h5", "ex/watt2021.toml"]


# --------------------------------------------------------------------------------------------
# the wheel, installed into a fresh virtual environment, run outside the repository
# --------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """(wheel, venv): the wheel built from a copy of the source tree, installed into a new venv."""
    tmp = tmp_path_factory.mktemp("wheel")
    # Build from a copy: an in-tree build would leave build/ and hpcbelt.egg-info/ in the
    # repository (and race with a concurrent run).  The copy keeps hpcbelt/examples/data's
    # relative symlinks as links, with inputs/ beside it as in the repository, so the build
    # follows the same links a build in the repository does.
    src = tmp / "src"
    shutil.copytree(ROOT / "hpcbelt", src / "hpcbelt", symlinks=True,
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.nbi", "*.nbc"))
    shutil.copytree(INPUTS, src / "inputs")
    for f in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / f, src / f)
    dist = tmp / "dist"
    r = subprocess.run([sys.executable, "-m", "pip", "--isolated", "wheel", "--no-deps", "--no-build-isolation",
                        "--no-index", "-q", "-w", str(dist), str(src)],
                       capture_output=True, text=True, timeout=300, env=clean_env())
    assert r.returncode == 0, r.stdout + r.stderr
    (wheel,) = dist.glob("hpcbelt-*.whl")

    # The fresh venv reuses the repository venv's compiled mpi4py and h5py (built against the
    # system Open MPI / parallel HDF5 by tools/setup.sh; a wheel from PyPI would bring its own
    # serial HDF5) and its numpy, numba, scipy, matplotlib: created by the same interpreter (same
    # ABI), with one .pth file naming the repository venv's site-packages.  site appends a .pth
    # line to sys.path *after* the venv's own site-packages, so the hpcbelt installed here wins;
    # .pth files inside the added directory are not processed, so the repository's editable
    # hpcbelt (its __editable__ finder) is not installed in this venv.  pip itself comes from
    # there too (hence --without-pip); --ignore-installed: pip sees the repository's hpcbelt
    # metadata on sys.path and must neither count it as installed nor try to uninstall it.
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    py = venv / "bin" / "python"
    site = subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True, env=clean_env()).stdout.strip()
    reuse = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (Path(site) / "hpcbelt-reuse-compiled-deps.pth").write_text("".join(f"{p}\n" for p in sorted(reuse)))
    r = subprocess.run([str(py), "-m", "pip", "--isolated", "install", "--no-deps", "--no-index",
                        "--ignore-installed", "-q", str(wheel)],
                       capture_output=True, text=True, timeout=300, env=clean_env())
    assert r.returncode == 0, r.stdout + r.stderr
    return wheel, venv


def test_wheel_carries_the_examples(installed):
    wheel, _ = installed
    assert wheel.stat().st_size < 4 << 20          # ~1.8 MB, most of it the database
    with zipfile.ZipFile(wheel) as z:
        infos = {i.filename: i for i in z.infolist()}
        for e in examples.list_examples():
            for f in e.files:
                info = infos[f"hpcbelt/examples/data/{f}"]
                assert (info.external_attr >> 16) & 0o170000 != 0o120000, f"{f} is a symlink in the wheel"
                assert z.read(info) == (INPUTS / f).read_bytes(), f
        assert "hpcbelt/examples/__init__.py" in infos and "hpcbelt/examples/cli.py" in infos
        tops = {n.split("/")[0] for n in infos}
    assert {t for t in tops if not t.endswith(".dist-info")} == {"hpcbelt"}     # no inputs/, tests/


@pytest.mark.skipif(shutil.which("mpirun") is None, reason="no mpirun")
def test_installed_example_runs_outside_the_repository(installed, tmp_path):
    _, venv = installed
    work = tmp_path / "work"
    work.mkdir()
    env = clean_env()
    bin_ = venv / "bin"

    # the hpcbelt of this venv is the installed wheel, its examples too; MPI and HDF5 are the
    # repository venv's parallel builds
    r = subprocess.run([str(bin_ / "python"), "-c",
                        "import json, hpcbelt, hpcbelt.examples as e, h5py, mpi4py; print(json.dumps("
                        "[hpcbelt.__file__, str(e.example_file('watt2021.toml')), h5py.get_config().mpi]))"],
                       cwd=work, capture_output=True, text=True, timeout=60, env=env)
    assert r.returncode == 0, r.stderr
    pkg, data, mpi = json.loads(r.stdout)
    for p in (pkg, data):
        assert Path(p).resolve().is_relative_to(venv.resolve()), p
        assert not Path(p).resolve().is_relative_to(ROOT), p
    assert mpi is True

    r = subprocess.run([str(bin_ / "hpcbelt"), "examples", "copy", "watt2021", "ex"], cwd=work,
                       capture_output=True, text=True, timeout=60, env=env)
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in (work / "ex").iterdir()) == ["hiss_L3_0.5MeV.h5", "watt2021.toml"]

    # shortened: half a day, one constant-D run and one 60-member ensemble, on 2 ranks
    r = subprocess.run(["mpirun", "-n", "2", str(bin_ / "hpcbelt"), "run", "ex/watt2021.toml", "-o", "out.h5",
                        "--quiet", "--set", "time.duration_days=0.5", "--experiments", "mean_inputs,drand_6h"],
                       cwd=work, capture_output=True, text=True, timeout=300, env=env)
    assert r.returncode == 0, r.stdout + r.stderr

    import h5py

    with h5py.File(work / "out.h5", "r") as f:
        assert f.attrs["status"] == "complete" and int(f.attrs["mpi_size"]) == 2
        assert f.attrs["parallel_io"] == "mpio"
        paths = json.loads(f.attrs["input_paths_json"])
        sums = json.loads(f.attrs["input_sha256_json"])
        assert Path(paths["database"]) == (work / "ex" / "hiss_L3_0.5MeV.h5").resolve()
        assert sums["database"] == sha(INPUTS / "hiss_L3_0.5MeV.h5")
        assert {"mean_inputs", "drand_6h"} <= set(f) and "drand_2min" not in f
        assert f["drand_6h/f"].shape[0] == 60 and f["drand_6h/member_done"][()].all()
    r = subprocess.run([str(bin_ / "hpcbelt"), "verify", "out.h5"], cwd=work,
                       capture_output=True, text=True, timeout=60, env=env)
    assert r.returncode == 0 and "ok" in r.stdout, r.stdout + r.stderr
