"""Issue 11, class 8: the inputs of ``aggregate``, ``aggregate-sweep``, ``dxx import`` and ``dxx build``
get one line ``hpcbelt: error: ...`` and exit 2 (the same on 3 ranks), and ``dxx import`` has one writer.

``aggregate-sweep`` applies the checks of ``aggregate`` to every run file it reads: a lock held by
a live process, outputs that are a run file or a recorded input, damaged members (refused, or
left out with ``--skip-damaged``).

Faults are real: a read-only tmpfs for the figures, Latin-1 and binary bytes in the CSV, a live
process holding the real lock, bytes flipped in the HDF5 file.
"""

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import h5py
import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pitch_angle.helpers import hpcbelt, make_study  # noqa: E402

from .decay_runs import snapshot  # noqa: E402
from .test_corruption import flip_byte  # noqa: E402
from .test_input_as_output import _aliases_in  # noqa: E402


def one_line(r, code=2):
    lines = [x for x in r.stderr.splitlines() if x.startswith("hpcbelt")]
    assert r.returncode == code, r.stderr
    assert len(lines) == 1 and lines[0].startswith("hpcbelt: error: "), r.stderr
    assert "Traceback" not in r.stderr, r.stderr
    return lines[0]


@pytest.fixture(scope="module")
def run_file(tmp_path_factory):
    d = tmp_path_factory.mktemp("other")
    study = make_study(d, members=4, days=2.0)
    out = d / "run.h5"
    r = hpcbelt("run", study, "-o", out, "--quiet")
    assert r.returncode == 0, r.stderr
    return out


@pytest.mark.parametrize("args,expected", [
    (["--ensemble-sizes", "0,-3"], "--ensemble-sizes '0,-3': expected whole numbers >= 1"),
    (["--ensemble-sizes", "2.5"], "--ensemble-sizes '2.5': expected whole numbers >= 1"),
    (["--ensemble-sizes", "2,50"], "--ensemble-sizes 2,50: at most 4"),
    (["--ensemble-sizes", "inf"], "--ensemble-sizes 'inf': expected finite numbers"),
    (["--fig3-days", "inf"], "--fig3-days inf: expected a finite number"),
    (["--alpha-deg", "nan"], "--alpha-deg nan: expected a finite number"),
    (["--confidence", "nan"], "--confidence nan: expected a finite number"),
    (["--days", "1,nan"], "--days '1,nan': expected finite numbers"),
])
def test_aggregate_bad_options(run_file, tmp_path, args, expected):
    out = tmp_path / "s.h5"
    line = one_line(hpcbelt("aggregate", run_file, "-o", out, "--quiet", *args))
    assert expected in line, line
    assert list(tmp_path.iterdir()) == []


def test_aggregate_bad_option_same_on_three_ranks(run_file, tmp_path):
    r = hpcbelt("aggregate", run_file, "-o", tmp_path / "s.h5", "--quiet", "--ensemble-sizes", "0,-3", ranks=3)
    assert "--ensemble-sizes" in one_line(r)


@contextlib.contextmanager
def read_only_tmpfs():
    if os.geteuid() != 0:            # never skipped under CI, which runs as root
        assert os.environ.get("CI", "").lower() not in ("1", "true"), "CI must run as root (real tmpfs)"
        pytest.skip("mounting a tmpfs needs root")
    where = Path(tempfile.mkdtemp(prefix="hpcbelt-ro-"))
    subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(where)], check=True)
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)
        where.rmdir()


def test_aggregate_read_only_figures_directory(run_file, tmp_path):
    with read_only_tmpfs() as ro:
        for ranks in (None, 3):
            r = hpcbelt("aggregate", run_file, "-o", tmp_path / "s.h5", "--quiet", "--figures", ro / "figs",
                        ranks=ranks)
            assert f"--figures {ro / 'figs'}" in one_line(r) and "Read-only file system" in r.stderr
            assert list(tmp_path.iterdir()) == []          # no summary, no temporary file
            r = hpcbelt("aggregate", run_file, "-o", tmp_path / "s.h5", "--quiet", "--figures", ro, ranks=ranks)
            assert f"--figures {ro}" in one_line(r)
            assert list(tmp_path.iterdir()) == [] and os.listdir(ro) == []


# ---------------------------------------------------------------------------------------------
# aggregate-sweep: the checks of aggregate on every run file it reads
# ---------------------------------------------------------------------------------------------

# the real single-writer lock, held by a live process until its stdin closes
HOLD_LOCK = """\
import sys
from hpcbelt import guard
lock = guard.RunLock.acquire(sys.argv[1])
print("holds", flush=True)
sys.stdin.read()
lock.release()
"""


def _copy(run_file, tmp_path, name):
    shutil.copy(run_file, tmp_path / name)
    return tmp_path / name


