"""The ingest flow: every inbound XÖV message is delivered, dead-lettered or counted
as a duplicate — nothing else.

For each event on ``xoev.in.<authority>``:

1. ``Pipeline.inspect``: parse (hardened) → identify → validate (XSD) → read the
   g2g header → the author key must belong to the authority of the inbound topic.
2. Deduplicate on nachrichtenUUID in the changelog-backed table ``dedupe``.
3. ``Pipeline.finish``: route (a misaddressed message is not converted) → convert
   to the Avro event.
4. Deliver: the original bytes to ``xoev.out.<reader>.xml``, the event to
   ``xoev.out.<reader>.avro`` (and the bytes to ``xoev.out.external`` for readers
   outside the region), one audit record to ``xoev.audit``; mark the id as seen.
   The first event of each Avro schema in this process also writes the schema to
   ``xoev.schemas`` (key: fingerprint).

Any failure sends the original bytes to ``xoev.deadletter`` with stage, code,
detail and the source coordinates; no message ever stops the agent.

Delivery guarantee (at-least-once, idempotent by key = nachrichtenUUID): the
outputs go straight to the app's producer (batched by aiokafka, no Faust
per-send bookkeeping) and the stream does not ack an event itself — the event is
acked when the broker has acknowledged every output of it (``acks=all``). Faust
commits only acked offsets, contiguously, so a committed offset never covers an
undelivered message. An output the producer could not deliver stops the worker
(the event stays unacked, so the next worker delivers it again).

The dedupe table remembers where it first saw an id (topic:partition:offset). The
same record seen again — processed, but its offset not committed before a crash
or a rebalance — is delivered again, not counted as a duplicate: its outputs may
have been lost with the crash even though the table's changelog write survived.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import AsyncIterator, Awaitable, Coroutine, Mapping, Sequence
from dataclasses import dataclass
from time import perf_counter
from typing import Any

import faust
from faust.types import EventT, StreamT

from hub.audit import AUDIT_CODEC
from hub.avro import dumps_schema
from hub.errors import MessageError
from hub.metrics import EXTERNAL, HubMetrics
from hub.pipeline import Accepted, Pipeline, classify
from hub.topics import (
    H_AUTHOR,
    H_ERROR_CODE,
    H_ERROR_DETAIL,
    H_ERROR_STAGE,
    H_MESSAGE_ID,
    H_MESSAGE_TYPE,
    H_READER,
    H_SOURCE_OFFSET,
    H_SOURCE_PARTITION,
    H_SOURCE_TOPIC,
    H_STANDARD,
    H_TRACEPARENT,
    H_VERSION,
    TopicNames,
)

log = logging.getLogger("hub.ingest")

Headers = list[tuple[str, bytes]]
Pending = list[Awaitable[Any]]


@dataclass(frozen=True)
class Trace:
    """W3C trace context: keep the caller's trace id, start a new span."""

    trace_id: str
    parent: str

    @classmethod
    def from_headers(cls, headers: Mapping[str, bytes]) -> Trace:
        raw = headers.get(H_TRACEPARENT, b"")
        parts = raw.decode("ascii", "replace").split("-") if raw else []
        if len(parts) == 4 and len(parts[1]) == 32 and len(parts[2]) == 16:
            return cls(trace_id=parts[1], parent=parts[2])
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


