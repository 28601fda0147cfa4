"""Surrogate databases (hpcbelt.dxx.surrogate): each kind keeps exactly what its definition says
it keeps and destroys what it says it destroys; the command writes a database the study loads."""

import subprocess
import sys

import numpy as np
import pytest

from hpcbelt import daa_database
from hpcbelt.dxx import surrogate as sg

ALPHA = np.linspace(0.0, 90.0, 46)


def database(seed=0, k=200):
    """Log-normal amplitudes, varied peak angle and width, cut-offs, some rows zero at 30 deg."""
    rng = np.random.default_rng(seed)
    peak = rng.uniform(10, 70, k)[:, None]
    width = rng.uniform(5, 30, k)[:, None]
    amp = 10 ** rng.normal(-5.5, 0.6, k)[:, None]
    cut = rng.uniform(40, 85, k)[:, None]
    d = amp * np.exp(-0.5 * ((ALPHA - peak) / width) ** 2) * (ALPHA <= cut)
    d[:5, ALPHA >= 20] = 0.0                                # five rows cut off below 30 deg
    return d


def amp(d, a=30.0):
    return sg.amplitudes(ALPHA, d, a)


def test_amplitude_only_keeps_amplitudes_and_mean_on_the_mean_shape():
    d = database()
    out, info = sg.make("amplitude_only", ALPHA, d)
    np.testing.assert_allclose(amp(out), amp(d), rtol=1e-13, atol=0)
    np.testing.assert_allclose(out.mean(axis=0), d.mean(axis=0), rtol=1e-12, atol=1e-30)
    shape = d.mean(axis=0) / d.mean(axis=0).max()
    nz = amp(d) > 0
    np.testing.assert_allclose(out[nz] / out[nz].max(axis=1, keepdims=True), np.broadcast_to(shape, out[nz].shape),
                               rtol=1e-12, atol=1e-15)
    assert info["rows_out"] == d.shape[0]


def test_shape_only_keeps_shapes_with_one_amplitude():
    d = database()
    out, info = sg.make("shape_only", ALPHA, d)
    keep = amp(d) > 0
    assert info["rows_left_out_zero_at_alpha_ref"] == int((~keep).sum()) == 5 and out.shape[0] == keep.sum()
    ref = np.interp(30.0, ALPHA, d.mean(axis=0))
    np.testing.assert_allclose(amp(out), ref, rtol=1e-12)
    nz = d[keep] > 0
    ratio = out[nz] / d[keep][nz]
    np.testing.assert_allclose(ratio, np.repeat(ref / amp(d)[keep], (d[keep] > 0).sum(axis=1)),
                               rtol=1e-12)


def test_shuffled_angles_keeps_every_angles_values_and_breaks_profiles():
    d = database()
    out, _ = sg.make("shuffled_angles", ALPHA, d, seed=7)
    np.testing.assert_array_equal(np.sort(out, axis=0), np.sort(d, axis=0))
    np.testing.assert_allclose(out.mean(axis=0), d.mean(axis=0), rtol=1e-13, atol=1e-30)
    # coherence across angles is destroyed: the correlation of log D at 25 and 35 deg drops
    i, j = np.searchsorted(ALPHA, 26.0), np.searchsorted(ALPHA, 36.0)
    pos = (d[:, i] > 0) & (d[:, j] > 0)
    before = np.corrcoef(np.log(d[pos, i]), np.log(d[pos, j]))[0, 1]
    pos2 = (out[:, i] > 0) & (out[:, j] > 0)
    after = np.corrcoef(np.log(out[pos2, i]), np.log(out[pos2, j]))[0, 1]
    assert before > 0.8 and abs(after) < 0.3
    again, _ = sg.make("shuffled_angles", ALPHA, d, seed=7)
    np.testing.assert_array_equal(out, again)                  # the seed decides
    other, _ = sg.make("shuffled_angles", ALPHA, d, seed=8)
    assert not np.array_equal(out, other)


