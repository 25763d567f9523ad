"""The worker's producer is idempotent: a send retried after a broker failure is
discarded by the broker instead of written twice (see hub.app.IdempotentProducer)."""

from __future__ import annotations

import asyncio

import pytest

from hub.app import build_app
from hub.region import Region
from hub.settings import load_settings
from hub.topics import TopicNames
from hub.topology import apply_topics

pytestmark = pytest.mark.kafka


def test_worker_producer_is_idempotent(kafka_bootstrap: str, topic_prefix: str) -> None:
    settings = load_settings(bootstrap_servers=kafka_bootstrap, topic_prefix=topic_prefix)
    apply_topics(settings, Region.load(settings.region_file))

    async def run() -> int:
        app, _ = build_app(settings)
        producer = app.producer._new_producer()  # the aiokafka producer Faust starts
        await producer.start()
        try:
            await (await producer.send(TopicNames(topic_prefix).audit, b"v", key=b"k"))
            manager = producer._txn_manager
            assert manager is not None, "idempotence is off"
            return int(manager.producer_id)  # aiokafka refuses idempotence without acks=all
        finally:
            await producer.stop()

    assert asyncio.run(run()) >= 0, "the broker assigned no producer id"
