"""Publish Avro event schemas to the compacted topic ``xoev.schemas``.

Key: the schema's CRC-64-AVRO fingerprint as 16 hex digits (the 8 little-endian
bytes of the single-object header, hex encoded); value: the ``.avsc`` text (UTF-8).
A consumer that meets an unknown fingerprint reads the topic (compacted, so one
record per schema) and looks the key up.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from hub.avro.encoding import fingerprint_of
from hub.errors import TransientError


def avsc_files(avro_dir: Path) -> list[Path]:
    """Every ``.avsc`` under ``avro_dir``, sorted."""
    return sorted(avro_dir.rglob("*.avsc"))


def schema_records(paths: Iterable[Path]) -> list[tuple[str, bytes]]:
    """(fingerprint hex, schema bytes) for each .avsc file."""
    records = []
    for path in paths:
        text = path.read_bytes()
        records.append((fingerprint_of(json.loads(text)).hex(), text))
    return records


def ensure_schema_topic(bootstrap: str, topic: str) -> None:
    """Create the compacted schema topic if it does not exist yet."""
    from kafka.admin import KafkaAdminClient, NewTopic
    from kafka.errors import TopicAlreadyExistsError

    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="xoev-hub-schemas")
    try:
        admin.create_topics(
            [
                NewTopic(
                    topic,
                    num_partitions=1,
                    replication_factor=1,
                    topic_configs={"cleanup.policy": "compact"},
                )
            ]
        )
    except TopicAlreadyExistsError:
        pass
    finally:
        admin.close()


def publish_schemas(
    producer_or_bootstrap: Any,
    topic: str,
    avro_dir: Path | None = None,
    *,
    records: list[tuple[str, bytes]] | None = None,
) -> int:
    """Publish every .avsc of ``avro_dir`` (or ``records``) keyed by fingerprint.

    ``producer_or_bootstrap``: a kafka-python ``KafkaProducer`` (left open) or a
    bootstrap string (a producer is created, flushed and closed, and the compacted
    topic created when missing). Returns the number of schemas published.
    """
    if records is None:
        from hub.settings import AVRO_SCHEMA_DIR

        records = schema_records(avsc_files(avro_dir or AVRO_SCHEMA_DIR))
    own = isinstance(producer_or_bootstrap, str)
    if own:
        from kafka import KafkaProducer

        ensure_schema_topic(producer_or_bootstrap, topic)
        producer = KafkaProducer(bootstrap_servers=producer_or_bootstrap, acks="all")
    else:
        producer = producer_or_bootstrap
    try:
        futures = [producer.send(topic, key=key.encode(), value=value) for key, value in records]
        producer.flush()
        for future in futures:
            future.get(timeout=30)
    except Exception as exc:  # kafka-python raises many types; report one
        if type(exc).__module__.startswith("kafka"):
            raise TransientError(f"publishing schemas to {topic} failed: {exc}") from exc
        raise
    finally:
        if own:
            producer.close()
    return len(records)
