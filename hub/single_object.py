"""Avro single-object encoding: ``C3 01`` + 8-byte CRC-64-AVRO fingerprint + body.

A consumer needs no schema registry: it reads the fingerprint (little endian),
looks the schema up among the ``.avsc`` files (or the compacted ``xoev.schemas``
topic) and decodes the body with that schema.
"""

from __future__ import annotations

import io
from typing import Any

import fastavro
from fastavro.schema import fingerprint, to_parsing_canonical_form

MAGIC = b"\xc3\x01"


def schema_fingerprint(schema: Any) -> bytes:
    """CRC-64-AVRO of the Parsing Canonical Form, 8 bytes little endian."""
    canonical = to_parsing_canonical_form(fastavro.parse_schema(schema))
    # fastavro returns the fingerprint's bytes in little-endian order, as hex
    return bytes.fromhex(fingerprint(canonical, "CRC-64-AVRO"))


class SingleObjectCodec:
    """Encode and decode records of one schema in single-object encoding."""

    def __init__(self, schema: Any) -> None:
        self.schema = schema
        self.parsed = fastavro.parse_schema(schema)
        self.fingerprint = schema_fingerprint(schema)
        self.header = MAGIC + self.fingerprint

    def encode(self, record: Any) -> bytes:
        buffer = io.BytesIO()
        buffer.write(self.header)
        fastavro.schemaless_writer(buffer, self.parsed, record)
        return buffer.getvalue()

    def decode(self, data: bytes) -> Any:
        if data[:10] != self.header:
            raise ValueError("not a single-object encoding of this schema")
        return fastavro.schemaless_reader(io.BytesIO(data[10:]), self.parsed, None)
