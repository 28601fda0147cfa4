"""Shared fixtures for the diffusion-coefficient tests: small grids, fast."""

import pytest

from hpcbelt.dxx.config import DxxConfig, load


@pytest.fixture(scope="session")
def cfg_fa():
    return DxxConfig.from_doc(load(None))


@pytest.fixture(scope="session")
def cfg_summers(cfg_fa):
    """The dxx.md Tier 1 convention: the whole B_w^2 in the resonant direction."""
    import dataclasses
    return dataclasses.replace(cfg_fa, direction_power_fraction=1.0)
