"""Fixtures of the bundled-packages and sample-generator tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from bundled_support import BUNDLED, PACKAGE_DIRS


@pytest.fixture(params=[p.name for p in PACKAGE_DIRS])
def package_dir(request: pytest.FixtureRequest) -> Path:
    """Each bundled package folder."""
    return BUNDLED / request.param
