"""The run file of a drift-diffusion study: dataset names, layout writer, restart check, reader.

Layout version 3 (dataset names are a contract with users, job templates and the aggregation)::

    /time_s                         (n_time,)                  s, dimension scale (PDE and radial outputs)
    /probe/name, L_lo, L_hi, mlt_lo_h, mlt_hi_h  (n_probe,)    the probe boxes
    /pde/L_grid                     (n_L,)                     cell centres in L, dimension scale
    /pde/mlt_h                      (n_mlt,)                   cell-centre MLT [h], dimension scale
    /pde/L_edges                    (n_L + 1,)                 cell edges in L
    /pde/cell_measure               (n_L,)                     (1/L_lo - 1/L_hi) dphi of each cell of a ring
    /pde/F                          (time, L, mlt)             F (cell averages, fixed MLT frame)
    /pde/number                     (time,)                    sum F dmu, dmu = L^-2 dL dphi
    /pde/lost_L_min, lost_L_max     (time,)                    cumulative number that left through each edge
    /pde/probe_F                    (probe, time)              measure-weighted average of F over each probe box
    /pde/budget_json                ()  S1024                  the particle budget of the PDE (JSON; also the root
                                                               attribute pde_budget_json)
    /pde/checksum                   (32,) u1                   sha256 of what the PDE wrote (layout 3; PdeDigest)
    /pde/done                       ()  u1                     1 once pde/* and radial/* are completely written
    /radial/F                       (time, L)                  radial solver (if [radial] enabled)
    /radial/D_LL_per_s              (L,)                       D_LL used, at the cell centres
    /radial/lost_L_min, lost_L_max  (time,)
    /particles/time_s               (n_ptime,)                 s, dimension scale
    /particles/perm                 (P,)                       permutation index, dimension scale
    /particles/L_grid, mlt_h        binning grid (the PDE grid coarsened by coarsen_L x coarsen_mlt)
    /particles/F                    (perm, time, L, mlt) f4    F implied by each permutation's particles
    /particles/probe_F              (perm, probe, time)        F at the probe boxes (exact box counts)
    /particles/number_in_grid       (perm, time)               sum F dmu inside the binning grid
    /particles/w_base_V_per_m       (n_updates,)               the original sequence of w
    /particles/permutation          (perm, n_updates) i4       index order of each permutation
    /particles/perm_checksum        (perm, 32) u1              sha256 of what the permutation wrote (layout 3)
    /particles/perm_done            (perm,) u1                 1 once the permutation is written
    /particles/positions            (perm, N, time, 2) f4      X, Y [R_E] (only with keep_positions)
    /particles/ring/...             ring particles, only with [particles] ring_per_permutation > 0:
        time_s (n_up,), lag_s (n_lag,), mlt_bin_h (n_bins,)    s, s, h: dimension scales
        msd_v (perm, n_up)                                     ring mean of (v*(t) - v*(0))^2, v = 1/L*^2
        S (perm, n_lag)                                        structure function of v* (mean over ring, t)
        moments (perm, n_bins, 6)                              per mid-interval MLT bin sums of count,
                                                               dL/L^3, (dL/L^3)^2, dphi/L^2, (dphi/L^2)^2,
                                                               dL dphi/L^5 (hpcbelt.particles.diffusion)
        n_lost (perm,) i8, mean_w2 (perm,) V^2/m^2             ring particles lost; mean w^2 of the permutation

A study over energies (``[physics] energy_keV`` a list): the root holds ``/energy_keV`` (the
energies, a dimension scale) and one group ``/E<energy>keV`` per energy (group attributes
``energy_keV``, ``energy_index``, ``K_per_s``, ``dt_max_s``), each holding the whole layout above
(``/E3000keV/pde/F``, ``/E3000keV/particles/perm_done``, ...).  The root attributes are those of
a single-energy file.  Functions below take ``h5`` as the file or such a group.

Root attributes: those of every run file (:func:`hpcbelt.output.run_attrs`), ``K_per_s``
(the paper's K, Eq. 12, 1/s), ``earth_rotation_rad_per_s``, ``noise``, ``coefficients`` and
``correlation_s`` [s] (only with noise = 'ornstein_uhlenbeck'): with coefficients =
'finite_update' the PDE and the radial solver use K_eff(Omega(L)) instead of K_per_s
(:mod:`hpcbelt.drift.coefficients`); and, once the PDE is done, ``pde_budget_json``.

Everything written during the run is preallocated (early allocation, contiguous) and the whole
layout is on disk before anything is computed, so a run killed at any moment leaves a readable
file in which what is marked done (``pde/done``, ``particles/perm_done``) is complete.
Layout 1 (before restarts) had no ``pde/done`` and no ``pde/budget_json``, layout 2 no checksums;
the reader still takes both (:func:`verify` reports them "not checksummed").  A checksum is
written after its item's data and before its done flag; the restart check and :func:`verify`
recompute it from what they read back.

This module is the one place in hpcbelt that spells these names: the driver writes through
the constants below, the aggregation (:mod:`hpcbelt.aggregate.lejosne2023`) reads through
:func:`inspect` and the block readers.
"""

