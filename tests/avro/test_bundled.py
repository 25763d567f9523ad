"""Every bundled message type: golden and generated instances convert losslessly,
and the checked-in .avsc files are what a fresh build derives."""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

from hub.avro import EventCatalog, canonical_xml, dumps_schema
from hub.avro.catalog import avsc_path, qname
from hub.core.schemas import SchemaRegistry
from hub.settings import AVRO_SCHEMA_DIR, load_settings
from hub.tools.samples import generate
from tests.avro.conftest import ENVELOPE
from tests.conftest import REPO

GOLDEN = REPO / "tests" / "golden"


@pytest.fixture(scope="module")
def registry() -> SchemaRegistry:
    return SchemaRegistry.load([Path(REPO / "hub" / "schemas_data" / "xoev")])


@pytest.fixture(scope="module")
def catalog(registry: SchemaRegistry) -> EventCatalog:
    return EventCatalog(registry, avro_dir=AVRO_SCHEMA_DIR)


def _roundtrip(catalog: EventCatalog, package: object, message: object, xml: bytes) -> None:
    root = etree.fromstring(xml)
    plan = catalog.plan(package, message)  # type: ignore[arg-type]
    for validated in (False, True):
        data = plan.encode(plan.to_record(root, ENVELOPE, validated=validated))
        assert data[2:10] == plan.fingerprint
        back = plan.to_xml(plan.decode(data))
        assert canonical_xml(back) == canonical_xml(root)


def test_every_bundled_message_type_roundtrips(
    registry: SchemaRegistry, catalog: EventCatalog
) -> None:
    checked = 0
    for package in registry.packages:
        golden = GOLDEN / f"{package.standard.lower()}-{package.version}"
        for message in package.messages.values():
            instances = [generate(package, message, seed=seed) for seed in (1, 2, 3)]
            golden_file = golden / f"{message.root}.xml"
            if golden_file.is_file():
                instances.append(golden_file.read_bytes())
            for xml in instances:
                assert package.validate(etree.fromstring(xml)).valid
                _roundtrip(catalog, package, message, xml)
            checked += 1
    assert checked >= 20


def test_checked_in_avro_schemas_are_current(
    registry: SchemaRegistry, catalog: EventCatalog
) -> None:
    for package in registry.packages:
        plans = catalog.package_plans(package)  # raises ConfigError when stale
        for message in package.messages.values():
            path = avsc_path(AVRO_SCHEMA_DIR, package, message)
            assert path.read_text(encoding="utf-8") == dumps_schema(plans[qname(message)].schema)


def test_plan_for_finds_every_bundled_fingerprint(catalog: EventCatalog) -> None:
    plans = catalog.all_plans()
    assert len({p.fingerprint for p in plans}) == len(plans)
    for plan in plans:
        assert catalog.plan_for(b"\xc3\x01" + plan.fingerprint) is plan


def test_registry_from_settings_is_used_by_the_commands() -> None:
    registry = SchemaRegistry.from_settings(load_settings())
    assert {(p.standard, p.version) for p in registry.packages} >= {("XMeld", "25.11a")}
