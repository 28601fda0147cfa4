"""The figures exist and show the right data: read back from the matplotlib artists."""

import h5py
import numpy as np
import pytest
from matplotlib.collections import QuadMesh

from hpcbelt.aggregate.driver import aggregate_file
from hpcbelt.aggregate.watt2021 import figures
from hpcbelt.aggregate.watt2021.options import Options

from .agg_helpers import write_db, write_run


@pytest.fixture(scope="module")
def case(tmp_path_factory):
    from mpi4py import MPI

    d = tmp_path_factory.mktemp("figs")
    done = {"drand_6h": np.array([0, 0, 1, 1, 1, 1, 1], np.uint8)}
    data = write_run(d / "run.h5", done=done, n_time=31, db_path=write_db(d / "db.h5"))
    aggregate_file(d / "run.h5", output=d / "s.h5", figures_dir=d / "figs", comm=MPI.COMM_SELF, quiet=True,
                   opts=Options(n_boot=40, n_sub=10, days=(2.0, 10.0, 30.0)))
    h5 = h5py.File(d / "s.h5", "r")
    yield d, data, h5
    h5.close()


def _ia(h5, deg=30.0):
    return int(np.argmin(np.abs(h5["alpha_deg"][()] - deg)))


def _med(data, name):
    f, _, flags = data[name]
    return np.percentile(f[flags == 1], 50, axis=0)


def test_pngs_written(case):
    d, _, _ = case
    for name in figures.FIGURES:
        p = d / "figs" / f"{name}.png"
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and p.stat().st_size > 10_000, name
    assert not [p for p in (d / "figs").iterdir() if ".tmp-" in p.name]
    report = (d / "s.md").read_text()
    assert "fig4_median_daa_pdfs.png" in report and "drand_6h | random | 6 h | 5 / 7" in report


def test_fig4_lines_and_pdfs(case):
    _, data, h5 = case
    fig, shown = figures.plot_fig4(h5)
    ia = _ia(h5)
    ax_a, ax_b, ax_c, ax_d = fig.axes[:4]
    names = ["drand_2min", "drand_6h", "mean_of_profiles", "mean_inputs"]
    lines = ax_a.get_lines()
    assert [ln.get_label().split(" ")[0] for ln in lines] == names
    for ln, n in zip(lines, names):
        np.testing.assert_array_equal(ln.get_xdata(), h5["time_days"][()])
        np.testing.assert_array_equal(ln.get_ydata(), _med(data, n)[:, ia])
    assert lines[2].get_linestyle() == "-" and lines[3].get_linestyle() == "--"
    for ln in ax_b.get_lines():
        n = ln.get_label().split(" ")[0]
        _, di, flags = data[n]
        np.testing.assert_allclose(ln.get_ydata(), di[flags == 1].mean(axis=0)[:, ia], rtol=1e-13)
    edges = h5["pdf_bin_edges_log10f"][()]
    for ax, n in ((ax_c, "drand_2min"), (ax_d, "drand_6h")):
        f, _, flags = data[n]
        col = f[flags == 1][:, :, ia]
        ref = np.array([np.histogram(np.log10(col[:, t]), bins=edges)[0] for t in range(col.shape[1])])
        ref = ref / (col.shape[0] * np.diff(edges))
        mesh = [c for c in ax.collections if isinstance(c, QuadMesh)][0]
        np.testing.assert_allclose(np.ma.filled(mesh.get_array(), 0.0).reshape(ref.T.shape), ref.T, rtol=1e-13)
        np.testing.assert_array_equal(ax.get_lines()[0].get_ydata(), np.log10(_med(data, n)[:, ia]))
        np.testing.assert_array_equal(np.asarray(mesh.get_coordinates())[:, 0, 1], edges)
        assert f"{col.shape[0]} members" in ax.get_title()


