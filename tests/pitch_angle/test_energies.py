"""A study over energies ([physics] energy_MeV a list): every energy's groups are bitwise the
single-energy study at that energy (same seed, experiment names and draws), the draws are the
same at every energy, restart completes a damaged run bitwise, and bad energy lists or a
database without an energy are refused with one clear line (exit 2, nothing written).

Tiny grids (5-6 deg), 2 days, 3 members: each test runs in a few seconds.
"""

from pathlib import Path

import h5py
import numpy as np
import pytest

from hpcbelt.constants import electron_speed_m_per_s
from hpcbelt.errors import InputError
from hpcbelt.parallel import world
from hpcbelt.pitch_angle import driver, runfile
from hpcbelt.pitch_angle.study import load_study, member_rng

from .energy_helpers import make_energy_study, write_energy_database
from .helpers import hpcbelt, make_study, write_test_database

PER_MEMBER = ("f", "daa_integral", "profile_index", "member_checksum", "member_done")


def _run(study_path, out, **kw):
    study = load_study(study_path, **kw)
    driver.run(study, world(), out, quiet=True)
    return study


@pytest.mark.parametrize("method", ["exact", "explicit"])
def test_each_energy_is_bitwise_the_single_energy_study(tmp_path, method):
    """The 2-energy study against the single-energy study at each of its energies: same seed,
    same experiment names, so the same draws; the f arrays must agree bit for bit (no tolerance:
    the same arithmetic on the same inputs)."""
    energies = (0.2, 1.0)
    multi = _run(make_energy_study(tmp_path, energies=energies, method=method, name="multi.toml"),
                 tmp_path / "multi.h5")
    assert multi.multi_energy and [sl.label for sl in multi.slices] == ["E0.2MeV", "E1MeV"]
    with h5py.File(tmp_path / "multi.h5", "r") as fm:
        for E in energies:
            single = _run(make_energy_study(tmp_path, energies=E, method=method, name=f"single_{E:g}.toml"),
                          tmp_path / f"single_{E:g}.h5")
            assert not single.multi_energy
            with h5py.File(tmp_path / f"single_{E:g}.h5", "r") as fs:
                for ex in single.experiments:
                    g = fm[runfile.energy_group(ex.name, E)]
                    assert g.attrs["energy_MeV"] == E and g.attrs["base_experiment"] == ex.name
                    for k in PER_MEMBER:
                        np.testing.assert_array_equal(g[k][()], fs[ex.name][k][()], err_msg=f"{ex.name}/{k} at {E}")
                    assert np.isfinite(g["f"][()]).all()
                k = energies.index(E)
                np.testing.assert_array_equal(fm["grid/loss_rate_per_s_by_energy"][k], fs["grid/loss_rate_per_s"][()])
                np.testing.assert_array_equal(fm["database/daa_mean_by_energy"][k], fs["database/daa_mean"][()])
        # the two energies do differ (a test of the comparison itself)
        assert not np.array_equal(fm["drand_1h_E0.2MeV/f"][()], fm["drand_1h_E1MeV/f"][()])


def test_draws_are_the_same_at_every_energy_and_loss_scales_with_speed(tmp_path):
    study = _run(make_energy_study(tmp_path, name="multi.toml"), tmp_path / "multi.h5")
    with h5py.File(tmp_path / "multi.h5", "r") as fh:
        np.testing.assert_array_equal(fh["energy_MeV"][()], [0.2, 0.5, 1.0])
        for e, ex in enumerate(study.experiments):
            rows = [fh[g]["profile_index"][()] for g in study.groups(e)]
            for r in rows[1:]:
                np.testing.assert_array_equal(r, rows[0])
            if ex.mode == "random":      # the stream of (seed, experiment name, member), as for one energy
                for m in range(ex.members):
                    want = member_rng(study.seed, ex.name, m).integers(0, study.database.n_profiles,
                                                                       size=ex.n_segments)
                    np.testing.assert_array_equal(rows[0][m], want)
        # the loss rate is 1/(quarter bounce period) ~ v: its ratio between energies is the ratio
        # of electron speeds wherever the cell is inside the loss cone (independent: the speed from
        # the kinetic energy, v = c sqrt(1 - 1/gamma^2)); tolerance: round-off only
        loss = fh["grid/loss_rate_per_s_by_energy"][()]
        inside = loss[0] > 0
        assert inside.any() and (loss[:, ~inside] == 0).all()
        c, mc2 = 299792458.0, 0.51099895
        v = [c * np.sqrt(1 - 1 / (1 + E / mc2) ** 2) for E in (0.2, 0.5, 1.0)]
        for k in (1, 2):
            np.testing.assert_allclose(loss[k, inside] / loss[0, inside], v[k] / v[0], rtol=1e-9)
        np.testing.assert_allclose(electron_speed_m_per_s(1.0) / electron_speed_m_per_s(0.2), v[2] / v[0],
                                   rtol=1e-6)
        assert fh["grid"].attrs["loss_cone_deg"] == pytest.approx(8.62, abs=0.01)   # one angle, all energies
    rep = runfile.verify(tmp_path / "multi.h5")
    assert rep.clean and rep.checked == sum(ex.members for ex in study.experiments) * 3


