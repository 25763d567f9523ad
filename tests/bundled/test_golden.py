"""Hand-written golden instances: every message type has one, valid in lxml and xmlschema;
invalid variants fail with the expected error; the two XMeld releases coexist."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from bundled_support import GOLDEN, PACKAGE_DIRS, bundled_package, local_package
from lxml import etree

VALID = sorted(GOLDEN.glob("*/*.xml"))
INVALID = sorted(GOLDEN.glob("*/invalid/*.xml"))


def test_every_bundled_message_type_has_a_golden_instance(package_dir: Path) -> None:
    package = local_package(package_dir.name)
    expected = {m.root for m in package.messages.values()}
    present = {p.stem for p in (GOLDEN / package_dir.name).glob("*.xml")}
    assert present == expected


@pytest.mark.parametrize("path", VALID, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_golden_instance_is_valid_for_lxml_and_xmlschema(path: Path) -> None:
    package = local_package(path.parent.name)
    data = path.read_bytes()
    assert package.validate_bytes(data) == []
    assert package.xmlschema_schema().is_valid(data.decode("utf-8"))
    root = etree.fromstring(data)
    message = package.messages[root.tag]
    assert message.root == path.stem
    code = root.find("nachrichtenkopf.g2g/identifikation.nachricht/nachrichtentyp/code")
    assert code is not None and code.text == message.code


@pytest.mark.parametrize("path", INVALID, ids=lambda p: f"{p.parents[1].name}/{p.stem}")
def test_invalid_instance_fails_with_the_expected_error(path: Path) -> None:
    expected = json.loads((path.parent / "expected.json").read_text(encoding="utf-8"))[path.name]
    package = local_package(path.parents[1].name)
    schema = package.lxml_schema()
    assert not schema.validate(etree.fromstring(path.read_bytes()))
    first = schema.error_log[0]  # type: ignore[index]
    assert first.line == expected["line"]
    assert expected["element"] in first.message
    assert expected["lxml"] in first.message
    assert not package.xmlschema_schema().is_valid(path.read_text(encoding="utf-8"))


def test_every_invalid_instance_has_an_expectation() -> None:
    for folder in {p.parent for p in INVALID}:
        expected = json.loads((folder / "expected.json").read_text(encoding="utf-8"))
        assert set(expected) == {p.name for p in folder.glob("*.xml")}


def test_same_root_in_both_xmeld_releases_validates_against_its_own_release() -> None:
    old, new = local_package("xmeld-25.05"), local_package("xmeld-25.11a")
    old_doc = (GOLDEN / "xmeld-25.05/rueckmeldung.anmeldunginland.0201.xml").read_bytes()
    new_doc = (GOLDEN / "xmeld-25.11a/rueckmeldung.anmeldunginland.0201.xml").read_bytes()
    assert old.validate_bytes(old_doc) == [] and new.validate_bytes(new_doc) == []
    # each is a different namespace: neither release accepts the other's message
    assert old.validate_bytes(new_doc) and new.validate_bytes(old_doc)
    assert set(old.messages).isdisjoint(new.messages)
    assert {m.root for m in old.messages.values()} == {m.root for m in new.messages.values()}


def test_both_xmeld_releases_load_side_by_side_in_the_registry() -> None:
    schemas = pytest.importorskip("hub.schemas")
    registry = schemas.SchemaRegistry([
        bundled_package(p.name) for p in PACKAGE_DIRS
    ])
    for version in ("25.05", "25.11a"):
        data = (GOLDEN / f"xmeld-{version}/rueckmeldung.anmeldunginland.0201.xml").read_bytes()
        package, message = registry.identify(etree.fromstring(data))
        assert (package.standard, package.version, message.code) == ("XMeld", version, "0201")
        assert package.validate(etree.fromstring(data)).valid


def test_every_golden_instance_is_identified_and_valid_through_the_registry() -> None:
    schemas = pytest.importorskip("hub.schemas")
    registry = schemas.SchemaRegistry([bundled_package(p.name) for p in PACKAGE_DIRS])
    for path in VALID:
        root = etree.fromstring(path.read_bytes())
        package, message = registry.identify(root)
        assert f"{package.standard.lower()}-{package.version}" == path.parent.name
        assert message.root == path.stem
        assert package.validate(root).valid, path
    for path in INVALID:
        root = etree.fromstring(path.read_bytes())
        package, _ = registry.identify(root)
        assert not package.validate(root).valid, path
