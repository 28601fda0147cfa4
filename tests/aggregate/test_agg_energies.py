"""``hpcbelt aggregate`` on a run over energies: every (experiment, energy) group is summarised
as an experiment, the ``energies`` group holds the ratios against energy, recomputed here with
numpy from the raw run file, the mechanism group is per energy and equals the mechanism of the
single-energy run at that energy, and the figure draws exactly those numbers."""

import h5py
import numpy as np
import pytest

from .agg_helpers import pa_helpers

pa = pa_helpers()
ENERGIES = (0.2, 0.5, 1.0)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    from tests.pitch_angle.energy_helpers import make_energy_study

    d = tmp_path_factory.mktemp("energies")
    multi = make_energy_study(d, energies=ENERGIES, dalpha=6.0, days=2.0, members=5, name="multi.toml")
    single = make_energy_study(d, energies=0.5, dalpha=6.0, days=2.0, members=5, name="single.toml")
    for study, out in ((multi, "multi.h5"), (single, "single.h5")):
        r = pa.hpcbelt("run", study, "-o", d / out, "--quiet")
        assert r.returncode == 0, r.stderr
    r = pa.hpcbelt("aggregate", d / "multi.h5", "-o", d / "s.h5", "--bootstrap", "20", "--figures", d / "figs")
    assert r.returncode == 0, r.stderr
    r = pa.hpcbelt("aggregate", d / "single.h5", "-o", d / "s1.h5", "--bootstrap", "20", "--quiet")
    assert r.returncode == 0, r.stderr
    return d


def test_energies_group_against_numpy_on_the_raw_file(run):
    """Median, 5th and 95th percentiles over the members of f(30 deg, last time), each over the
    <D> run's f at the same energy, and the ratio of the constant runs: numpy on the raw file
    (np.percentile's default is the summary's linear method), to 1e-12 (round-off of a division)."""
    with h5py.File(run / "multi.h5") as raw, h5py.File(run / "s.h5") as s:
        g = s["energies"]
        ia = int(np.flatnonzero(raw["alpha_deg"][()] == 30.0)[0])
        assert g.attrs["alpha_deg"] == 30.0 and g.attrs["time_s"] == raw["time_s"][-1]
        np.testing.assert_array_equal(g["energy_MeV"][()], ENERGIES)
        ref = np.array([raw[f"mean_of_profiles_E{E:g}MeV/f"][0, -1, ia] for E in ENERGIES])
        np.testing.assert_allclose(g["reference_f"][()], ref, rtol=1e-12)
        inputs = np.array([raw[f"mean_inputs_E{E:g}MeV/f"][0, -1, ia] for E in ENERGIES])
        np.testing.assert_allclose(g["constant_runs"][()], inputs / ref, rtol=1e-12)
        assert sorted(k for k in g if isinstance(g[k], h5py.Group)) == ["drand_1h", "drand_6h"]
        for name, dt in (("drand_1h", 3600.0), ("drand_6h", 21600.0)):
            e = g[name]
            assert e.attrs["switch_every_s"] == dt
            f = np.array([raw[f"{name}_E{E:g}MeV/f"][:, -1, ia] for E in ENERGIES])      # (energy, member)
            for stat, q in (("median", 50), ("p05", 5), ("p95", 95)):
                want = np.percentile(f, q, axis=1)
                np.testing.assert_allclose(e[f"{stat}_f"][()], want, rtol=1e-12)
                np.testing.assert_allclose(e[f"{stat}_over_reference"][()], want / ref, rtol=1e-12)
                assert e[f"{stat}_over_reference"].attrs["units"] == "1"
            np.testing.assert_allclose(e["mean_f"][()], f.mean(axis=1), rtol=1e-12)
            assert (e["p05_f"][()] <= e["median_f"][()]).all() and (e["median_f"][()] <= e["p95_f"][()]).all()
        assert g["reference_f"].attrs["units"] == raw["drand_1h_E0.5MeV/f"].attrs["units"]
        assert g["energy_MeV"].attrs["units"] == "MeV"