from __future__ import annotations

from dataclasses import dataclass

import sys

import numpy as np

from .. import integrity, output
from ..errors import InputError

KIND = "drift_diffusion"
LAYOUT_VERSION = 3          # 2: preallocated datasets, pde/done, pde/budget_json (restartable); 3: checksums
READABLE_LAYOUTS = (1, 2, 3)   # what the reader takes

F_UNITS = "1"
F_DOC = ("distribution function F (phase-space density of the canonical coordinates; the number of "
         "particles in a region is the integral of F L^-2 dL dphi); 1 = the initial injection level")

# --- dataset names --------------------------------------------------------------------------
TIME = "time_s"
PROBE = "probe"
PROBE_NAME = "probe/name"
PROBE_BOX = ("L_lo", "L_hi", "mlt_lo_h", "mlt_hi_h")        # probe/<key>

PDE = "pde"
PDE_L = "pde/L_grid"
PDE_MLT = "pde/mlt_h"
PDE_L_EDGES = "pde/L_edges"
PDE_CELL_MEASURE = "pde/cell_measure"
PDE_F = "pde/F"
PDE_NUMBER = "pde/number"
PDE_LOST_MIN = "pde/lost_L_min"
PDE_LOST_MAX = "pde/lost_L_max"
PDE_PROBE_F = "pde/probe_F"
PDE_BUDGET = "pde/budget_json"
PDE_DONE = "pde/done"
PDE_CHECKSUM = "pde/checksum"

RADIAL = "radial"
RADIAL_F = "radial/F"
RADIAL_D_LL = "radial/D_LL_per_s"
RADIAL_LOST_MIN = "radial/lost_L_min"
RADIAL_LOST_MAX = "radial/lost_L_max"

PARTICLES = "particles"
PART_TIME = "particles/time_s"
PART_PERM = "particles/perm"
PART_L = "particles/L_grid"
PART_MLT = "particles/mlt_h"
PART_F = "particles/F"
PART_PROBE_F = "particles/probe_F"
PART_NUMBER = "particles/number_in_grid"
PART_W_BASE = "particles/w_base_V_per_m"
PART_PERMUTATION = "particles/permutation"
PART_DONE = "particles/perm_done"
PART_CHECKSUM = "particles/perm_checksum"
PART_POSITIONS = "particles/positions"
# ring particles (only with [particles] ring_per_permutation > 0): the measured D_LL (issue 15)
PART_RING = "particles/ring"
RING_TIME = "particles/ring/time_s"
RING_LAG = "particles/ring/lag_s"
RING_MLT = "particles/ring/mlt_bin_h"
RING_MSD = "particles/ring/msd_v"
RING_S = "particles/ring/S"
RING_MOMENTS = "particles/ring/moments"
RING_LOST = "particles/ring/n_lost"
RING_W2 = "particles/ring/mean_w2"

# a study over energies: one group per energy, each with the layout above
ENERGY = "energy_keV"

BUDGET_ATTR = "pde_budget_json"


# ------------------------------------------------------------------------------------------
# Writer
# ------------------------------------------------------------------------------------------

