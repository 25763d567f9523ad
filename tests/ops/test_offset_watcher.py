"""Readiness sees committed offsets stall and move, read from the real broker."""

from __future__ import annotations

import asyncio
import json

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from hub.ops.health import Health, OffsetWatcher, readyz
from hub.ops.metrics import HubMetrics

pytestmark = pytest.mark.kafka


async def until(predicate: object, timeout: float) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        if predicate():  # type: ignore[operator]
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"condition not met within {timeout}s")


def test_stalled_then_moving_commits(kafka_bootstrap: str, topic_prefix: str) -> None:
    topic = f"{topic_prefix}xoev.in.solingen.meldebehoerde"
    group = f"{topic_prefix}xoev-hub"
    tp0, tp1 = (topic, 0), (topic, 1)
    health = Health(stall_timeout=5.0, require_assignment=True)
    metrics = HubMetrics()

    async def scenario() -> list[dict[str, object]]:
        admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
        await admin.start()
        await admin.create_topics([NewTopic(topic, num_partitions=2, replication_factor=1)])
        await admin.close()
        producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
        await producer.start()
        for i in range(5):
            await producer.send_and_wait(topic, f"<m{i}/>".encode(), partition=0)
        await producer.stop()
        # the "worker": consumes partition 0 of the group, commits only when told to
        worker = AIOKafkaConsumer(bootstrap_servers=kafka_bootstrap, group_id=group,
                                  enable_auto_commit=False, auto_offset_reset="earliest")
        await worker.start()
        worker.assign([TopicPartition(topic, 0), TopicPartition(topic, 1)])
        health.loop_heartbeat()
        health.set_broker_reachable(True)
        health.set_assignment([tp0, tp1])
        watcher = OffsetWatcher(kafka_bootstrap, group, health, interval=0.2)
        watcher.start()
        bodies = []
        try:
            await until(lambda: health.lag().get(tp0) == 5, 15)
            metrics.refresh(health)
            bodies.append(readyz(health)[1])  # lag, but within the stall timeout
            await asyncio.sleep(5.5)
            health.loop_heartbeat()
            health.set_broker_reachable(True)
            bodies.append(readyz(health)[1])  # stalled
            batch = await worker.getmany(TopicPartition(topic, 0), timeout_ms=5000)
            assert sum(len(v) for v in batch.values()) == 5
            await worker.commit()
            await until(lambda: health.lag().get(tp0) == 0, 15)
            health.loop_heartbeat()
            health.set_broker_reachable(True)
            bodies.append(readyz(health)[1])  # moving again
        finally:
            await watcher.stop()
            await worker.stop()
        return bodies

    waiting, stalled, moving = asyncio.run(scenario())
    assert waiting["status"] == "ready" and waiting["lag"] == 5
    assert metrics.registry.get_sample_value(
        "xoev_hub_consumer_lag", {"topic": topic, "partition": "0"}) == 5
    assert stalled["status"] == "not ready"
    assert stalled["stalled"] == [f"{topic}[0]"]
    assert moving["status"] == "ready" and moving["lag"] == 0, json.dumps(moving)
