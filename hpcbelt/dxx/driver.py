"""The parallel driver: (X, B_eq) work items dealt over MPI ranks, gathered in item order.

This is the only module of the subpackage that talks to MPI, and only through the
communicator it is given (``None`` = serial, on ``MPI.COMM_SELF``); the dealing, progress and
gathering are :func:`hpcbelt.parallel.deal_and_gather`.  Every work item is one profile whose
value depends only on the item, so the gathered result -- and the database file -- are the
same bytes for any number of ranks.

Work items:

* ``table`` method: every node of the unit-intensity table (X, B_eq) that the interpolation
  of some pair reads (:func:`~hpcbelt.dxx.table.referenced_nodes`: the corners of the pairs'
  cells; for the default database 235 of 275 nodes), then the profile D(<X>, <Y>) from the mean
  inputs; profiles of the pairs are interpolated on rank 0.  The nodes no pair touches are left
  out of the work (stored as 0 in ``BuildResult.table``, ``table_computed`` False): they never
  enter a profile, so the database is the same bytes as with every node computed.
* ``direct`` method: every pair (X_i, Y_i, B_eq,i), then D(<X>, <Y>).

Several energies (``cfg.energies_MeV``): the items above once per energy, energy-major, each
computed with ``cfg`` at that energy (``dataclasses.replace(cfg, energy_MeV=E)``); the table
grid depends on the observations only, so it is the same at every energy, and each energy's
profiles are assembled exactly as a single-energy build at that energy would assemble them:
every slice is bit for bit that build's result.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass

import numpy as np

from ..parallel import deal_and_gather
from . import calculator
from .config import DxxConfig
from .synthetic import Observations
from .table import TableGrid, interpolate_table, referenced_nodes, table_grid


@dataclass
class BuildResult:
    """What rank 0 gets back from :func:`build` (other ranks get ``None``)."""

    alpha_deg: np.ndarray
    daa: np.ndarray                 # (n_profiles, n_alpha) 1/s
    daa_of_mean_inputs: np.ndarray  # (n_alpha,) 1/s
    grid: TableGrid | None          # table nodes (method "table")
    table: np.ndarray | None        # (nB, nX, n_alpha) unit-intensity profiles (0 where not
                                    # computed: see table_computed)
    seconds: float                  # wall time of the profile computations on rank 0's clock
    n_items: int
    table_computed: np.ndarray | None = None   # (nB, nX) bool: the nodes some pair reads
    energies_MeV: tuple | None = None   # several energies: daa (n_energy, n_profiles, n_alpha),
                                        # daa_of_mean_inputs (n_energy, n_alpha), table
                                        # (n_energy, nB, nX, n_alpha)


def build(cfg: DxxConfig, obs: Observations, comm=None, progress: bool = False):
    """All profiles of a database for observations ``obs``; see the module docstring.

    Collective over ``comm`` (``None``: this process alone); ``progress`` draws a bar over all
    ranks on rank 0.  Returns a :class:`BuildResult` on rank 0, ``None`` elsewhere.
    """
    if comm is None:
        from mpi4py import MPI
        comm = MPI.COMM_SELF

    energies = cfg.energies_MeV
    cfgs = ([cfg] if energies is None
            else [dataclasses.replace(cfg, energy_MeV=float(e), energies_MeV=None) for e in energies])

    def one(item):
        k, x, y, b = item
        return calculator.profile(cfgs[k], x, y, b)

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
    needed = None
    if grid is not None:
        nodes = grid.nodes
        needed = referenced_nodes(grid, X, B)
        items = [(nodes[j][0], 1.0, nodes[j][1]) for j in needed] + [mean_item]
    else:
        items = [(float(x), float(y), float(b)) for x, y, b in zip(X, Y, B)] + [mean_item]
    n_per = len(items)
    all_items = [(k, *it) for k in range(len(cfgs)) for it in items]
    out = deal_and_gather(comm, all_items, one, label="hpcbelt dxx: profiles", quiet=not progress)
    seconds = time.perf_counter() - t0
    if out is None:                          # not rank 0
        return None
    daa, mean_inputs, tables = [], [], []
    for k in range(len(cfgs)):
        part = out[k * n_per:(k + 1) * n_per]
        mean_inputs.append(part[-1])
        if grid is not None:
            computed = np.array(part[:-1])
            table = np.zeros((grid.B_eq_nT.size * grid.X.size, computed.shape[1]))
            table[needed] = computed
            table = table.reshape(grid.B_eq_nT.size, grid.X.size, -1)
            daa.append(Y[:, None] * interpolate_table(grid, table, X, B))
            tables.append(table)
        else:
            daa.append(np.array(part[:-1]))
    mask = None
    if grid is not None:
        mask = np.zeros(grid.B_eq_nT.size * grid.X.size, bool)
        mask[needed] = True
        mask = mask.reshape(grid.B_eq_nT.size, grid.X.size)
    if energies is None:
        return BuildResult(alpha_deg=cfg.alpha_deg(), daa=daa[0],
                           daa_of_mean_inputs=mean_inputs[0], grid=grid,
                           table=tables[0] if tables else None, seconds=seconds,
                           n_items=len(all_items), table_computed=mask)
    return BuildResult(alpha_deg=cfg.alpha_deg(), daa=np.stack(daa),
                       daa_of_mean_inputs=np.stack(mean_inputs), grid=grid,
                       table=np.stack(tables) if tables else None, seconds=seconds,
                       n_items=len(all_items), table_computed=mask,
                       energies_MeV=tuple(energies))
