"""The sample generator on the bundled packages and on a schema full of XSD constructs."""

from __future__ import annotations

import re
import unicodedata
import uuid
from pathlib import Path

import pytest
import xmlschema
from bundled_support import PACKAGE_DIRS, LocalMessageType, bundled_package, lxml_errors
from lxml import etree

from hub.tools.samples import DEFAULT_KEYS, SampleError, SampleGenerator, generate, resolve_message

MESSAGES = [
    (p.name, m.root) for p in PACKAGE_DIRS for m in bundled_package(p.name).messages.values()
]
SEEDS = range(6)
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")


def header(root: etree._Element, path: str) -> str:
    found = root.find(f"nachrichtenkopf.g2g/{path}")
    assert found is not None and found.text is not None, path
    return found.text


@pytest.mark.parametrize(("package_name", "root"), MESSAGES)
def test_generated_instances_validate_in_lxml_and_xmlschema(package_name: str, root: str) -> None:
    package = bundled_package(package_name)
    schema = package.xmlschema_schema()
    for seed in SEEDS:
        data = generate(package, root, seed=seed)
        assert lxml_errors(package, data) == [], (seed, data.decode())
        if seed < 2:  # xmlschema is the slow reference: two seeds per type are enough
            assert schema.is_valid(data.decode("utf-8")), seed


@pytest.mark.parametrize(("package_name", "root"), MESSAGES)
def test_header_is_meaningful(package_name: str, root: str) -> None:
    package = bundled_package(package_name)
    message = resolve_message(list(package.messages.values()), root)
    data = generate(package, message, seed=11)
    doc = etree.fromstring(data)
    assert doc.tag == message.qname
    assert UUID.fullmatch(header(doc, "identifikation.nachricht/nachrichtenUUID"))
    assert header(doc, "identifikation.nachricht/nachrichtentyp/code") == message.code
    created = header(doc, "identifikation.nachricht/erstellungszeitpunkt")
    assert re.search(r"(Z|[+-]\d\d:\d\d)$", created)
    author, reader = DEFAULT_KEYS[package.standard]
    assert header(doc, "autor/kennung") == author
    assert header(doc, "leser/kennung") == reader
    assert header(doc, "autor/verzeichnisdienst/code") == "DVDV"
    assert doc.get("standard") == package.standard and doc.get("version") == package.version


def test_same_seed_same_bytes_other_seed_other_message() -> None:
    package = bundled_package("xmeld-25.11a")
    first = generate(package, "0201", seed=42)
    assert generate(package, "0201", seed=42) == first
    ids = {header(etree.fromstring(generate(package, "0201", seed=s)),
                  "identifikation.nachricht/nachrichtenUUID") for s in range(50)}
    assert len(ids) == 50


def test_same_seed_same_bytes_in_another_process() -> None:
    import subprocess
    import sys

    from bundled_support import REPO

    script = (
        "import sys; sys.path[:0] = ['tests/bundled', '.']\n"
        "from bundled_support import bundled_package\n"
        "from hub.tools.samples import generate\n"
        "package = bundled_package('xpersonenstand-25.11')\n"
        "sys.stdout.buffer.write(generate(package, '031010', seed=5))"
    )
    other = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True,
                           check=True, timeout=120, env={"PYTHONHASHSEED": "123", "PATH": ""})
    assert other.stdout == generate(bundled_package("xpersonenstand-25.11"), "031010", seed=5)


def test_caller_sets_author_and_reader_keys_and_overrides() -> None:
    package = bundled_package("xmeld-25.05")
    data = generate(package, "rueckmeldung.auswertung.0203", seed=3,
                    author_key="ags:05120000", reader_key="ags:05124000",
                    overrides={"anschrift.autor/wohnort": "Remscheid", "@produkt": "Testprodukt"})
    doc = etree.fromstring(data)
    assert header(doc, "autor/kennung") == "ags:05120000"
    assert header(doc, "leser/kennung") == "ags:05124000"
    assert header(doc, "autor/name") == "Stadt Remscheid, Einwohnermeldeamt"
    assert doc.findtext("anschrift.autor/wohnort") == "Remscheid"
    assert doc.get("produkt") == "Testprodukt"
    assert lxml_errors(package, data) == []