class IngestFlow:
    """The agent body, separated from Faust wiring so it reads top to bottom."""

    def __init__(
        self,
        app: faust.App,
        pipeline: Pipeline,
        names: TopicNames,
        authority_ids: Sequence[str],
        metrics: HubMetrics,
    ) -> None:
        self.app = app
        self.pipeline = pipeline
        self.names = names
        self.metrics = metrics
        self.partitions: int = app.conf.topic_partitions
        self.tasks: set[asyncio.Future[Any]] = set()  # acks and crash reports in flight
        self.crashing = False  # an output failed: the worker is being stopped
        raw: dict[str, Any] = {"key_serializer": "raw", "value_serializer": "raw"}
        self.inbound = app.topic(*[names.inbound(a) for a in authority_ids], **raw)
        # outputs go to the producer directly (see ``send``): topic names suffice
        self.out_xml = {a: names.out_xml(a) for a in authority_ids}
        self.out_avro = {a: names.out_avro(a) for a in authority_ids}
        self.external = names.external
        self.deadletter = names.deadletter
        self.audit = names.audit
        self.schemas = names.schemas
        self.schemas_sent: set[bytes] = set()  # fingerprints published by this process
        self.seen = app.Table(
            "dedupe",
            default=None,
            key_type=bytes,
            value_type=bytes,
            partitions=app.conf.topic_partitions,
            help="nachrichtenUUIDs already delivered (value: topic:partition:offset|when).",
        )

    async def run(self, stream: StreamT[Any]) -> AsyncIterator[None]:
        # events are acked once their outputs are acknowledged (StreamT lacks noack)
        manual: StreamT[Any] = stream.noack()  # type: ignore[attr-defined]
        async for event in manual.events():
            try:
                pending = await self.handle(event)
            except Exception as exc:  # the agent must survive anything
                # the exception text may quote message content: log its type only
                log.error(
                    "unexpected error, dead-lettering",
                    extra={"code": "INTERNAL_ERROR", "reason": type(exc).__name__},
                )
                pending = await self.dead_letter(event, exc)
            self.ack_when_sent(manual, event, pending)
            yield None

    def ack_when_sent(self, stream: StreamT[Any], event: EventT[Any], pending: Pending) -> None:
        """Ack ``event`` (make its offset committable) once all its outputs are acknowledged."""
        if not pending:
            self.spawn(stream.ack(event))
            return
        sent = asyncio.gather(*pending)

        def settle(done: asyncio.Future[Any]) -> None:
            if done.cancelled() or done.exception() is not None:
                reason = "cancelled" if done.cancelled() else type(done.exception()).__name__
                message = event.message
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
                return
            self.spawn(stream.ack(event))

        sent.add_done_callback(settle)

    def spawn(self, work: Coroutine[Any, Any, Any]) -> None:
        """Run ``work`` as a task that is referenced until it ends."""
        task = asyncio.ensure_future(work)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def handle(self, event: EventT[Any]) -> Pending:
        """Process one inbound event; return the producer futures of its outputs."""
        message = event.message
        raw: bytes = event.value if isinstance(event.value, bytes) else b""
        source = self.names.authority_of_inbound(message.topic) or "unknown"
        headers = header_map(event.headers)
        trace = Trace.from_headers(headers)
        started = perf_counter()
        self.metrics.observe_received(source, len(raw))
        if message.timestamp:
            self.metrics.observe_consumed(message.topic, message.timestamp)
        try:
            inspected = self.pipeline.inspect(raw, source)
        except MessageError as exc:
            return await self.dead_letter(event, exc)
        message_id = inspected.header.message_id
        here = f"{message.topic}:{message.partition}:{message.offset}"
        first_seen = self.seen.get(message_id.encode())
        if first_seen is not None and first_seen.split(b"|", 1)[0] != here.encode():
            self.metrics.observe_duplicate(source)
            log.info(
                "duplicate",
                extra={"event": "duplicate", "message_id": message_id, "source": source},
            )
            return []
        try:
            accepted = self.pipeline.finish(inspected, trace_id=trace.trace_id)
        except MessageError as exc:
            return await self.dead_letter(event, exc)
        delivering = perf_counter()
        pending = await self.deliver(event, accepted, trace)
        if first_seen is None:
            self.seen[message_id.encode()] = f"{here}|{accepted.received}".encode()
        done = perf_counter()
        for stage, seconds in inspected.timings.items():
            self.metrics.observe_stage(stage, seconds)
        self.metrics.observe_stage("deliver", done - delivering)
        self.metrics.observe_stage("total", done - started)
        destinations = list(accepted.route.recipients)
        if accepted.route.external:
            destinations.append(EXTERNAL)
        self.metrics.observe_delivery(
            source=source,
            destinations=destinations,
            standard=inspected.package.standard,
            message_type=inspected.message.code,
            created=inspected.header.created,
        )
        log.info(
            "redelivered" if first_seen is not None else "delivered",
            extra={
                "event": "delivered",
                "message_id": message_id,
                "source": source,
                "destination": ",".join(destinations),
                "code": inspected.message.code,
            },
        )
        return pending

    async def send(
        self, topic: str, key: bytes, value: bytes, headers: Headers, partition: int | None = None
    ) -> Awaitable[Any]:
        """Hand one record to the app's producer; the returned future resolves on the ack.

        A send the producer refuses at once (a missing topic, no permission, a record
        above ``max.request.size``) comes back as a failed future too: the message is
        valid, so it is not dead-lettered; the event stays unacked and the worker stops
        with DELIVERY_FAILED (see ``ack_when_sent``).
        """
        try:
            return await self.app.producer.send(topic, key, value, partition, None, headers)
        except Exception as exc:  # any refusal is a delivery failure (not cancellation)
            failed: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
            failed.set_exception(exc)
            return failed

    async def deliver(self, event: EventT[Any], accepted: Accepted, trace: Trace) -> Pending:
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
        ]
        # Same partition as the source: everything a city sent on one partition (for
        # one key) reaches each recipient in the order sent. All contract topics
        # have the same partition count (topics apply); otherwise the key decides.
        message = event.message
        partition = message.partition if message.partition < self.partitions else None
        pending: Pending = []
        fingerprint = accepted.plan.fingerprint
        if accepted.route.recipients and fingerprint not in self.schemas_sent:
            # the event's schema, keyed by fingerprint, with the first event using it
            # (the offset is committed only when this record is acknowledged too)
            self.schemas_sent.add(fingerprint)
            schema = dumps_schema(accepted.plan.schema).encode()
            pending.append(await self.send(self.schemas, fingerprint.hex().encode(), schema, []))
        for recipient in accepted.route.recipients:
            pending.append(
                await self.send(self.out_xml[recipient], key, inspected.raw, base, partition)
            )
            pending.append(
                await self.send(self.out_avro[recipient], key, accepted.event, base, partition)
            )
        if accepted.route.external:
            pending.append(await self.send(self.external, key, inspected.raw, base, partition))
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
        }
        pending.append(await self.send(self.audit, key, AUDIT_CODEC.encode(record), base))
        return pending

    async def dead_letter(self, event: EventT[Any], exc: BaseException) -> Pending:
        message = event.message
        stage, code, detail = classify(exc)
        raw = event.value if isinstance(event.value, bytes) else b""
        source = self.names.authority_of_inbound(message.topic) or "unknown"
        headers: Headers = [
            (H_ERROR_STAGE, stage.encode()),
            (H_ERROR_CODE, code.encode()),
            (H_ERROR_DETAIL, detail.encode("utf-8", "replace")),
            (H_SOURCE_TOPIC, message.topic.encode()),
            (H_SOURCE_PARTITION, str(message.partition).encode()),
            (H_SOURCE_OFFSET, str(message.offset).encode()),
        ]
        original = header_map(event.headers)
        if H_TRACEPARENT in original:
            headers.append((H_TRACEPARENT, original[H_TRACEPARENT]))
        key = f"{message.topic}:{message.partition}:{message.offset}".encode()
        pending = [await self.send(self.deadletter, key, raw, headers)]
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
        return pending
