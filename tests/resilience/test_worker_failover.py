"""The hub's worker on a three-broker cluster loses nothing when a broker dies.

Replication factor 3, ``min.insync.replicas=2``, producers with ``acks=all``
(the test's producer also idempotent). One broker is SIGKILLed while 3,000
messages (``TOTAL``) flow through the worker and started again; afterwards every message
is delivered (audit) and nothing is dead-lettered.

Delivery is at-least-once (decision 0004). The worker's producer is idempotent,
so a send retried after the kill is not written twice; but when the group
coordinator dies with the broker, the worker may replay the events it had not
committed yet, and their outputs appear again with the same nachrichtenUUID key.
The test counts such repeats and prints them; it does not bound them, because
on two loaded cores a stall can fence a member or move the coordinator more than
once, and each move may replay what was not committed.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest

from hub.core.region import Region
from hub.kafka.topic_admin import apply_topics
from hub.kafka.topics import TopicNames
from hub.settings import load_settings
from hub.testing.cluster import LocalCluster
from tests.worker.harness import WorkerProcess, drain, hub_env, identical_repeats
from tests.worker.test_resilience import fresh_copies, templates

pytestmark = [pytest.mark.kafka, pytest.mark.slow, pytest.mark.timeout(900)]

#: bounded so the suite stays within CI's budget on two cores with three brokers;
#: the producer-level test (test_broker_failover.py) runs the full 10,000
TOTAL = 3000


def test_worker_survives_a_broker_kill(
    three_broker_cluster: tuple[str, LocalCluster],
    topic_prefix: str,
    tmp_path: Path,
    capsys: Any,
) -> None:
    bootstrap, cluster = three_broker_cluster
    settings = load_settings(
        bootstrap_servers=bootstrap,
        topic_prefix=topic_prefix,
        consumer_group=f"{topic_prefix}hub",
        replication_factor=3,
    )
    apply_topics(settings, Region.load(settings.region_file))
    names = TopicNames(topic_prefix)
    sends, ids = fresh_copies(templates(settings), TOTAL)
    env = hub_env(bootstrap, topic_prefix, HUB_REPLICATION_FACTOR="3")
    worker = WorkerProcess(env, tmp_path / "worker.log").start()

    acked = 0

    def send_all() -> None:
        """An idempotent aiokafka producer (acks=all), as city systems should use."""
        import asyncio

        from aiokafka import AIOKafkaProducer

        async def run() -> None:
            nonlocal acked
            producer = AIOKafkaProducer(
                bootstrap_servers=bootstrap,
                acks="all",
                enable_idempotence=True,
                linger_ms=5,
                request_timeout_ms=10000,
            )
            await producer.start()
            try:
                futures = [await producer.send(t, v, key=k) for t, k, v in sends]
                for future in futures:
                    await future
                    acked += 1
            finally:
                await producer.stop()

        asyncio.run(run())

    started = time.monotonic()
    feeder = threading.Thread(target=send_all)
    feeder.start()
    try:
        progress = drain(bootstrap, [names.audit], total=TOTAL // 5, timeout=240, settle=0)
        assert progress.count(names.audit) >= TOTAL // 5, worker.log_text()[-3000:]
        victim = max(cluster.running_ids())
        killed_at = time.monotonic()
        cluster.kill(victim)
        time.sleep(5)
        cluster.start(victim)
        back_at = time.monotonic()
        feeder.join(timeout=300)
        assert acked == len(sends)
        every = {names.audit: [i.encode() for i in ids]}
        out = drain(bootstrap, [names.audit, names.deadletter], keys=every, timeout=300)
        finished = time.monotonic()
    finally:
        worker.stop()
    delivered = {k.decode() for k in out.keys(names.audit)}
    lost = set(ids) - delivered
    assert not lost, f"{len(lost)} messages lost"
    assert delivered == set(ids), "audit records for messages never sent"
    assert out.count(names.deadletter) == 0
    duplicates = out.count(names.audit) - len(delivered)
    # the idempotent producer: no output is written twice byte for byte
    assert identical_repeats(out.records[names.audit]) == 0
    with capsys.disabled():
        print(
            f"\nworker failover: {len(sends)} sent, {len(delivered)} delivered, "
            f"{duplicates} duplicate deliveries; broker {victim} killed at "
            f"{killed_at - started:.1f}s, back at {back_at - started:.1f}s, "
            f"all delivered at {finished - started:.1f}s"
        )
