"""Bad, truncated, foreign and unfinished run files: one-line error, exit 2, nothing left behind."""

import shutil

import h5py
import numpy as np
import pytest

from hpcbelt.cli import main

from .agg_helpers import pa_helpers, write_run


@pytest.fixture(scope="module")
def good(tmp_path_factory):
    d = tmp_path_factory.mktemp("good")
    write_run(d / "run.h5", n_time=9, n_alpha=10)
    return d / "run.h5"


def _fails(capsys, tmp_path, argv, *phrases):
    """The command exits 2 with one line naming the problem and leaves no file in tmp_path/out."""
    out_dir = tmp_path / "out"
    out_dir.mkdir(exist_ok=True)
    code = main(["aggregate", *map(str, argv), "-o", str(out_dir / "s.h5"), "--figures", str(out_dir / "figs"),
                 "--quiet"])
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert err.startswith("hpcbelt: error: ") and "\n" not in err, err
    for p in phrases:
        assert p in err, err
    assert sorted(x.name for x in out_dir.iterdir()) == [], "something was left behind"
    return err


def test_missing_file(capsys, tmp_path):
    _fails(capsys, tmp_path, [tmp_path / "nope.h5"], "file not found")


def test_foreign_text_file(capsys, tmp_path):
    p = tmp_path / "notes.h5"
    p.write_text("this is not HDF5\n" * 100)
    _fails(capsys, tmp_path, [p], "not an HDF5 file")


def test_foreign_hdf5_file(capsys, tmp_path):
    p = tmp_path / "other.h5"
    with h5py.File(p, "w") as h5:
        h5["x"] = np.arange(3)
    _fails(capsys, tmp_path, [p], "not an hpcbelt run file")


def test_summary_is_not_a_run(capsys, tmp_path, good):
    s = tmp_path / "s.h5"
    assert main(["aggregate", str(good), "-o", str(s), "--quiet", "--bootstrap", "5", "--subsets", "2"]) == 0
    _fails(capsys, tmp_path, [s], "aggregation summary, not a run file")