def test_shuffled_amplitudes_keeps_shapes_and_the_amplitude_distribution():
    d = database()
    out, _ = sg.make("shuffled_amplitudes", ALPHA, d, seed=3)
    np.testing.assert_allclose(np.sort(amp(out)), np.sort(amp(d)), rtol=1e-12, atol=0)
    pos = amp(d) > 0
    np.testing.assert_array_equal(out[~pos], d[~pos])
    scale = out[pos] / np.where(d[pos] > 0, d[pos], np.nan)
    spread = np.nanmax(scale, axis=1) / np.nanmin(scale, axis=1)
    np.testing.assert_allclose(spread, 1.0, rtol=1e-12)            # each row only rescaled
    assert not np.allclose(amp(out)[pos], amp(d)[pos])


@pytest.mark.parametrize("g", [1.0, 1.5, 3.0])
def test_heavy_tail_keeps_the_median_and_lower_half_and_stretches_the_top(g):
    d = database()
    out, info = sg.make("heavy_tail", ALPHA, d, tail_factor=g)
    a, b = amp(d), amp(out)
    med = np.median(a)
    assert np.median(b) == pytest.approx(med, rel=1e-12)
    low = a <= np.sort(a)[a.size // 2]            # the middle value(s) and below: untouched
    np.testing.assert_array_equal(out[low], d[low])
    np.testing.assert_allclose(np.log(b[~low] / med), g * np.log(a[~low] / med), rtol=1e-10)
    q95 = lambda x: np.log(np.percentile(x, 95) / np.median(x))         # noqa: E731
    assert q95(b) == pytest.approx(g * q95(a), rel=1e-2 if g > 1 else 1e-12)
    assert info["rows_stretched"] == int((~low).sum())


@pytest.mark.parametrize("kind,kw,needle", [
    ("heavy_tail", {"tail_factor": 0.5}, "tail_factor"),
    ("shape_only", {"alpha_ref_deg": 95.0}, "alpha_ref_deg"),
    ("nonsense", {}, "kind"),
])
def test_bad_parameters_name_themselves(kind, kw, needle):
    with pytest.raises(ValueError, match=needle):
        sg.make(kind, ALPHA, database(), **kw)


def test_command_writes_a_database_the_study_can_use(tmp_path):
    """``hpcbelt dxx surrogate`` writes a valid database with its provenance, refuses to overwrite
    its source or an existing file (exit 2, file untouched), and names a bad option."""
    src = tmp_path / "db.h5"
    daa_database.write(src, ALPHA, database(), database(1, 1)[0], L=3.0, energy_MeV=0.5)
    before = src.read_bytes()

    def run(*args):
        return subprocess.run([sys.executable, "-m", "hpcbelt", "dxx", "surrogate", *map(str, args)],
                              capture_output=True, text=True, timeout=120)

    r = run(src, "-o", tmp_path / "s.h5", "--kind", "heavy_tail", "--tail-factor", "2")
    assert r.returncode == 0, r.stderr
    db = daa_database.load(tmp_path / "s.h5")
    assert db.n_profiles == 200 and db.L == 3.0 and db.daa_of_mean_inputs is not None
    import h5py
    import json
    with h5py.File(tmp_path / "s.h5") as h5:
        prov = json.loads(h5.attrs["provenance"])
        assert h5.attrs["surrogate_kind"] == "heavy_tail"
    assert prov["surrogate"]["tail_factor"] == 2.0 and prov["source"]["sha256"] == daa_database.load(src).sha256
    r2 = run(src, "-o", tmp_path / "s2.h5", "--kind", "heavy_tail", "--tail-factor", "2")
    assert r2.returncode == 0
    np.testing.assert_array_equal(daa_database.load(tmp_path / "s.h5").daa, daa_database.load(tmp_path / "s2.h5").daa)
    for args, needle in (((src, "-o", src, "--kind", "shape_only"), "source database"),
                         ((src, "-o", tmp_path / "s.h5", "--kind", "shape_only"), "exists"),
                         ((src, "-o", tmp_path / "x.h5", "--kind", "heavy_tail", "--tail-factor", "0.5"),
                          "--tail-factor"),
                         ((tmp_path / "missing.h5", "-o", tmp_path / "x.h5", "--kind", "shape_only"), "missing.h5")):
        r = run(*args)
        assert r.returncode == 2 and needle in r.stderr, (args, r.stderr)
        assert r.stderr.count("error") == 1
    assert src.read_bytes() == before
    assert not (tmp_path / "x.h5").exists()