def test_fig3_member_and_floor(case):
    _, data, h5 = case
    fig, shown = figures.plot_fig3(h5)
    t_days = h5["time_days"][()]
    n5 = int(np.searchsorted(t_days, 5.0, side="right"))
    # the random member is the first *finished* member of the slowest-switching ensemble
    expect = {"random": data["drand_6h"][0][2], "mean_of_profiles": data["mean_of_profiles"][0][0],
              "mean_inputs": data["mean_inputs"][0][0]}
    meshes = [[c for c in ax.collections if isinstance(c, QuadMesh)][0] for ax in fig.axes[:3]]
    assert "drand_6h, member 2" in fig.axes[0].get_title()
    for mesh, (role, f) in zip(meshes, expect.items()):
        want = np.maximum(f[:n5], 100.0)
        np.testing.assert_array_equal(shown[role], want)
        np.testing.assert_array_equal(np.ma.getdata(mesh.get_array()).reshape(want.T.shape), want.T)
        assert mesh.norm.vmin == 100.0


def test_figS1_snapshots(case):
    _, data, h5 = case
    fig, shown = figures.plot_figS1(h5)
    t_days = h5["time_days"][()]
    for ax, day in zip(fig.axes, (2, 10, 30)):
        ti = int(np.argmin(np.abs(t_days - day)))
        for ln in ax.get_lines():
            np.testing.assert_array_equal(ln.get_ydata(), _med(data, ln.get_label())[ti])
        f, _, flags = data["drand_6h"]
        np.testing.assert_array_equal(shown[f"{day}/drand_6h/p05"], np.percentile(f[flags == 1][:, ti], 5, axis=0))


def test_fig1_database(case):
    d, _, h5 = case
    fig, shown = figures.plot_fig1(h5)
    lines = fig.axes[0].get_lines()
    with h5py.File(d / "run.h5") as run:
        np.testing.assert_array_equal(lines[0].get_ydata(), run["database/daa_mean"][()])
        np.testing.assert_array_equal(lines[1].get_ydata(), run["database/daa_of_mean_inputs"][()])
    with h5py.File(d / "db.h5") as db:
        daa, a_db = db["daa"][()], db["alpha_deg"][()]
    edges = h5["database/file/bin_edges_log10_daa"][()]
    j = int(np.argmin(np.abs(a_db - 30.0)))
    ref = np.histogram(np.log10(daa[daa[:, j] > 0, j]), bins=edges)[0] / (daa.shape[0] * np.diff(edges))
    np.testing.assert_allclose(fig.axes[1].get_lines()[0].get_ydata(), ref, rtol=1e-13)
    np.testing.assert_allclose(shown["pdf_30deg"], ref, rtol=1e-13)


def test_convergence_figure(case):
    _, data, h5 = case
    fig, shown = figures.plot_convergence(h5)
    ia = _ia(h5)
    f, _, flags = data["drand_6h"]
    col = f[flags == 1][:, :, ia]
    np.testing.assert_array_equal(fig.axes[2].get_lines()[0].get_ydata(), np.percentile(col, 50, axis=0))
    sizes = h5["drand_6h/convergence/ensemble_size"][()]
    ti = int(h5["snapshots/time_index"][2])
    want = np.array([np.median(col[:k, ti]) for k in sizes]) / np.median(col[:, ti])
    np.testing.assert_allclose(shown["drand_6h/size/30"], want, rtol=1e-13)


def test_figures_without_database_file(tmp_path):
    from mpi4py import MPI

    write_run(tmp_path / "run.h5", n_time=9, n_alpha=10, db_path=tmp_path / "gone.h5")
    aggregate_file(tmp_path / "run.h5", output=tmp_path / "s.h5", figures_dir=tmp_path / "figs",
                   comm=MPI.COMM_SELF, quiet=True, opts=Options(n_boot=10, n_sub=5))
    with h5py.File(tmp_path / "s.h5") as h5:
        assert not h5["database"].attrs["file_readable"]
        assert "not found" in h5["database"].attrs["file_note"]
        fig, shown = figures.plot_fig1(h5)
        assert len(fig.axes) == 1 and set(shown) == {"daa_mean", "daa_of_mean_inputs"}
    assert (tmp_path / "figs" / "fig1_database.png").exists()