def test_groups_summarised_like_the_single_energy_run(run):
    """The 0.5 MeV groups are the single-energy run (bitwise, test_energies.py), so their summary
    statistics equal the single-energy summary's; the mechanism at 0.5 MeV too (to 1e-12: the
    same numbers through the same code, the study rebuilt per energy)."""
    with h5py.File(run / "s.h5") as s, h5py.File(run / "s1.h5") as s1:
        assert "energies" not in s1
        for name in ("drand_1h", "drand_6h", "mean_of_profiles", "mean_inputs", "profile_3"):
            for stat in ("median", "p05", "p95", "mean"):
                np.testing.assert_array_equal(s[f"{name}_E0.5MeV/f/{stat}"][()], s1[f"{name}/f/{stat}"][()])
        m, m1 = s["mechanism"], s1["mechanism"]
        assert m.attrs["available"] and m.attrs["per_energy"]
        k = ENERGIES.index(0.5)
        np.testing.assert_allclose(m["rate_mean_profile_per_day"][k], m1.attrs["rate_mean_profile_per_day"],
                                   rtol=1e-12)
        e = m["drand_6h_E0.5MeV"]
        assert e.attrs["reference_experiment"] == "mean_of_profiles_E0.5MeV"
        np.testing.assert_allclose(e.attrs["rate_of_mean_propagator_per_day"],
                                   m1["drand_6h"].attrs["rate_of_mean_propagator_per_day"], rtol=1e-12)
        for part in ("commuting", "rest"):
            np.testing.assert_allclose(e[f"{part}/median"][()], m1[f"drand_6h/{part}/median"][()], rtol=1e-12)
        # a different energy has its own <D> rate
        assert m["rate_mean_profile_per_day"][0] != m["rate_mean_profile_per_day"][2]
        assert s["database"].attrs["energy_MeV"] == ENERGIES[0]
        assert s["database/daa_mean_by_energy"].shape == (3, s["alpha_deg"].size)


def test_report_and_figure(run):
    from hpcbelt.aggregate.watt2021.figures import plot_energies

    text = (run / "s.md").read_text()
    assert "## Against energy: f(30 deg, 2 d)" in text and "| drand_6h |" in text
    assert (run / "figs" / "energies_ratio.png").read_bytes()[:4] == b"\x89PNG"
    with h5py.File(run / "s.h5") as s:
        fig, data = plot_energies(s)
        np.testing.assert_array_equal(data["drand_1h/median"], s["energies/drand_1h/median_over_reference"][()])
        np.testing.assert_array_equal(data["constant_runs"], s["energies/constant_runs"][()])
    with h5py.File(run / "s1.h5") as s1:
        assert plot_energies(s1)[1] == {}        # a single-energy run: a note, no data


def test_sweep_of_a_run_over_energies_needs_an_energy(run):
    """aggregate-sweep picks one energy's groups (--energy-MeV); the medians are numpy's over the
    raw members at that energy; without the option, or at an energy the run lacks: exit 2."""
    r = pa.hpcbelt("aggregate-sweep", run / "multi.h5", "-o", run / "sw.h5")
    assert r.returncode == 2 and "choose one with --energy-MeV" in r.stderr, r.stderr
    r = pa.hpcbelt("aggregate-sweep", run / "multi.h5", "-o", run / "sw.h5", "--energy-MeV", "2")
    assert r.returncode == 2 and "not an energy of" in r.stderr and "0.2, 0.5, 1 MeV" in r.stderr, r.stderr
    r = pa.hpcbelt("aggregate-sweep", run / "single.h5", "-o", run / "sw.h5", "--energy-MeV", "1")
    assert r.returncode == 2 and "is a run at 0.5 MeV" in r.stderr, r.stderr
    r = pa.hpcbelt("aggregate-sweep", run / "multi.h5", "-o", run / "sw.h5", "--energy-MeV", "1")
    assert r.returncode == 0, r.stderr
    with h5py.File(run / "multi.h5") as raw, h5py.File(run / "sw.h5") as sw:
        assert sw.attrs["energy_MeV"] == 1.0
        ia = int(np.flatnonzero(raw["alpha_deg"][()] == 30.0)[0])
        np.testing.assert_array_equal(sw["dt_s"][()], [3600.0, 21600.0])
        med = [np.median(raw[f"{n}_E1MeV/f"][:, -1, ia]) for n in ("drand_1h", "drand_6h")]
        np.testing.assert_allclose(sw["f_p50"][()], med, rtol=1e-12)
        assert list(sw["experiment"].asstr()[()]) == ["drand_1h_E1MeV", "drand_6h_E1MeV"]
