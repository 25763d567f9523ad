"""Single-object codec for a fixed schema (the audit record), on top of
:mod:`hub.avro.encoding`: ``C3 01`` + 8-byte CRC-64-AVRO fingerprint + body.

A consumer needs no schema registry: it reads the fingerprint, finds the schema
among the ``.avsc`` files (or on the compacted ``xoev.schemas`` topic) and
decodes the body with it.
"""

from __future__ import annotations

import io
from typing import Any

import fastavro

from hub.avro.encoding import MAGIC, fingerprint_of, split_single_object


class SingleObjectCodec:
    """Encode and decode records of one schema in single-object encoding."""

    def __init__(self, schema: Any) -> None:
        self.schema = schema
        self.parsed = fastavro.parse_schema(schema)
        self.fingerprint = fingerprint_of(schema)
        self.header = MAGIC + self.fingerprint

    def encode(self, record: Any) -> bytes:
        buffer = io.BytesIO()
        buffer.write(self.header)
        fastavro.schemaless_writer(buffer, self.parsed, record)
        return buffer.getvalue()

    def decode(self, data: bytes) -> Any:
        fingerprint, body = split_single_object(data)
        if fingerprint != self.fingerprint:
            raise ValueError("single-object encoding of another schema")
        return fastavro.schemaless_reader(io.BytesIO(body), self.parsed, None)
