"""CRC-64-AVRO and single-object encoding."""

from __future__ import annotations

import json

import pytest
from fastavro.schema import fingerprint, to_parsing_canonical_form

from hub.avro import MAGIC, crc64_avro, fingerprint_of, split_single_object
from hub.avro.encoding import canonical_form
from hub.errors import ConversionError, MessageError


def test_crc64_avro_known_vector_of_the_specification() -> None:
    # The Avro specification's reference value: fingerprint64("null")
    assert crc64_avro(b'"null"') == 7195948357588979594
    assert crc64_avro(b"") == 0xC15D213AA4D7A795


@pytest.mark.parametrize(
    "schema",
    [
        "null",
        "int",
        "string",
        {"type": "array", "items": "long"},
        {"type": "record", "name": "a.B", "fields": [{"name": "x", "type": ["null", "string"]}]},
        {"type": "enum", "name": "E", "symbols": ["A", "B"]},
    ],
)
def test_fingerprint_agrees_with_fastavro(schema: object) -> None:
    expected = fingerprint(to_parsing_canonical_form(schema), "CRC-64-AVRO")
    assert fingerprint_of(schema).hex() == expected
    assert fingerprint_of(json.dumps(schema)).hex() == expected


def test_canonical_form_drops_documentation_properties() -> None:
    a = {"type": "record", "name": "R", "fields": [{"name": "x", "type": "string"}]}
    b = {**a, "doc": "text", "xmlType": "{urn}T"}
    assert canonical_form(a) == canonical_form(b)
    assert fingerprint_of(a) == fingerprint_of(b)


def test_split_single_object() -> None:
    fp = bytes(range(8))
    assert split_single_object(MAGIC + fp + b"body") == (fp, b"body")
    with pytest.raises(ConversionError) as info:
        split_single_object(b"\x00\x01" + fp)
    assert info.value.code == "CONVERSION_NOT_SINGLE_OBJECT"
    assert isinstance(info.value, MessageError)
    with pytest.raises(ConversionError):
        split_single_object(MAGIC + b"\x01")