def layout(study, exp=None):
    """``make(h5)`` creating every dataset of the run file of ``study``.

    ``exp`` is the study's :class:`hpcbelt.particles.tracker.ParticleExperiment` (None without
    particles): its schedule, binning grid and base sequence of w fix the particle datasets.
    What the run writes later is preallocated, so writing it changes no metadata.
    """
    g = study.grid
    nt = study.out_t.size
    alloc = output.preallocated

    def make(h5):
        output.scale(h5, TIME, study.out_t, "s", "output times of the PDE and the radial solver")
        pr = h5.create_group(PROBE)
        # fixed-length ASCII: parallel HDF5 cannot write variable-length strings
        output.units(pr.create_dataset("name", data=np.array([p.name.encode() for p in study.probes], dtype="S64")),
                     "1", "probe names (ASCII)")
        for key, unit in zip(PROBE_BOX, ("1", "1", "h", "h")):
            output.units(pr.create_dataset(key, data=np.array([getattr(p.box, key) for p in study.probes], float)),
                         unit)
        h5.create_group(PDE)
        output.scale(h5, PDE_L, g.L_centres, "1", "L at the cell centres")
        output.scale(h5, PDE_MLT, g.mlt_h, "h", "MLT at the cell centres (0 = midnight)")
        output.units(h5.create_dataset(PDE_L_EDGES, data=g.L_edges), "1", "cell edges in L")
        output.units(h5.create_dataset(PDE_CELL_MEASURE, data=g.measure_L * g.dphi), "rad",
                     "(1/L_lo - 1/L_hi) dphi: measure of each cell of a ring (number = sum F * measure)")
        F = alloc(h5, PDE_F, (nt, g.n_L, g.n_mlt), "f8", np.nan)
        output.units(F, F_UNITS, F_DOC + "; NaN until written; valid where pde/done = 1")
        for name, doc in ((PDE_NUMBER, "sum of F times the cell measure"),
                          (PDE_LOST_MIN, "cumulative number that left through L_min"),
                          (PDE_LOST_MAX, "cumulative number that left through L_max")):
            d = alloc(h5, name, (nt,), "f8", np.nan)
            output.units(d, "rad", doc)
            d.dims[0].attach_scale(h5[TIME])
        pf = alloc(h5, PDE_PROBE_F, (len(study.probes), nt), "f8", np.nan)
        output.units(pf, F_UNITS, "measure-weighted average of F over each probe box")
        pf.dims[1].attach_scale(h5[TIME])
        F.dims[0].attach_scale(h5[TIME])
        F.dims[1].attach_scale(h5[PDE_L])
        F.dims[2].attach_scale(h5[PDE_MLT])
        output.units(alloc(h5, PDE_BUDGET, (), "S1024", b""), "1",
                     "particle budget of the PDE (JSON, as the root attribute pde_budget_json); empty until done")
        output.units(alloc(h5, PDE_CHECKSUM, (integrity.CHECKSUM_SIZE,), integrity.CHECKSUM_DTYPE, integrity.UNSET),
                     "1", "sha256 (32 bytes) of the PDE's output, frame by frame, then probe_F and budget_json "
                     "(hpcbelt/drift/runfile.py: PdeDigest); zeros until the PDE is done")
        output.units(alloc(h5, PDE_DONE, (), "u1", 0), "1",
                     "1 once pde/* and radial/* are completely written (they are recomputed on restart otherwise)")
        if study.radial_on:
            h5.create_group(RADIAL)
            RF = alloc(h5, RADIAL_F, (nt, g.n_L), "f8", np.nan)
            output.units(RF, F_UNITS, "solution of the radial diffusion equation (Eq. 22)")
            RF.dims[0].attach_scale(h5[TIME])
            RF.dims[1].attach_scale(h5[PDE_L])
            output.units(h5.create_dataset(RADIAL_D_LL, data=study.radial_D_LL()(g.L_centres)), "1/s",
                         "radial diffusion coefficient at the cell centres")
            for name, edge in ((RADIAL_LOST_MIN, "L_min"), (RADIAL_LOST_MAX, "L_max")):
                d = alloc(h5, name, (nt,), "f8", np.nan)
                output.units(d, "1", f"cumulative number (per radian of MLT) that left through {edge}")
        if exp is not None:
            bg = exp.bin_grid
            s = exp.sched
            P = study.particles.permutations
            h5.create_group(PARTICLES)
            output.scale(h5, PART_TIME, s["time_s"], "s", "recording times of the particles")
            output.scale(h5, PART_PERM, np.arange(P), "1", "permutation index")
            output.scale(h5, PART_L, bg.L_centres, "1", "binning grid: L at the cell centres")
            output.scale(h5, PART_MLT, bg.mlt_h, "h", "binning grid: MLT at the cell centres")
            pF = alloc(h5, PART_F, (P, s["n_rec"], bg.n_L, bg.n_mlt), "f4", np.nan)
            output.units(pF, F_UNITS, F_DOC + "; particles binned with that measure; NaN until written")
            for i, sc in enumerate((PART_PERM, PART_TIME, PART_L, PART_MLT)):
                pF.dims[i].attach_scale(h5[sc])
            pp = alloc(h5, PART_PROBE_F, (P, len(study.probes), s["n_rec"]), "f8", np.nan)
            output.units(pp, F_UNITS, "F at each probe box from the particles inside it")
            pp.dims[0].attach_scale(h5[PART_PERM])
            pp.dims[2].attach_scale(h5[PART_TIME])
            ng = alloc(h5, PART_NUMBER, (P, s["n_rec"]), "f8", np.nan)
            output.units(ng, "rad", "number of particles (measure units) inside the binning grid")
            output.units(h5.create_dataset(PART_W_BASE, data=exp.base_sequence()), "V/m",
                         "the original Gaussian sequence of w, one value per update_s")
            output.units(alloc(h5, PART_PERMUTATION, (P, s["n_updates"]), "i4", -1),
                         "1", "indices into w_base_V_per_m used by each permutation, in time order")
            ck = alloc(h5, PART_CHECKSUM, (P, integrity.CHECKSUM_SIZE), integrity.CHECKSUM_DTYPE, integrity.UNSET)
            output.units(ck, "1", "sha256 (32 bytes) of the permutation's F, probe_F, number_in_grid, permutation "
                         "(and positions), little-endian in their dataset dtypes; zeros until written")
            ck.dims[0].attach_scale(h5[PART_PERM])
            done = alloc(h5, PART_DONE, (P,), "u1", 0)
            output.units(done, "1", "1 once the permutation is completely written")
            done.dims[0].attach_scale(h5[PART_PERM])
            if exp.keep_positions:
                pos = alloc(h5, PART_POSITIONS, (P, exp.per_permutation, s["n_rec"], 2), "f4", np.nan)
                output.units(pos, "R_E", "X = L cos(phi), Y = L sin(phi) (X towards midnight); NaN once escaped")
            n_ring = study.particles.ring_per_permutation
            if n_ring:
                _ring_layout(h5, ring_shape(exp), P, n_ring, study.physics.L_energy)

    return make


