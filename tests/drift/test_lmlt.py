"""The (L, MLT) module shared by the PDE, the radial solver and the particles: boxes, measure,
the paper's probe and injection regions, MLT spans through midnight."""

import numpy as np
import pytest

from hpcbelt import lmlt
from hpcbelt.lmlt import INJECTION_REGIONS, PAPER_PROBE, Box, Grid, box_weights


def test_box_measure_is_what_the_grid_weights_add_up_to():
    """A box's exact measure (used to normalise the particles' probe counts) equals the sum of the
    cell overlaps the PDE averages with, also through midnight and for a whole ring."""
    g = Grid(2.0, 8.0, 0.05, 288)
    for box in (PAPER_PROBE, Box(3.45, 3.55, 23.5, 0.5), Box(3.0, 3.3, 1.0, 23.0), *INJECTION_REGIONS):
        assert box.weights(g).sum() == pytest.approx(box.measure, rel=1e-12), box
    np.testing.assert_array_equal(PAPER_PROBE.weights(g), box_weights(g, 3.45, 3.55, 21.75, 22.25))
    assert Box(3.45, 3.55, 23.5, 0.5).span_h == 1.0 and Box(3.8, 7.0, 0.0, 24.0).span_h == 24.0


def test_paper_constants_and_unpacking():
    L_lo, L_hi, a, b = PAPER_PROBE
    assert (L_lo, L_hi, a, b) == (3.45, 3.55, 21.75, 22.25)
    assert Box.of((3.45, 3.55, 21.75, 22.25)) == PAPER_PROBE and Box.of(PAPER_PROBE) is PAPER_PROBE
    total = sum(r.measure for r in INJECTION_REGIONS)
    assert total == pytest.approx((1 / 3.8 - 1 / 7) * 2 * np.pi + (1 / 2.5 - 1 / 3.8) * 3.5 * np.pi / 12, rel=1e-14)
    assert Box(3.0, 4.0, 22.25, 1.75).phi_hi == pytest.approx(1.75 * np.pi / 12)


def test_grid_and_boundaries_raise_value_errors():
    with pytest.raises(ValueError, match="dL"):
        Grid(2.0, 8.0, 0.07, 48)
    with pytest.raises(ValueError, match="n_mlt"):
        Grid(2.0, 8.0, 0.1, 3)
    with pytest.raises(ValueError, match="L_min < L_max"):
        Grid(3.0, 2.0, 0.1, 48)
    with pytest.raises(ValueError, match="coarsening"):
        Grid(2.0, 8.0, 0.1, 48).coarsened(7, 1)
    assert lmlt.check_boundary(["fixed", "zero_flux"]) == ("fixed", "zero_flux")
    with pytest.raises(ValueError, match="boundary"):
        lmlt.check_boundary(("fixed", "periodic"))
