"""The wheel carries everything the hub reads at run time (issue 13, item 2).

The bundled schema packages, the generated Avro schemas, the default
configuration and the broker files are package data of ``hub`` and are found
through ``importlib.resources``, not relative to the checkout. The end-to-end
check (install the wheel into a fresh virtualenv and run the commands from an
unrelated folder) is ``.ci/wheel-check``.
"""

from __future__ import annotations

import subprocess
import sys
import zipfile
from importlib.resources import files
from pathlib import Path

import pytest

from hub.core.schemas import SchemaRegistry
from hub.settings import (
    AVRO_SCHEMA_DIR,
    BUNDLED_SCHEMA_DIR,
    DEFAULT_CONFIG_DIR,
    Settings,
    package_data,
)
from tests.conftest import REPO


def _tracked(folder: str) -> set[str]:
    out = subprocess.run(["git", "ls-files", folder], cwd=REPO, check=True,
                         capture_output=True, text=True).stdout
    return {line for line in out.splitlines() if not line.endswith(".py")}


def test_data_folders_come_from_importlib_resources(tmp_path: Path) -> None:
    root = files("hub")
    assert root.joinpath("schemas_data", "xoev") == BUNDLED_SCHEMA_DIR
    assert root.joinpath("schemas_data", "avro") == AVRO_SCHEMA_DIR
    assert root.joinpath("config") == DEFAULT_CONFIG_DIR
    assert package_data("config") == DEFAULT_CONFIG_DIR
    settings = Settings(schema_dir=tmp_path)
    assert settings.region_file.parent == DEFAULT_CONFIG_DIR
    # the registry's bundled packages are the package data's, each with Avro schemas
    bundled = [p for p in SchemaRegistry.from_settings(settings).packages
               if p.origin == "bundled"]
    manifests = sorted(BUNDLED_SCHEMA_DIR.glob("*/package.json"))
    assert manifests
    assert sorted(p.path / "package.json" for p in bundled) == manifests
    for package in bundled:
        assert list((AVRO_SCHEMA_DIR / package.standard / package.version).glob("*.avsc"))


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out),
                    str(REPO)], check=True, capture_output=True, text=True, timeout=300)
    (built,) = out.glob("xoev_hub-*.whl")
    return built


def test_wheel_holds_every_data_file(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    wanted = set()
    for folder in ("hub/schemas_data", "hub/config", "hub/broker"):
        tracked = _tracked(folder)
        assert tracked, folder
        wanted |= tracked
    missing = sorted(wanted - names)
    assert missing == [], f"not in the wheel: {missing}"
    assert "hub/py.typed" in names
    assert not any(n.startswith(("tests/", "bench/", "schemas/")) for n in names)
