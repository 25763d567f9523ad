"""Every message that enters is accounted for: in = delivered + dead-lettered + duplicates."""

from __future__ import annotations

import io
import json
from collections import Counter
from typing import Any

import fastavro
import pytest

from hub.avro import fingerprint_of
from hub.avro.audit import AUDIT_CODEC
from hub.kafka.topics import TopicNames
from hub.settings import Settings

from .conftest import mixed_scenario
from .harness import drain, duplicates_of, produce

pytestmark = pytest.mark.kafka


def test_mixed_stream_exact_counts(
    kafka_bootstrap: str,
    worker_settings: Settings,
    start_worker: Any,
    packages: str,
    request: pytest.FixtureRequest,
) -> None:
    """Run with the bundled packages, and with the official XMeld 25.11a and
    XPersonenstand 25.11 installed (they replace the bundled ones of the same
    namespaces): both route alike, with the same routing configuration."""
    names = TopicNames(worker_settings.topic_prefix)
    env: dict[str, str] = {}
    if packages == "official":
        schema_dir = request.getfixturevalue("official_schema_dir")
        env["HUB_SCHEMA_DIR"] = str(schema_dir)
        worker_settings = worker_settings.model_copy(update={"schema_dir": schema_dir})
    scenario = mixed_scenario(worker_settings, names)
    if packages == "official":
        from hub.core.schemas import SchemaRegistry

        origins = {
            (p.standard, p.origin) for p in SchemaRegistry.from_settings(worker_settings).packages
        }
        assert {("XMeld", "installed"), ("XPersonenstand", "installed")} <= origins
    worker = start_worker(**env)
    sent = produce(kafka_bootstrap, scenario.sends)
    out = drain(kafka_bootstrap, scenario.all_topics, until=dict(scenario.expected), timeout=120)
    assert worker.alive(), worker.log_text()[-3000:]

    got = Counter({t: out.count(t) for t in scenario.all_topics if out.count(t)})
    assert got == scenario.expected, worker.log_text()[-3000:]
    dead_codes = Counter(h["xoev-error-code"].decode() for h in out.headers(names.deadletter))
    assert dead_codes == scenario.expected_dead_codes

    delivered = out.count(names.audit)
    deadlettered = out.count(names.deadletter)
    # the invariant: every message in is delivered, dead-lettered or a counted duplicate
    assert sent == delivered + deadlettered + scenario.duplicates
    assert not duplicates_of(out.keys(names.audit))

    # dead letters carry the original bytes and their source coordinates
    payloads = {value for _, _, value in scenario.sends}
    for record, headers in zip(
        out.records[names.deadletter], out.headers(names.deadletter), strict=True
    ):
        assert record.value in payloads  # type: ignore[attr-defined]
        assert headers["xoev-source-topic"].decode().startswith(f"{names.prefix}xoev.in.")
        for name in (
            "xoev-error-stage",
            "xoev-error-detail",
            "xoev-source-partition",
            "xoev-source-offset",
        ):
            assert headers[name]

    # outputs carry the contract headers and the unchanged bytes
    for topic in scenario.expected:
        if topic.endswith(".xml"):
            for record, headers in zip(out.records[topic], out.headers(topic), strict=True):
                assert record.value in payloads  # type: ignore[attr-defined]
                assert record.key == headers["xoev-message-id"]  # type: ignore[attr-defined]
                assert {
                    "xoev-standard",
                    "xoev-version",
                    "xoev-message-type",
                    "xoev-author",
                    "xoev-reader",
                    "traceparent",
                } <= set(headers)

    # audit records: metadata only
    for record in out.records[names.audit]:
        audit = AUDIT_CODEC.decode(record.value)  # type: ignore[attr-defined]
        assert len(audit["payload_sha256"]) == 64
        assert audit["source_authority"] in worker_settings.region_file.read_text()

    # every Avro event's schema is on xoev.schemas, keyed by its fingerprint, and reads it
    events = [r for t in scenario.expected if t.endswith(".avro") for r in out.records[t]]
    assert events
    fingerprints = {r.value[2:10].hex().encode() for r in events}  # type: ignore[attr-defined]
    schemas = drain(kafka_bootstrap, [names.schemas], keys={names.schemas: fingerprints},
                    timeout=60, settle=0)
    by_key: dict[bytes, dict[str, Any]] = {}
    for schema_record in schemas.records[names.schemas]:
        key, text = schema_record.key, schema_record.value  # type: ignore[attr-defined]
        parsed = json.loads(text)
        assert fingerprint_of(parsed).hex().encode() == key  # the key is the schema's own
        assert by_key.setdefault(key, parsed) == parsed  # a repeat carries the same schema
    assert set(by_key) == fingerprints  # one per schema in use, nothing else
    for record in events:
        value = record.value  # type: ignore[attr-defined]
        assert value[:2] == b"\xc3\x01"
        schema = fastavro.parse_schema(by_key[value[2:10].hex().encode()])
        event = fastavro.schemaless_reader(io.BytesIO(value[10:]), schema)
        assert event["envelope"]["message_id"] == record.key.decode()  # type: ignore[attr-defined]
