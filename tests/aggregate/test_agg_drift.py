"""Drift-diffusion runs: statistics over permutations against numpy, unfinished parts, figures,
bounded blocks, and a real run through the command line."""

import h5py
import numpy as np
import pytest
from matplotlib.collections import QuadMesh

from hpcbelt.aggregate.driver import aggregate_file
from hpcbelt.aggregate.lejosne2023 import figures as figures_drift
from hpcbelt.aggregate.lejosne2023.options import Options
from hpcbelt.aggregate.lejosne2023.plan import plan as make_drift_plan
from hpcbelt.cli import main
from hpcbelt.drift.runfile import inspect as inspect_drift

from .agg_helpers import ROOT, write_drift_run


@pytest.fixture(scope="module")
def comm():
    from mpi4py import MPI

    return MPI.COMM_SELF


def _agg(comm, run, out, figs=None, **kw):
    return aggregate_file(run, output=out, figures_dir=figs, comm=comm, quiet=True,
                          options=[Options(**{"hours": (3.0,), **kw})])


def _sem(x):
    return x.std(axis=0, ddof=1) / np.sqrt(x.shape[0])


@pytest.fixture(scope="module")
def drift(tmp_path_factory, comm):
    d = tmp_path_factory.mktemp("drift")
    data = write_drift_run(d / "run.h5", n_perm=7, perm_done=[1, 1, 0, 1, 1, 0, 1], status="running")
    _agg(comm, d / "run.h5", d / "s.h5", figs=d / "figs")
    return d, data


def test_particle_statistics_over_finished_permutations(drift):
    d, data = drift
    ok = data["perm_done"] == 1
    pF = data["part_F"][ok].astype(np.float64)
    with h5py.File(d / "s.h5") as s:
        assert s.attrs["source_kind"] == "drift_diffusion" and not s.attrs["all_finished"]
        assert s.attrs["permutations_finished"] == 5 and s.attrs["permutations_total"] == 7
        assert s["particles/permutations_used"][()].tolist() == [0, 1, 3, 4, 6]
        for name, ref in (("F", pF), ("probe_F", data["part_probe_F"][ok]), ("number_in_grid", data["number"][ok]),
                          ("mlt_mean_F", pF.mean(axis=3))):
            np.testing.assert_allclose(s[f"particles/{name}_mean"][()], ref.mean(axis=0), rtol=1e-12, err_msg=name)
            np.testing.assert_allclose(s[f"particles/{name}_sem"][()], _sem(ref), rtol=1e-10, err_msg=name)


