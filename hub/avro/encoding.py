"""Avro single-object encoding and the CRC-64-AVRO fingerprint.

Single-object encoding (Avro specification 1.12, "Single-object encoding"): the two
marker bytes ``C3 01``, the 8-byte CRC-64-AVRO fingerprint of the writer schema's
Parsing Canonical Form in little-endian order, then the Avro binary body. A
consumer picks the writer schema by fingerprint; no registry service is needed.
"""

from __future__ import annotations

import json
from typing import Any

from fastavro.schema import to_parsing_canonical_form

from hub.errors import ConversionError

MAGIC = b"\xc3\x01"
HEADER_LENGTH = 10

#: CRC-64-AVRO: the empty fingerprint and its table, as in the specification.
EMPTY = 0xC15D213AA4D7A795


def _table() -> tuple[int, ...]:
    table = []
    for i in range(256):
        fp = i
        for _ in range(8):
            fp = (fp >> 1) ^ (EMPTY & -(fp & 1))
        table.append(fp)
    return tuple(table)


_TABLE = _table()


def crc64_avro(data: bytes) -> int:
    """The 64-bit Rabin fingerprint (CRC-64-AVRO) of ``data``."""
    fp = EMPTY
    table = _TABLE
    for byte in data:
        fp = (fp >> 8) ^ table[(fp ^ byte) & 0xFF]
    return fp


def canonical_form(schema: Any) -> str:
    """The Parsing Canonical Form of a schema (JSON object or text)."""
    if isinstance(schema, str) and schema.lstrip()[:1] in ("{", "[", '"'):
        schema = json.loads(schema)
    form: str = to_parsing_canonical_form(schema)
    return form


def fingerprint_of(schema: Any) -> bytes:
    """8-byte little-endian CRC-64-AVRO fingerprint of the schema's canonical form."""
    return crc64_avro(canonical_form(schema).encode("utf-8")).to_bytes(8, "little")


def split_single_object(data: bytes) -> tuple[bytes, bytes]:
    """(fingerprint, body) of single-object encoded bytes; ConversionError otherwise."""
    if len(data) < HEADER_LENGTH or data[:2] != MAGIC:
        raise ConversionError(
            "not Avro single-object encoding (marker C3 01 missing)",
            code="CONVERSION_NOT_SINGLE_OBJECT",
        )
    return bytes(data[2:HEADER_LENGTH]), bytes(data[HEADER_LENGTH:])