def test_sweep_refuses_a_run_file_whose_lock_a_live_process_holds(run_file, tmp_path):
    run = _copy(run_file, tmp_path, "run.h5")
    other = _copy(run_file, tmp_path, "other.h5")           # not locked: the second file is the one refused
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(run)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "holds", holder.stderr.read()
        for ranks in (None, 2):
            r = hpcbelt("aggregate-sweep", other, run, "-o", tmp_path / "sweep.h5", ranks=ranks)
            line = one_line(r)
            assert line.startswith(f"hpcbelt: error: {run}: the run file is being written (host "
                                   f"{socket.gethostname()}, PID {holder.pid}, started "), line
            assert line.endswith("); aggregate it when that run has ended"), line
            assert not (tmp_path / "sweep.h5").exists() and not (tmp_path / "sweep.md").exists()
    finally:
        holder.stdin.close()
        holder.wait(timeout=60)
    assert holder.returncode == 0, holder.stderr.read()
    r = hpcbelt("aggregate-sweep", run, "-o", tmp_path / "sweep.h5")          # the lock is gone: read
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "sweep.h5").is_file()


def test_sweep_never_writes_over_a_run_file_or_a_recorded_input(run_file, tmp_path):
    """The checks of aggregate (same file on disk: every alias of test_input_as_output for the
    run file, one each for the recorded inputs, which aggregate's tests cover in full)."""
    with h5py.File(run_file) as fh:
        recorded = {k: Path(v) for k, v in json.loads(fh.attrs["input_paths_json"]).items()}
    cases = [("-o", "run file", run_file, ("itself", "symlink", "hard link", "dot-dot")),
             ("--report", "database", recorded["database"], ("symlink", "dot-dot")),
             ("-o", "study file", recorded["study file"], ("hard link",))]
    for flag, what, target, hows in cases:
        before = snapshot(target)
        aliases = _aliases_in(tmp_path, what, target)
        for how in hows:
            path = aliases[how]
            args = [flag, path] + (["-o", tmp_path / "s.h5"] if flag == "--report" else [])
            line = one_line(hpcbelt("aggregate-sweep", run_file, *args))
            assert line == (f"hpcbelt: error: {flag} {path}: is the {what} ({target}); an input is never "
                            "overwritten: choose another output name"), (how, line)
        assert snapshot(target) == before, what
    line = one_line(hpcbelt("aggregate-sweep", run_file, "-o", tmp_path / "s.h5", "--figures", run_file,
                            ranks=2))
    assert line == (f"hpcbelt: error: --figures {run_file}: is the run file ({run_file}); an input is never "
                    "overwritten: choose another output name")
    assert not (tmp_path / "s.h5").exists()


def test_sweep_refuses_or_skips_damaged_members(run_file, tmp_path):
    run = _copy(run_file, tmp_path, "run.h5")
    flip_byte(run, "drand_1h/f", 1, byte=200)
    out = tmp_path / "sweep.h5"
    line = one_line(hpcbelt("aggregate-sweep", run, "-o", out, ranks=2))
    assert line == (f"hpcbelt: error: {run}: drand_1h member 1 is marked finished but data does not match its "
                    "checksum (changed after it was written): corrupted run file, not aggregated ('hpcbelt verify' "
                    "lists every problem; --skip-damaged leaves damaged items out)")
    assert not out.exists()
    r = hpcbelt("aggregate-sweep", run, "-o", out, "--skip-damaged", ranks=2)
    assert r.returncode == 0, r.stderr
    assert [x for x in r.stderr.splitlines() if x.startswith("hpcbelt")] == [
        f"hpcbelt: warning: {run}: drand_1h member 1: data does not match its checksum (changed after it was "
        "written); skipped (--skip-damaged): left out of every statistic as if unfinished"]      # once: rank 0
    assert r.stdout.count("# dt sweep") == 1
    unfinished = _copy(run_file, tmp_path, "unfinished.h5")
    with h5py.File(unfinished, "r+") as fh:
        fh["drand_1h/member_done"][1] = 0
    ref = tmp_path / "ref.h5"
    assert hpcbelt("aggregate-sweep", unfinished, "-o", ref).returncode == 0
    with h5py.File(out) as s, h5py.File(ref) as u:
        for p in (5, 25, 50, 75, 95):                     # tolerance 0: the same members, bitwise
            np.testing.assert_array_equal(s[f"f_p{p}"][()], u[f"f_p{p}"][()])
        np.testing.assert_array_equal(s["n_finished"][()], u["n_finished"][()])
        assert s["n_finished"][()].tolist() == [3, 3] and s["n_damaged"][()].tolist() == [1, 0]
        assert u["n_damaged"][()].tolist() == [0, 0] and s["n_damaged"].attrs["units"] == "1"
        assert s.attrs["skip_damaged"] and s.attrs["items_skipped_damaged"] == 1
        assert json.loads(s.attrs["items_skipped_damaged_json"])[0]["item"] == "drand_1h member 1"
    assert "Damaged members skipped (--skip-damaged): 1" in out.with_suffix(".md").read_text()
    # a constant-D run has one member: skipping it would leave nothing
    flip_byte(run, "mean_inputs/f", 0, byte=200)
    line = one_line(hpcbelt("aggregate-sweep", run, "-o", tmp_path / "s2.h5", "--skip-damaged", ranks=2))
    assert f"{run}: mean_inputs: all 1 finished item(s) are damaged" in line
    assert not (tmp_path / "s2.h5").exists()


