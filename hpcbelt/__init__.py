"""hpcbelt: MPI-parallel radiation-belt diffusion studies.

Subpackages, one per equation:
  pitch_angle  bounce-averaged pitch-angle diffusion with a loss cone (Watt et al. 2021)
  dxx          hiss diffusion-coefficient calculator and databases
  drift        drift-diffusion in (L, MLT) (Lejosne & Albert 2023)
  radial       1-D radial diffusion
  particles    equatorial test-particle tracker
Shared layers: config (study files), parallel (MPI decomposition), output (HDF5), cli.
"""

__version__ = "0.1.0"

__all__ = ["__version__", "open_run", "open_summary"]


def __getattr__(name):
    """``hpcbelt.open_run`` / ``hpcbelt.open_summary`` (:mod:`hpcbelt.reading`), imported on first
    use so that ``import hpcbelt`` needs neither xarray nor h5py."""
    if name in ("open_run", "open_summary"):
        import importlib

        # by name: the package root imports nothing, so the shared modules below it (which
        # import hpcbelt for __version__) do not depend on the reading layer
        return getattr(importlib.import_module(".reading", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
