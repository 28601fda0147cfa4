"""Issue 11, class 5: silent corruption.  Each finished item carries the sha256 of what was written;
bytes really flipped in the HDF5 file (at the offset h5py gives for the member's data), or values
such as -1e300 written with h5py, make ``hpcbelt verify`` fail (exit 1, one line per item),
``hpcbelt aggregate`` refuse (exit 2, one line naming the item) and ``--restart`` compute the item
again (one line each), ending bitwise equal to an undamaged run.  A clean file verifies (exit 0).

``aggregate --skip-damaged`` leaves damaged members and permutations out (one warning each, under
mpirun too, listed in the summary and the report): its summary equals, bitwise, the summary of a
copy in which those items are simply unfinished (done flag 0).  A damaged drift PDE, or an
experiment left with no sound member, is still refused."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "pitch_angle"))
import helpers as pa  # noqa: E402

sys.path.remove(str(ROOT / "tests" / "pitch_angle"))
del sys.modules["helpers"]
sys.path.insert(0, str(ROOT / "tests" / "drift"))
import helpers as dh  # noqa: E402

sys.path.remove(str(ROOT / "tests" / "drift"))
del sys.modules["helpers"]

# ``hpcbelt`` with the verify/status sub-commands (registered here if cli.py does not yet)
CLI = """
import argparse, sys
from hpcbelt import cli, runcheck
_build = cli.build_parser
def build():
    p = _build()
    sub = next(a for a in p._actions if isinstance(a, argparse._SubParsersAction))
    if "verify" not in sub.choices:
        runcheck.register(sub)
    return p