# ---------------------------------------------------------------------------------------------
# dxx import
# ---------------------------------------------------------------------------------------------

def _csv(path, n=3, na=19):
    a = np.linspace(0, 90, na)
    d = np.exp(np.random.default_rng(1).normal(-11, 1, (n, na)))
    path.write_text(",".join(f"{v:g}" for v in a) + "\n" + "\n".join(",".join(repr(float(v)) for v in r) for r in d)
                    + "\n")
    return path


IMPORT = ["--L", "3", "--energy-MeV", "0.5"]


@pytest.mark.parametrize("case,expected", [
    ("latin1", "not UTF-8 text"),
    ("binary", "not UTF-8 text"),
    ("nul", "contains NUL bytes"),
    ("zero_step", "--alpha '0:90:0': expected finite start <= stop and a step > 0"),
    ("no_dir", "does not exist"),
    ("L_nan", "--L nan: expected a finite number"),
    ("L_inf", "--L inf: expected a finite number"),
    ("negative_energy", "--energy-MeV -0.5: expected a finite number"),
    ("output_is_input", "is the imported file"),
])
def test_dxx_import_bad_input(tmp_path, case, expected):
    src = _csv(tmp_path / "p.csv")
    out = tmp_path / "db.h5"
    args = ["dxx", "import", src, "-o", out, *IMPORT]
    if case == "latin1":
        src.write_bytes("# profils mesur\xe9s\n".encode("latin-1") + src.read_bytes())
    elif case == "binary":
        src.write_bytes(bytes(range(256)) * 4)
    elif case == "nul":
        src.write_bytes(src.read_bytes() + b"\0\0\0")
    elif case == "zero_step":
        args += ["--alpha", "0:90:0"]
    elif case == "no_dir":
        args[4] = out = tmp_path / "missing" / "db.h5"
    elif case == "L_nan":
        args[args.index("--L") + 1] = "nan"
    elif case == "L_inf":
        args[args.index("--L") + 1] = "inf"
    elif case == "negative_energy":
        args[args.index("--energy-MeV") + 1] = "-0.5"
    elif case == "output_is_input":
        args[4] = out = src
    before = src.read_bytes()
    line = one_line(hpcbelt(*args))
    assert expected in line, line
    assert src.read_bytes() == before
    assert case == "output_is_input" or not out.exists()


def test_dxx_import_under_mpirun_has_one_writer(tmp_path):
    src = _csv(tmp_path / "p.csv")
    out = tmp_path / "db.h5"
    r = hpcbelt("dxx", "import", src, "-o", out, *IMPORT, ranks=3)
    assert r.returncode == 0, r.stderr
    assert r.stderr.count("hpcbelt dxx: wrote") == 1, r.stderr
    from hpcbelt.daa_database import load

    assert load(out).n_profiles == 3
    r = hpcbelt("dxx", "import", src, "-o", out, "--L", "nan", "--energy-MeV", "0.5", "--overwrite", ranks=3)
    assert "--L nan" in one_line(r)


# ---------------------------------------------------------------------------------------------
# dxx build --pairs
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("row,expected", [
    ("1e300,1e-6", "row 1: X = 1e+300 (expected finite 1 < X <= 1000)"),
    ("9.0,1e300", "row 1: Y = 1e+300 (expected finite 0 <= Y <= 1000 nT^2/Hz)"),
])
def test_dxx_build_absurd_pairs(tmp_path, row, expected):
    pairs = tmp_path / "pairs.csv"
    pairs.write_text(f"X,Y\n9.2,1e-6\n{row}\n".replace("9.2,1e-6\n", "", 1))
    out = tmp_path / "db.h5"
    line = one_line(hpcbelt("dxx", "build", "--pairs", pairs, "-o", out, "--quiet", "--n-lat", "16"))
    assert expected in line, line
    assert not out.exists()


def test_dxx_build_refuses_its_inputs_as_output(tmp_path):
    pairs = tmp_path / "pairs.csv"
    pairs.write_text("X,Y\n9.2,1e-6\n")
    config = tmp_path / "c.toml"
    config.write_text("")
    for out, what in ((pairs, "pairs file"), (config, "--config file")):
        before = out.read_bytes()
        line = one_line(hpcbelt("dxx", "build", "--pairs", pairs, "--config", config, "-o", out, "--overwrite",
                                "--quiet"))
        assert what in line, line
        assert out.read_bytes() == before
