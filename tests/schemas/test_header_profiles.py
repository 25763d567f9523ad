"""Header profiles (issue 14): g2g unchanged, the built-in xdomea profile on every
official xdomea sample and on a generated sample of every xdomea message type
(3.0.0 and 2.4.0 side by side), XPath profiles from a manifest, and their errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from lxml import etree

from hub.core.header import (
    G2G,
    XPathProfile,
    message_id,
    profile_for,
    profile_from_spec,
    read_header,
    xdomea_profile,
)
from hub.core.schemas import SchemaPackage, SchemaRegistry, install
from hub.core.xmlsafe import parse_xml
from hub.errors import ConfigError, HeaderError
from hub.settings import BUNDLED_SCHEMA_DIR
from hub.tools.samples import generate
from tests.conftest import official_or_skip

VERSIONS = ("3.0.0", "2.4.0")
XS = "http://www.w3.org/2001/XMLSchema"
AUTHOR, READER = "reg:05122000", "reg:05124000"


@pytest.fixture(scope="module")
def xdomea_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Both official xdomea sets installed (by reference) into a temporary schema dir."""
    official = official_or_skip()
    target = tmp_path_factory.mktemp("xdomea-schemas")
    for version in VERSIONS:
        install(official / f"xdomea-{version}", target)
    return target


@pytest.fixture(scope="module")
def xdomea(xdomea_dir: Path) -> SchemaRegistry:
    return SchemaRegistry.load([xdomea_dir])


def official_samples() -> list[tuple[str, Path, str]]:
    """(version, file, root) of every sample the official xdomea sets list."""
    try:
        official = official_or_skip()
    except pytest.skip.Exception:
        return []
    found = []
    for version in VERSIONS:
        folder = official / f"xdomea-{version}"
        for sample in json.loads((folder / "set.json").read_text())["samples"]:
            found.append((version, folder / sample["file"], sample["root"]))
    return found


def _kopf(root: etree._Element) -> dict[str, object]:
    """The Kopf read independently with ElementPath (what the profile must agree with)."""
    ns = {"x": etree.QName(root).namespace}
    kopf = root.find("x:Kopf", ns)
    assert kopf is not None

    def key(party: etree._Element) -> str:
        ident = party.find("x:Behoerdenkennung/x:Behoerdenschluessel/code", ns)
        if ident is None:  # xdomea 2.4.0 calls it Kennung
            ident = party.find("x:Behoerdenkennung/x:Kennung/code", ns)
        prefix = party.find("x:Behoerdenkennung/x:Praefix/code", ns)
        assert ident is not None and prefix is not None
        return f"{(prefix.text or '').strip()}:{(ident.text or '').strip()}"

    return {
        "id": (kopf.findtext("x:ProzessID", namespaces=ns) or "").strip(),
        "code": (kopf.findtext("x:Nachrichtentyp/code", namespaces=ns) or "").strip(),
        "created": (kopf.findtext("x:Erstellungszeitpunkt", namespaces=ns) or "").strip(),
        "author": key(kopf.find("x:Absender", ns)),  # type: ignore[arg-type]
        "readers": tuple(key(e) for e in kopf.findall("x:Empfaenger", ns)),
    }


@pytest.mark.parametrize(
    ("version", "path", "root_name"), official_samples(), ids=lambda v: getattr(v, "name", v)
)
def test_every_official_xdomea_sample(
    xdomea: SchemaRegistry, version: str, path: Path, root_name: str
) -> None:
    root = parse_xml(path.read_bytes())
    assert root.tag == root_name
    package, _message = xdomea.identify(root)
    assert package.version == version and package.header_profile_name == "xdomea"
    assert package.validate(root).valid
    profile = profile_for(root)
    assert profile is xdomea_profile(f"urn:xoev-de:xdomea:schema:{version}")
    header = read_header(root)
    expected = _kopf(root)
    assert header.message_id == expected["id"] == message_id(root)
    assert header.message_code == expected["code"]
    assert header.created == expected["created"]
    assert header.author_key == expected["author"]
    assert header.reader_keys == expected["readers"]
    assert header.id_scope == "process"


