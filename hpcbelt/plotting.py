"""Small helpers shared by every figure (the database plot, the aggregations' figures)."""

import numpy as np


def cell_edges(centres) -> np.ndarray:
    """Edges of the cells around ``centres`` (midpoints inside, mirrored at both ends), for
    ``pcolormesh(..., shading="flat")``; one centre gets a cell of width 1."""
    c = np.asarray(centres, float)
    if c.size == 1:
        return np.array([c[0] - 0.5, c[0] + 0.5])
    mid = 0.5 * (c[1:] + c[:-1])
    return np.concatenate([[c[0] - (mid[0] - c[0])], mid, [c[-1] + (c[-1] - mid[-1])]])
