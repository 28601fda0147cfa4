"""Bad input: one clear line naming the key or file, exit code 2 on every rank, no hang,
and no existing output damaged.  Each case runs serially and under mpirun -n 3."""

import hashlib

import h5py
import numpy as np
import pytest
from .helpers import hpcbelt, make_study, write_test_database


def _db_with(path, mutate):
    """A database file whose 'daa' was damaged after writing (the writer itself refuses such
    arrays): the loader must catch what another tool or a corrupted copy could leave on disk."""
    write_test_database(path)
    with h5py.File(path, "r+") as fh:
        alpha, daa = mutate(fh["alpha_deg"][()], fh["daa"][()])
        attrs = dict(fh["daa"].attrs)
        del fh["daa"]
        fh["daa"] = daa
        fh["daa"].attrs.update(attrs)


def _nan(alpha, daa):
    daa[5, 40] = np.nan
    return alpha, daa


def _negative(alpha, daa):
    daa[2, 10] = -1e-6
    return alpha, daa


def _shape(alpha, daa):
    return alpha, daa[:, :-3]


CASES = {
    # name: (study replacements, database mutation, expected words in the message)
    "misspelt key": ({"energy_MeV = 0.5": "energy_MEV = 0.5"}, None, ["energy_MEV", "did you mean 'energy_MeV'"]),
    "unknown table": ({"[grid]": "[grd]"}, None, ["unknown key 'grd'"]),
    "wrong type": ({"members = 4": 'members = "four"'}, None, ["experiment[0].members", "integer"]),
    "bad choice": ({'method = "exact"': 'method = "rk4"'}, None, ["time.method", "'explicit'"]),
    "negative value": ({"duration_days = 1.0": "duration_days = -1.0"}, None, ["time.duration_days", "positive"]),
    "missing database": ({'path = "db.h5"': 'path = "nowhere.h5"'}, None, ["nowhere.h5", "not found"]),
    "NaN in D": ({}, _nan, ["non-finite", "daa"]),
    "negative D": ({}, _negative, ["negative", "daa"]),
    "wrong shape": ({}, _shape, ["shape", "alpha_deg"]),
    "unstable dt": ({'method = "exact"': 'method = "explicit"', "dt_s = 1.0": "dt_s = 600.0"}, None,
                    ["time.dt_s", "stability limit"]),
    "missing switch": ({"switch_every_s = 3600.0": ""}, None, ["switch_every_s", "required"]),
    "profile out of range": ({"profile = 3": "profile = 4000"}, None, ["experiment[4].profile", "0..39"]),
}


@pytest.mark.parametrize("ranks", [None, 3], ids=["serial", "mpirun3"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_clear_error_exit_2(tmp_path, case, ranks):
    repl, mutate, words = CASES[case]
    study = make_study(tmp_path, days=1.0, **repl)
    if mutate:
        _db_with(tmp_path / "db.h5", mutate)
    out = tmp_path / "out.h5"
    out.write_bytes(b"previous results")
    before = hashlib.sha256(out.read_bytes()).hexdigest()
    r = hpcbelt("run", study, "-o", out, "--overwrite", ranks=ranks, timeout=120)
    assert r.returncode == 2, (r.returncode, r.stderr)
    lines = [ln for ln in r.stderr.splitlines() if ln.startswith("hpcbelt: error:")]
    assert len(lines) == 1, r.stderr
    for w in words:
        assert w in lines[0], lines[0]
    assert "Traceback" not in r.stderr
    assert hashlib.sha256(out.read_bytes()).hexdigest() == before     # nothing damaged


@pytest.mark.parametrize("ranks", [None, 2], ids=["serial", "mpirun2"])
def test_existing_output_needs_overwrite(tmp_path, ranks):
    study = make_study(tmp_path, days=0.5, dalpha=9.0, members=1)
    out = tmp_path / "out.h5"
    out.write_bytes(b"keep me")
    r = hpcbelt("run", study, "-o", out, ranks=ranks)
    assert r.returncode == 2 and "--overwrite" in r.stderr and "out.h5" in r.stderr
    assert out.read_bytes() == b"keep me"
    r = hpcbelt("run", study, "-o", out, "--overwrite", "--quiet", ranks=ranks)
    assert r.returncode == 0, r.stderr
    with h5py.File(out) as fh:
        assert fh.attrs["status"] == "complete"


def test_unwritable_output_directory(tmp_path):
    study = make_study(tmp_path, days=0.5)
    r = hpcbelt("run", study, "-o", tmp_path / "no" / "such" / "dir.h5", ranks=2)
    assert r.returncode == 2 and "does not exist" in r.stderr


def test_missing_study_file(tmp_path):
    r = hpcbelt("run", tmp_path / "nothing.toml")
    assert r.returncode == 2 and "nothing.toml" in r.stderr and "not found" in r.stderr


def test_loss_cone_keys_exclusive(tmp_path):
    study = make_study(tmp_path, **{"loss_cone_altitude_km = 100.0": "loss_cone_altitude_km = 100.0\nloss_cone_deg = 5.0"})
    r = hpcbelt("run", study, "-o", tmp_path / "x.h5")
    assert r.returncode == 2 and "not both" in r.stderr