def ring_shape(exp) -> dict:
    """The ring measurement's coordinates for the particle experiment ``exp``: ``time_s``
    (the update times but the last), ``lag_s`` and ``mlt_bin_h``."""
    from ..particles import diffusion

    ring = diffusion.ring_experiment(exp)
    n_up = ring.sched["n_updates"]
    lags = diffusion.lag_steps(n_up)
    nb = diffusion.N_MLT_BINS
    return {"time_s": ring.sched["time_s"][:n_up], "lag_s": ring.update_s * lags,
            "mlt_bin_h": (np.arange(nb) + 0.5) * (24.0 / nb)}


def _ring_layout(h5, shape: dict, P: int, n_ring: int, L0: float) -> None:
    from ..particles import diffusion

    alloc = output.preallocated
    g = h5.create_group(PART_RING)
    g.attrs["L0"] = float(L0)
    g.attrs["ring_per_permutation"] = int(n_ring)
    g.attrs["description"] = ("ring particles started on L0 at stratified drift phases, driven by each permutation's "
                              "w and recorded at every update of w: the measured D_LL (hpcbelt.particles.diffusion)")
    output.scale(h5, RING_TIME, shape["time_s"], "s", "ring recording times (every update of w but the last)")
    output.scale(h5, RING_LAG, shape["lag_s"], "s", "lags of the structure function")
    output.scale(h5, RING_MLT, shape["mlt_bin_h"], "h", "mid-interval MLT bin centres of the Eq. 11 moments")
    nt, nl, nb = (shape[k].size for k in ("time_s", "lag_s", "mlt_bin_h"))
    specs = ((RING_MSD, (P, nt), "f8", np.nan, "1", "ring mean of (v*(t) - v*(0))^2, v* = 1/L*^2 (guiding shell)",
              (PART_PERM, RING_TIME)),
             (RING_S, (P, nl), "f8", np.nan, "1", "structure function <(v*(t + lag) - v*(t))^2> over the ring and t",
              (PART_PERM, RING_LAG)),
             (RING_MOMENTS, (P, nb, len(diffusion.MOMENTS)), "f8", np.nan, "1",
              "per MLT bin sums of " + ", ".join(diffusion.MOMENTS) + " (L in R_E, phi in rad) over every update "
              "interval and ring particle", (PART_PERM, RING_MLT)),
             (RING_LOST, (P,), "i8", -1, "1", "ring particles that left (beyond L_escape)", (PART_PERM,)),
             (RING_W2, (P,), "f8", np.nan, "V^2/m^2", "mean of w^2 over the permutation's sequence", (PART_PERM,)))
    for name, shp, dt, fill, unit, doc, dims in specs:
        d = output.units(alloc(h5, name, shp, dt, fill), unit, doc + "; unset until the permutation is done")
        for i, sc in enumerate(dims):
            d.dims[i].attach_scale(h5[sc])
    h5[RING_MOMENTS].attrs["columns"] = ",".join(diffusion.MOMENTS)


def layout_energies(slices, exps):
    """``make(h5)`` for a study over energies: ``/energy_keV`` and one group per slice (the
    single-energy :func:`layout` inside it).  ``slices`` from :meth:`Study.slices`, ``exps``
    their particle experiments (None without particles)."""
    makers = [layout(s, e) for s, e in zip(slices, exps)]

    def make(h5):
        output.scale(h5, ENERGY, np.array([s.physics.energy_keV for s in slices]), "keV",
                     "electron kinetic energy at L_energy of each group E<energy>keV")
        for s, mk in zip(slices, makers):
            g = h5.create_group(s.group)
            g.attrs["energy_keV"] = s.physics.energy_keV
            g.attrs["energy_index"] = s.energy_index
            g.attrs["K_per_s"] = s.K_per_s
            g.attrs["dt_max_s"] = s.particles.dt_max_s
            g.attrs["drift_period_s_at_L_energy"] = float(2 * np.pi / abs(s.physics.omega_rad_per_s(s.physics.L_energy)))
            mk(g)

    return make


def groups(h5) -> list:
    """The energy groups of a run file, in energy order ([] for a single-energy file)."""
    if ENERGY not in h5:
        return []
    names = [n for n in h5 if n.startswith("E") and n.endswith("keV") and "energy_index" in h5[n].attrs]
    return sorted(names, key=lambda n: int(h5[n].attrs["energy_index"]))


# ------------------------------------------------------------------------------------------
# Checksums (layout 3): what the driver digests as it writes, the readers recompute
# ------------------------------------------------------------------------------------------

class PdeDigest:
    """The PDE's checksum, built frame by frame in output order as the driver writes them:
    for each frame F, number, lost_L_min, lost_L_max (and, with the radial solver, radial F,
    lost_L_min, lost_L_max), all float64; then probe_F (float64) and budget_json (S1024)."""

    def __init__(self):
        self._d = integrity.Digest()

    def frame(self, F, number, lost_min, lost_max, radial=None) -> None:
        for a in (F, number, lost_min, lost_max, *(radial or ())):
            self._d.add(a, "f8")

    def finish(self, probe_F, budget: bytes) -> np.ndarray:
        self._d.add(probe_F, "f8").add(np.bytes_(budget), "S1024")
        return self._d.value()