def test_reader_lists_every_group_in_study_order(tmp_path):
    study = _run(make_energy_study(tmp_path, energies=(0.2, 0.5), name="multi.toml"), tmp_path / "multi.h5")
    run = runfile.inspect(tmp_path / "multi.h5")
    assert run.energies_MeV == (0.2, 0.5)
    want = [f"{ex.name}_E{E:g}MeV" for ex in study.experiments for E in (0.2, 0.5)]
    assert [ex.name for ex in run.experiments] == want
    assert [ex.base for ex in run.experiments] == [ex.name for ex in study.experiments for _ in (0, 1)]
    assert run.database["daa_mean_by_energy"].shape == (2, study.grid.n)
    assert "daa_mean" not in run.database      # no one energy's values under the single-energy name


def test_scalar_energy_keeps_the_single_energy_layout(tmp_path):
    make_study(tmp_path)
    _run(tmp_path / "study.toml", tmp_path / "one.h5")
    with h5py.File(tmp_path / "one.h5", "r") as fh:
        assert "energy_MeV" not in fh and "energies_MeV" not in fh.attrs
        assert "drand_1h" in fh and "energy_MeV" not in fh["drand_1h"].attrs
        assert fh["grid/loss_rate_per_s"].shape == fh["alpha_deg"].shape
    assert not runfile.inspect(tmp_path / "one.h5").multi_energy


def test_restart_recomputes_a_damaged_energy_group_bitwise(tmp_path):
    path = make_energy_study(tmp_path, name="multi.toml")
    _run(path, tmp_path / "ref.h5")
    _run(path, tmp_path / "run.h5")
    with h5py.File(tmp_path / "run.h5", "r+") as fh:
        fh["drand_1h_E0.5MeV/member_done"][1] = 0         # as if killed before this group's flag
        fh["drand_1h_E0.5MeV/f"][1] = np.nan
        fh["drand_6h_E1MeV/f"][2, 3, 4] *= 1.5             # changed after it was written
        fh["mean_inputs_E0.2MeV/member_done"][0] = 0
    study = load_study(path)
    done = runfile.restart_state(study, tmp_path / "run.h5")
    assert not done["drand_1h_E0.5MeV"][1] and not done["drand_6h_E1MeV"][2] and done["drand_6h_E0.5MeV"][2]
    driver.run(study, world(), tmp_path / "run.h5", quiet=True, done=done)
    with h5py.File(tmp_path / "ref.h5", "r") as a, h5py.File(tmp_path / "run.h5", "r") as b:
        for e in range(len(study.experiments)):
            for g in study.groups(e):
                for k in PER_MEMBER:
                    np.testing.assert_array_equal(a[g][k][()], b[g][k][()], err_msg=f"{g}/{k}")


def test_one_element_list_on_a_single_energy_database(tmp_path):
    """A one-energy list works with a single-energy database (check_L_energy as for a number)."""
    write_test_database(tmp_path / "db.h5", energy=0.5)
    path = make_energy_study(tmp_path, energies=[0.5], db="db.h5", name="one.toml")
    study = _run(path, tmp_path / "one.h5")
    assert study.groups(0) == ["drand_1h_E0.5MeV"]
    bad = make_energy_study(tmp_path, energies=[1.0], db="db.h5", name="bad.toml")
    with pytest.raises(InputError, match=r"physics.energy_MeV = 1 but database .* energy_MeV = 0.5"):
        load_study(bad)
    load_study(bad, ["database.check_L_energy=false"])


