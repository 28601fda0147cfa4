"""Initial particle positions that represent F = 1 over a union of (L, MLT) regions.

F is a density of the measure ``L^-2 dL dphi`` (physics.md part B; it is the measure the
drift flow of Eq. 8 preserves).  So particles representing a uniform F are placed uniformly
in ``(1/L, phi)`` (density proportional to ``L^-2`` per ``dL dphi``), not uniformly in
``(L, phi)``.  Each region receives a number of particles proportional to its measure
(rounded; largest remainders) and each particle carries ``measure(region) / n(region)``, so
the represented number of particles is exactly the region's measure.
"""

import numpy as np

from hpcbelt.lmlt import TWO_PI, mlt_span_h


def allocate(n_total, measures):
    """Split ``n_total`` particles between regions in proportion to their measures."""
    measures = np.asarray(measures, dtype=float)
    share = n_total * measures / measures.sum()
    n = np.floor(share).astype(int)
    order = np.argsort(-(share - n), kind="stable")
    n[order[: n_total - n.sum()]] += 1
    return n


def sample(rng, regions, n_total):
    """Positions and weights of ``n_total`` particles.

    Parameters
    ----------
    rng : numpy.random.Generator
    regions : sequence of hpcbelt.lmlt.Box
        Disjoint boxes where F = 1 (e.g. :data:`hpcbelt.lmlt.INJECTION_REGIONS`).
    n_total : int

    Returns
    -------
    (L, phi, weight) : three (n_total,) arrays
        ``phi`` in [0, 2 pi) (0 at midnight); ``weight`` is the measure each particle carries.
    """
    if n_total < len(regions):
        raise ValueError(f"need at least {len(regions)} particles (one per region), got {n_total}")
    measures = [r.measure for r in regions]
    counts = allocate(n_total, measures)
    L, phi, wgt = [], [], []
    for reg, n, mu in zip(regions, counts, measures):
        u = rng.uniform(1.0 / reg.L_hi, 1.0 / reg.L_lo, n)          # uniform in 1/L
        span_h = mlt_span_h(reg.mlt_lo_h, reg.mlt_hi_h)
        mlt = (reg.mlt_lo_h + span_h * rng.uniform(0.0, 1.0, n)) % 24.0
        L.append(1.0 / u)
        phi.append(mlt * TWO_PI / 24.0)
        wgt.append(np.full(n, mu / n))
    return np.concatenate(L), np.concatenate(phi), np.concatenate(wgt)