RING_DTYPES = ((RING_MSD, "f8"), (RING_S, "f8"), (RING_MOMENTS, "f8"), (RING_LOST, "i8"), (RING_W2, "f8"))


def perm_digest(F, probe_F, number, permutation, positions=None, ring=None) -> np.ndarray:
    """The checksum of one permutation: its arrays in the dtypes of their datasets (then, with
    ring particles, ``ring`` = the arrays of :data:`RING_DTYPES` in that order)."""
    pairs = [(F, "f4"), (probe_F, "f8"), (number, "f8"), (permutation, "i4")]
    if positions is not None:
        pairs.append((positions, "f4"))
    if ring is not None:
        pairs += [(a, dt) for a, (_, dt) in zip(ring, RING_DTYPES)]
    return integrity.digest(pairs)


def _checksum_problem(stored, computed) -> str | None:
    if not integrity.stored(stored):
        return "marked finished but has no checksum"
    if not integrity.matches(stored, computed()):
        return "data does not match its checksum (changed after it was written)"
    return None


def pde_file_digest(h5) -> np.ndarray:
    """The PDE's checksum recomputed from the datasets in the file (:class:`PdeDigest` order)."""
    d = PdeDigest()
    F = h5[PDE_F]
    series = [h5[n][()] for n in (PDE_NUMBER, PDE_LOST_MIN, PDE_LOST_MAX)]
    rad = [h5[n][()] for n in (RADIAL_F, RADIAL_LOST_MIN, RADIAL_LOST_MAX)] if RADIAL in h5 else None
    for k in range(F.shape[0]):
        d.frame(F[k], series[0][k], series[1][k], series[2][k], None if rad is None else [r[k] for r in rad])
    return d.finish(h5[PDE_PROBE_F][()], h5[PDE_BUDGET][()])


def pde_problem(h5) -> str | None:
    """What is wrong with a finished PDE (pde/done = 1), or None: its checksum (layout 3) and
    that F (>= 0), the probe series and the radial solution are finite."""
    found = []
    if PDE_CHECKSUM in h5:
        why = _checksum_problem(h5[PDE_CHECKSUM][()], lambda: pde_file_digest(h5))
        if why:
            found.append(why)
    F = h5[PDE_F]
    value = None
    for k in range(F.shape[0]):
        value = value or integrity.value_problem(F[k], f"{PDE_F} (time {k})", non_negative=True)
    found += [p for p in (value, integrity.value_problem(h5[PDE_PROBE_F][()], PDE_PROBE_F, False),
                          RADIAL in h5 and integrity.value_problem(h5[RADIAL_F][()], RADIAL_F, False)) if p]
    return "; ".join(found) or None


def perm_problem(h5, p: int) -> str | None:
    """What is wrong with finished permutation ``p``, or None: its checksum (layout 3) and that
    its F (a count of particles) is finite and >= 0 and its series finite."""
    arrays = [h5[n][p] for n in (PART_F, PART_PROBE_F, PART_NUMBER)]
    found = []
    ring = [h5[n][p] for n, _ in RING_DTYPES] if PART_RING in h5 else None
    if PART_CHECKSUM in h5:
        pos = h5[PART_POSITIONS][p] if PART_POSITIONS in h5 else None
        why = _checksum_problem(h5[PART_CHECKSUM][p],
                                lambda: perm_digest(*arrays, h5[PART_PERMUTATION][p], positions=pos, ring=ring))
        if why:
            found.append(why)
    found += [q for q in (integrity.value_problem(arrays[0], PART_F, True),
                          integrity.value_problem(arrays[1], PART_PROBE_F, False),
                          integrity.value_problem(arrays[2], PART_NUMBER, False)) if q]
    if ring is not None:
        found += [q for q in (integrity.value_problem(ring[0], RING_MSD, True),
                              integrity.value_problem(ring[1], RING_S, True),
                              integrity.value_problem(ring[2], RING_MOMENTS, False)) if q]
    return "; ".join(found) or None


def read_budget(h5) -> str:
    """The PDE budget (JSON text) of a run file whose PDE is done."""
    return h5[PDE_BUDGET][()].decode()


def restart_state(study, path) -> dict:
    """Check that ``path`` is an earlier run of this very study; return what is done.

    ``{"pde": [pde/done], "particles": perm_done}`` (the latter only with particles).  Refused
    (InputError) when the file is not a drift-diffusion run, was written by another hpcbelt
    version or file layout, or by a study whose validated configuration differs in any key
    (the checks shared with every study kind: :func:`hpcbelt.output.restart_file`).

    A study over energies: the same per energy group, ``{"E50keV/pde": ..., "E50keV/particles": ...}``.
    """
    with output.restart_file(path, KIND, "drift-diffusion", LAYOUT_VERSION, study.doc,
                             inputs=study.input_files(), schema=study.schema) as fh:
        try:
            if study.over_energies:
                return {f"{s.group}/{k}": v for s in study.slices()
                        for k, v in _restart_done(s, fh[s.group], path, f"{s.group}: ").items()}
            return _restart_done(study, fh, path, "")
        except (KeyError, OSError, RuntimeError) as exc:
            raise InputError(f"restart file {path}: damaged run file ({exc})") from None


