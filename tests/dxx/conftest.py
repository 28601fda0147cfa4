"""Shared fixtures for the diffusion-coefficient tests: small grids, fast."""

import pytest

from hpcbelt.dxx.config import DxxConfig, load


@pytest.fixture(scope="session")
def cfg_fa():
    return DxxConfig.from_doc(load(None))
