"""Fixtures shared by the in-process MPI tests of every package (run under mpirun with --with-mpi)."""

import shutil
import tempfile
from pathlib import Path

import pytest


@pytest.fixture
def comm():
    """COMM_WORLD (serial test modules that need a communicator override this with COMM_SELF)."""
    from mpi4py import MPI

    return MPI.COMM_WORLD


@pytest.fixture
def shared_dir(comm):
    """One temporary directory seen by all ranks, removed after the test."""
    path = tempfile.mkdtemp(prefix="hpcbelt-mpi-") if comm.Get_rank() == 0 else None
    path = Path(comm.bcast(path, root=0))
    yield path
    comm.Barrier()
    if comm.Get_rank() == 0:
        shutil.rmtree(path, ignore_errors=True)


# --------------------------------------------------------------------------------------------
# Test tiers (markers declared in pyproject.toml): every test module has one, so that each tier
# can be run alone (pytest -m unit / accuracy / e2e / mpi / slurm / scale).  A test may carry its own
# tier marker instead; a module missing from this table is an error, not a silent default.
# --------------------------------------------------------------------------------------------
TIERS = ("unit", "accuracy", "e2e", "mpi", "slurm", "scale")
MODULE_TIERS = {
    "test_architecture.py": "unit",
    "test_parallel.py": "unit",
    "test_examples.py": "e2e",
    "test_reading.py": "e2e",
    "test_docs.py": "unit",
    "test_api.py": "e2e",
    "aggregate/test_agg_bad_input.py": "e2e",
    "aggregate/test_agg_energies.py": "e2e",
    "aggregate/test_agg_drift.py": "e2e",
    "aggregate/test_agg_figures.py": "e2e",
    "aggregate/test_agg_memory.py": "e2e",
    "aggregate/test_agg_mechanism.py": "e2e",
    "aggregate/test_agg_mpi.py": "mpi",
    "aggregate/test_agg_real_run.py": "e2e",
    "aggregate/test_agg_stats_unit.py": "unit",
    "aggregate/test_agg_synthetic.py": "accuracy",
    "aggregate/test_dt_sweep.py": "e2e",
    "aggregate/test_watt2021_options.py": "unit",
    "drift/test_beyond_paper.py": "accuracy",
    "drift/test_coefficients.py": "accuracy",
    "drift/test_energies_study.py": "e2e",
    "drift/test_energy_scan.py": "accuracy",
    "drift/test_lmlt.py": "unit",
    "drift/test_mpi.py": "mpi",
    "drift/test_pde.py": "accuracy",
    "drift/test_pde_order.py": "accuracy",
    "drift/test_restart.py": "e2e",
    "drift/test_runfile.py": "unit",
    "drift/test_study_run.py": "e2e",
    "dxx/test_daa_database.py": "unit",
    "dxx/test_multi_energy_database.py": "unit",
    "dxx/test_multi_energy_build.py": "e2e",
    "dxx/test_multi_energy_mpi.py": "mpi",
    "dxx/test_database.py": "accuracy",
    "dxx/test_driver_mpi.py": "mpi",
    "dxx/test_field_aligned.py": "accuracy",
    "dxx/test_geometry.py": "accuracy",
    "dxx/test_import_plot.py": "e2e",
    "dxx/test_variability_build.py": "e2e",
    "dxx/test_oblique.py": "accuracy",
    "dxx/test_surrogate.py": "unit",
    "dxx/test_variability.py": "accuracy",
    "dxx/test_paperlike.py": "accuracy",
    "particles/test_particles_vs_pde.py": "accuracy",
    "particles/test_tracker.py": "accuracy",
    "pitch_angle/test_bad_input.py": "e2e",
    "pitch_angle/test_energies.py": "e2e",
    "pitch_angle/test_mpi_energies.py": "mpi",
    "pitch_angle/test_mpi.py": "mpi",
    "pitch_angle/test_no_mpi_h5py.py": "e2e",
    "pitch_angle/test_physics_operator.py": "accuracy",
    "pitch_angle/test_restart.py": "e2e",
    "pitch_angle/test_run.py": "e2e",
    "pitch_angle/test_graded_grid.py": "accuracy",
    "pitch_angle/test_runfile.py": "unit",
    "pitch_angle/test_spectral.py": "accuracy",
    "radial/test_radial.py": "accuracy",
    "radial/test_radial_order.py": "accuracy",
    "radial/test_spacepy_radial.py": "accuracy",
    "slurm/test_slurm_jobs.py": "slurm",
    "slurm/test_slurm_nodes.py": "slurm",
    "studies/test_third_kind.py": "e2e",
    "reliability/test_single_writer.py": "e2e",
    "reliability/test_input_as_output.py": "e2e",
    "reliability/test_changed_input.py": "e2e",
    "reliability/test_full_disk.py": "e2e",
    "reliability/test_absurd_inputs.py": "e2e",
    "reliability/test_other_commands.py": "e2e",
    "reliability/test_corruption.py": "e2e",
    "reliability/test_exit_codes.py": "e2e",
    "scale/test_many_ranks.py": "scale",
}


def pytest_collection_modifyitems(config, items):
    here = Path(__file__).resolve().parent
    for item in items:
        if any(item.get_closest_marker(t) for t in TIERS):
            continue
        rel = Path(str(item.fspath)).resolve().relative_to(here).as_posix()
        if rel not in MODULE_TIERS:
            raise pytest.UsageError(f"{rel}: no test tier; add it to MODULE_TIERS in tests/conftest.py "
                                    f"(one of {', '.join(TIERS)})")
        item.add_marker(MODULE_TIERS[rel])
