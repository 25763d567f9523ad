"""docs/adapters.md runs as written: its python blocks execute, its toml blocks
configure real adapters."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from hub.adapters.registry import AdapterRegistry
from hub.adapters.runtime import adapter_specs
from hub.core.region import Region
from hub.settings import DEFAULT_CONFIG_DIR
from tests.conftest import REPO

DOC = (REPO / "docs" / "adapters.md").read_text(encoding="utf-8")


def blocks(language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```", DOC, flags=re.S | re.M)


@pytest.mark.parametrize("index", range(len(blocks("python"))))
def test_python_blocks_run(index: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    code = blocks("python")[index]
    exec(compile(code, f"docs/adapters.md python block {index}", "exec", dont_inherit=True),
         {"__name__": "doc"})


def test_there_are_blocks_to_check() -> None:
    assert len(blocks("python")) >= 3 and len(blocks("toml")) >= 1


def test_toml_blocks_configure_registered_adapters() -> None:
    """The documented entries, put into the bundled region, load with hub.core.region
    and build real adapter configurations."""
    registry = AdapterRegistry.discover()
    built = 0
    for block in blocks("toml"):
        documented = {a["id"]: a for a in tomllib.loads(block)["authority"]}
        raw = tomllib.loads((DEFAULT_CONFIG_DIR / "region.toml").read_text(encoding="utf-8"))
        for authority in raw["authority"]:
            if authority["id"] in documented:
                assert documented[authority["id"]]["dvdv_key"] == authority["dvdv_key"]
                authority["adapters"] = documented[authority["id"]]["adapters"]
        region = Region.from_dict(raw, "docs/adapters.md")
        for authority_id in documented:
            for spec in adapter_specs(region.authorities[authority_id]):
                registry.load(spec.type).parse_config(spec.config)
                built += 1
    assert built == 4
