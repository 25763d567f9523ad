"""Routing of xdomea messages (issue 14): the Kopf's Behoerdenkennung routes like a
DVDV key, and rules select xdomea message types as they select XMeld codes."""

from __future__ import annotations

import pytest

from hub.core.header import read_header
from hub.core.region import Region
from hub.core.routing import Router
from hub.core.schemas import SchemaRegistry, install
from hub.core.xmlsafe import parse_xml
from hub.errors import MisaddressedError
from hub.settings import DEFAULT_CONFIG_DIR
from hub.tools.samples import generate
from tests.conftest import official_or_skip

RULES = """
[[rule]]
name = "aussonderung-copy-archiv"
description = "Anbieteverzeichnis and Aussonderung of Solingen's registratur also to its archive"
standard = "xdomea"
message_code = ["0501", "0503"]
author = "reg:05122000"
copy_to = ["solingen.archiv"]

[[rule]]
name = "archive-answers-via-wuppertal"
standard = "xdomea"
version = "2.4.0"
recipient = "*.registratur"
message_code = "050?"
author = "arc:*"
redirect_to = ["wuppertal.registratur"]
"""


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> SchemaRegistry:
    official = official_or_skip()
    target = tmp_path_factory.mktemp("xdomea-routing")
    for version in ("3.0.0", "2.4.0"):
        install(official / f"xdomea-{version}", target)
    return SchemaRegistry.load([target])


@pytest.fixture(scope="module")
def router(tmp_path_factory: pytest.TempPathFactory) -> Router:
    routes = tmp_path_factory.mktemp("routes") / "routes.toml"
    routes.write_text(RULES, encoding="utf-8")
    return Router.load(routes, Region.load(DEFAULT_CONFIG_DIR / "region.toml"))


def route(router: Router, registry: SchemaRegistry, version: str, code: str,
          author: str, reader: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    package = registry.get("xdomea", version)
    root = parse_xml(generate(package, code, seed=5, author_key=author, reader_key=reader))
    found, message = registry.identify(root)
    header = read_header(root)
    decision = router.route(
        standard=found.standard, version=found.version, message_code=message.code,
        author_key=header.author_key, reader_keys=header.reader_keys,
    )
    return decision.recipients, decision.rules


def test_default_routing_by_behoerdenkennung(router: Router, registry: SchemaRegistry) -> None:
    assert route(router, registry, "3.0.0", "0401", "reg:05122000", "reg:05124000") == (
        ("wuppertal.registratur",), ()
    )


def test_rule_selects_xdomea_codes(router: Router, registry: SchemaRegistry) -> None:
    recipients, rules = route(router, registry, "3.0.0", "0501", "reg:05122000", "arc:05120000")
    assert set(recipients) == {"remscheid.archiv", "solingen.archiv"}
    assert rules == ("aussonderung-copy-archiv",)
    # another code of the same exchange is not selected
    assert route(router, registry, "3.0.0", "0502", "reg:05122000", "arc:05120000") == (
        ("remscheid.archiv",), ()
    )


def test_rule_selects_a_version(router: Router, registry: SchemaRegistry) -> None:
    assert route(router, registry, "2.4.0", "0502", "arc:05120000", "reg:05120000") == (
        ("wuppertal.registratur",), ("archive-answers-via-wuppertal",)
    )
    assert route(router, registry, "3.0.0", "0502", "arc:05120000", "reg:05120000") == (
        ("remscheid.registratur",), ()
    )


def test_unknown_praefix_is_misaddressed(router: Router, registry: SchemaRegistry) -> None:
    with pytest.raises(MisaddressedError) as error:
        route(router, registry, "3.0.0", "0401", "reg:05122000", "bkz:05124000")
    assert error.value.code == "READER_UNKNOWN_PREFIX"