BAD = {
    # name: (energy_MeV value, database, other replacements, words of the message)
    "not increasing": ("[1.0, 0.5]", "db_energies.h5", {}, ["physics.energy_MeV", "strictly increasing"]),
    "duplicate": ("[0.5, 0.5]", "db_energies.h5", {}, ["physics.energy_MeV", "strictly increasing"]),
    "same label": ("[0.5, 0.5000001]", "db_energies.h5", {}, ["physics.energy_MeV", "6 significant digits"]),
    "negative": ("[-0.5, 0.5]", "db_energies.h5", {}, ["physics.energy_MeV", "positive"]),
    "empty": ("[]", "db_energies.h5", {}, ["physics.energy_MeV", "a number or a list of numbers"]),
    "strings": ('["a"]', "db_energies.h5", {}, ["physics.energy_MeV", "a number or a list of numbers"]),
    "out of range": ("[0.5, 2e5]", "db_energies.h5", {}, ["physics.energy_MeV", "<= 10000 MeV"]),
    "missing from db": ("[0.5, 2.0]", "db_energies.h5", {}, ["physics.energy_MeV", "db_energies.h5",
                                                            "no profiles at 2 MeV", "0.2, 0.5, 1 MeV"]),
    "single-energy db": ("[0.2, 0.5]", "db.h5", {}, ["lists 2 energies", "db.h5", "holds one energy"]),
    "scalar not in db": ("0.7", "db_energies.h5", {}, ["db_energies.h5", "0.7 MeV", "0.2, 0.5, 1 MeV"]),
    "group clash": ("[0.5, 1.0]", "db_energies.h5", {'name = "profile_3"': 'name = "drand_1h_E0.5MeV"'},
                    ["experiment.name", "drand_1h_E0.5MeV"]),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_energy_input(tmp_path, case):
    value, db, replace, words = BAD[case]
    write_test_database(tmp_path / "db.h5")
    path = make_energy_study(tmp_path, energies=0.5, db=db, name="bad.toml", **replace)
    path.write_text(path.read_text().replace("energy_MeV = 0.5", f"energy_MeV = {value}"))
    with pytest.raises(InputError) as err:
        load_study(path)
    for w in words:
        assert w in str(err.value), (w, str(err.value))


def test_explicit_limit_is_checked_per_energy(tmp_path):
    """The database's D grows with energy here only through the shape; make the 1 MeV slice's D
    100 times larger so that only 1 MeV breaks the explicit limit, which the message must name."""
    alpha = np.linspace(0, 90, 91)
    base = 1e-6 * (0.5 + np.sin(np.radians(alpha)) ** 2)[None, :] * np.linspace(0.5, 1.5, 10)[:, None]
    daa = np.stack([base, 100 * base])
    from hpcbelt import daa_database
    daa_database.write(tmp_path / "db_energies.h5", alpha, daa, daa.mean(axis=1), L=3.0, energy_MeV=[0.5, 1.0])
    ok_dt = 20.0
    path = make_energy_study(tmp_path, energies=[0.5, 1.0], method="explicit", dalpha=5.0, days=0.5, dt=ok_dt)
    one = make_energy_study(tmp_path, energies=0.5, method="explicit", dalpha=5.0, days=0.5, dt=ok_dt,
                            name="one.toml")
    load_study(one)                                  # fine at 0.5 MeV alone
    with pytest.raises(InputError, match=r"time.dt_s = 20 s exceeds the explicit stability limit .* at "
                                         r"energy_MeV = 1;"):
        load_study(path)


def test_cli_refuses_missing_energy_with_exit_2_and_writes_nothing(tmp_path):
    path = make_energy_study(tmp_path, energies=[0.5, 2.0])
    out = tmp_path / "out.h5"
    r = hpcbelt("run", path, "-o", out, "--quiet")
    assert r.returncode == 2, r.stderr
    assert "no profiles at 2 MeV" in r.stderr and r.stderr.count("\n") == 1
    assert not out.exists()


def test_shipped_study_over_energies_matches_watt2021():
    """inputs/watt2021_energies.toml: the experiments, seed and settings of inputs/watt2021.toml at
    five energies; its 0.5 MeV slice has the profiles of watt2021.toml's database (bitwise), so
    the 0.5 MeV groups of the run are the single-energy study's (the full run is compared by
    tools/bench_energies.py)."""
    root = Path(__file__).resolve().parents[2] / "inputs"
    multi, single = load_study(root / "watt2021_energies.toml"), load_study(root / "watt2021.toml")
    assert [sl.energy_MeV for sl in multi.slices] == [0.1, 0.2, 0.5, 1.0, 2.0]
    assert multi.seed == single.seed and multi.method == single.method == "exact"
    assert [(e.name, e.mode, e.members, e.switch_every_s) for e in multi.experiments] == \
        [(e.name, e.mode, e.members, e.switch_every_s) for e in single.experiments]
    half = multi.slices[2]
    np.testing.assert_array_equal(half.profiles, single.profiles)
    np.testing.assert_array_equal(half.grid.loss_rate_per_s, single.grid.loss_rate_per_s)
    np.testing.assert_array_equal(multi.out_t, single.out_t)
