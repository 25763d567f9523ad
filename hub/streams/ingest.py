"""The ingest flow: every inbound XÖV message is delivered, dead-lettered or counted
as a duplicate — nothing else.

The agent takes events in batches (``noack_take``: up to ``HUB_BATCH_MAX`` events,
or what arrived within ``HUB_BATCH_WAIT_MS``) and runs each event of a batch
through a tight, synchronous loop:

1. ``Pipeline.inspect``: parse (hardened) → identify → validate (XSD) → read the
   header → the author key must belong to the authority of the inbound topic.
2. Deduplicate on (author DVDV key, nachrichtenUUID) in the changelog-backed table
   ``dedupe`` (:mod:`hub.streams.dedupe`): a replay of the same record is delivered
   again, the same payload again is a counted duplicate, a different payload under
   a remembered id is dead-lettered as ``DUPLICATE_ID_CONFLICT``.
3. ``Pipeline.finish``: route (a misaddressed message is not converted) → convert
   to the Avro event.
4. Outputs: the original bytes to ``xoev.out.<reader>.xml``, the event to
   ``xoev.out.<reader>.avro`` (and the bytes to ``xoev.out.external`` for readers
   outside the region), one audit record to ``xoev.audit``. The first event of each
   Avro schema in this process also writes the schema to ``xoev.schemas``.
   An XMeld message that records a move (0201, 0202, 0090) also writes one record
   of its moves (cells only) to the mobility agent's internal topic
   (:mod:`hub.streams.mobility`). A message whose code the exchange configuration
   lists (xdomea requests and answers) writes one small record to the exchanges
   agent's internal topic (:mod:`hub.streams.exchanges`); other messages nothing.

Any failure sends the original bytes to ``xoev.deadletter`` with stage, code,
detail and the source coordinates; no message ever stops the agent.

Delivery guarantee (at-least-once, idempotent by key = nachrichtenUUID; decision
0004): every output of the batch is handed to the app's producer without awaiting
its acknowledgement (aiokafka batches them, ``acks=all``, idempotent). When the
broker has acknowledged all of them, the batch is settled in one step. Events are
acked to Faust only through :class:`hub.streams.sequencer.AckSequencer`, strictly
in offset order per partition, because faust-streaming 0.15.3 commits past a hole
in the acked offsets. An output the producer could not deliver stops the worker;
its event and every later event of its partition stay unacked, so the next worker
delivers them again.
"""

from __future__ import annotations

import asyncio
import logging
import re
import secrets
import time
import weakref
from collections.abc import AsyncIterator, Awaitable, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from time import perf_counter
from typing import Any

import faust
from faust.streams import _current_event  # the context Faust tables read (see _in_event)
from faust.types import TP, EventT, StreamT

from hub.avro import dumps_schema
from hub.avro.audit import AUDIT_CODEC
from hub.core.pipeline import Accepted, Inspected, Pipeline, classify
from hub.core.routing import EXTERNAL
from hub.errors import DuplicateIdConflict, MessageError
from hub.kafka.headers import (
    H_AUTHOR,
    H_MESSAGE_ID,
    H_MESSAGE_TYPE,
    H_READER,
    H_STANDARD,
    H_TRACEPARENT,
    H_VERSION,
    dead_letter_headers,
    dead_letter_key,
    filing_headers,
)
from hub.kafka.topics import TopicNames
from hub.ops.metrics import HubMetrics
from hub.stats.mobility import MOVE_CODES, encode_moves, extract_moves
from hub.streams.dedupe import Dedupe, Verdict, dedupe_key
from hub.streams.sequencer import AckSequencer, Ticket
from hub.xdomea.containers import claim_headers
from hub.xdomea.exchanges import ExchangeConfig, ExchangeRecord, ExchangeType, Role

log = logging.getLogger("hub.ingest")

Headers = list[tuple[str, bytes]]
#: W3C Trace Context ``traceparent``: version-trace id-parent id-flags, lower-case hex
_TRACEPARENT = re.compile(
    rb"(?P<version>[0-9a-f]{2})-(?P<trace>[0-9a-f]{32})-(?P<parent>[0-9a-f]{16})-[0-9a-f]{2}"
)


