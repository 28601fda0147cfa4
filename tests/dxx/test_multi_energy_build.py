"""``hpcbelt dxx build --energies-MeV`` / ``[physics] energy_MeV = [...]``: one multi-energy database
from one set of observations.  Each energy's slice is compared with an independent run, the
single-energy build at that energy (bitwise); the file with the rank count (bitwise, 1 vs 3
ranks); the stored command with a rebuild from it (bitwise); the energy dependence with the
resonance condition (the no-resonance gap angle moves up with energy); bad input with
InputError and nothing written; ``dxx plot`` with one figure per energy."""

import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

from hpcbelt import daa_database as D
from hpcbelt.dxx.cli import main as dxx_main

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
# tiny and fast: 5 deg pitch-angle steps, 24 latitude nodes, 16 observations
TINY = ["--n-profiles", "16", "--alpha-step-deg", "5", "--n-lat", "24", "--seed", "3", "--quiet"]
OBLIQUE = ["--wave-model", "oblique", "--n-resonance", "2", "--set", "oblique.n_wave_normal=6",
           "--set", "oblique.include_landau=false", "--set", "oblique.n_freq_scan=6"]
ENERGIES = (0.2, 0.5, 2.0)


@pytest.fixture(scope="module")
def builds(tmp_path_factory):
    """The multi-energy build and the single-energy builds at its energies (oblique, table),
    run in their directory with a relative output name (the stored command is rerunnable)."""
    d = tmp_path_factory.mktemp("me")
    here = os.getcwd()
    os.chdir(d)
    try:
        assert dxx_main(["build", "-o", "multi.h5", "--overwrite", *TINY, *OBLIQUE, "--method",
                         "table", "--energies-MeV", ",".join(f"{e:g}" for e in ENERGIES)]) == 0
        singles = {}
        for e in ENERGIES:
            singles[e] = d / f"single_{e:g}.h5"
            assert dxx_main(["build", "-o", singles[e].name, *TINY, *OBLIQUE, "--method",
                             "table", "--energy-MeV", f"{e:g}"]) == 0
    finally:
        os.chdir(here)
    return d, d / "multi.h5", singles


def test_each_slice_is_the_single_energy_build_bitwise(builds):
    _, multi, singles = builds
    assert D.file_energies(multi) == ENERGIES
    for e, path in singles.items():
        m, s = D.load(multi, e), D.load(path)
        assert m.energy_MeV == s.energy_MeV == e
        for name in ("alpha_deg", "daa", "daa_of_mean_inputs"):
            assert getattr(m, name).tobytes() == getattr(s, name).tobytes(), (e, name)
        for c in D.COLUMNS:
            assert m.extra[c].tobytes() == s.extra[c].tobytes(), (e, c)
    with h5py.File(multi) as fh, h5py.File(singles[0.5]) as f1:
        assert fh["daa_mean"][1].tobytes() == f1["daa_mean"][()].tobytes()
        prov = json.loads(fh.attrs["provenance"])
        assert prov["energies_MeV"] == list(ENERGIES)
        assert prov["settings"]["physics"]["energy_MeV"] == list(ENERGIES)
        assert json.loads(f1.attrs["provenance"])["settings"]["physics"]["energy_MeV"] == 0.5
        assert "0.2, 0.5, 2 MeV" in fh.attrs["description"]


def test_gap_angle_moves_up_with_energy(builds):
    """Physics, independent of the code: the first-order cyclotron resonance of the band's top
    frequency at the equator needs v_par = (n Omega/gamma - omega)/k_par; for fixed waves the
    largest resonant pitch angle (the edge of the no-resonance gap) grows with energy.  The
    check: the largest angle with D > 0 of the mean profile does not decrease from 0.2 to 2
    MeV and rises from 0.2 to 2 MeV, and D is finite and >= 0 at every energy."""
    _, multi, _ = builds
    edges = []
    for db in D.load_all(multi):
        mean = db.daa.mean(axis=0)
        assert np.all(np.isfinite(db.daa)) and np.all(db.daa >= 0)
        edges.append(db.alpha_deg[np.nonzero(mean > 0)[0].max()])
    assert edges == sorted(edges) and edges[-1] > edges[0], edges


def test_stored_command_rebuilds_the_same_bytes(builds, monkeypatch):
    d, multi, _ = builds
    cmd = json.loads(h5py.File(multi).attrs["provenance"])["command"]
    assert cmd.startswith("hpcbelt dxx build ") and "--energies-MeV 0.2,0.5,2" in cmd
    before = multi.read_bytes()
    monkeypatch.chdir(d)
    assert dxx_main(shlex.split(cmd)[2:]) == 0
    assert multi.read_bytes() == before


def test_config_key_equals_the_option(tmp_path):
    cfg = tmp_path / "e.toml"
    cfg.write_text("[physics]\nenergy_MeV = [0.3, 1.5]\n[wave]\nmodel = \"field_aligned\"\n")
    assert dxx_main(["build", "-o", str(tmp_path / "a.h5"), "--config", str(cfg), *TINY]) == 0
    assert dxx_main(["build", "-o", str(tmp_path / "b.h5"), "--wave-model", "field_aligned",
                     "--energies-MeV", "0.3,1.5", *TINY]) == 0
    a, b = D.load_all(tmp_path / "a.h5"), D.load_all(tmp_path / "b.h5")
    assert [x.energy_MeV for x in a] == [0.3, 1.5]
    assert all(x.daa.tobytes() == y.daa.tobytes() for x, y in zip(a, b))


