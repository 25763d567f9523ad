"""The foundation against the real broker: clients of three kinds and the CLI."""

from __future__ import annotations

import asyncio
import os
import subprocess
import uuid
from pathlib import Path

import pytest
from kafka import KafkaConsumer, KafkaProducer
from kafka.admin import KafkaAdminClient, NewTopic

from hub.testing.tools import require_tool

pytestmark = pytest.mark.kafka


def _create(bootstrap: str, *topics: str, partitions: int = 1) -> None:
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        admin.create_topics([NewTopic(t, partitions, 1) for t in topics])
    finally:
        admin.close()


def test_broker_is_a_real_kafka_jvm(kafka_bootstrap: str) -> None:
    if "HUB_BOOTSTRAP_SERVERS" not in os.environ:
        cmdlines = []
        for proc in Path("/proc").glob("[0-9]*/cmdline"):
            try:
                cmdlines.append(proc.read_bytes().split(b"\0"))
            except OSError:
                continue
        assert any(
            b"kafka.Kafka" in args and Path(args[0].decode()).name == "java" for args in cmdlines
        ), "no 'java ... kafka.Kafka' process serves the tests"
    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    try:
        cluster = admin.describe_cluster()
    finally:
        admin.close()
    assert cluster["brokers"], cluster


def test_admin_creates_topic(kafka_bootstrap: str, topic_prefix: str) -> None:
    name = f"{topic_prefix}admin"
    _create(kafka_bootstrap, name, partitions=3)
    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    try:
        described = admin.describe_topics([name])
    finally:
        admin.close()
    assert len(described[0]["partitions"]) == 3


def test_kafka_python_round_trip(kafka_bootstrap: str, topic_prefix: str) -> None:
    topic = f"{topic_prefix}kp"
    _create(kafka_bootstrap, topic)
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    payloads = [f"<m n='{i}'/>".encode() for i in range(20)]
    for i, value in enumerate(payloads):
        producer.send(topic, key=str(i).encode(), value=value, headers=[("h", b"v")])
    producer.flush()
    producer.close()
    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=kafka_bootstrap,
        auto_offset_reset="earliest",
        consumer_timeout_ms=10000,
        group_id=f"g-{uuid.uuid4()}",
    )
    got = []
    for record in consumer:
        got.append(record)
        if len(got) == len(payloads):
            break
    consumer.close()
    assert [r.value for r in got] == payloads
    assert got[0].headers == [("h", b"v")]


def test_aiokafka_round_trip(kafka_bootstrap: str, topic_prefix: str) -> None:
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

    topic = f"{topic_prefix}aio"
    _create(kafka_bootstrap, topic)

    async def scenario() -> list[bytes]:
        producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
        await producer.start()
        try:
            for i in range(10):
                await producer.send_and_wait(topic, f"m{i}".encode(), key=b"k")
        finally:
            await producer.stop()
        consumer = AIOKafkaConsumer(
            topic,
            bootstrap_servers=kafka_bootstrap,
            auto_offset_reset="earliest",
            group_id=f"g-{uuid.uuid4()}",
        )
        await consumer.start()
        values: list[bytes] = []
        try:
            while len(values) < 10:
                batch = await consumer.getmany(timeout_ms=5000)
                if not batch:
                    break
                for records in batch.values():
                    values += [r.value for r in records]
        finally:
            await consumer.stop()
        return values

    assert asyncio.run(scenario()) == [f"m{i}".encode() for i in range(10)]


def test_kcat_interoperates_both_ways(kafka_bootstrap: str, topic_prefix: str) -> None:
    require_tool("kcat")
    to_kcat, from_kcat = f"{topic_prefix}to-kcat", f"{topic_prefix}from-kcat"
    _create(kafka_bootstrap, to_kcat, from_kcat)
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap)
    producer.send(to_kcat, key=b"id-1", value="<nachricht>Grüße</nachricht>".encode())
    producer.flush()
    producer.close()
    read = subprocess.run(
        ["kcat", "-b", kafka_bootstrap, "-C", "-t", to_kcat, "-c", "1", "-e", "-f", "%k|%s"],
        capture_output=True, timeout=30, check=True,
    )
    assert read.stdout.decode() == "id-1|<nachricht>Grüße</nachricht>"
    subprocess.run(
        ["kcat", "-b", kafka_bootstrap, "-P", "-t", from_kcat, "-k", "id-2"],
        input=b"<from-kcat/>", timeout=30, check=True,
    )
    consumer = KafkaConsumer(
        from_kcat, bootstrap_servers=kafka_bootstrap, auto_offset_reset="earliest",
        consumer_timeout_ms=10000, group_id=f"g-{uuid.uuid4()}",
    )
    records = [next(iter(consumer))]
    consumer.close()
    assert (records[0].key, records[0].value) == (b"id-2", b"<from-kcat/>")
