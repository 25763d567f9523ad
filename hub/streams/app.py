"""Builds the Faust app from the settings — and nothing else.

The app has three agents: ``ingest`` (see :mod:`hub.streams.ingest`), subscribed to
every authority's inbound topic, with the changelog-backed table ``dedupe``;
``mobility`` (:mod:`hub.streams.mobility`), which counts the moves ingest hands on
in the windowed table ``mobility`` and publishes k-anonymous statistics; and
``exchanges`` (:mod:`hub.streams.exchanges`), which keeps xdomea exchanges open in
the table ``exchanges`` until their answer arrives.
Delivery is at-least-once with idempotent effects: outputs are keyed by
nachrichtenUUID, and an inbound event is acked — its offset made committable —
only once the broker acknowledged all its outputs (``acks=all``; see
:mod:`hub.streams.ingest`).
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Awaitable, Callable, Mapping
from contextvars import ContextVar
from pathlib import Path
from typing import Any, TypeVar

import faust
from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread
from faust.transport.drivers.aiokafka import Consumer as AIOKafkaFaustConsumer
from faust.transport.drivers.aiokafka import Producer as AIOKafkaFaustProducer
from faust.types import ConsumerT, ProducerT

from hub.core.pipeline import Pipeline
from hub.core.region import Region
from hub.kafka.config import faust_credentials, max_request_bytes, schema_topic_bytes
from hub.kafka.topics import TopicNames, exchange_topic_name, moves_topic_name
from hub.ops.metrics import HubMetrics
from hub.settings import Settings
from hub.streams.exchanges import ExchangeFlow
from hub.streams.ingest import IngestFlow
from hub.streams.mobility import MobilityFlow
from hub.xdomea.exchanges import ExchangeConfig

log = logging.getLogger("hub.streams")


T = TypeVar("T")


def guarded(
    name: str, tick: Callable[[], Awaitable[T]]
) -> Callable[[], Awaitable[T | None]]:
    """``tick`` as a timer that never crashes the worker: Faust stops the whole app
    when a timer raises, so an error is logged (its type only: no document value)
    and the timer runs again at its next interval."""

    async def run() -> T | None:
        try:
            return await tick()
        except Exception as exc:
            log.error("timer failed; trying again at its next tick", extra={
                "event": "timer_failed", "code": "TIMER_FAILED", "stage": name,
                "reason": type(exc).__name__,
            }, exc_info=log.isEnabledFor(logging.DEBUG))
            return None

    run.__name__ = run.__qualname__ = name.replace(".", "_")
    return run


def broker_urls(settings: Settings) -> list[str]:
    return [f"kafka://{host.strip()}" for host in settings.bootstrap.split(",") if host.strip()]


def faust_data_dir(settings: Settings) -> Path:
    """A throw-away Faust folder, per user in the temp dir, for an app that is built
    but not run as a worker (tools, tests); a worker passes its state slot instead."""
    user = getattr(os, "getuid", lambda: "user")()
    parent = Path(tempfile.gettempdir()) / f"xoev-hub-faust-{user}"
    parent.mkdir(parents=True, exist_ok=True)  # Faust makes only the last level itself
    return parent / settings.consumer_group


#: Set while Faust commits offsets (per task): the producer flush is skipped then.
COMMITTING: ContextVar[bool] = ContextVar("xoev_hub_committing", default=False)


class IdempotentProducer(AIOKafkaFaustProducer):
    """Faust's aiokafka producer with ``enable.idempotence`` on.

    Faust turns idempotence on only in its exactly-once mode, which the hub does
    not use (decision 0004). Without it, a send retried after a broker failure can
    write an output twice; with it, the broker discards the retry by producer id
    and sequence number. The hub principal holds the IDEMPOTENT_WRITE ACL for this.
    """

    # Faust's own log lines keep a faust.* logger name: the hub's log guard renders
    # them (they name brokers, topics and offsets), unlike the hub.* lines
    logger = logging.getLogger("faust.transport.drivers.aiokafka.hub")

    def _settings_extra(self) -> Mapping[str, Any]:
        return {**super()._settings_extra(), "acks": "all", "enable_idempotence": True}

    async def flush(self) -> None:
        if COMMITTING.get():
            # Faust flushes the whole producer before each offset commit. The hub
            # hands Faust an offset only after the broker acknowledged every output
            # and table write of it and of every earlier event (hub.streams.ingest),
            # so that wait adds nothing but time: under a backlog the producer is
            # always busy and commits took 0.1-1 s, which a kill -9 replays. Only
            # Faust's own send-soon buffer is handed on.
            await self.buffer.flush()
            return
        await super().flush()


#: How long the broker may hold a fetch that finds no data. Faust fixes 1,500 ms.
#: aiokafka has one fetch per broker in flight; when the records of the busy
#: partitions wait unconsumed for more than its prefetch backoff (100 ms), it
#: fetches only the empty partitions (the other authorities' inbound topics, the
#: changelog), and the broker holds that fetch for the whole wait. The busy
#: partitions are then fetched once per 1.5 s: the drain was capped at ~4 MB/s
#: whatever the CPU (issue 17). At or below the prefetch backoff it is not.
FETCH_MAX_WAIT_MS = 100


class HubConsumerThread(AIOKafkaConsumerThread):
    """Faust's consumer thread with :data:`FETCH_MAX_WAIT_MS`."""

    def _create_worker_consumer(self, transport: Any) -> Any:
        consumer = super()._create_worker_consumer(transport)
        consumer._fetch_max_wait_ms = FETCH_MAX_WAIT_MS  # read when the fetcher starts
        return consumer