def test_the_versions_name_the_key_element_differently(xdomea: SchemaRegistry) -> None:
    """3.0.0 says Behoerdenschluessel, 2.4.0 Kennung: both are read as the same key."""
    names = {}
    for version, path, _root in official_samples():
        root = parse_xml(path.read_bytes())
        ns = {"x": etree.QName(root).namespace}
        kennung = root.find("x:Kopf/x:Absender/x:Behoerdenkennung", ns)
        assert kennung is not None
        names.setdefault(version, set()).update(etree.QName(c).localname for c in kennung)
        assert read_header(root).author_key.endswith(":LATh")
    assert "Behoerdenschluessel" in names["3.0.0"] and "Kennung" not in names["3.0.0"]
    assert "Kennung" in names["2.4.0"] and "Behoerdenschluessel" not in names["2.4.0"]


def _type_codes(package: SchemaPackage) -> set[str]:
    """Codes the package's Nachrichtentyp code list admits (read from its XSDs)."""
    codes: set[str] = set()
    for xsd in package.base.rglob("*.xsd"):
        tree = etree.parse(str(xsd))
        for node in tree.iter(f"{{{XS}}}complexType"):
            if node.get("name") == "NachrichtentypCodeType":
                codes.update(e.get("value", "") for e in node.iter(f"{{{XS}}}enumeration"))
    return codes


@pytest.mark.parametrize("version", VERSIONS)
def test_generated_sample_of_every_xdomea_message_type(
    xdomea: SchemaRegistry, version: str
) -> None:
    package = xdomea.get("xdomea", version)
    listed = _type_codes(package)
    assert listed, "the Nachrichtentyp code list was not found"
    schema = package.lxml_schema()
    unlisted = []
    for message in sorted(package.messages.values(), key=lambda m: m.code):
        data = generate(package, message, seed=3, author_key=AUTHOR, reader_key=READER)
        root = parse_xml(data)
        assert schema.validate(root), (message.root, str(schema.error_log.last_error))
        header = read_header(root)
        assert (header.author_key, header.reader_keys) == (AUTHOR, (READER,)), message.root
        assert header.message_id == message_id(root)
        if message.code in listed:
            assert header.message_code == message.code, message.root
        else:  # the official code list lacks it: the header carries another listed code
            unlisted.append(message.code)
            assert header.message_code in listed
    # the one gap of both official code lists: Geschaeftsgang 0203 is not a Nachrichtentyp
    assert unlisted == sorted(set(package_codes(package)) - listed)


def package_codes(package: SchemaPackage) -> list[str]:
    return [m.code for m in package.messages.values()]


def test_header_missing_and_invalid(xdomea: SchemaRegistry) -> None:
    package = xdomea.get("xdomea", "3.0.0")
    data = generate(package, "0401", seed=1, author_key=AUTHOR, reader_key=READER)
    root = parse_xml(data)
    ns = {"x": package.namespaces[0]}

    no_key = parse_xml(data)
    kennung = no_key.find("x:Kopf/x:Empfaenger/x:Behoerdenkennung", ns)
    assert kennung is not None
    kennung.getparent().remove(kennung)  # type: ignore[union-attr]
    with pytest.raises(HeaderError) as invalid:
        read_header(no_key)
    assert invalid.value.code == "HEADER_INVALID" and "recipient key" in invalid.value.detail

    blank = parse_xml(data)
    prozess = blank.find("x:Kopf/x:ProzessID", ns)
    assert prozess is not None
    prozess.text = "  "
    with pytest.raises(HeaderError) as empty:
        read_header(blank)
    assert empty.value.code == "HEADER_INVALID" and "id" in empty.value.detail
    assert message_id(blank) is None

    kopf = root.find("x:Kopf", ns)
    assert kopf is not None
    root.remove(kopf)
    with pytest.raises(HeaderError) as missing:
        read_header(root)
    assert missing.value.code == "HEADER_MISSING"
    assert message_id(root) is None


def test_praefix_with_its_colon_gives_the_same_key(xdomea: SchemaRegistry) -> None:
    package = xdomea.get("xdomea", "2.4.0")
    root = parse_xml(generate(package, "0501", seed=2, author_key=AUTHOR, reader_key=READER))
    ns = {"x": package.namespaces[0]}
    code = root.find("x:Kopf/x:Absender/x:Behoerdenkennung/x:Praefix/code", ns)
    assert code is not None and code.text == "reg"
    code.text = " reg: "
    assert read_header(root).author_key == AUTHOR


