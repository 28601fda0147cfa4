"""hpcbelt: MPI-parallel radiation-belt diffusion studies.

Subpackages, one per equation::

  pitch_angle  bounce-averaged pitch-angle diffusion with a loss cone (Watt et al. 2021)
  dxx          hiss diffusion-coefficient calculator and databases
  drift        drift-diffusion in (L, MLT) (Lejosne & Albert 2023)
  radial       1-D radial diffusion
  particles    equatorial test-particle tracker

Shared layers: config (study files), parallel (MPI decomposition), output (HDF5), cli.

The in-process API (:mod:`hpcbelt.api`, the functions the ``hpcbelt`` command calls)::

    study = hpcbelt.load_study("study.toml", overrides={"time.duration_days": 2})
    run = hpcbelt.run(study, "out.h5")            # or under mpirun, with comm=...
    summary = hpcbelt.aggregate(run, figures="figures")
    tree = hpcbelt.open_run(run)                  # xarray.DataTree (pip install hpcbelt[xarray])
"""

__version__ = "0.1.0"

__all__ = ["__version__", "load_study", "run", "restart", "aggregate", "build_database",
           "open_run", "open_summary"]

# name -> the module that defines it, imported on first use (``import hpcbelt`` stays cheap:
# no numpy, h5py, mpi4py or xarray until a function is used)
_LAZY = {
    "open_run": ".reading", "open_summary": ".reading",
    "load_study": ".api", "run": ".api", "restart": ".api", "build_database": ".api",
}


def __getattr__(name):
    """``hpcbelt.load_study``, ``run``, ``restart``, ``aggregate``, ``build_database``
    (:mod:`hpcbelt.api`) and ``open_run``, ``open_summary`` (:mod:`hpcbelt.reading`), imported
    on first use so that ``import hpcbelt`` needs neither numpy, MPI, h5py nor xarray."""
    import importlib

    if name in _LAZY:
        # by name: the package root imports nothing, so the shared modules below it (which
        # import hpcbelt for __version__) do not depend on the layers above them
        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    if name == "aggregate":
        # the subpackage hpcbelt.aggregate, callable as hpcbelt.api.aggregate (_Package below)
        return importlib.import_module(".aggregate", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted({n for n in globals() if not n.startswith("_") or n.startswith("__")} | set(__all__))


# ``hpcbelt.aggregate`` is both the subpackage (hpcbelt.aggregate.driver, ...) and the function
# hpcbelt.api.aggregate: importing the subpackage binds its name on this package, so the
# subpackage itself is made callable, forwarding to the function.  Every import of it
# (``import hpcbelt.aggregate.cli``, ``from hpcbelt import aggregate``) keeps working.
import sys as _sys  # noqa: E402
import types as _types  # noqa: E402


class _CallableAggregate(_types.ModuleType):
    def __call__(self, *args, **kwargs):
        """:func:`hpcbelt.api.aggregate`."""
        import importlib

        return importlib.import_module(".api", __name__).aggregate(*args, **kwargs)


class _Package(_types.ModuleType):
    def __setattr__(self, name, value):
        if name == "aggregate" and type(value) is _types.ModuleType:
            value.__class__ = _CallableAggregate
        super().__setattr__(name, value)


_sys.modules[__name__].__class__ = _Package