@dataclass(frozen=True)
class Trace:
    """W3C trace context: keep the caller's trace id, start a new span."""

    trace_id: str
    parent: str

    @classmethod
    def from_headers(cls, headers: Mapping[str, bytes]) -> Trace:
        """The sender's trace if its ``traceparent`` has the W3C form (lower-case hex,
        ids not all zero); otherwise a new trace (the value reaches audit records)."""
        match = _TRACEPARENT.fullmatch(headers.get(H_TRACEPARENT, b""))
        if match and match["trace"].strip(b"0") and match["parent"].strip(b"0"):
            return cls(trace_id=match["trace"].decode(), parent=match["parent"].decode())
        return cls(trace_id=secrets.token_hex(16), parent="")

    def child(self) -> str:
        return f"00-{self.trace_id}-{secrets.token_hex(8)}-01"


def header_map(headers: Any) -> dict[str, bytes]:
    """Faust hands headers over as a mapping or a list of pairs."""
    if not headers:
        return {}
    if isinstance(headers, Mapping):
        return {str(k): bytes(v or b"") for k, v in headers.items()}
    return {str(k): bytes(v or b"") for k, v in headers}


def partition_of(raw: bytes | None) -> int | None:
    """The source partition named in a table value (``…|topic:partition:offset|…``)."""
    for part in (raw or b"").split(b"|"):
        pieces = part.rsplit(b":", 2)
        if len(pieces) == 3 and pieces[1].isdigit() and pieces[2].isdigit():
            return int(pieces[1])
    return None


#: how far a sender's record timestamp may lie ahead of this worker's clock
MAX_CLOCK_SKEW = 60.0


def record_time(timestamp: float | None, now: float | None = None) -> float:
    """The inbound record's timestamp (seconds) for the statistics and exchange
    records, never later than now plus MAX_CLOCK_SKEW: the sender sets it
    (CreateTime), and one far in the future would close every mobility window early
    and age every open exchange wrongly."""
    clock = time.time() if now is None else now
    if not timestamp or timestamp <= 0:
        return clock
    return min(timestamp, clock + MAX_CLOCK_SKEW)


@dataclass(frozen=True)
class Output:
    """One record to produce."""

    topic: str
    key: bytes
    value: bytes
    headers: Headers
    partition: int | None = None
    timestamp: float | None = None  # seconds; None: the producer's clock


@dataclass
class Batch:
    """The events of one take and the producer futures of all their outputs."""

    tickets: list[Ticket[EventT[Any]]] = field(default_factory=list)
    futures: list[tuple[asyncio.Future[Any], EventT[Any]]] = field(default_factory=list)


