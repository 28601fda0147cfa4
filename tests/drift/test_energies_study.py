"""A drift-diffusion study over energies (issue 15): ``[physics] energy_keV = [...]``.

Checked against independent references: each energy group against the single-energy study
run on its own (bitwise: the same code path, so any difference is a layout or seeding bug),
the in-study ring measurement against the scan module's own ring runs
(:func:`hpcbelt.drift.scan.measure`, a second code path), and the per-energy RK4 step against
:func:`hpcbelt.particles.diffusion.rk4_step_s` (the tracker's drift frequency, a second formula).
"""

import json

import h5py
import numpy as np
import pytest

from hpcbelt import api
from hpcbelt.drift import driver, runfile, scan
from hpcbelt.drift.study import load_study
from hpcbelt.errors import InputError
from hpcbelt.particles import diffusion

from .helpers import hpcbelt, make_study

ENERGIES = {"energy_keV = 200.0": "energy_keV = [200.0, 1000.0]",
            "coarsen_mlt = 2": "coarsen_mlt = 2\nring_per_permutation = 16\nmax_drift_angle_per_step_rad = 0.2"}


def _datasets(g) -> dict:
    out = {}
    g.visititems(lambda n, o: out.__setitem__(n, o[()]) if isinstance(o, h5py.Dataset) else None)
    return out


def _same(a: dict, b: dict) -> list:
    """Names whose values differ (NaN equal to NaN), and names in only one of them."""
    bad = sorted(set(a) ^ set(b))
    for k in set(a) & set(b):
        x, y = a[k], b[k]
        eq = np.array_equal(x, y, equal_nan=x.dtype.kind in "fc") if hasattr(x, "dtype") else x == y
        if not eq:
            bad.append(k)
    return bad


@pytest.fixture(scope="module")
def over_energies(tmp_path_factory):
    d = tmp_path_factory.mktemp("energies")
    path = make_study(d, **ENERGIES)
    study = api.load_study(path)
    out = api.run(study, d / "multi.h5")
    return d, path, study, out


def test_each_energy_group_is_the_single_energy_study_bitwise(over_energies):
    d, path, study, out = over_energies
    with h5py.File(out, "r") as h5:
        assert list(h5[runfile.ENERGY][()]) == [200.0, 1000.0]
        assert h5[runfile.ENERGY].attrs["units"] == "keV"
        assert runfile.groups(h5) == ["E200keV", "E1000keV"]
        groups = {g: _datasets(h5[g]) for g in runfile.groups(h5)}
        attrs = {g: dict(h5[g].attrs) for g in runfile.groups(h5)}
    for E, g in ((200.0, "E200keV"), (1000.0, "E1000keV")):
        single = api.run(api.load_study(path, [f"physics.energy_keV={E:g}"]), d / f"single_{g}.h5")
        with h5py.File(single, "r") as h5:
            ref = _datasets(h5)
        assert _same(groups[g], ref) == [], g
        assert attrs[g]["energy_keV"] == E
    # the ring particles are there, and the same permutations drive both energies
    assert np.array_equal(groups["E200keV"]["particles/w_base_V_per_m"], groups["E1000keV"]["particles/w_base_V_per_m"])
    assert np.array_equal(groups["E200keV"]["particles/permutation"], groups["E1000keV"]["particles/permutation"])


def test_rk4_step_per_energy_resolves_the_drift(over_energies):
    _, _, study, out = over_energies
    steps = {}
    for st in study.slices():
        exp = driver.experiment(st)
        # the tracker's own drift frequency (diffusion.drift_frequency), not the study's dipole formula
        want = float(f"{diffusion.rk4_step_s(exp, rad_per_step=0.2, cap_s=study.particles.dt_max_s):.4g}")
        assert st.particles.dt_max_s == pytest.approx(want, rel=1e-12)
        steps[st.group] = st.particles.dt_max_s
    assert steps["E200keV"] == 100.0          # 0.2 / Omega = 149 s at 200 keV: the cap
    assert steps["E1000keV"] == 39.84         # 0.2 / Omega at 1 MeV, L = 3 (20.9 min drift)
    with h5py.File(out, "r") as h5:
        assert h5["E1000keV"].attrs["dt_max_s"] == 39.84


def test_ring_in_the_study_equals_the_scan_modules_ring_runs(over_energies):
    """The run file's ring datasets against diffusion.run_ring called through scan.measure."""
    _, _, study, out = over_energies
    for st in study.slices():
        exp = driver.experiment(st)
        P = st.particles.permutations
        raw = scan.measure(exp, range(P), st.physics.L_energy, st.particles.ring_per_permutation)
        run = runfile.inspect(out, energy_keV=st.physics.energy_keV)
        with h5py.File(out, "r") as h5:
            ring = runfile.read_ring(h5, run)
        np.testing.assert_array_equal(ring["S"], raw["S"])
        np.testing.assert_array_equal(ring["msd_v"], raw["msd_v"])
        np.testing.assert_array_equal(ring["moments"], raw["moments"])
        np.testing.assert_array_equal(ring["lag_s"], raw["lag_s"])
        assert int(ring["n_lost"].sum()) == raw["n_lost"]