def test_pde_mlt_average_radial_comparison_and_maps(drift):
    d, data = drift
    F, rF, w = data["pde_F"], data["radial_F"], data["cell_measure"]
    with h5py.File(d / "s.h5") as s:
        np.testing.assert_allclose(s["pde/mlt_mean"][()], F.mean(axis=2), rtol=1e-13)
        np.testing.assert_allclose(s["pde/mlt_std"][()], F.std(axis=2), rtol=1e-12)
        diff = F.mean(axis=2) - rF
        np.testing.assert_allclose(s["comparison/mlt_mean_minus_radial"][()], diff, rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(s["comparison/relative_l2_difference"][()],
                                   np.sqrt((w * diff**2).sum(1) / (w * rF**2).sum(1)), rtol=1e-12)
        k = int(np.argmin(np.abs(data["time_s"] - 3 * 3600)))
        np.testing.assert_array_equal(s["maps/pde_F"][0], F[k])
        j = int(np.argmin(np.abs(data["p_time_s"] - 3 * 3600)))
        ok = data["perm_done"] == 1
        np.testing.assert_allclose(s["maps/particles_F_mean"][0], data["part_F"][ok][:, j].astype(float).mean(0),
                                   rtol=1e-12)
        missing = []
        s.visititems(lambda n, o: missing.append(n) if isinstance(o, h5py.Dataset) and "units" not in o.attrs
                     else None)
        assert missing == []


def test_drift_figures_show_the_data(drift):
    d, data = drift
    for name in figures_drift.FIGURES:
        assert (d / "figs" / f"{name}.png").read_bytes()[:4] == b"\x89PNG"
    ok = data["perm_done"] == 1
    with h5py.File(d / "s.h5") as s:
        fig, shown = figures_drift.plot_fig2(s)
        lines = fig.axes[0].get_lines()
        np.testing.assert_array_equal(lines[0].get_ydata(), data["pde_probe_F"][0])
        np.testing.assert_allclose(lines[1].get_ydata(), data["part_probe_F"][ok][:, 0].mean(axis=0), rtol=1e-12)
        np.testing.assert_allclose(shown["L3.5_22MLT/particles_sem"], _sem(data["part_probe_F"][ok][:, 0]), rtol=1e-10)
        fig, shown = figures_drift.plot_fig3(s)
        k = int(np.argmin(np.abs(data["time_s"] - 3 * 3600)))
        mesh = [c for c in fig.axes[0].collections if isinstance(c, QuadMesh)][0]
        np.testing.assert_array_equal(np.ma.getdata(mesh.get_array()).reshape(data["pde_F"][k].shape),
                                      data["pde_F"][k])
        fig, shown = figures_drift.plot_mlt_vs_radial(s)
        solid = [ln for ln in fig.axes[0].get_lines() if ln.get_linestyle() == "-"]
        np.testing.assert_allclose(solid[0].get_ydata(), data["pde_F"][0].mean(axis=1), rtol=1e-13)
    text = (d / "s.md").read_text()
    assert "permutations finished: 5 / 7" in text and "**unfinished run**" in text


def test_blocks_do_not_change_the_numbers(drift, comm, tmp_path):
    d, _ = drift
    run = inspect_drift(d / "run.h5")
    plan = make_drift_plan(run, Options(hours=(3.0,), memory_bytes=1024))
    assert len(plan.pde_blocks) > 1 and len(plan.part_blocks) > 2
    _agg(comm, d / "run.h5", tmp_path / "small.h5", memory_bytes=1024)
    with h5py.File(d / "s.h5") as a, h5py.File(tmp_path / "small.h5") as b:
        for k in ("particles/F_mean", "particles/F_sem", "particles/probe_F_sem", "pde/mlt_mean", "maps/pde_F"):
            np.testing.assert_allclose(b[k][()], a[k][()], rtol=1e-12, atol=1e-15, err_msg=k)


def test_unfinished_pde_and_bad_files(comm, tmp_path, capsys):
    write_drift_run(tmp_path / "nopde.h5", pde_done=False, status="interrupted (SIGTERM)")
    _agg(comm, tmp_path / "nopde.h5", tmp_path / "s.h5")
    with h5py.File(tmp_path / "s.h5") as s:
        assert not s.attrs["pde_done"] and "pde" not in s and "particles" in s
    write_drift_run(tmp_path / "nothing.h5", pde_done=False, perm_done=np.zeros(6))
    code = main(["aggregate", str(tmp_path / "nothing.h5"), "-o", str(tmp_path / "x.h5"), "--quiet"])
    assert code == 2 and "nothing to aggregate" in capsys.readouterr().err
    write_drift_run(tmp_path / "nan.h5")
    with h5py.File(tmp_path / "nan.h5", "r+") as h5:
        h5["particles/F"][4, 1, 0, 0] = np.nan
    code = main(["aggregate", str(tmp_path / "nan.h5"), "-o", str(tmp_path / "x.h5"), "--quiet"])
    assert code == 2 and "permutation 4 is marked finished" in capsys.readouterr().err
    code = main(["aggregate", str(tmp_path / "nopde.h5"), "-o", str(tmp_path / "x.h5"), "--hours", "30", "--quiet"])
    assert code == 2 and "--hours 30" in capsys.readouterr().err
    assert not (tmp_path / "x.h5").exists()


def test_real_drift_run_serial_and_mpi(tmp_path):
    """The tiny drift study of tests/drift, run and aggregated through the real command line."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("hpcbelt_tests_drift_helpers", ROOT / "tests" / "drift" / "helpers.py")
    dh = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(dh)
    study = dh.make_study(tmp_path)
    r = dh.hpcbelt("run", study, "-o", tmp_path / "run.h5", "--quiet")
    assert r.returncode == 0, r.stderr
    for n in (None, 2):
        figs = ["--figures", tmp_path / f"f{n}"] if n else []
        r = dh.hpcbelt("aggregate", tmp_path / "run.h5", "-o", tmp_path / f"s{n}.h5", *figs,
                       "--hours", "0.5,1", "--memory-mb", "0.01", ranks=n)
        assert r.returncode == 0, r.stderr
    with h5py.File(tmp_path / "run.h5") as run, h5py.File(tmp_path / "sNone.h5") as a, h5py.File(tmp_path / "s2.h5") as b:
        ok = run["particles/perm_done"][()] == 1
        np.testing.assert_allclose(a["particles/probe_F_mean"][()], run["particles/probe_F"][()][ok].mean(axis=0),
                                   rtol=1e-12)
        np.testing.assert_allclose(a["pde/mlt_mean"][()], run["pde/F"][()].mean(axis=2), rtol=1e-13)
        num = {}
        a.visititems(lambda n, o: num.__setitem__(n, o[()]) if isinstance(o, h5py.Dataset) and o.dtype.kind == "f" else None)
        for k, v in num.items():
            assert np.array_equal(b[k][()], v, equal_nan=True), k
    assert len(list((tmp_path / "f2").glob("*.png"))) == 3


def test_options_and_the_aggregator_contract(drift):
    """The drift kind's options from the command line (stored as before in options_json), and its
    Aggregator as registered for kind = drift_diffusion."""
    import argparse

    from hpcbelt import studies
    from hpcbelt.aggregate import files
    from hpcbelt.aggregate.lejosne2023 import AGGREGATOR, options, report
    from hpcbelt.errors import InputError

    assert studies.aggregator_for("drift_diffusion", "x.h5") is AGGREGATOR
    assert options.options(None) == Options() and options.DriftOptions is Options
    p = argparse.ArgumentParser()
    p.add_argument("--memory-mb", type=float, default=256.0)
    p.add_argument("--no-checksum", action="store_true")
    options.add_options(p.add_argument_group("drift"))
    o = options.options(p.parse_args(["--hours", "1,2.5", "--memory-mb", "3", "--no-checksum"]))
    assert o == Options(hours=(1.0, 2.5), memory_bytes=3 * 2**20, checksum=False)
    assert files.options_json(Options(hours=(3.0,))) == '{"checksum": true, "hours": [3.0], "memory_bytes": 268435456}'
    with pytest.raises(InputError, match="--hours"):
        options.options(p.parse_args(["--hours", "three"]))
    d, data = drift
    assert report.used(inspect_drift(d / "run.h5")) == ("PDE done, permutations 5/7", True)
    with h5py.File(d / "s.h5") as s:
        assert s.attrs["options_json"] == files.options_json(Options(hours=(3.0,)))
