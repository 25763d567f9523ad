"""hub.core.validation reports and hub.core.header on the mini standard and official samples."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from schemas_support import DATA, OFFICIAL

from hub.core.header import read_header
from hub.core.schemas import SchemaRegistry
from hub.core.validation import ValidationReport, check, explain
from hub.core.xmlsafe import Limits, parse_xml
from hub.errors import MessageError, ParseError, SchemaValidationError, UnknownMessageError

VALID = (DATA / "valid-0101.xml").read_bytes()
INVALID = (DATA / "invalid-0101.xml").read_bytes()


def test_valid_message_report(mini_registry: SchemaRegistry) -> None:
    report = check(VALID, mini_registry, Limits())
    assert report == ValidationReport(
        True, "Demo", "1.0", "0101", (), message_id="6f1c2b9e-1d4a-4c1e-9a57-0b3f7e2a9c11"
    )
    assert report.code is None and report.error() is None


def test_invalid_message_report_is_precise_and_free_of_values(
    mini_registry: SchemaRegistry,
) -> None:
    report = check(INVALID, mini_registry, Limits())
    assert not report.valid
    assert (report.standard, report.version, report.message_code) == ("Demo", "1.0", "0101")
    assert [p.code for p in report.problems] == ["SCHEMA_INVALID", "SCHEMA_INVALID"]
    name, date = report.problems
    lines = INVALID.decode().splitlines()
    assert "<demo:familienname>" in lines[name.line - 1]
    assert "<demo:geburtsdatum>" in lines[date.line - 1]
    assert name.path == "/demo:demo.meldung.0101/demo:person/demo:familienname"
    assert "familienname" in name.message and "pattern" in name.message
    assert "geburtsdatum" in date.message and "xs:date" in date.message
    text = json.dumps(report.as_dict())
    # values from the document (personal data) are never quoted
    assert "mUSTERfrau" not in text and "1981-02-29" not in text


def test_report_error_maps_to_the_hub_error_tree(mini_registry: SchemaRegistry) -> None:
    error = check(INVALID, mini_registry, Limits()).error()
    assert isinstance(error, SchemaValidationError)
    assert error.code == "SCHEMA_INVALID" and "(and 1 more)" in error.detail
    assert isinstance(check(b"", mini_registry, Limits()).error(), ParseError)
    unknown = check(b"<x/>", mini_registry, Limits()).error()
    assert isinstance(unknown, UnknownMessageError) and unknown.code == "UNKNOWN_NAMESPACE"


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"", "XML_EMPTY"),
        (b"<a", "XML_MALFORMED"),
        (b"<x:a xmlns:x='urn:nobody'/>", "UNKNOWN_NAMESPACE"),
        (b"<x:nope xmlns:x='urn:xoev-hub:test:demo:1'/>", "UNKNOWN_MESSAGE"),
        (b"<x:demoAntwort xmlns:x='urn:xoev-hub:test:demo:7'/>", "UNKNOWN_VERSION"),
    ],
)
def test_check_never_raises_and_reports_the_code(
    mini_registry: SchemaRegistry, data: bytes, code: str
) -> None:
    report = check(data, mini_registry, Limits())
    assert not report.valid
    assert report.code == code


def test_limits_are_applied(mini_registry: SchemaRegistry) -> None:
    report = check(VALID, mini_registry, Limits(max_bytes=200))
    assert report.code == "XML_TOO_LARGE"
    assert check(VALID, mini_registry, Limits(max_depth=3)).code == "XML_TOO_DEEP"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (
            "Element '{urn:a}x': This element is not expected. Expected is ( {urn:a}y ).",
            "element 'x' is not allowed here; expected instead: y",
        ),
        (
            "Element 'autor': Missing child element(s). Expected is ( erreichbarkeit ).",
            "element 'autor' is incomplete: a required child element is missing; "
            "expected: erreichbarkeit",
        ),
        (
            "Element '{urn:a}r': The attribute 'produkt' is required but missing.",
            "element 'r' lacks the required attribute 'produkt'",
        ),
        (
            "Element 'code': [facet 'enumeration'] The value 'Anna' is not an element of "
            "the set {'a', 'b'}.",
            "the value of 'code' is not one of the values allowed by its code list/type",
        ),
        (
            "Element 'x', attribute 'listVersionID': The value '1' does not match the fixed "
            "value constraint '2'.",
            "attribute 'listVersionID' of element 'x' must have the fixed value '2'",
        ),
        (
            "Element 'n': [facet 'maxLength'] The value has a length of '7'; this exceeds "
            "the allowed maximum length of '5'.",
            "the value of 'n' has length 7; at most 5 allowed (facet maxLength)",
        ),
        # a form nobody knows: a generic text, never the raw message
        ("Element 'n': Something new: The value 'Erika' is odd.", "'n' violates an XSD rule"),
        ("Something new: The value 'Erika' is odd.", "the message violates an XSD rule"),
    ],
)
def test_explain_rephrases_libxml2(raw: str, expected: str) -> None:
    assert explain(raw) == expected


def test_read_header_of_the_mini_message() -> None:
    head = read_header(parse_xml(VALID))
    assert head.message_id == "6f1c2b9e-1d4a-4c1e-9a57-0b3f7e2a9c11"
    assert head.message_code == "0101"
    assert head.created == "2026-11-25T10:00:00+01:00"
    assert head.author_key == "ags:05124000"
    assert head.reader_keys == ("ags:05122000", "ags:05120000")


def test_read_header_errors() -> None:
    with pytest.raises(MessageError) as missing:
        read_header(parse_xml(b"<x:r xmlns:x='urn:a'><kopf/></x:r>"))
    assert missing.value.code == "HEADER_MISSING"
    assert missing.value.stage == "header"  # the xoev-error-stage of the dead letter
    broken = VALID.replace(b"<nachrichtenUUID>6f1c2b9e-1d4a-4c1e-9a57-0b3f7e2a9c11"
                           b"</nachrichtenUUID>", b"<nachrichtenUUID> </nachrichtenUUID>")
    with pytest.raises(MessageError) as invalid:
        read_header(parse_xml(broken))
    assert invalid.value.code == "HEADER_INVALID"
    assert invalid.value.path is not None and invalid.value.path.endswith("nachrichtenUUID")
    no_reader = re.sub(rb"<leser>.*?</leser>", b"", VALID)
    with pytest.raises(MessageError) as no_leser:
        read_header(parse_xml(no_reader))
    assert no_leser.value.code == "HEADER_INVALID"
    assert no_leser.value.stage == "header"


def _official_samples() -> list[Path]:
    if not OFFICIAL.is_dir():
        return []
    return sorted((OFFICIAL / "xmeld-25.11a" / "samples").rglob("*.xml"))


@pytest.mark.official
@pytest.mark.parametrize("path", _official_samples(), ids=lambda p: p.name)
def test_read_header_of_official_xmeld_samples(path: Path) -> None:
    root = parse_xml(path.read_bytes())
    if root.find("nachrichtenkopf.g2g") is None:
        pytest.skip("sample without g2g header (payload fragment)")
    head = read_header(root)
    assert re.fullmatch(r"[0-9a-f-]{36}", head.message_id)
    assert head.message_code == root.tag.rpartition(".")[2]
    assert re.match(r"\d{4}-\d\d-\d\dT", head.created)
    assert re.fullmatch(r"[a-z]{3}:\S+", head.author_key)
    assert head.reader_keys and all(":" in k for k in head.reader_keys)


def test_read_header_of_xpersonenstand_sample() -> None:
    path = OFFICIAL / "xpersonenstand-25.11" / "samples" / "Portal2StASterbefall084020.xml"
    if not path.is_file():
        pytest.skip(f"official XÖV sets not found at {OFFICIAL}")
    head = read_header(parse_xml(path.read_bytes()))
    assert head.message_code == "084020"
    assert head.message_id == "FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFF0"
    assert head.reader_keys == ("psw:11007007",)  # praefix:kennung of behoerdenkennung
    assert head.author_key.startswith("sap:")