def _restart_done(study, h5, path, where: str) -> dict:
    """What is done in one single-energy layout ``h5`` (the file or an energy group)."""
    done = {"pde": np.array([h5[PDE_DONE][()]], bool)}
    if study.particles_on:
        done["particles"] = np.asarray(h5[PART_DONE][()], bool)
    # a finished item whose data changed since it was written is computed again
    # (deterministic: the same values an undamaged file holds), one line per item
    if done["pde"][0]:
        _redo_if_damaged(path, done["pde"], 0, f"{where}PDE", pde_problem(h5))
    for p in np.flatnonzero(done.get("particles", np.zeros(0, bool))):
        _redo_if_damaged(path, done["particles"], p, f"{where}permutation {int(p)}", perm_problem(h5, int(p)))
    P = study.particles.permutations
    if study.particles_on and done["particles"].shape != (P,):
        raise InputError(f"restart file {path}: {where}{PART_DONE} has shape {done['particles'].shape}, "
                         f"expected ({P},)")
    return done


def _redo_if_damaged(path, flags, i, what: str, why: str | None) -> None:
    if why is not None:
        flags[i] = False
        print(f"hpcbelt: warning: {path}: {what}: {why}; computing it again", file=sys.stderr, flush=True)


def verify(path) -> integrity.Report:
    """Check a whole drift-diffusion run file: layout, done flags 0/1, the PDE when done and
    every finished permutation (:func:`pde_problem`, :func:`perm_problem`).  InputError when it
    is not a readable drift-diffusion run file."""
    runs = [inspect(path, energy_keV=E) for E in energies(path)] or [inspect(path)]
    rep = integrity.Report(str(path), KIND, int(runs[0].root.get("layout_version", -1)))
    if rep.layout_version < 3:
        rep.notes.append(f"{path}: layout {rep.layout_version}: not checksummed; only the values of finished "
                         f"items were checked (finite, F >= 0)")
    with output.open_h5(path) as h5:
        checks = []
        for run in runs:
            g = h5[run.group] if run.group else h5
            at = f"{run.group}: " if run.group else ""
            if run.pde_done:
                checks.append((f"{at}PDE", lambda g=g: pde_problem(g)))
            if run.particles is not None:
                checks += [(f"{at}permutation {int(p)}", lambda p=int(p), g=g: perm_problem(g, p))
                           for p in run.particles["done"]]
        for what, check in checks:
            rep.checked += 1
            try:
                why = check()
            except (OSError, RuntimeError, ValueError, KeyError) as exc:
                why = f"unreadable ({exc})"
            if why is not None:
                rep.problems.append(f"{path}: {what}: {why}")
    return rep


# ------------------------------------------------------------------------------------------
# Reader (the aggregation's view of a run file; every problem is an InputError)
# ------------------------------------------------------------------------------------------

ROOT_ATTRS = ("kind", "title", "status", "hpcbelt_version", "git_commit", "seed", "end_time",
              "study_config_json", "layout_version", "K_per_s")


@dataclass
class DriftRun:
    """What :func:`inspect` found in a run file: coordinates, probes and what is finished."""

    path: str
    root: dict                              # the root attributes ROOT_ATTRS that are present
    time_s: np.ndarray
    L_grid: np.ndarray
    L_edges: np.ndarray
    mlt_h: np.ndarray
    cell_measure: np.ndarray
    probes: list                            # dicts: name, L_lo, L_hi, mlt_lo_h, mlt_hi_h
    pde_done: bool
    has_radial: bool
    particles: dict | None                  # time_s, L_grid, mlt_h, n_perm, done (indices)
    group: str = ""                         # a study over energies: the energy group read ("" otherwise)
    energy_keV: float | None = None         # ... and its energy
    ring: dict | None = None                # the ring measurement's coordinates and attributes, if any

    def base(self, h5):
        """The file's object holding this run's layout: the file, or its energy group."""
        return h5[self.group] if self.group else h5


def energies(path) -> list:
    """The energies [keV] of a run file of a study over energies ([] for a single-energy file)."""
    def read(h5, where):
        return [float(h5[g].attrs["energy_keV"]) for g in groups(h5)]
    return output.read_metadata(path, read)


