"""The audit record codec: single-object encoding, decodable without a registry."""

from __future__ import annotations

import io

import fastavro
import pytest
from fastavro.schema import fingerprint, to_parsing_canonical_form

from hub.avro.audit import AUDIT_CODEC, AUDIT_SCHEMA

RECORD = {
    "message_id": "3f1c2a4e-9b7d-4e21-8c55-0a1b2c3d4e5f",
    "standard": "XMeld",
    "version": "25.11a",
    "message_type_code": "0201",
    "source_authority": "solingen.meldebehoerde",
    "author_key": "ags:05122000",
    "reader_keys": ["ags:05124000"],
    "recipients": ["wuppertal.meldebehoerde"],
    "external": False,
    "created": "2026-11-25T10:00:00+01:00",
    "received": "2026-11-25T09:00:00.123+00:00",
    "payload_sha256": "0" * 64,
    "payload_bytes": 6144,
    "source_topic": "xoev.in.solingen.meldebehoerde",
    "source_partition": 2,
    "source_offset": 41,
    "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736",
    "file_plan_unit": "3.2.1",  # decision 0015
    "retention_years": "5",
    "projected_recipients": [],
    "legal_bases": [],
}


def test_round_trip_and_header() -> None:
    data = AUDIT_CODEC.encode(RECORD)
    assert data[:2] == b"\xc3\x01"
    canonical = to_parsing_canonical_form(fastavro.parse_schema(AUDIT_SCHEMA))
    assert data[2:10] == bytes.fromhex(fingerprint(canonical, "CRC-64-AVRO"))
    assert AUDIT_CODEC.decode(data) == RECORD
    # a consumer with only the .avsc decodes the body with plain fastavro
    body = fastavro.schemaless_reader(io.BytesIO(data[10:]), AUDIT_SCHEMA, None)
    assert body == RECORD


def test_no_field_for_personal_data() -> None:
    names = {field["name"] for field in AUDIT_SCHEMA["fields"]}
    assert not names & {"name", "vorname", "familienname", "geburtsdatum", "anschrift", "payload"}


def test_other_schema_is_refused() -> None:
    with pytest.raises(ValueError):
        AUDIT_CODEC.decode(b"\xc3\x01" + b"\x00" * 8 + b"\x00")