def test_truncated_file(capsys, tmp_path, good):
    p = tmp_path / "cut.h5"
    data = good.read_bytes()
    p.write_bytes(data[: len(data) // 2])
    _fails(capsys, tmp_path, [p], str(p), "truncated")


def test_finished_member_with_nan_is_corruption(capsys, tmp_path, good):
    p = tmp_path / "nan.h5"
    shutil.copy(good, p)
    with h5py.File(p, "r+") as h5:
        h5["drand_6h/f"][3, 4, 5] = np.nan
    _fails(capsys, tmp_path, [p], "drand_6h/f", "member 3", "corrupted")


def test_missing_dataset(capsys, tmp_path, good):
    p = tmp_path / "nodaa.h5"
    shutil.copy(good, p)
    with h5py.File(p, "r+") as h5:
        del h5["drand_2min/daa_integral"]
    _fails(capsys, tmp_path, [p], "drand_2min/daa_integral", "missing")


def test_wrong_shape(capsys, tmp_path, good):
    p = tmp_path / "shape.h5"
    shutil.copy(good, p)
    with h5py.File(p, "r+") as h5:
        del h5["drand_2min/member_done"]
        h5["drand_2min/member_done"] = np.ones(3, np.uint8)
    _fails(capsys, tmp_path, [p], "drand_2min/member_done", "shape")


def test_no_finished_member(capsys, tmp_path):
    p = tmp_path / "none.h5"
    write_run(p, n_time=5, n_alpha=7, experiments=(("drand", "random", 3, 60.0),),
              done={"drand": np.zeros(3, np.uint8)})
    _fails(capsys, tmp_path, [p], "no finished member")


def test_incomplete_drift_file(capsys, tmp_path):
    p = tmp_path / "drift.h5"
    with h5py.File(p, "w") as h5:
        h5.attrs["kind"] = "drift_diffusion"
        h5.attrs["layout_version"] = 2
    _fails(capsys, tmp_path, [p], "dataset 'time_s' missing", "drift-diffusion")


def test_unknown_kind(capsys, tmp_path):
    p = tmp_path / "other.h5"
    with h5py.File(p, "w") as h5:
        h5.attrs["kind"] = "radial_only"
    _fails(capsys, tmp_path, [p], "kind = 'radial_only'")


@pytest.mark.parametrize("args,phrase", [
    (["--alpha-deg", "95"], "--alpha-deg 95"),
    (["--days", "2,40"], "--days 40"),
    (["--bins", "3,1,10"], "--bins"),
    (["--bins", "1,2"], "--bins"),
    (["--days", "two"], "--days"),
    (["--memory-mb", "0"], "--memory-mb"),
    (["--fig3-member", "99"], "--fig3-member 99"),
    (["--fig3-experiment", "nope"], "no experiment named 'nope'"),
    (["--confidence", "1.5"], "--confidence"),
])
def test_bad_options(capsys, tmp_path, good, args, phrase):
    _fails(capsys, tmp_path, [good, *args], phrase)


def test_output_rules(capsys, tmp_path, good):
    # the run file itself is never an output
    code = main(["aggregate", str(good), "-o", str(good), "--quiet"])
    assert code == 2 and "is the run file itself" in capsys.readouterr().err
    # an existing file that is not a summary needs --overwrite ...
    other = tmp_path / "precious.h5"
    other.write_bytes(b"keep me")
    code = main(["aggregate", str(good), "-o", str(other), "--quiet", "--bootstrap", "5"])
    assert code == 2 and "--overwrite" in capsys.readouterr().err
    assert other.read_bytes() == b"keep me"
    # ... an earlier summary is replaced (make run re-aggregates without --overwrite)
    s = tmp_path / "s.h5"
    for _ in range(2):
        assert main(["aggregate", str(good), "-o", str(s), "--quiet", "--bootstrap", "5", "--subsets", "2"]) == 0
    assert main(["aggregate", str(good), "-o", str(other), "--quiet", "--bootstrap", "5", "--subsets", "2",
                 "--overwrite"]) == 0
    with h5py.File(other) as h5:
        assert h5.attrs["kind"] == "aggregate_summary"
    assert not [p for p in tmp_path.iterdir() if ".tmp-" in p.name]


def test_failure_while_writing_leaves_no_summary(tmp_path, good, monkeypatch):
    """An error after the temporary summary was started removes it; the old summary stays."""
    from hpcbelt.aggregate.watt2021 import summary
    from hpcbelt.errors import InputError

    s = tmp_path / "s.h5"
    assert main(["aggregate", str(good), "-o", str(s), "--quiet", "--bootstrap", "5", "--subsets", "2"]) == 0
    before = s.read_bytes()
    real = summary.write_summary

    def broken(path, *a, **k):
        real(path, *a, **k)
        raise InputError("disk full (simulated)")

    monkeypatch.setattr(summary, "write_summary", broken)
    assert main(["aggregate", str(good), "-o", str(s), "--quiet", "--bootstrap", "5"]) == 2
    assert s.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.h5", "s.md"]


def test_exit_code_through_the_real_command(tmp_path):
    p = tmp_path / "junk.h5"
    p.write_bytes(b"\x00" * 4096)
    r = pa_helpers().hpcbelt("aggregate", p, "-o", tmp_path / "s.h5")
    assert r.returncode == 2
    assert r.stderr.strip().splitlines() == [f"hpcbelt: error: {p}: not an HDF5 file (expected an hpcbelt run file)"]
    assert not (tmp_path / "s.h5").exists()


def test_random_byte_corruption_never_crashes(capsys, tmp_path, good):
    """Overwrite 256 random bytes at 30 places: either a clean summary (the damage hit raw data,
    which the run files carry no checksum for) or exit 2 with one line; never a traceback."""
    data = good.read_bytes()
    rng = np.random.default_rng(0)
    outcomes = []
    for _ in range(30):
        off = int(rng.integers(0, len(data) - 256))
        b = bytearray(data)
        b[off:off + 256] = rng.integers(0, 256, 256, dtype=np.uint8).tobytes()
        p = tmp_path / "bad.h5"
        p.write_bytes(bytes(b))
        code = main(["aggregate", str(p), "-o", str(tmp_path / "s.h5"), "--quiet", "--bootstrap", "5",
                     "--subsets", "2"])
        err = capsys.readouterr().err.strip()
        assert code in (0, 2), err
        if code == 2:
            assert err.startswith("hpcbelt: error: ") and "\n" not in err
        outcomes.append(code)
    assert 2 in outcomes   # some of the damage is in the metadata and must be reported


def test_tools_entry_point_runs_the_same_command(tmp_path, good):
    import subprocess
    import sys

    from .agg_helpers import ROOT

    tool = ROOT / "tools" / "aggregate.py"
    r = subprocess.run([sys.executable, str(tool), str(good), "-o", str(tmp_path / "s.h5"), "--bootstrap", "5",
                        "--subsets", "2", "--quiet"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    with h5py.File(tmp_path / "s.h5") as h5:
        assert h5.attrs["kind"] == "aggregate_summary"
    r = subprocess.run([sys.executable, str(tool), str(tmp_path / "missing.h5")], capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 2 and "file not found" in r.stderr
