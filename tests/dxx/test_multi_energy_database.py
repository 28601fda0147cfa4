"""Multi-energy D_aa databases (hpcbelt.daa_database): the writer and reader of the
(energy, profile, alpha) format, its slices, its errors, and the single-energy format left
byte for byte as it was."""

from pathlib import Path

import h5py
import numpy as np
import pytest

from hpcbelt import daa_database as D
from hpcbelt.errors import InputError

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DB = ROOT / "inputs" / "hiss_L3_0.5MeV.h5"
ENERGIES = (0.1, 0.5, 2.0)


def _arrays(ne=3, n=12, na=10, seed=5):
    rng = np.random.default_rng(seed)
    a = np.linspace(0, 90, na)
    d = rng.lognormal(-12, 1.5, (ne, n, na))
    d[..., -1] = 0.0
    m = rng.lognormal(-12.5, 1.0, (ne, na))
    cols = dict(X=np.linspace(6, 12, n), Y=np.geomspace(1e-8, 1e-6, n), B_eq_nT=np.full(n, 1100.0))
    return a, d, m, cols


def _multi(path, **over):
    a, d, m, cols = _arrays()
    kw = dict(alpha_deg=a, daa=d, daa_of_mean_inputs=m, L=3.0, energy_MeV=list(ENERGIES),
              wave_model="oblique", description="multi", provenance={"k": 1}, **cols)
    kw.update(over)
    D.write(path, **kw)
    return kw


def test_round_trip_every_slice_and_the_file_layout(tmp_path):
    kw = _multi(tmp_path / "m.h5")
    dbs = D.load_all(tmp_path / "m.h5")
    assert [db.energy_MeV for db in dbs] == list(ENERGIES)
    assert D.file_energies(tmp_path / "m.h5") == ENERGIES
    whole = D._sha256(tmp_path / "m.h5")
    for k, db in enumerate(dbs):
        np.testing.assert_array_equal(db.daa, kw["daa"][k])
        np.testing.assert_array_equal(db.daa_of_mean_inputs, kw["daa_of_mean_inputs"][k])
        np.testing.assert_array_equal(db.alpha_deg, kw["alpha_deg"])
        assert db.sha256 == whole and db.path == str(tmp_path / "m.h5") and db.L == 3.0
        assert sorted(db.extra) == ["B_eq_nT", "X", "Y"]
        np.testing.assert_array_equal(db.extra["X"], kw["X"])
        one = D.load(tmp_path / "m.h5", ENERGIES[k])
        np.testing.assert_array_equal(one.daa, db.daa)
        assert one.energy_MeV == ENERGIES[k] and one.sha256 == whole
    with h5py.File(tmp_path / "m.h5") as fh:
        assert "energy_MeV" not in fh.attrs and fh.attrs["n_energies"] == 3
        assert fh.attrs["format_version"] == D.MULTI_ENERGY_FORMAT_VERSION
        assert fh["energy_MeV"].attrs["units"] == "MeV"
        assert fh["daa"].shape == (3, 12, 10) and fh["daa_mean"].shape == (3, 10)
        for name in fh:
            assert fh[name].attrs["units"] and fh[name].attrs["description"]
        # daa_mean of each slice is the single-energy writer's daa.mean(axis=0), bit for bit
        for k in range(3):
            assert fh["daa_mean"][k].tobytes() == kw["daa"][k].mean(axis=0).tobytes()