@pytest.mark.parametrize("args, words", [
    (["--energy-MeV", "1", "--energies-MeV", "0.2,0.5"], ["--energy-MeV 1",
                                                          "--energies-MeV 0.2,0.5", "give one"]),
    (["--energies-MeV", "0.5,0.2"], ["physics.energy_MeV", "strictly increasing"]),
    (["--energies-MeV", "0.5,-1"], ["physics.energy_MeV", "positive"]),
    (["--set", "physics.energy_MeV=[]"], ["physics.energy_MeV", "a list of numbers"]),
    (["--set", "physics.energy_MeV=[0.5, 0.5]"], ["physics.energy_MeV", "strictly increasing"]),
])
def test_bad_energies_are_one_input_error_and_nothing_written(tmp_path, capsys, args, words):
    out = tmp_path / "bad.h5"
    assert dxx_main(["build", "-o", str(out), *TINY, *args]) == 2
    err = capsys.readouterr().err
    for w in words:
        assert w in err, (w, err)
    assert not out.exists()


def test_energies_option_overrides_the_config_files_energy(tmp_path):
    """--energies-MeV with a config file giving one energy (as inputs/hiss_L3_0.5MeV.toml
    does): options override the file, as for every key."""
    cfg = tmp_path / "one.toml"
    cfg.write_text("[physics]\nenergy_MeV = 0.5\n[wave]\nmodel = \"field_aligned\"\n")
    assert dxx_main(["build", "-o", str(tmp_path / "a.h5"), "--config", str(cfg),
                     "--energies-MeV", "0.5,1", *TINY]) == 0
    assert D.file_energies(tmp_path / "a.h5") == (0.5, 1.0)


def test_plot_one_figure_per_energy_or_the_one_asked(builds, tmp_path):
    pytest.importorskip("matplotlib")
    _, multi, _ = builds
    out = tmp_path / "fig.png"
    assert dxx_main(["plot", str(multi), "-o", str(out)]) == 0
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["fig_E0.2MeV.png", "fig_E0.5MeV.png", "fig_E2MeV.png"]
    assert dxx_main(["plot", str(multi), "-o", str(tmp_path / "one.png"), "--energy-MeV", "2"]) == 0
    assert (tmp_path / "one.png").stat().st_size > 0
    assert dxx_main(["plot", str(multi), "-o", str(tmp_path / "no.png"), "--energy-MeV", "1"]) == 2
    assert not (tmp_path / "no.png").exists()


@pytest.mark.skipif(shutil.which("mpirun") is None, reason="mpirun not installed")
def test_file_bytes_do_not_depend_on_the_rank_count(tmp_path):
    """mpirun -n 1 and -n 3 write the same bytes (same command, no time stamps)."""
    blobs = []
    for n in (1, 3):
        d = tmp_path / f"n{n}"
        d.mkdir()
        cmd = ["mpirun", "--allow-run-as-root", "--oversubscribe", "-n", str(n), sys.executable,
               "-m", "hpcbelt.dxx", "build", "-o", "db.h5", *TINY, "--wave-model",
               "field_aligned", "--method", "direct", "--energies-MeV", "0.2,1"]
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        subprocess.run(cmd, cwd=d, check=True, env=env, timeout=300)
        blobs.append((d / "db.h5").read_bytes())
    assert blobs[0] == blobs[1]
    assert D.file_energies(tmp_path / "n3" / "db.h5") == (0.2, 1.0)


def test_table_nodes_left_out_never_enter_a_profile():
    """The build computes only the table nodes some pair's cell touches; the profiles equal
    (bitwise) those interpolated from the full table computed node by node, here with a fine
    B_eq spacing that leaves most nodes out, at two energies."""
    import dataclasses

    from hpcbelt.dxx import calculator
    from hpcbelt.dxx.config import DxxConfig, load
    from hpcbelt.dxx.driver import build
    from hpcbelt.dxx.synthetic import SyntheticSettings, generate
    from hpcbelt.dxx.table import interpolate_table

    cfg = dataclasses.replace(DxxConfig.from_doc(load(None)), n_lat=16, alpha_step_deg=10.0,
                              table_method="table", table_dlog10_X=0.1, table_dB_rel=0.01,
                              energy_MeV=0.3, energies_MeV=(0.3, 1.0))
    obs = generate(SyntheticSettings(n_profiles=10, seed=4))
    res = build(cfg, obs, None)
    assert res.table_computed.sum() < 0.7 * res.table_computed.size     # most nodes left out
    for k, e in enumerate(cfg.energies_MeV):
        c = dataclasses.replace(cfg, energy_MeV=e, energies_MeV=None)
        full = np.array([calculator.profile(c, x, 1.0, b) for x, b in res.grid.nodes])
        full = full.reshape(res.grid.B_eq_nT.size, res.grid.X.size, -1)
        expect = np.asarray(obs.Y, float)[:, None] * interpolate_table(
            res.grid, full, np.asarray(obs.X, float), np.asarray(obs.B_eq_nT, float))
        assert res.daa[k].tobytes() == expect.tobytes()
        assert np.array_equal(res.table[k][res.table_computed], full[res.table_computed])