def inspect(path, energy_keV: float | None = None) -> DriftRun:
    """Check the layout of a drift-diffusion run file and list finished permutations.

    A file of a study over energies holds one layout per energy: ``energy_keV`` picks it
    (InputError naming the energies of the file when it is missing or not one of them)."""
    def read(h5, where):
        names = groups(h5)
        if not names:
            if energy_keV is not None:
                raise InputError(f"{where}: --energy-keV {energy_keV:g}: this run file is of a single-energy study "
                                 f"(leave the option out)")
            return _inspect(h5, where)
        have = {float(h5[n].attrs["energy_keV"]): n for n in names}
        listing = ", ".join(f"{E:g}" for E in have)
        if energy_keV is None:
            raise InputError(f"{where}: a study over energies ({listing} keV): name one with --energy-keV, or compare "
                             f"them all with 'hpcbelt aggregate-energies'")
        match = [n for E, n in have.items() if abs(E - energy_keV) <= 1e-9 * max(abs(E), 1.0)]
        if not match:
            raise InputError(f"{where}: --energy-keV {energy_keV:g}: not an energy of this run file "
                             f"(it holds {listing} keV)")
        run = _inspect(h5[match[0]], where, root_h5=h5)
        run.group, run.energy_keV = match[0], float(h5[match[0]].attrs["energy_keV"])
        run.root["K_per_s"] = float(h5[match[0]].attrs["K_per_s"])
        return run
    return output.read_metadata(path, read)


def dataset(h5, name, where, shape=None):
    """The dataset ``name``, checked to exist (and to have ``shape``); InputError otherwise."""
    import h5py

    if name not in h5 or not isinstance(h5[name], h5py.Dataset):
        raise InputError(f"{where}: dataset '{name}' missing: not a complete drift-diffusion run file "
                         f"(see hpcbelt/drift/runfile.py for the layout)")
    d = h5[name]
    if shape is not None and d.shape != tuple(shape):
        raise InputError(f"{where}: dataset '{name}' has shape {d.shape}, expected {tuple(shape)}")
    return d


def _inspect(h5, where, root_h5=None) -> DriftRun:
    top = h5 if root_h5 is None else root_h5       # the root attributes are the file's
    for name in h5:
        output.check_text(name, f"{where}: object name {ascii(name)}")
    layout_version = int(top.attrs.get("layout_version", -1))
    if layout_version not in READABLE_LAYOUTS:
        raise InputError(f"{where}: layout_version = {layout_version}; this aggregator reads drift-diffusion "
                         f"layouts {', '.join(map(str, READABLE_LAYOUTS))}")
    root = output.read_root_attrs(top, ROOT_ATTRS, where)
    t = dataset(h5, TIME, where)[()].astype(float)
    L = dataset(h5, PDE_L, where)[()].astype(float)
    mlt = dataset(h5, PDE_MLT, where)[()].astype(float)
    edges = dataset(h5, PDE_L_EDGES, where, (L.size + 1,))[()].astype(float)
    meas = dataset(h5, PDE_CELL_MEASURE, where, (L.size,))[()].astype(float)
    dataset(h5, PDE_F, where, (t.size, L.size, mlt.size))
    names = [n.decode("ascii", "replace") if isinstance(n, bytes) else str(n)
             for n in dataset(h5, PROBE_NAME, where)[()]]
    probes = []
    for i, n in enumerate(names):
        box = {k: float(dataset(h5, f"{PROBE}/{k}", where, (len(names),))[i]) for k in PROBE_BOX}
        probes.append({"name": n, **box})
    dataset(h5, PDE_PROBE_F, where, (len(names), t.size))
    if PDE_DONE in h5:
        pde_done = bool(h5[PDE_DONE][()])
    else:                                   # layout 1: no flag; complete runs wrote everything
        pde_done = root.get("status") == "complete"
    has_radial = RADIAL in h5
    if has_radial:
        dataset(h5, RADIAL_F, where, (t.size, L.size))
    parts = None
    if PARTICLES in h5:
        pt = dataset(h5, PART_TIME, where)[()].astype(float)
        pL = dataset(h5, PART_L, where)[()].astype(float)
        pm = dataset(h5, PART_MLT, where)[()].astype(float)
        done = dataset(h5, PART_DONE, where)[()]
        P = done.size
        dataset(h5, PART_F, where, (P, pt.size, pL.size, pm.size))
        dataset(h5, PART_PROBE_F, where, (P, len(names), pt.size))
        dataset(h5, PART_NUMBER, where, (P, pt.size))
        if not np.isin(done, (0, 1)).all():
            raise InputError(f"{where}: {PART_DONE} holds values other than 0 and 1")
        parts = {"time_s": pt, "L_grid": pL, "mlt_h": pm, "n_perm": int(P),
                 "done": np.flatnonzero(done == 1).astype(np.int64)}
    ring = None
    if PART_RING in h5:
        ring = {k: dataset(h5, n, where)[()].astype(float) for k, n in
                (("time_s", RING_TIME), ("lag_s", RING_LAG), ("mlt_bin_h", RING_MLT))}
        ring.update(L0=float(h5[PART_RING].attrs["L0"]), n=int(h5[PART_RING].attrs["ring_per_permutation"]))
        dataset(h5, RING_MSD, where, (parts["n_perm"], ring["time_s"].size))
        dataset(h5, RING_S, where, (parts["n_perm"], ring["lag_s"].size))
    return DriftRun(path=where, root=root, time_s=t, L_grid=L, L_edges=edges, mlt_h=mlt, cell_measure=meas,
                    probes=probes, pde_done=pde_done, has_radial=has_radial, particles=parts, ring=ring)


