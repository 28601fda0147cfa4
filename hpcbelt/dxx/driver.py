"""The parallel driver: (X, B_eq) work items dealt over MPI ranks, gathered in item order.

This is the only module of the subpackage that talks to MPI, and only through the
communicator it is given (``None`` = serial).  Every work item is one profile whose value
depends only on the item, so the gathered result -- and the database file -- are the same
bytes for any number of ranks.

Work items:

* ``table`` method: every node of the unit-intensity table (X, B_eq), then the profile
  D(<X>, <Y>) from the mean inputs; profiles of the pairs are interpolated on rank 0.
* ``direct`` method: every pair (X_i, Y_i, B_eq,i), then D(<X>, <Y>).
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass

import numpy as np

from . import calculator
from .config import DxxConfig
from .database import TableGrid, interpolate_table, table_grid
from .synthetic import Observations


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


def _rank_size(comm):
    return (0, 1) if comm is None else (comm.Get_rank(), comm.Get_size())


def compute_items(cfg: DxxConfig, items: list[tuple[float, float, float]], comm=None,
                  progress: bool = False) -> list[np.ndarray] | None:
    """Profiles for ``items`` = [(X, Y, B_eq_nT), ...], round-robin over ranks.

    Returns the list in item order on rank 0, ``None`` elsewhere.
    """
    rank, size = _rank_size(comm)
    mine = {}
    t0 = time.perf_counter()
    idx = list(range(rank, len(items), size))
    for k, i in enumerate(idx):
        X, Y, B = items[i]
        mine[i] = calculator.profile(cfg, X, Y, B)
        if progress and rank == 0 and (k + 1) % max(1, len(idx) // 20) == 0:
            el = time.perf_counter() - t0
            print(f"hpcbelt dxx: rank 0 {k + 1}/{len(idx)} profiles, {el:.0f} s", file=sys.stderr,
                  flush=True)
    if comm is None or size == 1:
        return [mine[i] for i in range(len(items))]
    parts = comm.gather(mine, root=0)
    if rank != 0:
        return None
    merged = {}
    for part in parts:
        merged.update(part)
    return [merged[i] for i in range(len(items))]


def build(cfg: DxxConfig, obs: Observations, comm=None, progress: bool = False):
    """All profiles of a database for observations ``obs``; see the module docstring."""
    rank, _ = _rank_size(comm)
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
    out = compute_items(cfg, items, comm, progress)
    if comm is not None:
        comm.Barrier()
    seconds = time.perf_counter() - t0
    if rank != 0:
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
