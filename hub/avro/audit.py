"""Audit records: one per delivery, metadata only (BMG § 40 logging, no personal data).

Each record names who sent what to whom and when — ids, codes, DVDV keys,
timestamps and the payload's SHA-256 — and never a name, address or birth date.
Records are Avro (single-object encoding) on ``xoev.audit``, keyed by
nachrichtenUUID.
"""

from __future__ import annotations

from typing import Any

from hub.avro.single_object import SingleObjectCodec

AUDIT_SCHEMA: dict[str, Any] = {
    "type": "record",
    "name": "AuditRecord",
    "namespace": "de.xoev.hub",
    "doc": "One delivery of one XÖV message. Metadata only; never personal data.",
    "fields": [
        {"name": "message_id", "type": "string", "doc": "nachrichtenUUID"},
        {"name": "standard", "type": "string"},
        {"name": "version", "type": "string"},
        {"name": "message_type_code", "type": "string"},
        {"name": "source_authority", "type": "string", "doc": "authority id of the inbound topic"},
        {"name": "author_key", "type": "string", "doc": "DVDV key of the author"},
        {"name": "reader_keys", "type": {"type": "array", "items": "string"}},
        {
            "name": "recipients",
            "type": {"type": "array", "items": "string"},
            "doc": "authority ids the message was delivered to",
        },
        {"name": "external", "type": "boolean", "doc": "handed over on xoev.out.external"},
        {"name": "created", "type": "string", "doc": "erstellungszeitpunkt as sent"},
        {"name": "received", "type": "string", "doc": "when the hub read it (ISO 8601, UTC)"},
        {"name": "payload_sha256", "type": "string"},
        {"name": "payload_bytes", "type": "long"},
        {"name": "source_topic", "type": "string"},
        {"name": "source_partition", "type": "int"},
        {"name": "source_offset", "type": "long"},
        {"name": "trace_id", "type": "string"},
        {
            "name": "file_plan_unit",
            "type": ["null", "string"],
            "default": None,
            "doc": "Kennzeichen of the file-plan unit the message type is filed under "
            "(hub/config/filing.toml); null: not mapped; decision 0015",
        },
        {
            "name": "retention_years",
            "type": ["null", "string"],
            "default": None,
            "doc": "the unit's retention: years, or 'unbefristet'; decision 0015",
        },
        {
            "name": "projected_recipients",
            "type": {"type": "array", "items": "string"},
            "default": [],
            "doc": "recipients (also in recipients) that received only their projection "
            "(an Avro event with the allowed fields), never the XML; decision 0014",
        },
        {
            "name": "legal_bases",
            "type": {
                "type": "array",
                "items": {
                    "type": "record",
                    "name": "LegalBasis",
                    "fields": [
                        {"name": "rule", "type": "string", "doc": "routing rule name"},
                        {"name": "text", "type": "string", "doc": "its legal_basis as configured"},
                    ],
                },
            },
            "default": [],
            "doc": "legal bases named by the routing rules that matched; decision 0014",
        },
    ],
}

AUDIT_CODEC = SingleObjectCodec(AUDIT_SCHEMA)