def _finite(arr, what, path):
    if not np.isfinite(arr).all():
        raise InputError(f"{path}: {what} is marked finished but holds non-finite values: corrupted run file")


def read_pde_frames(h5, run: DriftRun, t0: int, t1: int) -> np.ndarray:
    """The PDE's F at output times t0..t1-1, (t1 - t0, n_L, n_mlt) float64, checked finite."""
    F = np.empty((t1 - t0, run.L_grid.size, run.mlt_h.size))
    h5 = run.base(h5)
    try:
        h5[PDE_F].read_direct(F, source_sel=np.s_[t0:t1])
    except (OSError, RuntimeError, ValueError, KeyError) as exc:
        raise InputError(f"{run.path}: cannot read {PDE_F} (times {t0}..{t1 - 1}): {exc} (truncated or "
                         f"corrupted file?)") from None
    _finite(F, f"{PDE_F} (times {t0}..{t1 - 1})", run.path)
    return F


def read_pde_series(h5, run: DriftRun) -> dict:
    """The PDE's probe series ``probe_F`` (probe, time) and, with the radial solver, its ``radial_F``
    (time, L); checked finite."""
    h5 = run.base(h5)
    out = {"probe_F": h5[PDE_PROBE_F][()]}
    _finite(out["probe_F"], PDE_PROBE_F, run.path)
    if run.has_radial:
        out["radial_F"] = h5[RADIAL_F][()]
        _finite(out["radial_F"], RADIAL_F, run.path)
    return out


def read_particle_block(h5, run: DriftRun, t0: int, t1: int, l0: int, l1: int, series: bool):
    """The finished permutations' F at recordings t0..t1-1 and binning rows l0..l1-1.

    Returns ``(F, probe, number)``: F (n_done, t1 - t0, l1 - l0, n_mlt) float32 and, with
    ``series``, the probe series (n_done, n_probe, t1 - t0) and number in the grid
    (n_done, t1 - t0), else None for both.  A finished permutation holding non-finite values
    is an InputError naming it.
    """
    p = run.particles
    h5 = run.base(h5)
    idx = p["done"]
    F = np.empty((idx.size, t1 - t0, l1 - l0, p["mlt_h"].size), np.float32)
    probe = np.empty((idx.size, len(run.probes), t1 - t0)) if series else None
    num = np.empty((idx.size, t1 - t0)) if series else None
    row = 0
    try:
        for m0, m1 in output.read_runs(idx):
            n = m1 - m0
            h5[PART_F].read_direct(F, source_sel=np.s_[m0:m1, t0:t1, l0:l1], dest_sel=np.s_[row:row + n])
            if series:
                h5[PART_PROBE_F].read_direct(probe, source_sel=np.s_[m0:m1, :, t0:t1], dest_sel=np.s_[row:row + n])
                h5[PART_NUMBER].read_direct(num, source_sel=np.s_[m0:m1, t0:t1], dest_sel=np.s_[row:row + n])
            row += n
    except (OSError, RuntimeError, ValueError, KeyError) as exc:
        raise InputError(f"{run.path}: cannot read particles/* (times {t0}..{t1 - 1}): {exc} (truncated or "
                         f"corrupted file?)") from None
    for arr, what in ((F, PART_F), (probe, PART_PROBE_F), (num, PART_NUMBER)):
        if arr is not None and not np.isfinite(arr).all():
            bad = np.flatnonzero(~np.isfinite(arr.reshape(arr.shape[0], -1)).all(axis=1))[0]
            raise InputError(f"{run.path}: {what}: permutation {int(idx[bad])} is marked finished (perm_done = 1) "
                             f"but holds non-finite values: corrupted run file")
    return F, probe, num


def read_ring(h5, run: DriftRun) -> dict:
    """The ring measurement of the finished permutations (``run.ring`` must be set): ``msd_v``
    (n_done, n_t), ``S`` (n_done, n_lag), ``moments`` (n_done, n_bins, 6), ``n_lost`` and
    ``mean_w2`` (n_done,), with the coordinates ``time_s``, ``lag_s``, ``mlt_bin_h``; checked finite."""
    if run.ring is None:
        raise InputError(f"{run.path}{': ' + run.group if run.group else ''}: no ring particles in this run "
                         f"(run the study with [particles] ring_per_permutation > 0)")
    g = run.base(h5)
    idx = run.particles["done"]
    out = dict(run.ring)
    try:
        for key, (name, _) in zip(("msd_v", "S", "moments", "n_lost", "mean_w2"), RING_DTYPES):
            out[key] = g[name][()][idx]
    except (OSError, RuntimeError, ValueError, KeyError) as exc:
        raise InputError(f"{run.path}: cannot read {PART_RING}: {exc} (truncated or corrupted file?)") from None
    for key in ("msd_v", "S", "moments"):
        _finite(out[key], f"{PART_RING}/{key}", run.path)
    return out
