"""Issue 11, class 8: the inputs of ``aggregate``, ``dxx import`` and ``dxx build`` get one line
``hpcbelt: error: ...`` and exit 2 (the same on 3 ranks), and ``dxx import`` has one writer.

Faults are real: a read-only tmpfs for the figures, Latin-1 and binary bytes in the CSV.
"""

import contextlib
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pitch_angle.helpers import hpcbelt, make_study  # noqa: E402


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