def test_a_slice_equals_the_single_energy_file_of_the_same_arrays(tmp_path):
    """The slice at E is the Database the single-energy file at E gives (bitwise), and the
    distribution of Fig 1 and the interpolation work on it the same."""
    kw = _multi(tmp_path / "m.h5")
    k = 1
    single = dict(kw, daa=kw["daa"][k], daa_of_mean_inputs=kw["daa_of_mean_inputs"][k],
                  energy_MeV=ENERGIES[k])
    D.write(tmp_path / "s.h5", **single)
    s = D.load(tmp_path / "s.h5")
    m = D.load(tmp_path / "m.h5", ENERGIES[k] * (1 + 1e-12))     # within the tolerance
    for name in ("alpha_deg", "daa", "daa_of_mean_inputs"):
        assert getattr(m, name).tobytes() == getattr(s, name).tobytes()
    assert (m.L, m.energy_MeV, m.n_profiles) == (s.L, s.energy_MeV, s.n_profiles)
    for c in D.COLUMNS:
        assert m.extra[c].tobytes() == s.extra[c].tobytes()
    grid = np.linspace(0, 90, 37)
    assert m.on_grid(grid).tobytes() == s.on_grid(grid).tobytes()
    dm, ds = D.distribution(m), D.distribution(s)
    for key in ("counts", "zeros", "edges", "qq_sample_log10", "daa_mean_db_grid"):
        np.testing.assert_array_equal(dm[key], ds[key])
    info = {"path": str(tmp_path / "m.h5"), "sha256": m.sha256}
    out = D.database_distribution(info, energy_MeV=ENERGIES[k])
    assert out["readable"] and out["sha256_matches_run"]
    np.testing.assert_array_equal(out["counts"], ds["counts"])
    assert not D.database_distribution(info)["readable"]          # no energy chosen: refused
    # a single-energy file ignores the energy argument and lists one Database
    assert D.load(tmp_path / "s.h5", 7.0).energy_MeV == ENERGIES[k]
    assert D.file_energies(tmp_path / "s.h5") is None
    assert len(D.load_all(tmp_path / "s.h5")) == 1


def test_reader_errors_name_the_file_and_the_energies(tmp_path):
    _multi(tmp_path / "m.h5")
    with pytest.raises(InputError) as e:
        D.load(tmp_path / "m.h5")
    msg = str(e.value)
    assert "m.h5" in msg and "holds 3 energies" in msg and "choose one" in msg and "0.1, 0.5, 2 MeV" in msg
    with pytest.raises(InputError) as e:
        D.load(tmp_path / "m.h5", 1.0)
    msg = str(e.value)
    assert "m.h5" in msg and "1 MeV" in msg and "0.1, 0.5, 2 MeV" in msg
    with pytest.raises(InputError, match="0.5 MeV"):
        D.load(tmp_path / "m.h5", 0.5 * (1 + 1e-7))                # outside the tolerance
    # a damaged energy coordinate or a daa that does not match it
    for change, words in ((lambda fh: fh["energy_MeV"].__setitem__(1, 0.05), "strictly increasing"),
                          (lambda fh: (fh.__delitem__("daa"), fh.create_dataset("daa", data=np.zeros((2, 12, 10)))),
                           "'daa' has shape (2, 12, 10)")):
        p = tmp_path / "bad.h5"
        _multi(p)
        with h5py.File(p, "a") as fh:
            change(fh)
        with pytest.raises(InputError, match="bad.h5") as e:
            D.load_all(p)
        assert words in str(e.value)
    with pytest.raises(InputError, match="not found"):
        D.file_energies(tmp_path / "none.h5")


@pytest.mark.parametrize("over, words", [
    (dict(energy_MeV=[0.1, 0.5]), "expected (n_energy = 2"),
    (dict(energy_MeV=[0.5, 0.1, 2.0]), "strictly increasing"),
    (dict(energy_MeV=[-0.1, 0.5, 2.0]), "positive"),
    (dict(energy_MeV=0.5), "must be a sequence"),
    (dict(daa_of_mean_inputs=np.ones((2, 10))), "'daa_of_mean_inputs' has shape (2, 10)"),
    (dict(X=np.ones(11)), "'X' has shape (11,)"),
])
def test_writer_checks_the_multi_energy_arrays(tmp_path, over, words):
    with pytest.raises(ValueError) as e:
        _multi(tmp_path / "w.h5", **over)
    assert words in str(e.value)
    assert not (tmp_path / "w.h5").exists()


def test_writer_refuses_a_list_of_energies_with_2d_profiles(tmp_path):
    a, d, m, _ = _arrays()
    with pytest.raises(ValueError, match="several energies need daa of shape"):
        D.write(tmp_path / "w.h5", a, d[0], m[0], energy_MeV=[0.5])


