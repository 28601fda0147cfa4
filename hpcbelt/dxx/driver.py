"""The parallel driver: (X, B_eq) work items dealt over MPI ranks, gathered in item order.

This is the only module of the subpackage that talks to MPI, and only through the
communicator it is given (``None`` = serial, on ``MPI.COMM_SELF``); the dealing, progress and
gathering are :func:`hpcbelt.parallel.deal_and_gather`.  Every work item is one profile whose
value depends only on the item, so the gathered result -- and the database file -- are the
same bytes for any number of ranks.

Work items:

* ``table`` method: every node of the unit-intensity table (X, B_eq), then the profile
  D(<X>, <Y>) from the mean inputs; profiles of the pairs are interpolated on rank 0.
* ``direct`` method: every pair (X_i, Y_i, B_eq,i), then D(<X>, <Y>).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from ..parallel import deal_and_gather
from . import calculator
from .config import DxxConfig
from .synthetic import Observations
from .table import TableGrid, interpolate_table, table_grid


@dataclass
class BuildResult:
    """What rank 0 gets back from :func:`build` (other ranks get ``None``)."""

    alpha_deg: np.ndarray
    daa: np.ndarray                 # (n_profiles, n_alpha) 1/s
    daa_of_mean_inputs: np.ndarray  # (n_alpha,) 1/s
    grid: TableGrid | None          # table nodes (method "table")
    table: np.ndarray | None        # (nB, nX, n_alpha) unit-intensity profiles
    seconds: float                  # wall time of the profile computations on rank 0's clock
    n_items: int


def build(cfg: DxxConfig, obs: Observations, comm=None, progress: bool = False):
    """All profiles of a database for observations ``obs``; see the module docstring.

    Collective over ``comm`` (``None``: this process alone); ``progress`` draws a bar over all
    ranks on rank 0.  Returns a :class:`BuildResult` on rank 0, ``None`` elsewhere.
    """
    if comm is None:
        from mpi4py import MPI
        comm = MPI.COMM_SELF

    def one(item):
        x, y, b = item
        return calculator.profile(cfg, x, y, b)

    X = np.asarray(obs.X, float)
    Y = np.asarray(obs.Y, float)
    B = np.asarray(obs.B_eq_nT, float)
    mean_item = (float(np.mean(X)), float(np.mean(Y)), float(np.mean(B)))
    t0 = time.perf_counter()
    grid = None
    if cfg.table_method in ("table", "auto"):
        grid = table_grid(X, B, cfg.table_dlog10_X, cfg.table_dB_rel)
        if cfg.table_method == "auto" and len(grid.nodes) >= X.size:
            grid = None                      # fewer pairs than table nodes: compute directly
    if grid is not None:
        items = [(x, 1.0, b) for x, b in grid.nodes] + [mean_item]
    else:
        grid = None
        items = [(float(x), float(y), float(b)) for x, y, b in zip(X, Y, B)] + [mean_item]
    out = deal_and_gather(comm, items, one, label="hpcbelt dxx: profiles", quiet=not progress)
    seconds = time.perf_counter() - t0
    if out is None:                          # not rank 0
        return None
    d_mean_inputs = out[-1]
    if grid is not None:
        table = np.array(out[:-1]).reshape(grid.B_eq_nT.size, grid.X.size, -1)
        daa = Y[:, None] * interpolate_table(grid, table, X, B)
    else:
        table = None
        daa = np.array(out[:-1])
    return BuildResult(alpha_deg=cfg.alpha_deg(), daa=daa, daa_of_mean_inputs=d_mean_inputs,
                       grid=grid, table=table, seconds=seconds, n_items=len(items))
