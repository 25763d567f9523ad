"""The generator on the official XÖV sets (test data in ../shared/xoev-official):
every XMeld 25.11a Rückmeldung/Fortschreibung and every XPersonenstand stA2MB type."""

from __future__ import annotations

from pathlib import Path

import pytest
from bundled_support import LocalPackage, hub_schemas, official_or_skip, official_package
from lxml import etree

from hub.tools.samples import generate

pytestmark = pytest.mark.official

XMELD_TOPS = ("xmeld/xmeld-nachrichten-rueckmeldung.xsd",
              "xmeld/xmeld-nachrichten-fortschreibung.xsd")
XPSW_TOPS = ("xpersonenstand/xpersonenstand-nachrichten-meldebehoerden.xsd",)


def xmeld() -> LocalPackage:
    return official_package("xmeld-25.11a", XMELD_TOPS, r"(rueckmeldung|fortschreibung)\..+\.\d{4}")


def xpersonenstand() -> LocalPackage:
    return official_package("xpersonenstand-25.11", XPSW_TOPS, r"stA2MB\..+\.\d{6}")


def check_all(package: LocalPackage, seeds: range) -> int:
    schema = package.xmlschema_schema()
    checked = 0
    for message in package.messages.values():
        for seed in seeds:
            data = generate(package, message, seed=seed, author_key="ags:05124000",
                            reader_key="ags:05122000")
            assert package.validate_bytes(data) == [], (message.root, seed)
            if seed == seeds.start:
                assert schema.is_valid(data.decode("utf-8")), (message.root, seed)
            doc = etree.fromstring(data)
            assert doc.findtext("nachrichtenkopf.g2g/autor/kennung") == "ags:05124000"
            assert doc.findtext(
                "nachrichtenkopf.g2g/identifikation.nachricht/nachrichtentyp/code") == message.code
            checked += 1
    return checked


def test_official_xmeld_rueckmeldung_and_fortschreibung() -> None:
    package = xmeld()
    roots = {m.root for m in package.messages.values()}
    assert {"rueckmeldung.anmeldunginland.0201", "rueckmeldung.statuswechsel.0206",
            "fortschreibung.tod.0040", "fortschreibung.name.0091"} <= roots
    assert len(roots) >= 40
    assert check_all(package, range(2)) == 2 * len(roots)


def test_official_xpersonenstand_sta2mb() -> None:
    package = xpersonenstand()
    roots = {m.root for m in package.messages.values()}
    assert {"stA2MB.Geburt.031010", "stA2MB.Ehe.032010", "stA2MB.LP.033010",
            "stA2MB.Sterbefall.035010"} <= roots
    assert check_all(package, range(3)) == 3 * len(roots)


def test_installed_official_package_wins_and_generates(tmp_path: Path) -> None:
    """XPersonenstand 25.11 official and bundled share a namespace: the installed one wins."""
    schemas = hub_schemas()
    official = official_or_skip()
    schemas.install(official / "xpersonenstand-25.11", tmp_path)
    from hub.settings import BUNDLED_SCHEMA_DIR

    registry = schemas.SchemaRegistry._from_dirs(
        [(BUNDLED_SCHEMA_DIR, "bundled"), (tmp_path, "installed")])
    package = registry.get("XPersonenstand", "25.11")
    assert package.origin == "installed"
    assert len(package.messages) > 4  # the official set has more stA2MB types than ours
    data = generate(package, "stA2MB.Geburt.031010", seed=1, author_key="psw:05124000")
    root = etree.fromstring(data)
    assert registry.identify(root)[0] is package
    assert package.validate(root).valid
    bundled = registry.get("XMeld", "25.11a")
    assert bundled.origin == "bundled"
    assert bundled.validate(etree.fromstring(generate(bundled, "0201", seed=1))).valid


@pytest.mark.parametrize(("set_name", "tops"), [
    ("xwasser-1.0.0", ("schemas/V1_0_0/xwasser.xsd",)),
    ("xdomea-3.0.0",
     ("message_generation/schemes/xdomea_3.0.0/xdomea-Nachrichten-AussonderungDurchfuehren.xsd",)),
])
def test_other_official_standards(set_name: str, tops: tuple[str, ...]) -> None:
    """Not routed by the hub, but the generator must work for any XÖV package."""
    package = official_package(set_name, tops, r".+\.\d{4}")
    assert len(package.messages) >= 5
    schema = package.xmlschema_schema()
    for message in package.messages.values():
        for seed in range(2):
            data = generate(package, message, seed=seed)
            assert package.validate_bytes(data) == [], (message.root, seed)
        assert schema.is_valid(data.decode("utf-8")), message.root
