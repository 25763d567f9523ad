"""The bundled schema packages: manifests, compilation, catalog resolution, provenance."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pytest
from bundled_support import BUNDLED, OFFICIAL, PACKAGE_DIRS, LocalPackage
from lxml import etree

BASIS_URL = "http://xoev-hub.de/schemata/basis/1/xoev-hub-basis.xsd"
ROOT_NAME = re.compile(r"[A-Za-z0-9]+(\.[A-Za-z0-9]+)*\.[0-9]{4,6}")


def test_the_expected_packages_are_bundled() -> None:
    assert [p.name for p in PACKAGE_DIRS] == [
        "xauslaender-1.22", "xmeld-25.05", "xmeld-25.11a", "xpersonenstand-25.11",
    ]


def test_manifest_follows_the_interface(package_dir: Path) -> None:
    manifest = json.loads((package_dir / "package.json").read_text(encoding="utf-8"))
    assert package_dir.name == f"{manifest['standard'].lower()}-{manifest['version']}"
    assert manifest["header"] == "nachrichtenkopf.g2g"
    assert manifest["catalog"] == {BASIS_URL: "xoev-hub.de/schemata/basis/1/xoev-hub-basis.xsd"}
    for entry in manifest["entry_points"]:
        assert (package_dir / entry).is_file()
    assert manifest["messages"]
    for message in manifest["messages"]:
        assert message["namespace"] in manifest["namespaces"]
        assert ROOT_NAME.fullmatch(message["root"]), message["root"]
        group_and_name, _, code = message["root"].rpartition(".")
        assert (message["name"], message["code"]) == (group_and_name, code)


def test_every_package_has_a_readme_that_says_whose_modelling_it_is(package_dir: Path) -> None:
    text = (package_dir / "README.md").read_text(encoding="utf-8")
    assert "xoev-hub schemas add" in text
    assert "own modelling" in text


def test_compiles_with_lxml_and_xmlschema_and_declares_every_message(package_dir: Path) -> None:
    package = LocalPackage.from_manifest(package_dir)
    assert isinstance(package.lxml_schema(), etree.XMLSchema)
    elements = package.xmlschema_schema().maps.elements
    for qname in package.messages:
        assert qname in elements


def test_the_basis_module_is_reached_only_through_the_catalog(package_dir: Path) -> None:
    package = LocalPackage.from_manifest(package_dir)
    for entry in package.entry_points:
        text = (package_dir / entry).read_text(encoding="utf-8")
        assert f'schemaLocation="{BASIS_URL}"' in text
    with pytest.raises(etree.XMLSchemaParseError):
        package.lxml_schema(with_catalog=False)  # no network: the absolute URL must not load


def test_every_copy_of_the_basis_module_is_identical() -> None:
    basis = "xoev-hub.de/schemata/basis/1/xoev-hub-basis.xsd"
    digests = {hashlib.sha256((p / basis).read_bytes()).hexdigest() for p in PACKAGE_DIRS}
    assert len(digests) == 1


def test_no_bundled_file_is_a_copy_of_an_official_file() -> None:
    if not OFFICIAL.is_dir():
        pytest.skip("official sets absent")
    official = {hashlib.sha256(f.read_bytes()).hexdigest()
                for f in OFFICIAL.rglob("*.xsd")}
    ours = {f: hashlib.sha256(f.read_bytes()).hexdigest() for f in BUNDLED.rglob("*.xsd")}
    assert ours
    assert not [f for f, digest in ours.items() if digest in official]


def test_the_two_xmeld_releases_differ_only_where_intended() -> None:
    def strip(version: str, namespace: str) -> str:
        text = (BUNDLED / f"xmeld-{version}/xmeld/xmeld-baukasten.xsd").read_text(encoding="utf-8")
        return text.replace(namespace, "NS").replace(f'"{version}"', '"V"').replace(version, "V")

    old = strip("25.05", "http://www.osci.de/xmeld2505")
    new = strip("25.11a", "http://www.osci.de/xmeld2511a")
    assert "geburtseintragOhneGeburtsurkunde" in new
    assert "geburtseintragOhneGeburtsurkunde" not in old
