"""Content that cannot be represented fails loudly with ConversionError."""

from __future__ import annotations

import pytest
from lxml import etree

from hub.avro import ConversionPlan
from hub.errors import ConversionError, MessageError
from tests.avro.conftest import ENVELOPE

HEAD = b'<f:probe.nachricht.9999 xmlns:f="urn:test:features:1" version="1.0">'
STAAT = b'<staat listVersionID="1"><code>x</code></staat>'
REST = b'<betrag waehrung="EUR">1</betrag><plz>42103</plz><leer/><unbekannt>true</unbekannt>'
TAIL = b"</f:probe.nachricht.9999>"


def convert(plan: ConversionPlan, xml: bytes) -> dict[str, object]:
    return plan.to_record(etree.fromstring(xml), ENVELOPE)


@pytest.mark.parametrize(
    ("xml", "code"),
    [
        (HEAD + b"<!-- c -->" + STAAT + REST + TAIL, "CONVERSION_COMMENT_OR_PI"),
        (HEAD + STAAT + b"<?pi x?>" + REST + TAIL, "CONVERSION_COMMENT_OR_PI"),
        (HEAD + STAAT + b"<fremd/>" + REST + TAIL, "CONVERSION_UNEXPECTED_ELEMENT"),
        (HEAD + STAAT + b"text" + REST + TAIL, "CONVERSION_UNEXPECTED_TEXT"),
        (HEAD + REST + STAAT + TAIL, "CONVERSION_ELEMENT_ORDER"),
        (HEAD + STAAT + STAAT + REST + TAIL, "CONVERSION_ELEMENT_ORDER"),
        (HEAD + REST + TAIL, "CONVERSION_MISSING_ELEMENT"),
        (
            HEAD + b'<staat listVersionID="1" neu="x"><code>x</code></staat>' + REST + TAIL,
            "CONVERSION_UNEXPECTED_ATTRIBUTE",
        ),
        (
            HEAD + b"<staat><code>x</code></staat>" + REST + TAIL,
            "CONVERSION_MISSING_ATTRIBUTE",
        ),
        (
            HEAD + STAAT + REST.replace(b"<plz>42103</plz>", b'<plz a="1">42103</plz>') + TAIL,
            "CONVERSION_UNEXPECTED_ATTRIBUTE",
        ),
        (
            HEAD + STAAT + REST.replace(b"<plz>42103</plz>", b"<plz><x/></plz>") + TAIL,
            "CONVERSION_UNEXPECTED_ELEMENT",
        ),
        (
            HEAD.replace(b">", b' xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">', 1)
            + b'<staat listVersionID="1" xsi:type="f:Code"><code>x</code></staat>'
            + REST
            + TAIL,
            "CONVERSION_UNEXPECTED_ATTRIBUTE",
        ),
        (
            b'<f:other xmlns:f="urn:test:features:1"/>',
            "CONVERSION_WRONG_ROOT",
        ),
    ],
)
def test_unrepresentable_content_raises(
    features_plan: ConversionPlan, xml: bytes, code: str
) -> None:
    with pytest.raises(ConversionError) as info:
        convert(features_plan, xml)
    assert info.value.code == code
    assert isinstance(info.value, MessageError)
    assert info.value.stage == "convert"
    assert info.value.path is not None and info.value.path.startswith(("/probe.", "/other"))


def test_error_detail_carries_no_values(features_plan: ConversionPlan) -> None:
    xml = (
        HEAD
        + STAAT
        + REST.replace(b"<plz>42103</plz>", '<plz geheim="Müller">1</plz>'.encode())
        + TAIL
    )
    with pytest.raises(ConversionError) as info:
        convert(features_plan, xml)
    assert "Müller" not in str(info.value)


def test_prolog_comments_are_not_part_of_the_message(features_plan: ConversionPlan) -> None:
    doc = etree.fromstring(b"<!-- generated --><?pi?>" + HEAD + STAAT + REST + TAIL)
    assert features_plan.to_record(doc, ENVELOPE)["body"]["plz"] == "42103"


def test_decode_rejects_foreign_fingerprint_and_garbage(features_plan: ConversionPlan) -> None:
    with pytest.raises(ConversionError) as info:
        features_plan.decode(b"\xc3\x01" + b"\x00" * 8 + b"\x00")
    assert info.value.code == "CONVERSION_WRONG_SCHEMA"
    with pytest.raises(ConversionError) as info:
        features_plan.decode(b"\xc3\x01" + features_plan.fingerprint + b"\x02")
    assert info.value.code == "CONVERSION_DECODE_FAILED"


def test_encode_rejects_bad_record(features_plan: ConversionPlan) -> None:
    with pytest.raises(ConversionError) as info:
        features_plan.encode({"envelope": {}, "body": {}})
    assert info.value.code == "CONVERSION_ENCODE_FAILED"
