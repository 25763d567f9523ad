"""Fixtures of the routing tests: the bundled region and router, and file writers."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from hub.region import Region
from hub.routing import Router
from hub.settings import DEFAULT_CONFIG_DIR

REGION_FILE = DEFAULT_CONFIG_DIR / "region.toml"
ROUTES_FILE = DEFAULT_CONFIG_DIR / "routes.toml"


@pytest.fixture(scope="session")
def region() -> Region:
    return Region.load(REGION_FILE)


@pytest.fixture(scope="session")
def router(region: Region) -> Router:
    return Router.load(ROUTES_FILE, region)


@pytest.fixture
def write(tmp_path: Path) -> Callable[[str, str], Path]:
    """Write a text file under tmp_path and return its path."""

    def _write(name: str, text: str) -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return path

    return _write