def test_g2g_stays_the_default() -> None:
    registry = SchemaRegistry.load([BUNDLED_SCHEMA_DIR])
    assert {p.header_profile_name for p in registry.packages} == {"g2g"}
    for package in registry.packages:
        assert "header_profile" not in package.manifest  # nothing said: g2g
        message = next(iter(package.messages.values()))
        root = parse_xml(generate(package, message, seed=1))
        assert profile_for(root) is G2G
        assert read_header(root).id_scope == "message"


def test_schemas_add_records_the_profile(xdomea_dir: Path) -> None:
    for version in VERSIONS:
        manifest = json.loads((xdomea_dir / f"xdomea-{version}" / "package.json").read_text())
        assert manifest["header_profile"] == "xdomea"
        assert manifest["header"] == "Kopf"


#: the xdomea Kopf written as a manifest XPath profile: a standard nobody built in
CUSTOM = {
    "name": "kopf-by-xpath",
    "namespaces": {"d": "urn:xoev-de:xdomea:schema:2.4.0"},
    "header": "d:Kopf",
    "id": "d:Kopf/d:ProzessID",
    "type": "d:Kopf/d:Nachrichtentyp/code",
    "created": "d:Kopf/d:Erstellungszeitpunkt",
    "sender": "d:Kopf/d:Absender/d:Behoerdenkennung",
    "recipients": "d:Kopf/d:Empfaenger/d:Behoerdenkennung",
    "key": "concat(d:Praefix/code, ':', d:Kennung/code)",
}


def test_manifest_xpath_profile_through_schemas_add(
    tmp_path: Path, xdomea_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from hub.cli import main

    spec = tmp_path / "profile.json"
    spec.write_text(json.dumps(CUSTOM))
    monkeypatch.setenv("HUB_SCHEMA_DIR", str(tmp_path / "schemas"))
    official = official_or_skip()
    assert main(["schemas", "add", str(official / "xdomea-2.4.0"),
                 "--header-profile", str(spec)]) == 0
    package = SchemaPackage.load(tmp_path / "schemas" / "xdomea-2.4.0", "installed")
    assert package.header_profile_name == "kopf-by-xpath"
    assert package.manifest["header_profile"] == CUSTOM
    registry = SchemaRegistry.load([tmp_path / "schemas"])  # registers the profile
    try:
        data = generate(package, "0503", seed=4, author_key=AUTHOR, reader_key=READER)
        root = parse_xml(data)
        profile = profile_for(root)
        assert isinstance(profile, XPathProfile) and profile.name == "kopf-by-xpath"
        header = read_header(root)
        assert (header.author_key, header.reader_keys) == (AUTHOR, (READER,))
        assert header.message_code == "0503" and header.id_scope == "message"
        assert registry.identify(root)[0] is registry.packages[0]
    finally:
        SchemaRegistry.load([xdomea_dir])  # the built-in profile back for other tests


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("osci", "unknown header profile 'osci'"),
        ({**CUSTOM, "sendr": "x"}, "unknown key(s) sendr"),
        ({k: v for k, v in CUSTOM.items() if k != "created"}, "missing created"),
        ({**CUSTOM, "id": "d:Kopf/d:ProzessID["}, "id: invalid XPath"),
        ({**CUSTOM, "type": "e:Kopf"}, "type: invalid XPath"),  # undeclared prefix
        ({**CUSTOM, "key": {"prefix": "d:Praefix/code"}}, "key must be"),
        ({**CUSTOM, "id_scope": "exchange"}, "id_scope must be"),
    ],
)
def test_invalid_profiles_are_config_errors(spec: object, message: str) -> None:
    with pytest.raises(ConfigError, match="header_profile") as error:
        profile_from_spec(spec, "urn:x")
    assert message in str(error.value)


def test_install_refuses_an_invalid_profile(tmp_path: Path) -> None:
    official = official_or_skip()
    with pytest.raises(ConfigError, match="invalid XPath"):
        install(official / "xdomea-2.4.0", tmp_path,
                header_profile={**CUSTOM, "id": "d:Kopf/d:ProzessID["})
    assert not list(tmp_path.iterdir())  # nothing put in place