class HubConsumer(AIOKafkaFaustConsumer):
    def _new_consumer_thread(self) -> AIOKafkaConsumerThread:
        return HubConsumerThread(self, loop=self.loop, beacon=self.beacon)

    async def _commit_offsets(self, offsets: Any, start_new_transaction: bool = True) -> bool:
        token = COMMITTING.set(True)  # see IdempotentProducer.flush
        try:
            result: bool = await super()._commit_offsets(offsets, start_new_transaction)
            return result
        finally:
            COMMITTING.reset(token)


class HubApp(faust.App):
    """A Faust app with :class:`IdempotentProducer` and :class:`HubConsumer`."""

    logger = logging.getLogger("faust.app.hub")  # see IdempotentProducer.logger

    def _new_producer(self) -> ProducerT:
        return IdempotentProducer(self.transport, loop=self.loop, beacon=self.beacon)

    def _new_consumer(self) -> ConsumerT:
        return HubConsumer(
            self.transport,
            callback=self.topics.on_message,
            on_partitions_revoked=self._on_partitions_revoked,
            on_partitions_assigned=self._on_partitions_assigned,
            beacon=self.beacon,
            loop=self.loop,
        )


def build_app(
    settings: Settings,
    pipeline: Pipeline | None = None,
    metrics: HubMetrics | None = None,
    datadir: Path | None = None,
) -> tuple[faust.App, IngestFlow]:
    """The Faust app and its ingest flow (pipeline and metrics made if not given).

    ``datadir`` holds the tables' RocksDB state: a worker passes its locked state
    slot (:mod:`hub.streams.state`).
    """
    pipeline = pipeline or Pipeline.from_settings(settings)
    metrics = metrics or HubMetrics()
    region: Region = pipeline.region
    exchanges = ExchangeConfig.default()
    app = HubApp(
        settings.consumer_group,
        broker=broker_urls(settings),
        broker_credentials=faust_credentials(settings),
        # RocksDB (rocksdict): a restart recovers from the changelog only what the
        # local state lacks (decision 0006)
        store="rocksdb://",
        datadir=str(datadir or faust_data_dir(settings)),
        autodiscover=False,
        web_enabled=False,
        topic_partitions=settings.topic_partitions,
        topic_replication_factor=settings.replication_factor,
        topic_allow_declare=True,
        consumer_auto_offset_reset="earliest",
        processing_guarantee="at_least_once",
        producer_acks=-1,
        # outputs of a batch are appended in one synchronous pass, so they batch without
        # a linger; a linger would only add its own time to every message's latency
        producer_linger_ms=0,
        # A batch must fit the contract topics' max.message.bytes (the message limit
        # plus overhead, see hub.kafka.config): a larger batch is refused whole
        # (MessageSizeTooLarge) with every record in it, when the limit is < 256 KiB.
        # 1 MiB holds a few hundred XÖV messages (aiokafka's default 16 KiB holds one, and
        # then one request per broker is in flight: round trips, not capacity).
        producer_max_batch_size=min(1024 * 1024, max_request_bytes(settings)),
        # a single record may exceed the batch size: an Avro schema on xoev.schemas
        producer_max_request_size=schema_topic_bytes(settings),
        broker_commit_every=1000,
        broker_commit_interval=settings.commit_interval_ms / 1000,
        stream_buffer_maxsize=4096,
        # A crashed worker's partitions move after 10 s, not Faust's default 60 s.
        broker_session_timeout=10.0,
        broker_heartbeat_interval=2.0,
        broker_rebalance_timeout=30.0,
        stream_wait_empty=False,
        table_cleanup_interval=600.0,
    )
    flow = IngestFlow(
        app,
        pipeline,
        TopicNames(settings.topic_prefix),
        sorted(region.authorities),
        metrics=metrics,
        batch_max=settings.batch_max,
        batch_wait=settings.batch_wait_ms / 1000,
        dedupe_retention=settings.dedupe_retention_seconds,
        moves_topic=moves_topic_name(settings.consumer_group),
        exchanges=exchanges,
        exchange_topic=exchange_topic_name(settings.consumer_group),
    )
    app.agent(flow.inbound, name="hub.ingest")(flow.run)
    app.timer(flow.sweep_interval, name="hub.dedupe.sweep")(
        guarded("hub.dedupe.sweep", flow.sweep))
    # the mobility statistics: a separate agent on the moves the ingest flow hands on
    mobility = MobilityFlow(
        app, TopicNames(settings.topic_prefix), window=settings.stats_window_seconds,
        min_count=settings.stats_min_count, registry=metrics.registry,
    )
    app.agent(mobility.inbound, name="hub.mobility")(mobility.run)
    app.timer(mobility.tick, name="hub.mobility.close")(
        guarded("hub.mobility.close", mobility.close_windows))
    # xdomea exchanges tracked to their answer: a third agent on the records ingest
    # hands on for the codes of hub/config/exchanges.toml
    tracker = ExchangeFlow(app, exchanges, registry=metrics.registry)
    app.agent(tracker.inbound, name="hub.exchanges")(tracker.run)
    app.timer(tracker.tick, name="hub.exchanges.refresh")(
        guarded("hub.exchanges.refresh", tracker.refresh))
    return app, flow
