"""Fixtures of the schema-package and validation tests."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from schemas_support import MINI, OFFICIAL, OFFICIAL_SETS

from hub.core.schemas import SchemaRegistry, install


@pytest.fixture(scope="session")
def mini_registry(tmp_path_factory: pytest.TempPathFactory) -> SchemaRegistry:
    """The tiny test standard 'Demo 1.0' installed from tests/schemas/data/mini."""
    schema_dir = tmp_path_factory.mktemp("mini-schemas")
    install(MINI, schema_dir)
    return SchemaRegistry.load([schema_dir])


@pytest.fixture(scope="session")
def official_schema_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every official set installed with ``xoev-hub schemas add`` into a tmp HUB_SCHEMA_DIR.

    ``HUB_SCHEMA_DIR`` is set only while the commands run: the installed official
    XMeld 25.11a would otherwise shadow the bundled one in other tests.
    """
    if not OFFICIAL.is_dir():
        pytest.skip(f"official XÖV sets not found at {OFFICIAL} (../shared is absent)")
    from hub.cli import main

    schema_dir = tmp_path_factory.mktemp("official-schemas")
    previous = os.environ.get("HUB_SCHEMA_DIR")
    os.environ["HUB_SCHEMA_DIR"] = str(schema_dir)
    try:
        for name in OFFICIAL_SETS:
            assert main(["schemas", "add", str(OFFICIAL / name)]) == 0, name
    finally:
        if previous is None:
            os.environ.pop("HUB_SCHEMA_DIR", None)
        else:
            os.environ["HUB_SCHEMA_DIR"] = previous
    return schema_dir


@pytest.fixture(scope="session")
def official_registry(official_schema_dir: Path) -> SchemaRegistry:
    return SchemaRegistry.load([official_schema_dir])
