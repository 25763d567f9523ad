"""The webhook sink on the real broker: per-message retries and a slow endpoint.

* A server that fails the 2nd message of a batch once receives every message
  exactly once, and the offsets are committed past all of them.
* An endpoint slower than the consumer's ``max.poll.interval.ms`` (deliberately
  small here) does not make the sink's consumer leave its group (with a second worker's
  consumer in the group, that is a rebalance and a redelivery): the partition is
  paused while the delivery is in flight and the consumer keeps polling, so there
  is no rebalance, no redelivery and no second POST.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from types import SimpleNamespace
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from prometheus_client import CollectorRegistry

from hub.adapters import AdapterMetrics, AdapterRuntime
from hub.kafka.topics import TopicNames
from hub.settings import Settings, load_settings
from hub.testing import wait_for
from hub.testing.builtin import WebhookReceiver
from tests.adapters.conftest import create_topics, xoev_message

pytestmark = pytest.mark.kafka
SECRET = "wuppertal-standesamt-hook-secret"
TARGET = "wuppertal.standesamt"
FAST_RETRY = {"attempts": 5, "base_seconds": 0.05, "max_seconds": 0.2, "jitter": False}


def _settings(kafka_bootstrap: str, topic_prefix: str) -> Settings:
    settings = load_settings(bootstrap_servers=kafka_bootstrap, topic_prefix=topic_prefix,
                             consumer_group=f"{topic_prefix}hub")
    names = TopicNames(topic_prefix)
    asyncio.run(create_topics(kafka_bootstrap, [names.out_xml(TARGET), names.deadletter]))
    return settings


async def _produce(settings: Settings, ids: list[str]) -> None:
    topic = TopicNames(settings.topic_prefix).out_xml(TARGET)
    producer = AIOKafkaProducer(bootstrap_servers=settings.bootstrap, acks="all")
    await producer.start()
    try:
        for mid in ids:
            await producer.send_and_wait(
                topic, xoev_message("solingen.standesamt", TARGET, mid), key=mid.encode(),
                partition=0, headers=[("xoev-message-id", mid.encode()),
                                      ("xoev-author", b"psw:05122000")])
    finally:
        await producer.stop()


async def _committed(settings: Settings, group: str) -> int:
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.bootstrap)
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(group)
    finally:
        await admin.close()
    tp = TopicPartition(TopicNames(settings.topic_prefix).out_xml(TARGET), 0)
    meta = offsets.get(tp)
    return -1 if meta is None else int(meta.offset)


def _runtime(settings: Settings, url: str, **consumer: Any) -> AdapterRuntime:
    authorities = {TARGET: SimpleNamespace(id=TARGET, adapters=[{
        "type": "webhook", "retry": FAST_RETRY, "batch_size": 10,
        "config": {"url": url, "secret": SECRET, "timeout_seconds": 20},
    }])}
    runtime = AdapterRuntime(settings, SimpleNamespace(authorities=authorities),
                             metrics=AdapterMetrics(CollectorRegistry()))
    runtime.sink_consumer_options.update(consumer)
    return runtime


def _deliver(settings: Settings, receiver: WebhookReceiver, ids: list[str],
             settle: float, workers: int = 1, **consumer: Any) -> tuple[int, float]:
    """Produce ``ids``, run the sink in ``workers`` runtimes of one group (as
    that many hub workers would) until all arrived and are committed, then
    ``settle`` seconds more (a redelivery would show); the committed offset and the
    seconds until everything was committed."""
    runtimes = [_runtime(settings, receiver.url, **consumer) for _ in range(workers)]
    group = runtimes[0].group_id(TARGET, "webhook")

    async def scenario() -> tuple[int, float]:
        await _produce(settings, ids)
        started = time.monotonic()
        for runtime in runtimes:
            await runtime.start()
        try:
            await wait_for(lambda: len(set(receiver.accepted_ids)) == len(ids), timeout=40)
            deadline = time.monotonic() + 15
            while await _committed(settings, group) < len(ids):
                assert time.monotonic() < deadline, "offsets not committed"
                await asyncio.sleep(0.2)
            took = time.monotonic() - started
            await asyncio.sleep(settle)
        finally:
            for runtime in runtimes:
                await runtime.stop()
        return await _committed(settings, group), took

    return asyncio.run(scenario())


def test_a_failure_mid_batch_is_retried_alone_and_every_message_arrives_once(
    kafka_bootstrap: str, topic_prefix: str
) -> None:
    settings = _settings(kafka_bootstrap, topic_prefix)
    ids = [str(uuid.uuid4()) for _ in range(5)]
    with WebhookReceiver(SECRET, fail_first={ids[1]: 1}) as receiver:
        committed, _ = _deliver(settings, receiver, ids, settle=1.0)
    assert committed == len(ids)
    assert receiver.bad_signatures == 0
    assert sorted(receiver.accepted_ids) == sorted(ids)  # exactly once each
    assert receiver.posted_ids == [ids[0], ids[1], ids[1], *ids[2:]]  # only #2 again


def test_a_slow_endpoint_pauses_its_partition_instead_of_stalling_the_consumer(
    kafka_bootstrap: str, topic_prefix: str
) -> None:
    settings = _settings(kafka_bootstrap, topic_prefix)
    ids = [str(uuid.uuid4()) for _ in range(3)]
    # each POST takes 2.5 s; a consumer must poll at least every 1.5 s, or it
    # leaves the group and the other worker's consumer takes the partition over and
    # delivers the uncommitted batch again
    with WebhookReceiver(SECRET, delay_seconds=2.5) as receiver:
        committed, took = _deliver(
            settings, receiver, ids, settle=4.0, workers=2,
            max_poll_interval_ms=1500, session_timeout_ms=6000, heartbeat_interval_ms=300,
        )
    print(f"slow endpoint: 3 POSTs of 2.5 s delivered and committed in {took:.1f} s")
    assert committed == len(ids)
    assert receiver.posted_ids == ids  # no redelivery, no duplicate POST
    assert receiver.posts == len(ids)
