"""``hpcbelt dxx import`` (CSV / NPZ / HDF5) and ``plot``; the CLI registration."""

import argparse

import h5py
import numpy as np
import pytest

from hpcbelt.dxx.cli import main as dxx_main
from hpcbelt.dxx.cli import register


def _profiles(n=4, na=19):
    a = np.linspace(0, 90, na)
    rng = np.random.default_rng(1)
    return a, rng.lognormal(-11, 1, (n, na))


def test_import_csv_with_header_and_unit_conversion(tmp_path):
    a, d = _profiles()
    f = tmp_path / "p.csv"
    f.write_text("# my profiles, 1/day\n" + ",".join(f"{v:g}" for v in a) + "\n"
                 + "\n".join(",".join(repr(float(v)) for v in row) for row in d * 86400.0) + "\n")
    out = tmp_path / "db.h5"
    assert dxx_main(["import", str(f), "-o", str(out), "--daa-units", "1/day", "--L", "3",
                     "--energy-MeV", "0.5"]) == 0
    with h5py.File(out, "r") as fh:
        np.testing.assert_allclose(fh["daa"][()], d, rtol=1e-12)
        assert fh.attrs["format"] == "hpcbelt.daa_database"
    from hpcbelt.daa_database import load
    assert load(out).n_profiles == 4


def test_import_npz_in_radians_extends_to_0_and_90(tmp_path):
    a, d = _profiles()
    f = tmp_path / "p.npz"
    np.savez(f, pa=np.radians(a[1:-1]), D=d[:, 1:-1], mean=d.mean(axis=0)[1:-1])
    out = tmp_path / "db.h5"
    assert dxx_main(["import", str(f), "-o", str(out), "--alpha-key", "pa", "--alpha-units",
                     "rad", "--daa-key", "D", "--mean-inputs-key", "mean", "--L", "3",
                     "--energy-MeV", "0.5"]) == 0
    with h5py.File(out, "r") as fh:
        got_a = fh["alpha_deg"][()]
        assert got_a[0] == 0 and got_a[-1] == 90
        np.testing.assert_allclose(got_a[1:-1], a[1:-1], rtol=1e-12)
        np.testing.assert_array_equal(fh["daa"][()][:, 0], d[:, 1])
        assert "held out" in fh.attrs["provenance"]


def test_import_hdf5_other_names_and_bad_values(tmp_path, capsys):
    a, d = _profiles()
    f = tmp_path / "p.h5"
    with h5py.File(f, "w") as fh:
        fh["grid/pitch"] = a
        fh["grid/Dxx"] = d.T
    ok = tmp_path / "ok.h5"
    args = ["--alpha-key", "grid/pitch", "--daa-key", "grid/Dxx", "--L", "3", "--energy-MeV",
            "0.5"]
    assert dxx_main(["import", str(f), "-o", str(ok), "--transpose", *args]) == 0
    # shape mismatch without --transpose, named in the message, nothing written
    bad = tmp_path / "bad.h5"
    assert dxx_main(["import", str(f), "-o", str(bad), *args]) == 2
    err = capsys.readouterr().err
    assert "expected (n_profiles, 19)" in err and "--transpose" in err and not bad.exists()
    d2 = d.copy()
    d2[2, 5] = np.nan
    d2[3, 7] = -1e-6
    with h5py.File(f, "w") as fh:
        fh["grid/pitch"] = a
        fh["grid/Dxx"] = d2
    assert dxx_main(["import", str(f), "-o", str(bad), *args]) == 2
    assert "profile 3 (row 3), pitch angle 25 deg" in capsys.readouterr().err
    assert not bad.exists()
    assert dxx_main(["import", str(f), "-o", str(bad), *args, "--daa-units", "furlongs"]) == 2


def test_plot_writes_a_png(tmp_path):
    pytest.importorskip("matplotlib")
    a, d = _profiles(n=200)
    f = tmp_path / "p.npz"
    np.savez(f, alpha_deg=a, daa=d)
    db = tmp_path / "db.h5"
    assert dxx_main(["import", str(f), "-o", str(db), "--L", "3", "--energy-MeV", "0.5"]) == 0
    png = tmp_path / "fig.png"
    assert dxx_main(["plot", str(db), "-o", str(png)]) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_register_adds_dxx_subcommands():
    parser = argparse.ArgumentParser(prog="hpcbelt")
    sub = parser.add_subparsers(dest="command", required=True)
    register(sub)
    args = parser.parse_args(["dxx", "build", "--wave-model", "oblique", "--seed", "3",
                              "--n-profiles", "10", "--pairs", "p.csv", "-o", "x.h5",
                              "--config", "c.toml"])
    assert args.func.__name__ == "cmd_build" and args.wave_model == "oblique"
    for cmd in (["dxx", "import", "f.csv", "-o", "x.h5", "--L", "3", "--energy-MeV", "1"],
                ["dxx", "plot", "db.h5"], ["dxx", "keys"]):
        assert callable(parser.parse_args(cmd).func)


def test_unknown_config_key_is_an_error_naming_it(tmp_path, capsys):
    c = tmp_path / "c.toml"
    c.write_text("[spectrum]\nf_m_hz = 400.0\n")
    assert dxx_main(["build", "--config", str(c), "-o", str(tmp_path / "x.h5")]) == 2
    err = capsys.readouterr().err
    assert "f_m_hz" in err and "f_m_Hz" in err and str(c) in err


def test_settings_take_their_defaults_from_the_schema(tmp_path, capsys):
    import dataclasses

    from hpcbelt.dxx.config import DxxConfig, full_schema, load
    from hpcbelt.dxx.spectrum import SCHEMA as SPECTRUM, WaveSpectrum
    from hpcbelt.dxx.synthetic import SCHEMA as SYNTHETIC, SyntheticSettings, generate

    doc = load(None, schema=full_schema())
    assert DxxConfig() == DxxConfig.from_doc(doc)
    assert SyntheticSettings() == SyntheticSettings(**doc["synthetic"])
    assert WaveSpectrum() == WaveSpectrum(**{k: key.default for k, key in SPECTRUM.items()})
    assert [f.name for f in dataclasses.fields(SyntheticSettings)] == list(SYNTHETIC)
    # the generator's own guard is a ValueError; the schema refuses the key first, naming it
    with pytest.raises(ValueError, match="B_eq_rel_sigma"):
        generate(SyntheticSettings(B_eq_rel_sigma=0.2))
    assert dxx_main(["build", "-o", str(tmp_path / "x.h5"), "--set",
                     "synthetic.B_eq_rel_sigma=0.2"]) == 2
    assert "synthetic.B_eq_rel_sigma" in capsys.readouterr().err
    assert not (tmp_path / "x.h5").exists()
