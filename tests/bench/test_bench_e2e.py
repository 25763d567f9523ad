"""The end-to-end benchmark's helpers and its relay (no timed assertions: figures are
the benchmark's job, ``xoev-hub bench e2e``)."""

from __future__ import annotations

import asyncio
import importlib.util
import sys
import uuid
from pathlib import Path
from types import ModuleType

import pytest

from hub.settings import Settings

BENCH = Path(__file__).resolve().parents[2] / "bench"
MESSAGE = b"""<?xml version='1.0' encoding='UTF-8'?>
<m:n xmlns:m="urn:x">
  <kopf>
    <nachrichtenUUID>3ffb1aaa-ed13-45e7-b4da-8cd11b4808d2</nachrichtenUUID>
  </kopf>
  <inhalt><nachrichtenUUID>not-the-header</nachrichtenUUID></inhalt>
</m:n>"""


def load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCH / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_copies_get_distinct_valid_ids_in_the_header_only() -> None:
    e2e = load("bench_e2e")
    out = e2e.copies(MESSAGE, 200)
    keys = [key for key, _ in out]
    assert len(set(keys)) == 200
    for key, value in out:
        assert str(uuid.UUID(key.decode())) == key.decode()
        found = e2e.UUID_RE.findall(value)
        assert found[0][1] == key  # the header's id is the key
        assert found[1][1] == b"not-the-header"  # later elements untouched
        assert len(value) == len(MESSAGE)
    with pytest.raises(ValueError):
        e2e.with_uuid(b"<a/>", b"x")


def test_compact_nearest_throughput_and_percentiles() -> None:
    e2e = load("bench_e2e")
    small = e2e.compact(MESSAGE)
    assert b"\n  " not in small and e2e.UUID_RE.search(small)
    seed, picked = e2e.nearest(lambda s: b"x" * (s * 100), 450, range(10))
    assert (seed, len(picked)) in {(4, 400), (5, 500)}
    assert e2e.throughput([i / 100 for i in range(101)]) == pytest.approx(100, rel=0.02)
    assert e2e.throughput([1.0] * 5) == 0.0
    assert e2e.pct([3, 1, 2], 0.5) == 2
    assert "load" in e2e.load()


def test_relay_config_is_the_tuned_one() -> None:
    relay = load("baseline_ceiling")
    config = relay.producer_config("b:9092", 4 * 1024 * 1024)
    assert config["max_batch_size"] == 1024 * 1024
    assert config["acks"] == "all" and config["enable_idempotence"] is True
    assert config["linger_ms"] == 5
    assert relay.MAX_RECORDS <= 500
    # a batch never exceeds what the topics accept
    assert relay.producer_config("b:9092", 300_000)["max_batch_size"] == 300_000


@pytest.mark.kafka
def test_relay_writes_four_outputs_per_message(
    kafka_bootstrap: str, topic_prefix: str, settings: Settings
) -> None:
    from kafka import KafkaConsumer, KafkaProducer

    from hub.core.region import Region
    from hub.kafka.topic_admin import apply_topics
    from hub.kafka.topics import TopicNames
    from hub.settings import load_settings

    relay = load("baseline_ceiling")
    e2e = load("bench_e2e")
    mine = load_settings(bootstrap_servers=kafka_bootstrap, topic_prefix=topic_prefix)
    region = Region.load(mine.region_file)
    apply_topics(mine, region)
    names = TopicNames(topic_prefix)
    author, reader = sorted(region.authorities)[:2]
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    for key, value in e2e.copies(MESSAGE, 50):
        producer.send(names.inbound(author), key=key, value=value)
    producer.flush()
    producer.close()

    relayed = asyncio.run(
        asyncio.wait_for(relay.relay(topic_prefix, f"{topic_prefix}g", reader, limit=50), 60)
    )

    assert relayed == 50
    for topic in (names.out_xml(reader), names.out_avro(reader), names.external, names.audit):
        consumer = KafkaConsumer(
            topic,
            bootstrap_servers=kafka_bootstrap,
            auto_offset_reset="earliest",
            consumer_timeout_ms=5000,
        )
        records = []
        for record in consumer:
            records.append(record)
            if len(records) == 50:
                break
        consumer.close()
        assert len(records) == 50, topic
        assert all(dict(r.headers)["xoev-message-id"] == r.key for r in records)