def test_verify_restart_and_aggregation_of_a_study_over_energies(over_energies, tmp_path):
    d, path, study, out = over_energies
    assert hpcbelt("verify", str(out)).returncode == 0
    # damage nothing, unmark items in both groups: the restart recomputes them, bitwise
    part = tmp_path / "part.h5"
    part.write_bytes(out.read_bytes())
    with h5py.File(part, "a") as h5:
        h5["E1000keV/particles/perm_done"][1] = 0
        h5["E200keV/pde/done"][()] = 0
        h5["E200keV/particles/perm_done"][4] = 0
        h5.attrs["status"] = "interrupted (SIGTERM)"
    api.restart(api.load_study(path), part)
    with h5py.File(out, "r") as a, h5py.File(part, "r") as b:
        assert _same(_datasets(a), _datasets(b)) == []
    # one energy's summary; without --energy-keV a clear error naming the energies
    r = hpcbelt("aggregate", str(out), "-o", str(tmp_path / "s.h5"))
    assert r.returncode == 2 and "200, 1000 keV" in r.stderr and "--energy-keV" in r.stderr
    r = hpcbelt("aggregate", str(out), "--energy-keV", "1000", "-o", str(tmp_path / "s.h5"))
    assert r.returncode == 0, r.stderr
    with h5py.File(tmp_path / "s.h5", "r") as h5:
        assert json.loads(h5.attrs["options_json"])["energy_keV"] == 1000.0
    r = hpcbelt("aggregate", str(out), "--energy-keV", "300", "-o", str(tmp_path / "s.h5"))
    assert r.returncode == 2 and "not an energy of this run file" in r.stderr


def test_aggregate_energies_compares_measured_and_predicted(over_energies, tmp_path):
    d, path, study, out = over_energies
    r = hpcbelt("aggregate-energies", str(out), "-o", str(tmp_path / "e.h5"), "--figures", str(tmp_path / "f"),
                "--t-fit-s", "0")
    assert r.returncode == 0, r.stderr
    assert {p.name for p in (tmp_path / "f").iterdir()} == {"ratio_vs_omegaT.png", "moments_eq11.png",
                                                            "probe_highest_energy.png"}
    with h5py.File(tmp_path / "e.h5", "r") as h5:
        assert list(h5["energy_keV"][()]) == [200.0, 1000.0]
        assert h5["D_LL_measured_per_day"].attrs["units"] == "1/day"
        rows = json.loads(h5.attrs["scan_json"])
        ratio = h5["ratio_finite_update"][()]
    # the same numbers as scan.compare on the scan module's own ring runs
    for st, row, rt in zip(study.slices(), rows, ratio):
        exp = driver.experiment(st)
        raw = scan.measure(exp, range(st.particles.permutations), st.physics.L_energy,
                           st.particles.ring_per_permutation)
        ref = scan.compare(exp, raw, st.physics.L_energy, 0.0)
        assert row["ratio_finite"] == pytest.approx(ref["ratio_finite"], rel=1e-12)
        assert rt == pytest.approx(ref["ratio_finite"], rel=1e-12)
        # Omega T at L = 3, T = 200 s: 0.269 at 200 keV, 1.004 at 1 MeV (the scan's table)
        assert row["omega_T"] == pytest.approx({200.0: 0.269, 1000.0: 1.004}[st.physics.energy_keV], abs=2e-3)
    assert "| 1000 | 20.9 |" in (tmp_path / "e.md").read_text()
    # a single-energy file is refused with the command to use instead
    single = api.run(api.load_study(path, ["physics.energy_keV=200"]), tmp_path / "one.h5")
    r = hpcbelt("aggregate-energies", str(single))
    assert r.returncode == 2 and "hpcbelt aggregate" in r.stderr


@pytest.mark.parametrize("sets, key", [
    (["physics.energy_keV=[500, 200]"], "physics.energy_keV: expected strictly increasing"),
    (["physics.energy_keV=[200, 200.0000001]"], "physics.energy_keV: expected strictly increasing"),
    (["physics.energy_keV=[200, 0]"], "physics.energy_keV: expected 0.001 <= energy_keV"),
    (["particles.ring_per_permutation=1"], "particles.ring_per_permutation: expected 0 (none) or 2"),
    (["particles.enabled=false", "particles.ring_per_permutation=8"], "particles.ring_per_permutation: the ring"),
    (["particles.max_drift_angle_per_step_rad=0"], "particles.max_drift_angle_per_step_rad: expected 0.0001 <"),
])
def test_bad_energy_keys_name_the_key(tmp_path, sets, key):
    path = make_study(tmp_path)
    with pytest.raises(InputError, match=key.replace("(", r"\(").replace(")", r"\)")):
        load_study(path, sets)


def test_scalar_energy_keeps_the_single_energy_layout(tmp_path):
    path = make_study(tmp_path)
    study = load_study(path)
    assert not study.over_energies and study.slices() == [study] and study.group == ""
    with pytest.raises(InputError, match="single-energy study"):
        out = api.run(study, tmp_path / "one.h5")
        runfile.inspect(out, energy_keV=200.0)


def test_aggregate_energies_refuses_or_skips_a_damaged_permutation(over_energies, tmp_path):
    """A permutation whose ring data changed after it was written (its checksum no longer matches)."""
    d, path, study, out = over_energies
    bad = tmp_path / "bad.h5"
    bad.write_bytes(out.read_bytes())
    with h5py.File(bad, "a") as h5:
        h5["E1000keV/particles/ring/S"][1, 0] *= 1.5
    r = hpcbelt("aggregate-energies", str(bad), "-o", str(tmp_path / "e.h5"), "--t-fit-s", "0")
    assert r.returncode == 2 and "E1000keV: permutation 1 is marked finished but data does not match" in r.stderr
    assert not (tmp_path / "e.h5").exists()
    r = hpcbelt("aggregate-energies", str(bad), "-o", str(tmp_path / "e.h5"), "--t-fit-s", "0", "--skip-damaged")
    assert r.returncode == 0, r.stderr
    with h5py.File(tmp_path / "e.h5", "r") as h5:
        assert list(h5["permutations_used"][()]) == [5, 4]
        assert h5.attrs["items_skipped_damaged"] == 1
