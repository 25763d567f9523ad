"""The worker's producer, against the real broker: idempotent (a send retried after
a broker failure is discarded instead of written twice, hub.streams.app.IdempotentProducer),
and a send it refuses at once is a failed delivery, never an exception that would
dead-letter a valid message (hub.streams.ingest.IngestFlow.send)."""

from __future__ import annotations

import asyncio

import pytest

from hub.core.region import Region
from hub.kafka.topic_admin import apply_topics
from hub.kafka.topics import TopicNames
from hub.settings import load_settings
from hub.streams.app import build_app

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


def test_a_send_refused_at_once_comes_back_as_a_failed_future(
    kafka_bootstrap: str, topic_prefix: str
) -> None:
    settings = load_settings(bootstrap_servers=kafka_bootstrap, topic_prefix=topic_prefix)
    apply_topics(settings, Region.load(settings.region_file))
    names = TopicNames(topic_prefix)

    async def run() -> tuple[BaseException | None, bool]:
        app, flow = build_app(settings)
        await app.producer.start()
        try:
            too_large = b"x" * (app.conf.producer_max_request_size + 1)
            refused = await flow.send(names.audit, b"k", too_large, [])  # must not raise
            error = await asyncio.gather(refused, return_exceptions=True)
            fine = await flow.send(names.audit, b"k", b"small", [])
            await fine
            return error[0] if isinstance(error[0], BaseException) else None, fine.done()
        finally:
            await app.producer.stop()

    error, later_send_ok = asyncio.run(run())
    assert error is not None and "MessageSizeTooLarge" in repr(error)
    assert later_send_ok
