"""Schemas on the compacted topic ``xoev.schemas``: real broker."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import xmlschema
from kafka import KafkaConsumer
from kafka.admin import ConfigResource, ConfigResourceType, KafkaAdminClient

from hub.avro import derive_event_schemas, dumps_schema, fingerprint_of, publish_schemas
from hub.topics import TopicNames
from tests.avro.conftest import FEATURES_ROOT

pytestmark = pytest.mark.kafka


def test_publish_schemas_keyed_by_fingerprint(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path, features_schema: xmlschema.XMLSchema
) -> None:
    schemas = derive_event_schemas(features_schema, [FEATURES_ROOT], "XTest", "1")
    folder = tmp_path / "XTest" / "1"
    folder.mkdir(parents=True)
    (folder / "probe.nachricht.9999.avsc").write_text(dumps_schema(schemas[FEATURES_ROOT]))
    other = dict(schemas[FEATURES_ROOT], name="de.xoev.xtest.v1.zweite")
    (folder / "zweite.avsc").write_text(dumps_schema(other))
    topic = TopicNames(prefix=topic_prefix).schemas
    assert publish_schemas(kafka_bootstrap, topic, tmp_path) == 2

    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=kafka_bootstrap,
        auto_offset_reset="earliest",
        consumer_timeout_ms=10_000,
        enable_auto_commit=False,
    )
    try:
        received = {}
        for record in consumer:
            received[record.key.decode()] = json.loads(record.value)
            if len(received) == 2:
                break
    finally:
        consumer.close()
    expected = {fingerprint_of(s).hex(): s for s in (schemas[FEATURES_ROOT], other)}
    assert received == expected

    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    try:
        configs = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)])
        text = repr(configs)
    finally:
        admin.close()
    assert "cleanup.policy" in text and "compact" in text