cli.build_parser = build
sys.exit(cli.main(sys.argv[1:]))
"""


def env(**extra):
    e = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
             OMPI_MCA_rmaps_base_oversubscribe="1", **extra)
    if "HPCBELT_IO" not in extra:
        e.pop("HPCBELT_IO", None)
    return e


def hpcbelt(*args, ranks=None, cwd=None, **extra):
    cmd = [sys.executable, "-c", CLI, *map(str, args)]
    if ranks:
        cmd = ["mpirun", "-n", str(ranks), *cmd]
    return subprocess.run(cmd, capture_output=True, text=True, env=env(**extra), timeout=300, cwd=cwd)


def ours(stderr):
    return [line for line in stderr.splitlines() if line.startswith("hpcbelt")]


def flip_byte(path, dset, index, byte=5):
    """Flip one bit of the stored bytes of ``dset[index]`` (contiguous dataset) in the file itself."""
    with h5py.File(path, "r") as fh:
        d = fh[dset]
        assert d.chunks is None
        row = int(np.prod(d.shape[1:], dtype=np.int64)) * d.dtype.itemsize
        offset = d.id.get_offset() + index * row + byte
    with open(path, "r+b") as raw:
        raw.seek(offset)
        b = raw.read(1)
        raw.seek(offset)
        raw.write(bytes([b[0] ^ 0x04]))


def same_datasets(a, b):
    """Names of the datasets whose bytes differ between two files."""
    diff = []
    with h5py.File(a, "r") as fa, h5py.File(b, "r") as fb:
        def visit(name, obj):
            if isinstance(obj, h5py.Dataset) and obj[()].tobytes() != fa[name][()].tobytes():
                diff.append(name)
        fb.visititems(visit)
    return diff


@pytest.fixture(scope="module")
def pitch_run(tmp_path_factory):
    d = tmp_path_factory.mktemp("corrupt_pa")
    study = pa.make_study(d, members=4)
    out = d / "clean.h5"
    r = hpcbelt("run", study, "-o", out, "--quiet", ranks=3, cwd=d)
    assert r.returncode == 0, r.stderr
    return study, out


@pytest.fixture(scope="module")
def drift_run(tmp_path_factory):
    d = tmp_path_factory.mktemp("corrupt_drift")
    study = dh.make_study(d)
    out = d / "clean.h5"
    r = hpcbelt("run", study, "-o", out, "--quiet", ranks=3, cwd=d)
    assert r.returncode == 0, r.stderr
    return study, out


def summary_differences(a, b):
    """Datasets (by value: NaN equals NaN, tolerance 0) and group attributes that differ between two
    summaries, or exist in one only; the provenance attributes (source file, date, ranks) aside."""
    provenance = {"source_path", "source_size_bytes", "source_mtime", "source_sha256", "created", "mpi_size",
                  "git_commit", "host"}
    found = []
    with h5py.File(a, "r") as fa, h5py.File(b, "r") as fb:
        def items(h5):
            out = {}
            h5.visititems(lambda n, o: out.__setitem__(n, o))
            return out

        ia, ib = items(fa), items(fb)
        found += sorted(set(ia) ^ set(ib))
        for name in sorted(set(ia) & set(ib)):
            oa, ob = ia[name], ib[name]
            if isinstance(oa, h5py.Dataset):
                x, y = oa[()], ob[()]
                same = (x.shape == y.shape and np.array_equal(x, y, equal_nan=x.dtype.kind in "fc")
                        if isinstance(x, np.ndarray) and x.dtype.kind in "fciub" else np.array_equal(x, y))
                if not same:
                    found.append(name)
        for name, ga, gb in [("/", fa, fb)] + [(n, ia[n], ib[n]) for n in sorted(set(ia) & set(ib))
                                              if isinstance(ia[n], h5py.Group)]:
            for k in sorted((set(ga.attrs) | set(gb.attrs)) - provenance):
                va, vb = np.asarray(ga.attrs.get(k)), np.asarray(gb.attrs.get(k))
                if not np.array_equal(va, vb, equal_nan=va.dtype.kind == vb.dtype.kind == "f"):
                    found.append(f"{name}@{k}")
    return found


def copy(src, tmp_path, name="run.h5"):
    dst = tmp_path / name
    shutil.copy(src, dst)
    return dst


# ------------------------------------------------------------------------------------------
# pitch angle
# ------------------------------------------------------------------------------------------

def test_clean_pitch_run_verifies_and_checksums_do_not_depend_on_ranks_or_io(pitch_run, tmp_path):
    study, clean = pitch_run
    r = hpcbelt("verify", clean)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.strip().endswith("ok: 10 finished item(s) match their checksums and values")
    with h5py.File(clean) as fh:
        assert fh.attrs["layout_version"] == 2
        ref = {e: fh[e]["member_checksum"][()] for e in ("drand_1h", "drand_6h", "profile_3")}
    for ranks, io in ((None, None), (3, "funnel")):
        out = tmp_path / f"r{ranks}.h5"
        extra = {"HPCBELT_IO": io} if io else {}
        r = hpcbelt("run", study, "-o", out, "--quiet", ranks=ranks, cwd=study.parent, **extra)
        assert r.returncode == 0, r.stderr
        with h5py.File(out) as fh:
            for e, v in ref.items():
                assert (fh[e]["member_checksum"][()] == v).all() and v.shape[1:] == (32,) and v.any(axis=1).all()


def test_flipped_bytes_fail_verify_aggregate_and_are_recomputed_on_restart(pitch_run, tmp_path):
    study, clean = pitch_run
    run = copy(clean, tmp_path)
    flip_byte(run, "drand_1h/f", 2, byte=300)
    flip_byte(run, "drand_6h/daa_integral", 0, byte=77)
    r = hpcbelt("verify", run)
    assert r.returncode == 1
    lines = r.stdout.splitlines()
    assert lines[:2] == [f"{run}: drand_1h member 2: data does not match its checksum (changed after it was written)",
                         f"{run}: drand_6h member 0: data does not match its checksum (changed after it was written)"]
    assert lines[2] == f"{run}: damaged: 2 problem(s)"
    r = hpcbelt("aggregate", run, "-o", tmp_path / "s.h5", ranks=3)
    assert r.returncode == 2
    assert len(ours(r.stderr)) == 1 and "drand_1h member 2 is marked finished but data does not match its " \
        "checksum" in r.stderr
    assert not (tmp_path / "s.h5").exists()
    # --restart: the damaged members count as unfinished; recomputed, the file equals the clean run
    r = hpcbelt("run", study, "-o", run, "--restart", "--quiet", ranks=3, cwd=study.parent)
    assert r.returncode == 0, r.stderr
    warn = [x for x in ours(r.stderr) if "warning" in x]
    assert warn == [f"hpcbelt: warning: {run}: drand_1h member 2: data does not match its checksum "
                    f"(changed after it was written); computing it again",
                    f"hpcbelt: warning: {run}: drand_6h member 0: data does not match its checksum "
                    f"(changed after it was written); computing it again"]
    assert same_datasets(clean, run) == []
    assert hpcbelt("verify", run).returncode == 0


def test_negative_and_nonfinite_values_are_refused(pitch_run, tmp_path):
    _, clean = pitch_run
    run = copy(clean, tmp_path)
    with h5py.File(run, "r+") as fh:
        fh["drand_6h/f"][1, 2, 3] = -1e300
        fh["mean_inputs/daa_integral"][0, 1, 0] = np.inf
    r = hpcbelt("verify", run)
    assert r.returncode == 1
    assert f"{run}: drand_6h member 1: data does not match its checksum (changed after it was written); " \
           f"drand_6h/f holds a negative value (-1e+300)" in r.stdout.splitlines()
    assert any(x.startswith(f"{run}: mean_inputs member 0:") and "mean_inputs/daa_integral holds a non-finite "
               "value (inf)" in x for x in r.stdout.splitlines())
    r = hpcbelt("aggregate", run, "-o", tmp_path / "s.h5")
    assert r.returncode == 2 and len(ours(r.stderr)) == 1 and "drand_6h member 1" in r.stderr


def test_zero_f_is_fine_and_negative_f_refused_even_with_a_matching_checksum(pitch_run, tmp_path):
    """f = 0 is physical; f < 0 is not, even when the checksum says the file holds what was written."""
    from hpcbelt.pitch_angle import runfile

    _, clean = pitch_run
    run = copy(clean, tmp_path)
    with h5py.File(run, "r+") as fh:
        g = fh["drand_1h"]
        f, di, pi = g["f"][1], g["daa_integral"][1], g["profile_index"][1]
        f[:, :5] = 0.0
        g["f"][1] = f
        g["member_checksum"][1] = runfile.member_digest(f, di, pi)
    assert hpcbelt("verify", run).returncode == 0
    with h5py.File(run, "r+") as fh:
        g = fh["drand_1h"]
        f[3, 7] = -1e-3
        g["f"][1] = f
        g["member_checksum"][1] = runfile.member_digest(f, di, pi)
    r = hpcbelt("verify", run)
    assert r.returncode == 1 and r.stdout.splitlines()[0] == \
        f"{run}: drand_1h member 1: drand_1h/f holds a negative value (-0.001)"
    r = hpcbelt("aggregate", run, "-o", tmp_path / "s.h5")
    assert r.returncode == 2 and "drand_1h member 1" in r.stderr and "negative" in r.stderr


def test_verify_layout_problems_and_not_a_run_file(pitch_run, tmp_path):
    _, clean = pitch_run
    run = copy(clean, tmp_path)
    with h5py.File(run, "r+") as fh:
        fh["drand_1h/member_done"][0] = 2
    r = hpcbelt("verify", run)
    assert r.returncode == 1 and "member_done holds values other than 0 and 1" in r.stdout
    junk = tmp_path / "junk.h5"
    junk.write_bytes(b"not hdf5 at all\n" * 10)
    for path in (junk, tmp_path / "missing.h5"):
        r = hpcbelt("verify", path)
        assert r.returncode == 2 and len(ours(r.stderr)) == 1 and r.stdout == ""
    plain = tmp_path / "plain.h5"
    with h5py.File(plain, "w") as fh:
        fh["x"] = 1
    r = hpcbelt("verify", plain)
    assert r.returncode == 2 and "not an hpcbelt run file" in r.stderr


def test_layout_1_is_read_and_reported_not_checksummed(tmp_path):
    sys.path.insert(0, str(ROOT / "tests" / "aggregate"))
    try:
        import agg_helpers
    finally:
        sys.path.remove(str(ROOT / "tests" / "aggregate"))
    run = tmp_path / "old.h5"
    agg_helpers.write_run(run, layout="contiguous")
    r = hpcbelt("verify", run)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "layout 1: members not checksummed" in r.stdout
    with h5py.File(run, "r+") as fh:
        fh["drand_6h/f"][2, 3, 4] = np.nan
    r = hpcbelt("verify", run)
    assert r.returncode == 1 and f"{run}: drand_6h member 2: drand_6h/f holds a non-finite value (nan)" in r.stdout


def _unfinished_copy(clean, tmp_path, members):
    """A copy of the clean run in which ``members`` ({experiment: [member]}) are unfinished."""
    run = copy(clean, tmp_path, "unfinished.h5")
    with h5py.File(run, "r+") as fh:
        for name, ms in members.items():
            for m in ms:
                fh[f"{name}/member_done"][m] = 0
    return run


def test_skip_damaged_equals_a_run_whose_damaged_members_are_unfinished(pitch_run, tmp_path):
    """Flipped bytes in drand_1h member 2, -1e300 in drand_6h member 0 (the default Fig 3 member of
    the longest switching interval): refused without the option; with --skip-damaged on 3 ranks one
    warning each, printed once, and every statistic (percentiles, PDFs with automatic bins from
    pass 1, bootstrap, ensemble sizes, Fig 3) equals bitwise that of the copy in which the two
    members are unfinished, aggregated on one rank."""
    _, clean = pitch_run
    run = copy(clean, tmp_path)
    flip_byte(run, "drand_1h/f", 2, byte=300)
    with h5py.File(run, "r+") as fh:
        fh["drand_6h/f"][0, 2, 3] = -1e300
    r = hpcbelt("aggregate", run, "-o", tmp_path / "refused.h5", ranks=3)
    assert r.returncode == 2 and len(ours(r.stderr)) == 1 and "drand_1h member 2 is marked finished" in r.stderr
    assert "1 more damaged item(s)" in r.stderr and "--skip-damaged leaves damaged items out" in r.stderr
    assert not (tmp_path / "refused.h5").exists()
    skip = tmp_path / "skip.h5"
    r = hpcbelt("aggregate", run, "-o", skip, "--skip-damaged", "--quiet", ranks=3)
    assert r.returncode == 0, r.stderr
    assert ours(r.stderr) == [
        f"hpcbelt: warning: {run}: drand_1h member 2: data does not match its checksum (changed after it was "
        "written); skipped (--skip-damaged): left out of every statistic as if unfinished",
        f"hpcbelt: warning: {run}: drand_6h member 0: data does not match its checksum (changed after it was "
        "written); drand_6h/f holds a negative value (-1e+300); skipped (--skip-damaged): left out of every "
        "statistic as if unfinished"]
    unfinished = _unfinished_copy(clean, tmp_path, {"drand_1h": [2], "drand_6h": [0]})
    ref = tmp_path / "unfinished_summary.h5"
    r = hpcbelt("aggregate", unfinished, "-o", ref, "--quiet")
    assert r.returncode == 0, r.stderr
    # tolerance 0: the same members are read in the same order, so the numbers are bitwise equal
    diff = summary_differences(skip, ref)
    assert sorted(diff) == sorted([
        "/@all_members_finished", "/@items_skipped_damaged", "/@items_skipped_damaged_json",
        "/@members_damaged_json", "/@members_finished_json", "/@skip_damaged",
        "drand_1h/members_damaged", "drand_6h/members_damaged", "drand_1h@members_damaged",
        "drand_1h@members_finished", "drand_6h@members_damaged", "drand_6h@members_finished"]), diff
    with h5py.File(skip) as s, h5py.File(ref) as u:
        assert s.attrs["skip_damaged"] and s.attrs["items_skipped_damaged"] == 2
        assert [(d["item"], d["group"], d["index"]) for d in json.loads(s.attrs["items_skipped_damaged_json"])] == [
            ("drand_1h member 2", "drand_1h", 2), ("drand_6h member 0", "drand_6h", 0)]
        assert json.loads(s.attrs["members_damaged_json"]) == {"drand_1h": 1, "drand_6h": 1, "mean_of_profiles": 0,
                                                               "mean_inputs": 0, "profile_3": 0}
        assert s["drand_1h/members_damaged"][()].tolist() == [2] and s["drand_6h/members_damaged"][()].tolist() == [0]
        assert s["drand_1h/members_damaged"].attrs["units"] == "1" and s["drand_1h/members_damaged"].attrs["description"]
        assert s["drand_1h/members_used"][()].tolist() == [0, 1, 3]
        assert s["drand_1h"].attrs["members_used"] == 3 and s["drand_1h"].attrs["members_finished"] == 4
        assert s["figure_data/fig3/random"].attrs["member"] == 1          # not the damaged member 0
        assert bool(s.attrs["all_members_finished"]) and not bool(u.attrs["all_members_finished"])
        assert u.attrs["items_skipped_damaged"] == 0 and u["drand_1h/members_damaged"].shape == (0,)
    report = skip.with_suffix(".md").read_text()
    assert ("- **damaged items skipped** (--skip-damaged): 2, left out of every statistic as if unfinished: "
            "drand_1h member 2 (data does not match its checksum") in report
    assert "| drand_1h | random | 1 h | 3 / 4 (1 damaged, left out) |" in report
    assert "damaged items skipped" not in (tmp_path / "unfinished_summary.md").read_text()


def test_skip_damaged_refuses_an_experiment_left_without_members(pitch_run, tmp_path):
    _, clean = pitch_run
    run = copy(clean, tmp_path)
    flip_byte(run, "mean_inputs/daa_integral", 0, byte=64)        # its only member
    flip_byte(run, "drand_1h/f", 1, byte=64)
    r = hpcbelt("aggregate", run, "-o", tmp_path / "s.h5", "--skip-damaged", ranks=2)
    assert r.returncode == 2
    assert ours(r.stderr) == [f"hpcbelt: error: {run}: mean_inputs: all 1 finished item(s) are damaged: "
                              "--skip-damaged would leave none to aggregate; expected at least one sound item "
                              "('hpcbelt verify' lists them, 'hpcbelt run --restart' computes them again)"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.h5"]


# ------------------------------------------------------------------------------------------
# drift diffusion
# ------------------------------------------------------------------------------------------

def test_drift_flipped_bytes_verify_aggregate_restart(drift_run, tmp_path):
    study, clean = drift_run
    r = hpcbelt("verify", clean)
    assert r.returncode == 0 and "ok: 6 finished item(s)" in r.stdout, r.stdout + r.stderr
    run = copy(clean, tmp_path)
    flip_byte(run, "particles/F", 3, byte=41)
    flip_byte(run, "pde/F", 1, byte=1000)
    r = hpcbelt("verify", run)
    assert r.returncode == 1
    assert r.stdout.splitlines() == [
        f"{run}: PDE: data does not match its checksum (changed after it was written)",
        f"{run}: permutation 3: data does not match its checksum (changed after it was written)",
        f"{run}: damaged: 2 problem(s)"]
    r = hpcbelt("aggregate", run, "-o", tmp_path / "s.h5", ranks=3)
    assert r.returncode == 2 and len(ours(r.stderr)) == 1 and "PDE is marked finished but data does not match" \
        in r.stderr
    r = hpcbelt("run", study, "-o", run, "--restart", "--quiet", ranks=3, cwd=study.parent)
    assert r.returncode == 0, r.stderr
    assert [x for x in ours(r.stderr) if "warning" in x] == [
        f"hpcbelt: warning: {run}: PDE: data does not match its checksum (changed after it was written); "
        "computing it again",
        f"hpcbelt: warning: {run}: permutation 3: data does not match its checksum (changed after it was "
        "written); computing it again"]
    assert same_datasets(clean, run) == []
    assert hpcbelt("verify", run).returncode == 0


def test_drift_negative_particle_F_refused(drift_run, tmp_path):
    _, clean = drift_run
    run = copy(clean, tmp_path)
    with h5py.File(run, "r+") as fh:
        fh["particles/F"][4, 0, 0, 0] = -1e30
    r = hpcbelt("verify", run)
    assert r.returncode == 1 and "permutation 4:" in r.stdout and "particles/F holds a negative value" in r.stdout
    r = hpcbelt("aggregate", run, "-o", tmp_path / "s.h5")
    assert r.returncode == 2 and "permutation 4" in r.stderr


def test_drift_skip_damaged_leaves_out_permutations_never_the_pde(drift_run, tmp_path):
    _, clean = drift_run
    run = copy(clean, tmp_path)
    flip_byte(run, "particles/F", 3, byte=41)
    skip = tmp_path / "skip.h5"
    r = hpcbelt("aggregate", run, "-o", skip, "--skip-damaged", "--quiet", ranks=2)
    assert r.returncode == 0, r.stderr
    assert ours(r.stderr) == [f"hpcbelt: warning: {run}: permutation 3: data does not match its checksum (changed "
                              "after it was written); skipped (--skip-damaged): left out of every statistic as if "
                              "unfinished"]
    unfinished = copy(clean, tmp_path, "unfinished.h5")
    with h5py.File(unfinished, "r+") as fh:
        fh["particles/perm_done"][3] = 0
    ref = tmp_path / "unfinished_summary.h5"
    r = hpcbelt("aggregate", unfinished, "-o", ref, "--quiet")
    assert r.returncode == 0, r.stderr
    diff = summary_differences(skip, ref)            # tolerance 0: bitwise the same statistics
    assert sorted(diff) == sorted([
        "/@all_finished", "/@items_skipped_damaged", "/@items_skipped_damaged_json", "/@permutations_damaged",
        "/@permutations_finished", "/@skip_damaged", "particles/permutations_damaged",
        "particles@permutations_damaged"]), diff
    with h5py.File(skip) as s:
        assert s["particles/permutations_damaged"][()].tolist() == [3]
        assert s["particles/permutations_used"][()].tolist() == [0, 1, 2, 4]
        assert s.attrs["permutations_used"] == 4 and s.attrs["permutations_finished"] == 5
        assert s.attrs["items_skipped_damaged"] == 1
    assert "permutations finished: 5 / 5 (1 damaged, left out: 4 averaged)" in skip.with_suffix(".md").read_text()
    # a damaged PDE is never left out
    flip_byte(run, "pde/F", 1, byte=1000)
    r = hpcbelt("aggregate", run, "-o", tmp_path / "s2.h5", "--skip-damaged", ranks=2)
    assert r.returncode == 2
    assert ours(r.stderr) == [
        f"hpcbelt: error: {run}: PDE is marked finished but data does not match its checksum (changed after it was "
        "written): corrupted run file, not aggregated (1 more damaged item(s); 'hpcbelt verify' lists every "
        "problem; --skip-damaged cannot leave out the PDE: 'hpcbelt run --restart' computes it again)"]
    assert not (tmp_path / "s2.h5").exists()


# ------------------------------------------------------------------------------------------
# the contract: every study kind's runfile module has a verify function
# ------------------------------------------------------------------------------------------

def test_every_kind_has_a_verify_function():
    sys.path.insert(0, str(ROOT / "tests" / "studies"))
    try:
        import decay  # noqa: F401  (registers the test kind)
    finally:
        sys.path.remove(str(ROOT / "tests" / "studies"))
    from hpcbelt import runcheck, studies

    for name in studies.names():
        assert callable(runcheck.verifier(name)), name
