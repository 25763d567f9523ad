"""The mobility agent: counts moves per tumbling window and publishes k-anonymous cells.

Input: the internal topic ``<HUB_CONSUMER_GROUP>-mobility-moves`` (one partition).
The ingest flow writes one record there per delivered XMeld message that records a
move (:func:`hub.stats.mobility.extract_moves`: cells and positions, no personal data),
as one more output of that message, with the inbound record's timestamp — so a
redelivered message lands in the same window again, and its offset is committed
only when that record is acknowledged too (decision 0004).

State: the Faust table ``mobility`` (RocksDB, changelog-backed, one partition):

* ``W|<window start ms>|<cell>`` + U+001F + ``<nachrichtenUUID>/<household>/<person>``
  → ``1``: one key per move counted in that cell and window, so a move costs one
  lookup and one small write whatever its cell holds; a key already there is a
  replay and is not counted again (at-least-once input, exactly-once counts,
  across restarts);
* ``P|closed`` → the end (ms) of the newest published window. A move of a window
  that ended at or before it is late: counted in ``xoev_hub_stats_moves_total
  {outcome="late"}`` and dropped; a published window is never re-opened.

Windows are Faust's :class:`~faust.windows.TumblingWindow` (``HUB_STATS_WINDOW``)
over the record timestamps. A timer closes a window once its end plus a grace
(half the window, at most 30 min) has passed in stream time, or in wall time when
the agent has read everything there is. Closing publishes the window
(:func:`hub.stats.mobility.anonymize`, ``HUB_STATS_MIN_COUNT``) to the compacted topic
``xoev.stats.mobility`` — the schema to ``xoev.schemas`` first — waits for the
acknowledgements, then records ``P|closed`` and deletes the window's cells. A crash
in between publishes the same window again with the same keys and counts, which
compaction folds. Faust's own window expiry (``on_window_close``) is not used: it
calls back per key, on wall time only, and forgets closed windows on a restart.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

import faust
from faust.types import TP, EventT, StreamT
from faust.windows import TumblingWindow
from prometheus_client import CollectorRegistry, Counter, Gauge

from hub.avro import dumps_schema
from hub.kafka.topics import TopicNames, moves_topic_name
from hub.stats.mobility import (
    MOBILITY_CODEC,
    MOBILITY_SCHEMA,
    Cell,
    anonymize,
    decode_moves,
    records,
)

log = logging.getLogger("hub.mobility")

CLOSED_KEY = b"P|closed"
#: a counted move: ``W|<window start ms>|<cell>`` + TOKEN_SEPARATOR + ``<message id>/<token>``
SEEN = b"1"
TOKEN_SEPARATOR = "\x1f"  # ASCII unit separator: in no cell text and no message id


def move_key(start_ms: int, cell_text: str, token: str) -> bytes:
    return f"W|{start_ms}|{cell_text}{TOKEN_SEPARATOR}{token}".encode()


def window_moves(
    prefix: bytes, items: Iterable[tuple[bytes, bytes | None]]
) -> Iterator[tuple[str, str]]:
    """(cell text, move token) of every move counted under ``prefix`` (one window).

    Reads both forms: one key per move, and the earlier form (one value per cell
    holding the window's tokens, one per line) that state written before may hold."""
    for key, value in items:
        if not key.startswith(prefix) or value is None:
            continue
        rest = key[len(prefix):].decode()
        if TOKEN_SEPARATOR in rest:
            cell_text, token = rest.split(TOKEN_SEPARATOR, 1)
            yield cell_text, token
        else:
            for token in value.decode().split("\n"):
                if token:
                    yield rest, token


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


class MobilityMetrics:
    def __init__(self, registry: CollectorRegistry | None) -> None:
        r = registry if registry is not None else CollectorRegistry()
        if r.get_sample_value("xoev_hub_stats_windows_published_total") is not None:
            r = CollectorRegistry()  # a second app on the same registry (tools, tests)
        self.moves = Counter(
            "xoev_hub_stats_moves",
            "Moves read by the mobility agent: outcome counted, duplicate (a replayed "
            "message) or late (its window was already published).",
            ["outcome"], registry=r,
        )
        self.windows = Counter(
            "xoev_hub_stats_windows_published",
            "Mobility windows published to xoev.stats.mobility.", registry=r,
        )
        self.cells = Counter(
            "xoev_hub_stats_published_moves",
            "Moves in published mobility windows, by level (cell, no_district, pair: "
            "published; suppressed: only in the suppressed total).", ["level"], registry=r,
        )
        self.last_end = Gauge(
            "xoev_hub_stats_last_window_end_seconds",
            "End (Unix time) of the newest published mobility window.", registry=r,
        )


class MobilityFlow:
    """The agent body, the closing timer and the table, apart from Faust wiring."""

    def __init__(
        self,
        app: faust.App,
        names: TopicNames,
        *,
        window: float,
        min_count: int,
        registry: CollectorRegistry | None = None,
        retention: float = 30 * 86400,
    ) -> None:
        self.app = app
        self.names = names
        self.size_ms = int(window * 1000)
        self.window = TumblingWindow(window)
        self.grace_ms = int(min(window / 2, 1800.0) * 1000)
        self.tick = min(max(window / 10, 0.5), 30.0)
        self.min_count = min_count
        self.metrics = MobilityMetrics(registry)
        self.topic_name = moves_topic_name(app.conf.id)
        # the moves must outlive their window until it is published
        keep_ms = str(int(max(retention, 3 * window) * 1000))
        self.inbound = app.topic(
            self.topic_name, partitions=1, key_serializer="raw", value_serializer="raw",
            retention=max(retention, 3 * window), config={"retention.ms": keep_ms},
        )
        self.tp = TP(self.topic_name, 0)
        self.table = app.Table(
            "mobility",
            default=None,
            key_type=bytes,
            value_type=bytes,
            partitions=1,
            help="moves per tumbling window and cell (tokens), and the newest published window",
            extra_topic_configs={"cleanup.policy": "compact,delete", "retention.ms": keep_ms},
        )
        self.changelog: str = self.table.changelog_topic.get_topic_name()
        self.schema_sent = False
        self.stream_time_ms = 0  # newest record timestamp read
        self.next_offset: int | None = None  # after the newest move record processed
        self.started = time.monotonic()
        self.lock = asyncio.Lock()
        self._open: set[int] | None = None  # see open_windows

    # -- the agent ------------------------------------------------------------------

    async def run(self, stream: StreamT[Any]) -> AsyncIterator[None]:
        take = stream.noack_take(200, within=0.05)  # type: ignore[attr-defined]
        async for events in take:
            async with self.lock:  # no window closes between a count and its ack
                futures: list[Awaitable[Any]] = []
                for event in events:
                    futures.extend(await self.count(event))
                written = -1
                for future in futures:
                    metadata = await future
                    written = max(written, metadata.offset)
                if written >= 0:
                    self.persist(written)
            for event in events:
                await stream.ack(event)
                self.next_offset = event.message.offset + 1
            yield None

    async def count(self, event: EventT[Any]) -> list[Awaitable[Any]]:
        """Count one message's moves; return the changelog writes to await.

        Each move is one small key of its own (window, cell, message id and the
        move's token), so counting costs one lookup and one write per move however
        many moves its cell already holds, and a move seen again finds its key."""
        try:
            message_id, moves = decode_moves(event.value)
        except Exception:  # written by the hub itself: never expected
            log.error("unreadable move record, skipped", extra={"code": "MOBILITY_BAD_RECORD"})
            return []
        timestamp_ms = int(event.message.timestamp * 1000)
        self.stream_time_ms = max(self.stream_time_ms, timestamp_ms)
        start_ms = int(self.window.current(timestamp_ms / 1000)[0] * 1000)
        data: Any = self.table.data
        if start_ms + self.size_ms <= int(data.get(CLOSED_KEY) or b"0"):
            self.metrics.moves.labels("late").inc(len(moves))
            return []
        futures: list[Awaitable[Any]] = []
        counted = duplicates = 0
        for move in moves:
            key = move_key(start_ms, move.cell.text(), f"{message_id}/{move.token}")
            if data.get(key) is not None:
                duplicates += 1
                continue
            self.put(key, SEEN)
            futures.append(await self.send(self.changelog, key, SEEN, 0))
            counted += 1
        if counted:
            self.metrics.moves.labels("counted").inc(counted)
            self.open_windows().add(start_ms)
        if duplicates:
            self.metrics.moves.labels("duplicate").inc(duplicates)
        return futures

    def open_windows(self) -> set[int]:
        """Starts of the windows that hold moves: read from the store once (after
        recovery), then kept as moves are counted and windows published."""
        if self._open is None:
            data: Any = self.table.data
            self._open = {int(k.split(b"|")[1]) for k in list(data.keys())
                          if k.startswith(b"W|")}
        return self._open

    # -- closing windows ------------------------------------------------------------

    def owns(self) -> bool:
        try:
            return self.tp in self.app.assignor.assigned_actives()
        except Exception:
            return False

    async def caught_up(self) -> bool:
        consumer: Any = self.app.consumer
        highwater = consumer.highwater(self.tp)
        if highwater is None:
            return False
        position = self.next_offset
        if position is None:
            if time.monotonic() - self.started < 3 * self.tick:
                return False  # just started: let the agent read what there is
            position = await consumer.position(self.tp)
        return position is not None and position >= highwater

    async def close_windows(self) -> int:
        """Publish every window that is due; return how many were published."""
        if not self.owns():
            return 0
        published = 0
        async with self.lock:
            for start in sorted(self.open_windows()):
                due = start + self.size_ms + self.grace_ms
                late_enough = self.stream_time_ms >= due or (
                    time.time() * 1000 >= due and await self.caught_up()
                )
                if not late_enough:
                    break
                await self.publish(start)
                published += 1
        return published

    def window_cells(self, start: int) -> dict[Cell, dict[str, int]]:
        """The window's moves per finest cell, counted per household token."""
        data: Any = self.table.data
        cells: dict[Cell, dict[str, int]] = {}
        for cell_text, token in window_moves(b"W|%d|" % start, list(data.items())):
            message_id, household, _person = token.rsplit("/", 2)
            households = cells.setdefault(Cell.parse(cell_text), defaultdict(int))
            households[f"{message_id}/{household}"] += 1
        return {cell: dict(households) for cell, households in cells.items()}

    async def publish(self, start: int) -> None:
        end = start + self.size_ms
        result = anonymize(self.window_cells(start), self.min_count)
        futures: list[Awaitable[Any]] = []
        if not self.schema_sent:
            schema = dumps_schema(MOBILITY_SCHEMA).encode()
            key = MOBILITY_CODEC.fingerprint.hex().encode()
            futures.append(await self.send(self.names.schemas, key, schema, None))
        for key, record in records(result, iso(start), iso(end), self.min_count):
            futures.append(await self.send(
                self.names.stats_mobility, key, MOBILITY_CODEC.encode(record), None
            ))
        for future in futures:
            await future  # a refusal raises: the window stays open, the timer retries
        self.schema_sent = True
        data: Any = self.table.data
        self.put(CLOSED_KEY, str(end).encode())
        closed = await self.send(self.changelog, CLOSED_KEY, str(end).encode(), 0)
        self.persist((await closed).offset)
        prefix = b"W|%d|" % start
        for key in [k for k in list(data.keys()) if k.startswith(prefix)]:
            data.pop(key, None)
            self.table.send_changelog(0, key, None, key_serializer="raw", value_serializer="raw")
        self.open_windows().discard(start)
        for (level, _cell), count in result.cells.items():
            self.metrics.cells.labels(level).inc(count)
        self.metrics.cells.labels("suppressed").inc(result.suppressed)
        self.metrics.windows.inc()
        self.metrics.last_end.set(end / 1000)
        log.info("mobility window published", extra={
            "event": "mobility_published", "window_start": iso(start),
            "count": result.seen, "suppressed": result.suppressed,
        })

    # -- the producer ---------------------------------------------------------------

    def put(self, key: bytes, value: bytes) -> None:
        """Write to partition 0 of the local store. Faust's RocksDB store takes the
        partition from the current event, which a timer does not have."""
        store: Any = self.table.data
        if hasattr(store, "_db_for_partition"):  # RocksDB
            store._db_for_partition(0).put(key, value)
            store._key_index[key] = 0
        else:  # the memory store (no partitions)
            store[key] = value

    def persist(self, offset: int) -> None:
        """Keep the changelog offset in the local store, as Faust does for its writes."""
        store: Any = self.table.data
        store.set_persisted_offset(TP(self.changelog, 0), offset)

    async def send(
        self, topic: str, key: bytes, value: bytes, partition: int | None
    ) -> asyncio.Future[Any]:
        future = await self.app.producer.send(topic, key, value, partition, None, None)
        return asyncio.ensure_future(future)
