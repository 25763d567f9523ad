"""The exchanges agent: keeps every xdomea exchange open until its answer arrives.

Input: the internal topic ``<HUB_CONSUMER_GROUP>-exchange-messages`` (one partition).
The ingest flow writes one small record there per delivered message whose code
the exchange configuration lists (:class:`hub.xdomea.exchanges.ExchangeRecord`), as one
more output of that message: its inbound offset is committed only when that
record is acknowledged too (decision 0004). Every other message writes nothing.

State: the Faust table ``exchanges`` (RocksDB, changelog-backed, one partition,
changelog compacted): ``<ProzessID>|<requester key>|<responder key>`` → the
exchange as JSON (:class:`hub.xdomea.exchanges.Entry`: type, state open / closed /
unmatched, times, codes seen, subject). A record is applied
(:func:`hub.xdomea.exchanges.apply`, idempotent), its table writes go to the changelog,
and the record is acked only when the broker has acknowledged them, so a worker
killed at any point recovers every exchange it had acknowledged input for.

A timer sets ``xoev_hub_open_exchanges{type}`` and
``xoev_hub_oldest_open_exchange_age_seconds{type}`` from the table (on the worker
that owns its partition; 0 elsewhere), and forgets closed exchanges after
``keep_closed`` (a tombstone in the changelog).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable
from typing import Any

import faust
from faust.types import TP, StreamT
from prometheus_client import CollectorRegistry, Counter, Gauge

from hub.kafka.topics import exchange_topic_name
from hub.xdomea.exchanges import (
    OPEN,
    TABLE_NAME,
    Entry,
    ExchangeConfig,
    ExchangeRecord,
    apply,
    read_table,
    summarize,
)

log = logging.getLogger("hub.exchanges")


class ExchangeMetrics:
    def __init__(self, registry: CollectorRegistry | None) -> None:
        r = registry if registry is not None else CollectorRegistry()
        if "xoev_hub_open_exchanges" in getattr(r, "_names_to_collectors", {}):
            r = CollectorRegistry()  # a second app on the same registry (tools, tests)
        self.open = Gauge(
            "xoev_hub_open_exchanges",
            "xdomea exchanges waiting for their answer, by exchange type "
            "(hub/config/exchanges.toml).", ["type"], registry=r,
        )
        self.oldest = Gauge(
            "xoev_hub_oldest_open_exchange_age_seconds",
            "Seconds since the newest message of the oldest open exchange of the type "
            "(0 when none is open).", ["type"], registry=r,
        )
        self.deadline = Gauge(
            "xoev_hub_exchange_deadline_seconds",
            "The configured deadline of the exchange type: an open exchange older than "
            "this is overdue.", ["type"], registry=r,
        )
        self.messages = Counter(
            "xoev_hub_exchange_messages",
            "Messages of xdomea exchanges read by the exchanges agent, by type and role "
            "(opens, continues, closes).", ["type", "role"], registry=r,
        )
        self.unmatched = Counter(
            "xoev_hub_exchange_unmatched_answers",
            "Answers (continuing or closing messages) without an exchange: delivered, "
            "counted here.", ["type"], registry=r,
        )


class ExchangeFlow:
    """The agent body and the metrics timer, apart from Faust wiring."""

    def __init__(
        self,
        app: faust.App,
        config: ExchangeConfig,
        *,
        registry: CollectorRegistry | None = None,
        tick: float = 5.0,
        clock: Any = time.time,
    ) -> None:
        self.app = app
        self.config = config
        self.metrics = ExchangeMetrics(registry)
        self.tick = tick
        self.clock = clock
        for kind in config.types:
            self.metrics.deadline.labels(kind.type).set(kind.deadline)
            self.metrics.open.labels(kind.type).set(0)
            self.metrics.oldest.labels(kind.type).set(0)
            for role in ("opens", "continues", "closes"):
                self.metrics.messages.labels(kind.type, role)
            self.metrics.unmatched.labels(kind.type)
        self.topic_name = exchange_topic_name(app.conf.id)
        self.inbound = app.topic(
            self.topic_name, partitions=1, key_serializer="raw", value_serializer="raw",
        )
        self.tp = TP(self.topic_name, 0)
        self.table = app.Table(
            TABLE_NAME,
            default=None,
            key_type=bytes,
            value_type=bytes,
            partitions=1,
            help="xdomea exchanges by ProzessID|requester|responder (JSON)",
            # open exchanges must never expire: compacted only; closed ones are
            # tombstoned by the timer after keep_closed
            extra_topic_configs={"cleanup.policy": "compact"},
        )
        self.changelog: str = self.table.changelog_topic.get_topic_name()
        self.lock = asyncio.Lock()

    # -- the agent ----------------------------------------------------------------

    async def run(self, stream: StreamT[Any]) -> AsyncIterator[None]:
        take = stream.noack_take(200, within=0.05)  # type: ignore[attr-defined]
        async for events in take:
            async with self.lock:
                futures: list[Awaitable[Any]] = []
                for event in events:
                    futures.extend(await self.handle(event.value))
                written = -1
                for future in futures:
                    written = max(written, (await future).offset)
                if written >= 0:
                    self.persist(written)
            for event in events:
                await stream.ack(event)
            yield None

    async def handle(self, raw: Any) -> list[Awaitable[Any]]:
        """Apply one record; return the changelog writes to await."""
        try:
            record = ExchangeRecord.decode(raw)
        except Exception:  # written by the hub itself: never expected
            log.error("unreadable exchange record, skipped",
                      extra={"code": "EXCHANGE_BAD_RECORD"})
            return []
        data: Any = self.table.data
        kind, outcome = apply(record, self.config, data.get)
        if kind is None:
            return []
        role = kind.role(record.code) or "opens"
        self.metrics.messages.labels(kind.type, role).inc()
        if outcome.unmatched:
            self.metrics.unmatched.labels(kind.type).inc(outcome.unmatched)
            log.info("answer without a request", extra={
                "event": "exchange_unmatched", "message_id": record.process_id,
                "code": record.code,
            })
        futures: list[Awaitable[Any]] = []
        for key, entry in outcome.writes.items():
            value = entry.encode()
            self.put(key, value)
            futures.append(await self.send(key, value))
            if entry.state != OPEN:
                log.info("exchange closed" if entry.state == "closed" else "exchange noted",
                         extra={"event": f"exchange_{entry.state}",
                                "message_id": entry.process_id, "code": record.code})
        return futures

    # -- the timer ----------------------------------------------------------------

    def owns(self) -> bool:
        try:
            return self.tp in self.app.assignor.assigned_actives()
        except Exception:
            return False

    def entries(self) -> list[Entry]:
        data: Any = self.table.data
        return list(read_table(dict(data.items())))

    async def refresh(self) -> dict[str, tuple[int, float]]:
        """Set the gauges from the table; forget closed exchanges past keep_closed."""
        now_ms = int(self.clock() * 1000)
        if not self.owns():
            summary = {t.type: (0, 0.0) for t in self.config.types}
        else:
            async with self.lock:
                entries = self.entries()
                summary = summarize(entries, self.config, now_ms)
                horizon = now_ms - int(self.config.keep_closed * 1000)
                data: Any = self.table.data
                for entry in entries:
                    if entry.state != OPEN and (entry.closed_ms or entry.last_ms) < horizon:
                        data.pop(entry.key, None)
                        self.table.send_changelog(0, entry.key, None, key_serializer="raw",
                                                  value_serializer="raw")
        for name, (count, oldest) in summary.items():
            self.metrics.open.labels(name).set(count)
            self.metrics.oldest.labels(name).set(oldest)
        return summary

    # -- the store and the producer ------------------------------------------------

    def put(self, key: bytes, value: bytes) -> None:
        """Write to partition 0 of the local store (the table has one partition)."""
        store: Any = self.table.data
        if hasattr(store, "_db_for_partition"):  # RocksDB
            store._db_for_partition(0).put(key, value)
            store._key_index[key] = 0
        else:  # the memory store
            store[key] = value

    def persist(self, offset: int) -> None:
        store: Any = self.table.data
        store.set_persisted_offset(TP(self.changelog, 0), offset)

    async def send(self, key: bytes, value: bytes) -> asyncio.Future[Any]:
        future = await self.app.producer.send(self.changelog, key, value, 0, None, None)
        return asyncio.ensure_future(future)
