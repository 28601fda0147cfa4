"""``hpcbelt dxx build`` with a ``[variability]`` table (per-observation wave parameters): the
file of ``tools/shape_sources.py build`` (the reference builder), dataset by dataset and bit for
bit; the refusals of bad ``[variability]`` input and of energy lists where one energy is needed.

Independent reference: the tool calls :func:`hpcbelt.dxx.variability.build` itself and writes
with its own code, so equality (tolerance 0: both run the same deterministic calculator on the
same draws) checks the command's wiring -- draws, observations, mean inputs, wave datasets."""

import json
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

from hpcbelt.config import to_toml
from hpcbelt.dxx.cli import main as dxx_main

ROOT = Path(__file__).resolve().parents[2]

# oblique, cyclotron-only, coarse numerics: ~10 ms a profile; two varied parameters (f_m with
# the width following it, and the latitude extent) so that three wave_<name> datasets are written
TINY = {
    "description": "tiny variability build (tests/dxx/test_variability_build.py)",
    "grid": {"alpha_step_deg": 5.0, "n_lat": 24},
    "wave": {"model": "oblique"},
    "oblique": {"n_resonance": 1, "n_wave_normal": 6, "n_freq_scan": 6, "include_landau": False},
    "table": {"method": "direct"},
    "synthetic": {"n_profiles": 20, "seed": 11},
    "variability": {"seed": 3, "f_m_sigma_log10": 0.125, "df_follows_f_m": True,
                    "lat_max_sigma_deg": 8.0, "lat_max_min_deg": 20.0, "lat_max_max_deg": 50.0},
}


def _tree(path):
    """{dataset name: (dtype, array, attrs)} and the root attributes of an HDF5 file."""
    out = {}
    with h5py.File(path, "r") as fh:
        fh.visititems(lambda n, o: out.__setitem__(n, (o.dtype, o[()], dict(o.attrs)))
                      if isinstance(o, h5py.Dataset) else None)
        root = dict(fh.attrs)
    return out, root


def test_build_command_writes_the_file_of_the_shape_sources_tool(tmp_path, capsys):
    cfg = tmp_path / "tiny.toml"
    cfg.write_text(to_toml(TINY))
    cli_out, tool_out = tmp_path / "cli.h5", tmp_path / "tool.h5"
    assert dxx_main(["build", "--config", str(cfg), "-o", str(cli_out), "--quiet"]) == 0
    sys.path.insert(0, str(ROOT / "tools"))
    try:
        import shape_sources
    finally:
        sys.path.remove(str(ROOT / "tools"))
    assert shape_sources.build(cfg, tool_out, quiet=True) == 0

    mine, mine_root = _tree(cli_out)
    ref, ref_root = _tree(tool_out)
    assert sorted(mine) == sorted(ref)
    assert {"wave_f_m_Hz", "wave_df_Hz", "wave_lat_max_deg"} <= set(mine) and "wave_X_w" not in mine
    for name, (dtype, arr, attrs) in ref.items():
        assert mine[name][0] == dtype, name
        assert mine[name][1].tobytes() == arr.tobytes(), name          # bit for bit
        assert mine[name][2] == attrs, name
    # the parameters really vary (else the comparison would not exercise the new path)
    assert np.ptp(mine["wave_f_m_Hz"][1]) > 0 and np.ptp(mine["wave_lat_max_deg"][1]) > 0
    pm, pr = json.loads(mine_root["provenance"]), json.loads(ref_root["provenance"])
    assert pm["settings"] == pr["settings"] | {"variability": pm["variability"]}
    assert pm["settings"]["variability"]["seed"] == 3
    for key in ("variability", "varied_parameters", "mean_inputs", "wave_parameter_quantiles_5_50_95",
                "source"):
        assert pm[key] == pr[key], key
    assert pm["command"].startswith("hpcbelt dxx build --config")
    assert mine_root["description"] == TINY["description"]


def test_settings_hold_variability_only_when_given(tmp_path):
    """Without [variability] the provenance settings have no such table (the default database's
    bytes are unchanged); with an inactive one the normal builder runs and stores it."""
    doc = {k: v for k, v in TINY.items() if k != "variability"} | {"synthetic": {"n_profiles": 3, "seed": 1}}
    a, b = tmp_path / "a.h5", tmp_path / "b.h5"
    cfg = tmp_path / "a.toml"
    cfg.write_text(to_toml(doc))
    assert dxx_main(["build", "--config", str(cfg), "-o", str(a), "--quiet"]) == 0
    assert dxx_main(["build", "--config", str(cfg), "-o", str(b), "--quiet",
                     "--set", "variability.seed=9"]) == 0
    pa, pb = (json.loads(h5py.File(p, "r").attrs["provenance"]) for p in (a, b))
    assert "variability" not in pa["settings"] and pb["settings"]["variability"]["seed"] == 9
    da, db_ = _tree(a)[0], _tree(b)[0]
    assert sorted(da) == sorted(db_) and not any(n.startswith("wave_") for n in db_)
    assert all(da[n][1].tobytes() == db_[n][1].tobytes() for n in da)


def _refused(capsys, argv, *words):
    assert dxx_main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("hpcbelt: error: "), err
    for w in words:
        assert w in err[0], (w, err[0])


def test_unknown_variability_key_exit_2_naming_it(tmp_path, capsys):
    cfg = tmp_path / "bad.toml"
    cfg.write_text(to_toml(TINY | {"variability": {"f_m_sigma_log_10": 0.1}}))
    out = tmp_path / "x.h5"
    _refused(capsys, ["build", "--config", str(cfg), "-o", str(out)], "f_m_sigma_log_10", str(cfg))
    assert not out.exists()


def test_variability_with_an_energy_list_is_refused(tmp_path, capsys):
    cfg = tmp_path / "e.toml"
    cfg.write_text(to_toml(TINY | {"physics": {"energy_MeV": [0.5, 1.0]}}))
    out = tmp_path / "x.h5"
    _refused(capsys, ["build", "--config", str(cfg), "-o", str(out)], "[variability]", "energy_MeV")
    assert not out.exists()


def test_import_refuses_a_config_with_an_energy_list(tmp_path, capsys):
    src = tmp_path / "p.csv"
    src.write_text("0,45,90\n1e-6,2e-6,0\n")
    cfg = tmp_path / "e.toml"
    cfg.write_text(to_toml({"physics": {"energy_MeV": [0.5, 1.0]}}))
    out = tmp_path / "x.h5"
    _refused(capsys, ["import", str(src), "-o", str(out), "--L", "3", "--energy-MeV", "0.5",
                      "--config", str(cfg)], str(cfg), "physics.energy_MeV", "single-energy")
    assert not out.exists()
