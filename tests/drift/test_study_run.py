"""End to end through ``hpcbelt run``: file layout, budget, agreement with the solvers, bad input."""

import json

import h5py
import numpy as np
import pytest

from hpcbelt.drift.solver import DriftDiffusionSolver
from hpcbelt.drift.study import load_study
from hpcbelt.errors import InputError

from .helpers import hpcbelt, make_study


def test_run_writes_self_describing_file(tmp_path):
    study = make_study(tmp_path)
    out = tmp_path / "run.h5"
    r = hpcbelt("run", study, "-o", out, "--quiet")
    assert r.returncode == 0, r.stderr
    st = load_study(study)
    with h5py.File(out, "r") as fh:
        assert fh.attrs["status"] == "complete" and fh.attrs["kind"] == "drift_diffusion"
        F = fh["pde/F"][()]
        assert F.shape == (5, 40, 48)
        np.testing.assert_allclose(F[0], st.F0)
        for name in ("pde/F", "radial/F", "particles/F", "pde/number", "time_s"):
            assert "units" in fh[name].attrs
        assert fh["pde/F"].dims[1][0].name == "/pde/L_grid"
        # PDE equals the solver run directly
        s = DriftDiffusionSolver.from_physics(st.grid, st.F0, W_mV_per_m=0.5, update_s=200.0, energy_keV=200.0,
                                              L_energy=3.0, dt_s=300.0)
        ref = s.run(7200.0, 1800.0)
        np.testing.assert_allclose(F, ref["F"], rtol=0, atol=1e-12)
        b = json.loads(fh.attrs["pde_budget_json"])
        assert abs(b["imbalance"]) < 1e-9
        number = fh["pde/number"][()]
        lost = fh["pde/lost_L_min"][()] + fh["pde/lost_L_max"][()]
        np.testing.assert_allclose(number + lost, number[0], rtol=1e-9)
        # radial: starts from the MLT average
        np.testing.assert_allclose(fh["radial/F"][0], st.F0.mean(axis=1))
        assert fh["particles/perm_done"][()].all()
        assert fh["particles/F"].shape == (5, 3, 20, 24)          # 1 h at the 30 min cadence
        # particles at t = 0 represent F = 1 in the fully covered outer cells (to Poisson noise)
        assert np.isfinite(fh["particles/probe_F"][()]).all()
        assert "L3.5_22MLT" == fh["probe/name"][0].decode()