def test_message_by_code_root_or_qname_and_a_clear_error_otherwise() -> None:
    messages = list(bundled_package("xpersonenstand-25.11").messages.values())
    by_code = resolve_message(messages, "035010")
    assert by_code.root == "stA2MB.Sterbefall.035010"
    assert resolve_message(messages, by_code.root) is by_code
    assert resolve_message(messages, by_code.qname) is by_code
    with pytest.raises(SampleError, match="unknown message type '0201'"):
        resolve_message(messages, "0201")


def test_names_use_the_din_91379_repertoire() -> None:
    package = bundled_package("xmeld-25.11a")
    names: set[str] = set()
    for seed in range(40):
        doc = etree.fromstring(generate(package, "0201", seed=seed))
        for element in doc.iter("name", "rufname"):
            if element.text and element.getparent() is not None:
                names.add(element.text)
    assert any(not n.isascii() for n in names)
    assert any(unicodedata.combining(ch) for n in names for ch in n)  # combining sequences
    assert all(unicodedata.is_normalized("NFC", n) for n in names)
    assert "\u01c4emal" not in names  # Ǆ is outside DIN 91379: our name type refuses it


def test_rueckmeldung_has_a_realistic_size() -> None:
    package = bundled_package("xmeld-25.11a")
    sizes = sorted(len(generate(package, "0201", seed=s)) for s in range(40))
    median = sizes[len(sizes) // 2]
    assert 4_000 <= median <= 9_000, sizes


CONSTRUCTS = """<?xml version="1.0" encoding="UTF-8"?>
<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:t="urn:test:constructs"
           targetNamespace="urn:test:constructs" elementFormDefault="qualified">
  <xs:simpleType name="Betrag">
    <xs:restriction base="xs:decimal">
      <xs:totalDigits value="7"/><xs:fractionDigits value="2"/>
      <xs:minExclusive value="0"/><xs:maxInclusive value="99999.99"/>
    </xs:restriction>
  </xs:simpleType>
  <xs:simpleType name="Codes"><xs:list itemType="t:Code"/></xs:simpleType>
  <xs:simpleType name="Code">
    <xs:restriction base="xs:token"><xs:pattern value="[A-Z]{2}\\d{2}(-[a-z]+)?"/></xs:restriction>
  </xs:simpleType>
  <xs:simpleType name="DatumOderJahr"><xs:union memberTypes="xs:date xs:gYear"/></xs:simpleType>
  <xs:simpleType name="Kurz">
    <xs:restriction base="xs:string">
      <xs:minLength value="3"/><xs:maxLength value="5"/>
    </xs:restriction>
  </xs:simpleType>
  <xs:complexType name="Knoten">
    <xs:sequence>
      <xs:element name="wert" type="xs:positiveInteger"/>
      <xs:element name="kind" type="t:Knoten" minOccurs="0" maxOccurs="2"/>
    </xs:sequence>
  </xs:complexType>
  <xs:complexType name="Basis" abstract="true">
    <xs:sequence><xs:element name="id" type="xs:ID"/></xs:sequence>
  </xs:complexType>
  <xs:complexType name="Konkret">
    <xs:complexContent><xs:extension base="t:Basis">
      <xs:sequence><xs:element name="text" type="t:Kurz"/></xs:sequence>
    </xs:extension></xs:complexContent>
  </xs:complexType>
  <xs:element name="ereignis" abstract="true" type="xs:string"/>
  <xs:element name="geburt" substitutionGroup="t:ereignis" type="xs:string"/>
  <xs:element name="alles">
    <xs:complexType>
      <xs:sequence>
        <xs:element name="betrag" type="t:Betrag" maxOccurs="3"/>
        <xs:element name="codes" type="t:Codes"/>
        <xs:element name="wann" type="t:DatumOderJahr"/>
        <xs:element name="zeit" type="xs:dateTime"/>
        <xs:element name="dauer" type="xs:duration"/>
        <xs:element name="ja" type="xs:boolean"/>
        <xs:element name="fest" type="xs:string" fixed="immer"/>
        <xs:element name="mit" type="xs:string" default="vorgabe" minOccurs="0"/>
        <xs:element name="baum" type="t:Knoten"/>
        <xs:element name="objekt" type="t:Basis"/>
        <xs:element ref="t:ereignis"/>
        <xs:choice maxOccurs="2">
          <xs:element name="a" type="xs:byte"/>
          <xs:element name="b" type="xs:hexBinary"/>
          <xs:element name="c" type="xs:base64Binary"/>
        </xs:choice>
        <xs:element name="menge">
          <xs:complexType><xs:all>
            <xs:element name="x" type="xs:int"/>
            <xs:element name="y" type="xs:NCName" minOccurs="0"/>
          </xs:all></xs:complexType>
        </xs:element>
        <xs:element name="betragMitWaehrung">
          <xs:complexType>
            <xs:simpleContent><xs:extension base="t:Betrag">
              <xs:attribute name="waehrung" use="required">
                <xs:simpleType><xs:restriction base="xs:token">
                  <xs:enumeration value="EUR"/><xs:enumeration value="PLN"/>
                </xs:restriction></xs:simpleType>
              </xs:attribute>
            </xs:extension></xs:simpleContent>
          </xs:complexType>
        </xs:element>
        <xs:any namespace="##other" processContents="lax" minOccurs="1"/>
      </xs:sequence>
      <xs:attribute name="uri" type="xs:anyURI" use="required"/>
      <xs:attribute name="monat" type="xs:gYearMonth"/>
      <xs:attribute name="tag" type="xs:gMonthDay"/>
    </xs:complexType>
  </xs:element>
</xs:schema>
"""


def test_generator_covers_the_xsd_constructs_of_any_package(tmp_path: Path) -> None:
    xsd = tmp_path / "constructs.xsd"
    xsd.write_text(CONSTRUCTS, encoding="utf-8")
    schema = xmlschema.XMLSchema(str(xsd))
    lxml_schema = etree.XMLSchema(etree.parse(str(xsd)))
    message = LocalMessageType("urn:test:constructs", "alles", "0000", "alles")
    generator = SampleGenerator(schema, standard="Test", version="1", messages=[message])
    seen_choices: set[str] = set()
    for seed in range(30):
        data = generator.generate("alles", seed=seed)
        doc = etree.fromstring(data)
        assert lxml_schema.validate(doc), (lxml_schema.error_log, data.decode())
        assert schema.is_valid(data.decode("utf-8")), data.decode()
        assert doc.findtext("{urn:test:constructs}fest") == "immer"
        assert doc.find("{urn:test:constructs}geburt") is not None  # substitution group
        objekt = doc.find("{urn:test:constructs}objekt")
        assert objekt is not None
        assert objekt.get("{http://www.w3.org/2001/XMLSchema-instance}type", "").endswith("Konkret")
        names = {etree.QName(e).localname for e in doc}
        seen_choices.update(names & {"a", "b", "c"})
    assert seen_choices == {"a", "b", "c"}


def test_generated_uuid_is_a_version_4_uuid() -> None:
    doc = etree.fromstring(generate(bundled_package("xauslaender-1.22"), "030101", seed=9))
    value = uuid.UUID(header(doc, "identifikation.nachricht/nachrichtenUUID"))
    assert value.version == 4


def test_header_values_can_be_overridden_and_generators_are_cached() -> None:
    from hub.tools.samples import generator_for

    package = bundled_package("xmeld-25.11a")
    now = "2026-01-05T10:00:00.123+01:00"
    path = "nachrichtenkopf.g2g/identifikation.nachricht/erstellungszeitpunkt"
    data = generate(package, "0040", seed=1, overrides={path: now})
    assert header(etree.fromstring(data), "identifikation.nachricht/erstellungszeitpunkt") == now
    assert generator_for(package) is generator_for(package)
    assert generator_for(package) is not generator_for(bundled_package("xmeld-25.05"))


def test_addresses_are_coherent() -> None:
    """Postcode, municipality and AGS of one address belong to the same city."""
    expected = {"Wuppertal": ("421", "422", "423", "05124000"),
                "Solingen": ("426", "427", "05122000"),
                "Remscheid": ("428", "05120000")}
    package = bundled_package("xmeld-25.11a")
    checked = 0
    for seed in range(20):
        for element in etree.fromstring(generate(package, "0201", seed=seed)).iter():
            fields = {etree.QName(c).localname: c.text or "" for c in element}
            city = fields.get("wohnort")
            if city in expected and "postleitzahl" in fields:
                prefixes = expected[city]
                assert fields["postleitzahl"].startswith(prefixes[:-1]), fields
                assert fields.get("gemeindeschluessel", prefixes[-1]) == prefixes[-1], fields
                checked += 1
    assert checked > 20