class IngestFlow:
    """The agent body, separated from Faust wiring so it reads top to bottom."""

    def __init__(
        self,
        app: faust.App,
        pipeline: Pipeline,
        names: TopicNames,
        authority_ids: Sequence[str],
        metrics: HubMetrics,
        *,
        batch_max: int = 500,
        batch_wait: float = 0.002,
        dedupe_retention: float = 30 * 86400,
        max_in_flight: int = 1000,
        moves_topic: str | None = None,
        exchanges: ExchangeConfig | None = None,
        exchange_topic: str | None = None,
    ) -> None:
        self.app = app
        self.pipeline = pipeline
        self.names = names
        self.metrics = metrics
        self.batch_max = batch_max
        self.batch_wait = batch_wait
        self.max_in_flight = max_in_flight
        self.partitions: int = app.conf.topic_partitions
        self.tasks: set[asyncio.Future[Any]] = set()  # acks and crash reports in flight
        self.crashing = False  # an output failed: the worker is being stopped
        self.sequencer: AckSequencer[EventT[Any]] = AckSequencer()
        self.room = asyncio.Event()  # set while fewer than max_in_flight are unsettled
        self.room.set()
        raw: dict[str, Any] = {"key_serializer": "raw", "value_serializer": "raw"}
        self.inbound = app.topic(*[names.inbound(a) for a in authority_ids], **raw)
        # outputs go to the producer directly (see ``send``): topic names suffice
        self.out_xml = {a: names.out_xml(a) for a in authority_ids}
        self.out_avro = {a: names.out_avro(a) for a in authority_ids}
        self.schemas_sent: set[bytes] = set()  # fingerprints published by this process
        #: internal topic of the mobility agent (hub.streams.mobility); None: no statistics
        self.moves_topic = moves_topic
        #: internal topic of the exchanges agent (hub.streams.exchanges) and the codes
        #: it tracks, per standard: one dict lookup per message, empty for g2g standards
        self.exchange_topic = exchange_topic
        self.exchange_codes: dict[str, dict[str, tuple[ExchangeType, Role]]] = (
            exchanges.codes if exchanges is not None and exchange_topic else {}
        )
        self.table = app.Table(
            "dedupe",
            default=None,
            key_type=bytes,
            value_type=bytes,
            partitions=app.conf.topic_partitions,
            help="(author, nachrichtenUUID) already delivered: sha256|topic:partition:offset|t",
            # RocksDB per partition: Faust's defaults (64 MiB write buffers, 2 GiB
            # block cache) are sized for big tables; ids are ~150 bytes each
            options={
                "write_buffer_size": 8 * 1024 * 1024,
                "max_write_buffer_number": 2,
                "block_cache_size": 32 * 1024 * 1024,
            },
            # the changelog forgets what the hub forgets (compacted, and deleted
            # after the retention window), so a new slot replays at most that much
            extra_topic_configs={
                "cleanup.policy": "compact,delete",
                "retention.ms": str(int(dedupe_retention * 1000)),
            },
        )
        self.dedupe = Dedupe(self.table, dedupe_retention, time.time)
        self.changelog: str = self.table.changelog_topic.get_topic_name()
        self.persisted: dict[TP, int] = {}  # newest changelog offset kept per partition
        #: how often expired ids are dropped from memory and the changelog
        self.sweep_interval = min(max(dedupe_retention / 10, 1.0), 600.0)

    # -- the agent ----------------------------------------------------------------

    async def run(self, stream: StreamT[Any]) -> AsyncIterator[None]:
        """Take batches, process each in one pass, settle it when its outputs are acked."""
        take = stream.noack_take(self.batch_max, within=self.batch_wait)  # type: ignore[attr-defined]
        async for events in take:
            await self.room.wait()  # flow control: bounded unsettled events
            batch = Batch()
            for event in events:
                batch.tickets.append(
                    self.sequencer.track(event.message.tp, event.message.offset, event)
                )
                outputs = self.process(event)
                handing = perf_counter()
                for output in outputs:
                    batch.futures.append((await self.send_output(output), event))
                self.metrics.observe_stage("deliver", perf_counter() - handing)
            self.settle_when_sent(stream, batch)
            yield None

    def process(self, event: EventT[Any]) -> list[Output]:
        """The outputs of one event: its deliveries, a dead letter, or none (duplicate)."""
        token = _current_event.set(weakref.ref(event))  # table writes use its partition
        try:
            return self.handle(event)
        except Exception as exc:  # the agent must survive anything
            # the exception text may quote message content: log its type only
            log.error(
                "unexpected error, dead-lettering",
                extra={"code": "INTERNAL_ERROR", "reason": type(exc).__name__},
            )
            return self.dead_letter(event, exc)
        finally:
            _current_event.reset(token)

    def settle_when_sent(self, stream: StreamT[Any], batch: Batch) -> None:
        """Ack the batch's events (in offset order) once all its outputs are acknowledged."""
        if self.sequencer.pending >= self.max_in_flight:
            self.room.clear()
        if not batch.futures:
            self.settle(stream, batch)
            return
        # one task per batch that awaits the futures in turn: a few wake-ups per
        # produce request instead of a callback per record
        self.spawn(self.settle_after_acks(stream, batch))

    async def settle_after_acks(self, stream: StreamT[Any], batch: Batch) -> None:
        written: dict[TP, int] = {}
        for future, _event in batch.futures:
            try:
                metadata = await asyncio.shield(future)
            except asyncio.CancelledError:
                if not future.cancelled():
                    raise  # this task was cancelled (shutdown): nothing is acked
                self.delivery_failed(batch, future)
                return
            except Exception:
                self.delivery_failed(batch, future)
                return
            if metadata.topic == self.changelog:
                tp = TP(metadata.topic, metadata.partition)
                written[tp] = max(written.get(tp, -1), metadata.offset)
        # Keep the changelog offsets in the local store, as Faust does for its own
        # table writes: a restart then reads the changelog from there on, not from 0.
        # Batches may finish out of order: an offset only ever moves forward.
        store: Any = self.table.data  # a Faust StoreT (typed as a mapping)
        for tp, offset in written.items():
            if offset > self.persisted.get(tp, -1):
                self.persisted[tp] = offset
                store.set_persisted_offset(tp, offset)
        self.settle(stream, batch)

    def settle(self, stream: StreamT[Any], batch: Batch) -> None:
        released: list[EventT[Any]] = []
        for ticket in batch.tickets:
            released.extend(self.sequencer.settle(ticket))
            message = ticket.item.message
            self.metrics.pending_end((message.topic, message.partition, message.offset))
        if released:
            self.spawn(self.ack_all(stream, released))
        if self.sequencer.pending < self.max_in_flight:
            self.room.set()

    @staticmethod
    async def ack_all(stream: StreamT[Any], events: list[EventT[Any]]) -> None:
        for event in events:
            await stream.ack(event)

    def delivery_failed(self, batch: Batch, done: asyncio.Future[Any]) -> None:
        reason = "cancelled" if done.cancelled() else type(done.exception()).__name__
        message = next(e for f, e in batch.futures if f is done).message
        # hub log lines are not %-formatted (privacy guard): the reason is a field
        log.error(
            "an output was not acknowledged; stopping, the message stays unacked",
            extra={
                "code": "DELIVERY_FAILED",
                "reason": reason,
                "offset": f"{message.topic}:{message.partition}:{message.offset}",
            },
        )
        if not self.crashing:
            self.crashing = True
            failure = RuntimeError(f"an output was not acknowledged: {reason}")
            self.spawn(self.app.crash(failure))

    def spawn(self, work: Coroutine[Any, Any, Any]) -> None:
        """Run ``work`` as a task that is referenced until it ends."""
        task = asyncio.ensure_future(work)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def sweep(self) -> int:
        """Forget ids past the retention window: locally, and with a tombstone in the
        changelog for the partitions this worker owns. Returns how many were dropped."""
        data = self.table.data
        owned = {tp.partition for tp in self.app.assignor.assigned_actives()}
        expired = self.dedupe.expired(data.items())  # streams the store; keys only kept
        for n, key in enumerate(expired, 1):
            partition = partition_of(data.get(key))
            data.pop(key, None)
            if partition in owned:
                self.table.send_changelog(partition, key, None, value_serializer="raw")
            if n % 5000 == 0:
                await asyncio.sleep(0)  # keep the loop responsive on a large sweep
        if expired:
            log.info("dedupe sweep", extra={"event": "dedupe_sweep", "count": len(expired)})
        return len(expired)

    # -- one event ----------------------------------------------------------------

    def handle(self, event: EventT[Any]) -> list[Output]:
        """Process one inbound event; return its outputs (none for a duplicate)."""
        message = event.message
        raw: bytes = event.value if isinstance(event.value, bytes) else b""
        source = self.names.authority_of_inbound(message.topic) or "unknown"
        started = perf_counter()
        self.metrics.observe_received(source, len(raw))
        if message.timestamp:
            self.metrics.observe_consumed(message.topic, message.timestamp)
        try:
            inspected = self.pipeline.inspect(raw, source)
            # a hand-over container's claim check must name the sender's own blob
            claim_headers(header_map(event.headers), source)
        except MessageError as exc:
            return self.dead_letter(event, exc)
        header = inspected.header
        here = f"{message.topic}:{message.partition}:{message.offset}"
        # nachrichtenUUID; for a header whose id names a process (xdomea ProzessID)
        # the id plus the message type (Inspected.dedupe_id)
        key = dedupe_key(header.author_key, inspected.dedupe_id)
        sha256 = inspected.sha256  # the audit record uses the same digest
        verdict, _entry = self.dedupe.check(key, sha256, here)
        if verdict is Verdict.DUPLICATE:
            self.metrics.observe_duplicate(source)
            log.debug(
                "duplicate",
                extra={"event": "duplicate", "message_id": header.message_id, "source": source},
            )
            return []
        if verdict is Verdict.CONFLICT:
            return self.dead_letter(event, DuplicateIdConflict(
                f"message id {inspected.dedupe_id} of {header.author_key} was delivered "
                "before with another payload"
            ))
        trace = Trace.from_headers(header_map(event.headers))
        try:
            accepted = self.pipeline.finish(inspected, trace_id=trace.trace_id)
        except MessageError as exc:
            return self.dead_letter(event, exc)
        outputs = self.outputs(event, accepted, trace)
        if verdict is Verdict.NEW:
            # The entry goes to the local store and, like an output, to the table's
            # changelog (on the source partition): it settles with the outputs, so an
            # offset is committed only when the broker has the entry too. (Faust's
            # own table writes go through its send-soon buffer, which every offset
            # commit flushes behind the outputs: 0.2-0.9 s per commit under load.)
            value = self.dedupe.entry(sha256, here)
            self.table.data[key] = value
            outputs.append(Output(self.changelog, key, value, [], message.partition))
        self.observe(inspected, accepted, started, replay=verdict is Verdict.REPLAY)
        # a Rückmeldung is pending (its age a gauge) until its outputs are acknowledged
        self.metrics.pending_begin(
            (message.topic, message.partition, message.offset),
            standard=inspected.package.standard, message_type=inspected.message.code,
            created=header.created,
        )
        return outputs

    def observe(
        self, inspected: Inspected, accepted: Accepted, started: float, *, replay: bool
    ) -> None:
        for stage, seconds in accepted.timings.items():
            self.metrics.observe_stage(stage, seconds)
        self.metrics.observe_stage("total", perf_counter() - started)
        destinations = list(accepted.route.recipients)
        if accepted.route.external:
            destinations.append(EXTERNAL)
        self.metrics.observe_delivery(
            source=inspected.source,
            destinations=destinations,
            standard=inspected.package.standard,
            message_type=inspected.message.code,
            created=inspected.header.created,
        )
        if accepted.filing is None:
            self.metrics.observe_unfiled(
                standard=inspected.package.standard, message_type=inspected.message.code
            )
        if log.isEnabledFor(logging.DEBUG):
            log.debug(
                "redelivered" if replay else "delivered",
                extra={
                    "event": "delivered",
                    "message_id": inspected.header.message_id,
                    "source": inspected.source,
                    "destination": ",".join(destinations),
                    "code": inspected.message.code,
                },
            )

    def outputs(self, event: EventT[Any], accepted: Accepted, trace: Trace) -> list[Output]:
        inspected = accepted.inspected
        header = inspected.header
        key = header.message_id.encode()
        base: Headers = [
            (H_MESSAGE_ID, key),
            (H_STANDARD, inspected.package.standard.encode()),
            (H_VERSION, inspected.package.version.encode()),
            (H_MESSAGE_TYPE, inspected.message.code.encode()),
            (H_AUTHOR, header.author_key.encode()),
            (H_READER, ",".join(header.reader_keys).encode()),
            (H_TRACEPARENT, trace.child().encode()),
            # the claim check of a hand-over container, passed on (checked in handle)
            *claim_headers(header_map(event.headers), inspected.source),
        ]
        filing = accepted.filing
        if filing is not None:  # the file-plan unit and retention, encoded once per type
            base += filing_headers(filing)
        # Same partition as the source: everything a city sent on one partition (for
        # one key) reaches each recipient in the order sent. All contract topics
        # have the same partition count (topics apply); otherwise the key decides.
        message = event.message
        partition = message.partition if message.partition < self.partitions else None
        out: list[Output] = []
        fingerprint = accepted.plan.fingerprint
        route = accepted.route
        # recipients of a kind limited to projections get their projection only
        plain = route.recipients if not route.projected else tuple(
            r for r in route.recipients if r not in route.projected
        )
        if plain and fingerprint not in self.schemas_sent:
            # the event's schema, keyed by fingerprint, with the first event using it
            # (the offset is committed only when this record is acknowledged too)
            self.schemas_sent.add(fingerprint)
            schema = dumps_schema(accepted.plan.schema).encode()
            out.append(Output(self.names.schemas, fingerprint.hex().encode(), schema, []))
        for recipient in plain:
            out.append(Output(self.out_xml[recipient], key, inspected.raw, base, partition))
            out.append(Output(self.out_avro[recipient], key, accepted.event, base, partition))
        for recipient, projection, value in accepted.projections:
            if projection.fingerprint not in self.schemas_sent:
                self.schemas_sent.add(projection.fingerprint)
                schema = dumps_schema(projection.schema).encode()
                out.append(Output(
                    self.names.schemas, projection.fingerprint.hex().encode(), schema, []
                ))
            out.append(Output(self.out_avro[recipient], key, value, base, partition))
        if accepted.route.external:
            out.append(Output(self.names.external, key, inspected.raw, base, partition))
        record = {
            "message_id": header.message_id,
            "standard": inspected.package.standard,
            "version": inspected.package.version,
            "message_type_code": inspected.message.code,
            "source_authority": inspected.source,
            "author_key": header.author_key,
            "reader_keys": list(header.reader_keys),
            "recipients": list(accepted.route.recipients),
            "external": accepted.route.external,
            "created": header.created,
            "received": accepted.received,
            "payload_sha256": accepted.sha256,
            "payload_bytes": len(inspected.raw),
            "source_topic": message.topic,
            "source_partition": message.partition,
            "source_offset": message.offset,
            "trace_id": trace.trace_id,
            "file_plan_unit": filing.unit if filing is not None else None,
            "retention_years": filing.retention_years if filing is not None else None,
            "projected_recipients": list(route.projected),
            "legal_bases": [{"rule": rule, "text": text} for rule, text in route.legal_bases],
        }
        out.append(Output(self.names.audit, key, AUDIT_CODEC.encode(record), base))
        if (
            self.moves_topic is not None
            and inspected.message.code in MOVE_CODES
            and inspected.package.standard == "XMeld"
        ):
            moves = self.moves(inspected, record_time(message.timestamp))
            if moves is not None:
                out.append(moves)
        tracked = self.exchange_codes.get(inspected.package.standard)
        if tracked and inspected.message.code in tracked:
            out.append(self.exchange(inspected, tracked[inspected.message.code],
                                     record_time(message.timestamp)))
        return out

    def exchange(self, inspected: Inspected, found: tuple[ExchangeType, Role],
                 timestamp: float | None) -> Output:
        """The exchanges agent's record of one message (hub.xdomea.exchanges): ids, code,
        party keys, the inbound record's time, and the configured subject of a request."""
        header = inspected.header
        kind, role = found
        record = ExchangeRecord(
            process_id=header.message_id,
            standard=inspected.package.standard,
            code=inspected.message.code,
            author=header.author_key,
            readers=tuple(header.reader_keys),
            time_ms=int((timestamp or time.time()) * 1000),
            subject=kind.read_subject(inspected.root) if role == "opens" else None,
        )
        assert self.exchange_topic is not None
        return Output(self.exchange_topic, header.message_id.encode(), record.encode(), [], 0,
                      timestamp or None)

    def moves(self, inspected: Inspected, timestamp: float | None) -> Output | None:
        """The message's moves for the mobility statistics (hub.stats.mobility): one record,
        cells only, with the inbound record's timestamp (its window, also when the
        message is delivered again)."""
        header = inspected.header
        try:
            moves = extract_moves(
                inspected.root, inspected.message.code, author_key=header.author_key,
                reader_keys=header.reader_keys, created=header.created,
            )
        except Exception as exc:  # statistics never stop a delivery
            log.warning("moves not extracted", extra={
                "code": "MOBILITY_EXTRACT_FAILED", "reason": type(exc).__name__,
                "message_id": header.message_id,
            })
            return None
        if not moves or self.moves_topic is None:
            return None
        value = encode_moves(header.message_id, moves)
        return Output(self.moves_topic, b"", value, [], 0, timestamp or None)

    def dead_letter(self, event: EventT[Any], exc: BaseException) -> list[Output]:
        message = event.message
        stage, code, detail = classify(exc)
        raw = event.value if isinstance(event.value, bytes) else b""
        source = self.names.authority_of_inbound(message.topic) or "unknown"
        headers: Headers = dead_letter_headers(
            stage, code, detail, message.topic, message.partition, message.offset
        )
        original = header_map(event.headers)
        if H_TRACEPARENT in original:
            headers.append((H_TRACEPARENT, original[H_TRACEPARENT]))
        key = dead_letter_key(message.topic, message.partition, message.offset)
        self.metrics.observe_deadletter(source=source, stage=stage, code=code)
        # the detail may quote message content: it goes to the dead-letter headers only
        log.info(
            "dead-lettered",
            extra={
                "event": "deadlettered",
                "source": source,
                "stage": stage,
                "code": code,
                "offset": f"{message.topic}:{message.partition}:{message.offset}",
            },
        )
        return [Output(self.names.deadletter, key, raw, headers)]

    # -- the producer -------------------------------------------------------------

    async def send_output(self, output: Output) -> asyncio.Future[Any]:
        return await self.send(
            output.topic, output.key, output.value, output.headers, output.partition,
            output.timestamp,
        )

    async def send(
        self, topic: str, key: bytes, value: bytes, headers: Headers,
        partition: int | None = None, timestamp: float | None = None,
    ) -> asyncio.Future[Any]:
        """Hand one record to the app's producer; the returned future resolves on the ack.

        A send the producer refuses at once (a missing topic, no permission, a record
        above ``max.request.size``) comes back as a failed future too: the message is
        valid, so it is not dead-lettered; the event stays unacked and the worker stops
        with DELIVERY_FAILED (see ``delivery_failed``).
        """
        try:
            future: Awaitable[Any] = await self.app.producer.send(
                topic, key, value, partition, timestamp, headers
            )
            return asyncio.ensure_future(future)
        except Exception as exc:  # any refusal is a delivery failure (not cancellation)
            failed: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
            failed.set_exception(exc)
            return failed