def test_negative_profile_in_one_slice_is_located(tmp_path):
    a, d, m, cols = _arrays()
    d[2, 3, 4] = -1.0
    with pytest.raises(ValueError, match=r"energy 2 MeV, slice 2.*profile 4"):
        D.write(tmp_path / "w.h5", a, d, m, energy_MeV=list(ENERGIES))


def test_single_energy_bytes_unchanged_shipped_database(tmp_path, monkeypatch):
    """Rewriting the shipped default database from its own arrays and attributes gives its
    bytes: the single-energy writer is unchanged by the multi-energy format.  (The full
    rebuild by its documented command, ~1 min on 2 ranks, gives the same bytes too: not run
    here.)"""
    import hpcbelt

    with h5py.File(DEFAULT_DB) as fh:
        arrays = {k: fh[k][()] for k in ("alpha_deg", "daa", "daa_of_mean_inputs", *D.COLUMNS)}
        at = dict(fh.attrs)
    monkeypatch.setattr(hpcbelt, "__version__", at["hpcbelt_version"])   # the writer's stamp
    D.write(tmp_path / "again.h5", L=at["L"], energy_MeV=at["energy_MeV"],
            wave_model=at["wave_model"], description=at["description"],
            provenance=at["provenance"], **arrays)
    assert (tmp_path / "again.h5").read_bytes() == DEFAULT_DB.read_bytes()
    assert D.file_energies(DEFAULT_DB) is None
    db = D.load(DEFAULT_DB, energy_MeV=2.0)          # ignored for a single-energy file
    assert db.energy_MeV == 0.5 and db.daa.ndim == 2


SHIPPED = ROOT / "inputs" / "hiss_L3_energies.h5"


def test_shipped_multi_energy_database_slice_and_gap_angles():
    """inputs/hiss_L3_energies.h5: its 0.5 MeV slice is the default database bitwise, and the
    edge of the no-resonance gap of D(<X>, <Y>) follows an independent estimate: the
    equatorial first-order cyclotron resonance of parallel whistlers at the band's top
    frequency (2 kHz, cold-plasma dispersion at the mean X and B_eq), cos a_c =
    (omega + Omega_e/gamma) / (k v).  Oblique waves and resonance off the equator extend the
    resonance a little beyond that: the edge must lie within [a_c - 1 deg (the 1 deg grid),
    a_c + 8 deg], and rise with energy."""
    from hpcbelt import constants as K
    from hpcbelt.dxx.plasma import gyrofrequency_rad_s

    assert D.file_energies(SHIPPED) == (0.1, 0.2, 0.5, 1.0, 2.0)
    m, s = D.load(SHIPPED, 0.5), D.load(DEFAULT_DB)
    for name in ("alpha_deg", "daa", "daa_of_mean_inputs"):
        assert getattr(m, name).tobytes() == getattr(s, name).tobytes()
    for c in D.COLUMNS:
        assert m.extra[c].tobytes() == s.extra[c].tobytes()
    c_light = 2.99792458e8
    edges = []
    for db in D.load_all(SHIPPED):
        assert np.all(np.isfinite(db.daa)) and np.all(db.daa >= 0)
        om = gyrofrequency_rad_s(float(db.extra["B_eq_nT"].mean()))
        wpe = float(db.extra["X"].mean()) * om
        w = 2 * np.pi * 2000.0
        k = w / c_light * np.sqrt(1 + wpe ** 2 / (w * (om - w)))
        g = K.lorentz_factor_of_energy(db.energy_MeV)
        v = c_light * np.sqrt(1 - 1 / g ** 2)
        a_c = np.degrees(np.arccos((w + om / g) / (k * v)))
        edge = db.alpha_deg[np.nonzero(db.daa_of_mean_inputs > 0)[0].max()]
        assert a_c - 1.0 <= edge <= a_c + 8.0, (db.energy_MeV, a_c, edge)
        edges.append(edge)
    assert all(b > a for a, b in zip(edges, edges[1:])), edges