BAD = {
    "misspelt key": ({"W_mV_per_m = 0.5": "W_mv_per_m = 0.5"}, ["W_mv_per_m", "did you mean 'W_mV_per_m'"]),
    "dL does not divide": ({"dL = 0.1": "dL = 0.07"}, ["grid.dL"]),
    "output cadence": ({"output_every_s = 1800.0": "output_every_s = 1700.0"}, ["time.output_every_s"]),
    "gaussian without L0": ({'kind = "injection"': 'kind = "gaussian_L"'}, ["gaussian_L", "L0"]),
    "missing file": ({'kind = "injection"': 'kind = "file"\npath = "nope.h5"'}, ["initial.path", "nope.h5"]),
    "unknown initial": ({'kind = "injection"': 'kind = "blob"'}, ["initial.kind", "blob"]),
    "negative W": ({"W_mV_per_m = 0.5": "W_mV_per_m = -0.5"}, ["physics.W_mV_per_m"]),
    "coarsening": ({"coarsen_L = 2": "coarsen_L = 3"}, ["coarsen_L"]),
    "one particle": ({"per_permutation = 300": "per_permutation = 1"}, ["particles.per_permutation", "got 1"]),
    "solver method": ({"dt_s = 300.0": 'dt_s = 300.0\nmethod = "rk4"'}, ["time.method", "rk4"]),
    "edge kind": ({"n_mlt = 48": 'n_mlt = 48\nboundary_L_min = "open"'}, ["grid.boundary_L_min", "open"]),
    "initial file not HDF5": ({'kind = "injection"': 'kind = "file"\npath = "study.toml"'},
                              ["initial.path", "cannot read HDF5 file"]),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_serial(tmp_path, case):
    repl, words = BAD[case]
    study = make_study(tmp_path, **repl)
    out = tmp_path / "keep.h5"
    out.write_bytes(b"precious")
    r = hpcbelt("run", study, "-o", out, "--overwrite", "--quiet")
    assert r.returncode == 2, r.stderr
    lines = [l for l in r.stderr.splitlines() if l.strip()]
    assert len(lines) == 1 and lines[0].startswith("hpcbelt: error:"), r.stderr
    for w in words:
        assert w in lines[0]
    assert out.read_bytes() == b"precious"


@pytest.mark.parametrize("case", ["misspelt key", "missing file"])
def test_bad_input_mpi(tmp_path, case):
    repl, words = BAD[case]
    study = make_study(tmp_path, **repl)
    out = tmp_path / "keep.h5"
    out.write_bytes(b"precious")
    r = hpcbelt("run", study, "-o", out, "--overwrite", "--quiet", ranks=3, timeout=120)
    assert r.returncode == 2, r.stderr
    lines = [l for l in r.stderr.splitlines() if l.startswith("hpcbelt:")]
    assert len(lines) == 1 and all(w in lines[0] for w in words), r.stderr
    assert out.read_bytes() == b"precious"


def test_study_file_read_once_and_typed_views(tmp_path):
    """The loader takes the CLI's StudyFile (or a path); the typed views repeat the validated doc."""
    from hpcbelt.config import StudyFile
    from hpcbelt.lmlt import PAPER_PROBE, PAPER_PROBE_NAME

    path = make_study(tmp_path)
    st = load_study(StudyFile.read(path), ["time.dt_s=600.0"])
    assert st.text == path.read_text() and st.path == str(path) and st.overrides == ("time.dt_s=600.0",)
    assert st.time.dt_s == st.doc["time"]["dt_s"] == 600.0
    assert st.physics.R_E_m == st.doc["physics"]["earth_radius_km"] * 1e3
    assert st.particles.permutations == st.n_perm == 5 and st.particles.duration_s == 3600.0
    assert st.radial.enabled and st.edges.kinds == ("fixed", "fixed")
    assert [(p.name, p.box) for p in st.probes] == [(PAPER_PROBE_NAME, PAPER_PROBE)] and st.doc["probe"] == []
    assert load_study(path).doc == load_study(StudyFile.read(path)).doc
    with pytest.raises(InputError, match="--experiments"):
        load_study(path, experiments=["a"])


def test_particles_need_injection(tmp_path):
    study = make_study(tmp_path, **{'kind = "injection"': 'kind = "gaussian_L"\nL0 = 4.0\nwidth = 0.3'})
    with pytest.raises(InputError, match="particles.enabled"):
        load_study(study)


def test_paper_study_file_loads():
    from pathlib import Path

    st = load_study(Path(__file__).resolve().parents[2] / "inputs" / "lejosne2023.toml")
    assert st.particles_on and st.radial_on
    assert st.doc["particles"]["permutations"] == 200 and st.doc["particles"]["per_permutation"] == 10000
    assert st.out_t.size == 289 and st.grid.n_L == 240 and st.grid.n_mlt == 288
    assert st.grid.number(st.F0) == pytest.approx((1 / 3.8 - 1 / 7) * 2 * np.pi + (1 / 2.5 - 1 / 3.8) * 3.5 * np.pi / 12)


def test_ranges_admit_real_studies(tmp_path):
    """The key ranges (issue 11) are generous: an inner-belt-to-outer-magnetosphere grid of fine
    cells, MeV electrons, storm-time fields, fast or slow fluctuations all load."""
    path = make_study(tmp_path)
    extremes = [
        ["grid.L_min=1.05", "grid.L_max=20.05", "grid.dL=0.05", "particles.L_escape=25.0",
         "physics.energy_keV=1e4", "physics.W_mV_per_m=20.0", "physics.update_s=1.0"],
        ["physics.energy_keV=1.0", "physics.W_mV_per_m=1e-3", "physics.update_s=7200.0", "time.duration_h=2.0",
         "time.dt_s=7200.0", "time.output_every_s=7200.0", "particles.enabled=false", "radial.enabled=true",
         "radial.D_LL=power_law", "radial.D0_per_day=1e-9", "radial.power=10.0", "radial.dt_s=7200.0"],
        ["physics.B_E_nT=4.2e5", "physics.earth_radius_km=71492.0", "grid.n_mlt=1440", "time.kmax=100.0",
         "particles.coarsen_mlt=30", "particles.permutations=1000", "particles.per_permutation=100000"],
    ]
    for overrides in extremes:
        st = load_study(path, overrides)
        assert st.grid.n_L * st.grid.n_mlt == st.F0.size
