"""The service portal's endpoints on the worker's web port, and their Kafka side.

``POST /v1/applications`` and ``GET /v1/applications/{id}`` (docs/serviceportal.md).
The order of checks is part of the contract: the portal's bearer token (401),
then the identity assertion and nothing else of the body (401), then the
service (422) and the trust level it needs (403), then AGS, responsible
authority and form data (422), then the application id (409 for another body
under a known id). Only then is anything produced, each record with
``acks=all`` before the answer:

* a service without a fee: the event schema on ``xoev.schemas`` (once per
  process), the Avro event on ``xoev.applications.<authority>`` keyed by
  application id, an audit record on ``xoev.audit``, and the steps ``received``
  and ``forwarded`` on ``xoev.status.applications``;
* a service with a fee: the step ``received``, the form data on the internal
  compacted topic ``<group>-portal-pending`` (key: application id), then
  ``awaiting_payment``. ``POST /v1/payments/notifications`` (the ePayment
  provider, :mod:`hub.portal.payment`) records ``paid`` and forwards it as above,
  or records ``rejected`` with the reason; the pending record is then tombstoned.

The sweep (every few seconds, on the worker whose ownership consumer holds the
application's status partition) rejects applications unpaid after
``HUB_PORTAL_PAYMENT_TIMEOUT`` (``PAYMENT_TIMEOUT``), forwards ``paid`` ones a
crash left unforwarded, and delivers a rejection notice for every ``rejected``
application to the Postfach (``notice_delivered`` / ``notice_failed``). The
notices consumer (group ``<group>-portal-notices``) reads ``xoev.notices.<authority>``,
checks the notice came from the authority the application went to (else
``NOTICE_WRONG_AUTHORITY`` and the other ``NOTICE_*`` dead letters), records
``decided`` and delivers it (:class:`hub.portal.notices.PostfachSink`).

A permanent refusal of the event by the broker dead-letters the application
(without the assertion) with code ``APPLICATION_DELIVERY_FAILED`` and records the
step ``rejected``. The state of every application (and every pending form) is read
back from the compacted status and pending topics at start and followed
afterwards, so it survives a restart or a kill -9 and every worker answers
``GET`` and payment notifications.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import os
import re
import secrets
import time
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiohttp import web
from prometheus_client import REGISTRY, CollectorRegistry, Counter

from hub.avro import dumps_schema
from hub.avro.audit import AUDIT_CODEC
from hub.errors import ConfigError
from hub.kafka.config import consumer_config, producer_config
from hub.kafka.headers import H_MESSAGE_ID, H_TRACEPARENT, dead_letter_headers, dead_letter_key
from hub.kafka.topics import TopicNames, pending_topic_name
from hub.logging import register_secret
from hub.portal.catalog import Catalogue, Service
from hub.portal.forms import FormSchema
from hub.portal.identity import IdentityError, IdentityVerifier
from hub.portal.notices import (
    DeliveryFailed,
    NoticeError,
    PostfachNotice,
    PostfachSink,
    parse_notice,
)
from hub.portal.payment import NotificationError, decide, parse_notification
from hub.portal.status import (
    STATUS_CODEC,
    ApplicationState,
    ApplicationStore,
    iso_seconds,
    request_digest,
)

if TYPE_CHECKING:
    from hub.core.region import Region
    from hub.settings import Settings

log = logging.getLogger("hub.portal")

ROUTE = "/v1/applications"
ITEM_ROUTE = "/v1/applications/{application_id}"
PAYMENT_ROUTE = "/v1/payments/notifications"
#: a ``paid`` application older than this that is not ``forwarded`` was left by a crash
PAID_GRACE_SECONDS = 10.0
#: application ids: what a portal's case numbers look like, nothing that could be prose
APPLICATION_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")
MAX_BODY_BYTES = 256 * 1024
SOURCE = "portal"
#: The record fields of a request (anything else is refused).
REQUEST_FIELDS = frozenset({"service", "ags", "application_id", "identity",
                            "payment_reference", "form"})


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def portal_digests(config: Any, table: str = "portal") -> tuple[str, ...]:
    """The accepted SHA-256 digests of the bearer token(s) of ``config`` (the portal's,
    or the payment provider's ``[portal.payment]``)."""
    digests = list(config.token_sha256)
    if config.token_env:
        raw = os.environ.get(config.token_env)
        if not raw:
            raise ConfigError(f"{table}: environment variable {config.token_env} is not set")
        tokens = [t.strip() for t in raw.split(",") if t.strip()]
        for token in tokens:
            register_secret(token)
        digests += [token_digest(t) for t in tokens]
    if not digests:
        raise ConfigError(f"{table}: no token configured ([{table}] token_sha256 or "
                          "token_env)")
    return tuple(digests)


def bearer_matches(request: web.Request, digests: Sequence[str]) -> bool:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return False
    presented = token_digest(token.strip())
    found = False
    for digest in digests:
        found = hmac.compare_digest(presented, digest) or found
    return found


class PortalMetrics:
    """``xoev_hub_applications_total`` and ``xoev_hub_application_refusals_total``:
    labels are service keys, authority ids, outcomes and codes only."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        registry = registry if registry is not None else REGISTRY
        self.applications = Counter(
            "xoev_hub_applications_total",
            "Service portal applications by service, responsible authority and outcome "
            "(forwarded, awaiting_payment, duplicate, deadlettered).",
            ["service", "authority", "outcome"], registry=registry,
        )
        self.refusals = Counter(
            "xoev_hub_application_refusals_total",
            "Service portal requests refused at the endpoint, by HTTP status and code.",
            ["status", "code"], registry=registry,
        )
        self.payments = Counter(
            "xoev_hub_payment_notifications_total",
            "ePayment notifications by provider status and outcome (paid, wrong_amount, "
            "failed, canceled, timeout, pending, duplicate, late, unknown_reference).",
            ["status", "outcome"], registry=registry,
        )
        self.notices = Counter(
            "xoev_hub_portal_notices_total",
            "Notices to the applicants' Postfach by kind (decision, rejection) and outcome "
            "(delivered, failed, deadlettered, duplicate).",
            ["kind", "outcome"], registry=registry,
        )


def _error(status: int, code: str, detail: str, **extra: Any) -> web.Response:
    headers = {"WWW-Authenticate": 'Bearer realm="xoev-hub"'} if status == 401 else None
    return web.json_response({"error": code, "detail": detail, **extra}, status=status,
                             headers=headers)


class Portal:
    """The portal's endpoints and producer; see the module docstring."""

    def __init__(
        self,
        settings: Settings,
        catalogue: Catalogue,
        *,
        registry: CollectorRegistry | None = None,
    ) -> None:
        if catalogue.portal is None:
            raise ConfigError(f"{catalogue.source}: no [portal] table: the portal is off")
        self.settings = settings
        self.catalogue = catalogue
        self.config = catalogue.portal
        self.names = TopicNames(settings.topic_prefix)
        self.digests = portal_digests(self.config)
        self.payment_digests = (portal_digests(self.config.payment, "portal.payment")
                                if self.config.payment is not None else None)
        self.postfach = (PostfachSink(self.config.postfach)
                         if self.config.postfach is not None else None)
        self.payment_timeout = settings.portal_payment_timeout_seconds
        self.sweep_interval = max(0.5, min(5.0, self.payment_timeout / 4))
        self.pending_topic = pending_topic_name(settings.consumer_group)
        #: form data of applications waiting for their payment (read back, followed)
        self.pending: dict[str, bytes] = {}
        #: status partition of each application (for the sweep's ownership)
        self.partition_of: dict[str, int] = {}
        self.owned: set[int] = set()
        self._inflight: set[str] = set()
        self._deliveries: set[asyncio.Future[None]] = set()
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._owner: Any = None
        self._notices: Any = None
        base = Path(catalogue.source).parent
        self.verifier = IdentityVerifier(self.config.identity, base)
        self.metrics = PortalMetrics(registry)
        self.store = ApplicationStore()
        self.ready = asyncio.Event()
        self._lock = asyncio.Lock()
        self._schemas_sent: set[bytes] = set()
        self._producer: Any = None
        self._consumer: Any = None
        self._tail: asyncio.Task[None] | None = None

    @classmethod
    def from_region(cls, settings: Settings, region: Region,
                    registry: CollectorRegistry | None = None) -> Portal | None:
        """The portal of the region's catalogue, or None when it is off."""
        catalogue = Catalogue.of_region(region)
        if catalogue is None or catalogue.portal is None:
            return None
        return cls(settings, catalogue, registry=registry)

    def add_routes(self, app: web.Application) -> None:
        app.router.add_post(ROUTE, self._post)
        app.router.add_get(ITEM_ROUTE, self._get)
        if self.payment_digests is not None:
            app.router.add_post(PAYMENT_ROUTE, self._payment)

    # -- Kafka ------------------------------------------------------------------

    async def start(self, timeout: float = 60.0) -> None:
        """Start the producer, read the status topic back, then follow it."""
        from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

        producer = AIOKafkaProducer(
            **producer_config(self.settings, client="aiokafka"),
            acks="all", enable_idempotence=True,
        )
        await producer.start()
        self._producer = producer
        consumer = AIOKafkaConsumer(
            **consumer_config(self.settings, client="aiokafka"),
            group_id=None, enable_auto_commit=False, auto_offset_reset="earliest",
        )
        await consumer.start()
        self._consumer = consumer
        deadline = time.monotonic() + timeout
        assigned = []
        for topic in (self.names.status_applications, self.pending_topic):
            partitions: set[int] | None = None
            while not partitions:
                partitions = consumer.partitions_for_topic(topic)
                if partitions:
                    break
                if time.monotonic() > deadline:
                    raise ConfigError(f"topic {topic} is missing: run `xoev-hub topics apply`")
                await consumer._client.force_metadata_update()
                await asyncio.sleep(0.2)
            assigned += [TopicPartition(topic, p) for p in sorted(partitions)]
        consumer.assign(assigned)
        await consumer.seek_to_beginning(*assigned)
        ends = await consumer.end_offsets(assigned)
        self._tail = asyncio.ensure_future(self._follow(ends))
        # ownership of status partitions for the sweep: a consumer group that only joins
        owner = AIOKafkaConsumer(
            **consumer_config(self.settings, client="aiokafka"),
            group_id=f"{self.settings.consumer_group}-portal", enable_auto_commit=False,
            auto_offset_reset="latest", session_timeout_ms=10000,
            heartbeat_interval_ms=2000,
        )
        await owner.start()
        owner.subscribe([self.names.status_applications])
        self._owner = owner
        self._tasks = [asyncio.ensure_future(self._guard(self._own, "owner")),
                       asyncio.ensure_future(self._guard(self._sweep, "sweep"))]
        if self.postfach is not None:
            await self.postfach.start()
            topics = [self.names.notices(a.id) for a in self.catalogue.deciding_authorities()]
            notices = AIOKafkaConsumer(
                **consumer_config(self.settings, client="aiokafka"),
                group_id=f"{self.settings.consumer_group}-portal-notices",
                enable_auto_commit=False, auto_offset_reset="earliest",
                session_timeout_ms=10000, heartbeat_interval_ms=2000,
                max_poll_interval_ms=600000,
            )
            await notices.start()
            notices.subscribe(topics)
            self._notices = notices
            self._tasks.append(asyncio.ensure_future(self._guard(self._consume_notices,
                                                                 "notices")))
        else:
            log.warning("no [portal.postfach]: notices are not delivered", extra={
                "event": "portal_no_postfach"})

    async def _follow(self, ends: dict[Any, int]) -> None:
        consumer = self._consumer
        loaded = 0
        while True:
            batches = await consumer.getmany(timeout_ms=200, max_records=2000)
            for records in batches.values():
                for record in records:
                    try:
                        if record.topic == self.pending_topic:
                            self._apply_pending(record.key, record.value)
                            continue
                        self.store.apply_record(record.key, record.value)
                        if record.key is not None:
                            self.partition_of[record.key.decode("utf-8", "replace")] = \
                                record.partition
                        loaded += 1
                    except Exception as exc:  # a foreign record never stops the portal
                        log.warning("status record skipped", extra={
                            "event": "portal_status_skipped", "reason": type(exc).__name__,
                            "offset": f"{record.topic}:{record.partition}:{record.offset}"})
            if not self.ready.is_set():
                positions = [await consumer.position(tp) for tp in ends]
                if all(pos >= ends[tp] for pos, tp in zip(positions, ends, strict=True)):
                    self.ready.set()
                    log.info("portal ready", extra={"event": "portal_ready",
                                                    "count": len(self.store)})

    def _apply_pending(self, key: bytes | None, value: bytes | None) -> None:
        if key is None:
            return
        application_id = key.decode("utf-8", "replace")
        if value is None:
            self.pending.pop(application_id, None)
        else:
            self.pending[application_id] = value

    async def stop(self) -> None:
        for task in (*self._tasks, *self._deliveries, self._tail):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        for client in (self._notices, self._owner, self._consumer, self._producer):
            if client is not None:
                with contextlib.suppress(Exception):
                    await client.stop()
        if self.postfach is not None:
            await self.postfach.stop()
        self._notices = self._owner = self._consumer = self._producer = None

    async def _guard(self, loop: Any, name: str) -> None:
        """Run one of the portal's loops; an unexpected error is logged and the loop
        started again a second later (never silently gone)."""
        while True:
            try:
                await loop()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.error("portal loop failed", extra={
                    "event": "portal_loop_failed", "code": name, "reason": type(exc).__name__})
                await asyncio.sleep(1.0)

    async def _send_all(self, records: Sequence[tuple[str, bytes, bytes | None, list[Any]]]
                        ) -> None:
        """Hand records to the producer in order and wait for every acknowledgement."""
        futures = [await self._producer.send(topic, value, key=key, headers=headers)
                   for topic, key, value, headers in records]
        await asyncio.gather(*futures)

    async def _record_step(self, state: ApplicationState) -> None:
        await self._send_all([(self.names.status_applications,
                               state.application_id.encode(), state.encode(), [])])
        self.store.put(state)

    # -- HTTP -------------------------------------------------------------------

    def _portal_authenticated(self, request: web.Request) -> bool:
        return bearer_matches(request, self.digests)

    def _refuse(self, status: int, code: str, detail: str, **extra: Any) -> web.Response:
        self.metrics.refusals.labels(str(status), code).inc()
        log.info("application refused", extra={"event": "application_refused",
                                               "status": status, "code": code})
        return _error(status, code, detail, **extra)

    async def _get(self, request: web.Request) -> web.Response:
        if not self._portal_authenticated(request):
            return self._refuse(401, "UNAUTHORIZED", "missing or invalid portal token")
        if not self.ready.is_set():
            return _error(503, "UNAVAILABLE", "the portal state is being loaded")
        state = self.store.get(request.match_info["application_id"])
        if state is None:
            return _error(404, "UNKNOWN_APPLICATION", "no application with this id")
        return web.json_response(state.public())

    async def _read_body(self, request: web.Request) -> bytes | None:
        if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
            return None
        chunks, size = [], 0
        async for chunk in request.content.iter_chunked(64 * 1024):
            size += len(chunk)
            if size > MAX_BODY_BYTES:
                return None
            chunks.append(chunk)
        return b"".join(chunks)

    async def _post(self, request: web.Request) -> web.Response:
        if not self._portal_authenticated(request):
            return self._refuse(401, "UNAUTHORIZED", "missing or invalid portal token")
        body = await self._read_body(request)
        if body is None:
            return self._refuse(413, "REQUEST_TOO_LARGE", f"limit is {MAX_BODY_BYTES} bytes")
        try:
            data = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            data = None
        # the identity first, whatever else the body holds
        try:
            identity = self.verifier.verify(data.get("identity") if isinstance(data, dict)
                                            else None)
        except IdentityError as exc:
            return self._refuse(401, exc.code, exc.reason)
        assert isinstance(data, dict)
        unknown = sorted(set(data) - REQUEST_FIELDS)
        if unknown:
            return self._refuse(422, "REQUEST_INVALID", "unknown member in the request",
                                path="/" + str(unknown[0])[:40])
        service_key = data.get("service")
        service = self.catalogue.get(service_key) if isinstance(service_key, str) else None
        if service is None:
            return self._refuse(422, "UNKNOWN_SERVICE", "the service is not offered here",
                                path="/service")
        if not service.trust_sufficient(identity.trust_level):
            return self._refuse(403, "TRUST_LEVEL_TOO_LOW",
                                f"the service needs trust level {service.trust_level}")
        application_id = data.get("application_id")
        if not isinstance(application_id, str) or not APPLICATION_ID_RE.match(application_id):
            return self._refuse(422, "REQUEST_INVALID", "application_id must be 1-128 of "
                                "A-Z a-z 0-9 . _ : - (starting alphanumeric)",
                                path="/application_id")
        ags = data.get("ags")
        authority = self.catalogue.responsible(service, ags) if isinstance(ags, str) else None
        if authority is None:
            return self._refuse(422, "NO_RESPONSIBLE_AUTHORITY",
                                "no authority of the region decides this service for this AGS",
                                path="/ags")
        reference = data.get("payment_reference")
        if reference is not None and (not isinstance(reference, str)
                                      or not APPLICATION_ID_RE.match(reference)):
            return self._refuse(422, "REQUEST_INVALID", "payment_reference must be 1-128 of "
                                "A-Z a-z 0-9 . _ : -", path="/payment_reference")
        form = data.get("form")
        schema = FormSchema.of(service)
        problem = schema.check(form)
        if problem is not None:
            return self._refuse(422, "FORM_INVALID", "the form data fails the service's schema",
                                path="/form" + (problem.path if problem.path != "/" else ""),
                                rule=problem.rule)
        if not self.ready.is_set():
            return _error(503, "UNAVAILABLE", "the portal state is being loaded",
                          retry_after=5)
        digest = request_digest(service.key, authority.ags, identity.subject, reference, form)
        async with self._lock:
            known = self.store.get(application_id)
            if known is not None and known.request_sha256 != digest:
                return self._refuse(409, "APPLICATION_ID_CONFLICT", "this application id was "
                                    "used before for another application")
            taken = self.store.by_reference(reference or application_id) \
                if service.fee_cents is not None else None
            if taken is not None and taken.application_id != application_id:
                return self._refuse(409, "PAYMENT_REFERENCE_CONFLICT", "this payment "
                                    "reference belongs to another application")
            try:
                state = await self._accept(known, service, authority.id, authority.dvdv_key,
                                           application_id, identity, reference, form, digest)
            except Exception as exc:
                from aiokafka.errors import KafkaConnectionError, KafkaTimeoutError

                if isinstance(exc, KafkaConnectionError | KafkaTimeoutError | ConnectionError):
                    return _error(503, "UNAVAILABLE", "the hub cannot take applications now",
                                  retry_after=5)
                raise
        duplicate = known is not None
        if duplicate:
            self.metrics.applications.labels(service.key, authority.id, "duplicate").inc()
        status = 202 if state.status != "rejected" else 500
        body_out: dict[str, Any] = {"application_id": application_id, "status": state.status,
                                    "duplicate": duplicate}
        if state.status == "rejected":
            body_out["reason"] = state.reason
        return web.json_response(body_out, status=status)

    async def _accept(
        self, known: ApplicationState | None, service: Service, authority: str,
        authority_key: str, application_id: str, identity: Any, reference: str | None,
        form: Any, digest: str,
    ) -> ApplicationState:
        """Produce what is still missing of this application (all of it when new;
        the rest after a crash between steps) and return its state."""
        if known is not None and known.status != "received":
            return known
        state = known or ApplicationState(
            application_id=application_id, service_key=service.key, ags=self._ags(authority),
            authority=authority, applicant_id=identity.subject,
            trust_level=identity.trust_level, request_sha256=digest,
            fee_cents=service.fee_cents, payment_reference=reference,
        )
        if not state.reached("received"):
            state = state.step("received")
            await self._record_step(state)
            log.info("application received", extra={
                "event": "application_received", "message_id": application_id,
                "code": service.key, "authority": authority})
        if service.fee_cents is not None:
            pending = json.dumps(form, ensure_ascii=False, separators=(",", ":")).encode()
            await self._send_all([(self.pending_topic, application_id.encode(), pending, [])])
            self.pending[application_id] = pending
            state = state.step("awaiting_payment")
            await self._record_step(state)
            self.metrics.applications.labels(service.key, authority, "awaiting_payment").inc()
            return state
        return await self.forward(state, service, authority_key, form)

    def _ags(self, authority: str) -> str:
        return self.catalogue.region.get(authority).ags

    async def forward(self, state: ApplicationState, service: Service, authority_key: str,
                      form: Any) -> ApplicationState:
        """The application event to its authority with schema and audit record, then
        the step ``forwarded``; a permanent refusal dead-letters it (``rejected``)."""
        from aiokafka.errors import KafkaConnectionError, KafkaError, KafkaTimeoutError

        assert state.authority is not None
        schema = FormSchema.of(service)
        received = state.history[0].at
        event = schema.encode({
            "application_id": state.application_id, "service_key": service.key,
            "ags": state.ags, "authority": state.authority,
            "applicant_id": state.applicant_id, "trust_level": state.trust_level,
            "payment_reference": state.payment_reference, "fee_cents": state.fee_cents,
            "received": received, "form": form,
        })
        key = state.application_id.encode()
        trace = secrets.token_hex(16)
        headers: list[tuple[str, bytes]] = [
            (H_MESSAGE_ID, key), ("xoev-service", service.key.encode()),
            (H_TRACEPARENT, f"00-{trace}-{secrets.token_hex(8)}-01".encode()),
        ]
        topic = self.names.applications(state.authority)
        records: list[tuple[str, bytes, bytes, list[Any]]] = []
        if schema.fingerprint not in self._schemas_sent:
            records.append((self.names.schemas, schema.fingerprint.hex().encode(),
                            dumps_schema(schema.avro_schema).encode(), []))
        records.append((topic, key, event, headers))
        audit = AUDIT_CODEC.encode({
            "message_id": state.application_id, "standard": "portal",
            "version": schema.fingerprint.hex(), "message_type_code": service.key,
            "source_authority": SOURCE, "author_key": SOURCE,
            "reader_keys": [authority_key], "recipients": [state.authority],
            "external": False, "created": received, "received": received,
            "payload_sha256": hashlib.sha256(event).hexdigest(), "payload_bytes": len(event),
            "source_topic": self.names.status_applications, "source_partition": -1,
            "source_offset": -1, "trace_id": trace,
        })
        try:
            await self._send_all(records)
            # the audit record only once the event is acknowledged: never "forwarded"
            # in the audit trail for an event the broker refused
            await self._send_all([(self.names.audit, key, audit, headers)])
        except (KafkaConnectionError, KafkaTimeoutError):
            raise
        except KafkaError as exc:
            return await self._dead_letter(state, service, form, type(exc).__name__)
        self._schemas_sent.add(schema.fingerprint)
        state = state.step("forwarded")
        await self._record_step(state)
        self.metrics.applications.labels(service.key, state.authority, "forwarded").inc()
        log.info("application forwarded", extra={
            "event": "application_forwarded", "message_id": state.application_id,
            "code": service.key, "destination": topic})
        return state

    # -- payment ------------------------------------------------------------------

    async def _payment(self, request: web.Request) -> web.Response:
        """``POST /v1/payments/notifications``: the ePayment provider's status."""
        assert self.payment_digests is not None
        if not bearer_matches(request, self.payment_digests):
            return self._refuse(401, "UNAUTHORIZED", "missing or invalid payment provider token")
        body = await self._read_body(request)
        if body is None:
            return self._refuse(413, "REQUEST_TOO_LARGE", f"limit is {MAX_BODY_BYTES} bytes")
        try:
            notification = parse_notification(json.loads(body, parse_float=Decimal))
        except (ValueError, UnicodeDecodeError) as exc:
            path = exc.path if isinstance(exc, NotificationError) else "/"
            reason = exc.reason if isinstance(exc, NotificationError) else "not JSON"
            return self._refuse(422, "NOTIFICATION_INVALID", reason, path=path)
        if not self.ready.is_set():
            return _error(503, "UNAVAILABLE", "the portal state is being loaded",
                          retry_after=5)
        async with self._lock:
            state = self.store.by_reference(notification.reference)
            if state is None:
                self.metrics.payments.labels(notification.status, "unknown_reference").inc()
                log.info("payment for an unknown reference", extra={
                    "event": "payment_unknown_reference", "code": notification.status})
                return _error(404, "UNKNOWN_REFERENCE",
                              "no application waits for a payment with this reference")
            decision = decide(notification, state.fee_cents, state.status,
                              paid=state.reached("paid"))
            self.metrics.payments.labels(notification.status, decision.outcome).inc()
            log.info("payment notification", extra={
                "event": "payment_notification", "message_id": state.application_id,
                "code": notification.status, "outcome": decision.outcome})
            try:
                if decision.action == "release":
                    state = state.step("paid")
                    await self._record_step(state)
                    state = await self._release(state)
                elif decision.action == "reject":
                    assert decision.reason is not None
                    state = await self._reject(state, decision.reason)
            except Exception as exc:
                from aiokafka.errors import KafkaConnectionError, KafkaTimeoutError

                if isinstance(exc, KafkaConnectionError | KafkaTimeoutError | ConnectionError):
                    return _error(503, "UNAVAILABLE", "the hub cannot take notifications now",
                                  retry_after=5)
                raise
        answer = {"application_id": state.application_id, "status": state.status,
                  "reason": state.reason, "outcome": decision.outcome}
        if decision.outcome == "late":
            return web.json_response({"error": "APPLICATION_NOT_AWAITING_PAYMENT",
                                      "detail": "the application no longer waits for a "
                                      "payment", **answer}, status=409)
        return web.json_response(answer)

    async def _release(self, state: ApplicationState) -> ApplicationState:
        """Forward an application in ``paid`` and forget its form."""
        service = self.catalogue.get(state.service_key)
        pending = self.pending.get(state.application_id)
        if service is None or state.authority is None or pending is None:
            # configuration changed under a waiting application: it cannot be forwarded
            return await self._reject(state, "APPLICATION_DELIVERY_FAILED")
        authority = self.catalogue.region.get(state.authority)
        state = await self.forward(state, service, authority.dvdv_key, json.loads(pending))
        await self._forget_pending(state.application_id)
        return state

    async def _reject(self, state: ApplicationState, reason: str) -> ApplicationState:
        state = state.step("rejected", reason)
        await self._record_step(state)
        await self._forget_pending(state.application_id)
        self.metrics.applications.labels(state.service_key, state.authority or "none",
                                         "rejected").inc()
        log.info("application rejected", extra={
            "event": "application_rejected", "message_id": state.application_id,
            "code": reason})
        self._wake.set()  # the rejection notice goes out with the next sweep
        return state

    async def _forget_pending(self, application_id: str) -> None:
        if application_id in self.pending:
            await self._send_all([(self.pending_topic, application_id.encode(), None, [])])
            self.pending.pop(application_id, None)

    # -- the sweep ----------------------------------------------------------------

    async def _own(self) -> None:
        """Keep the ownership consumer in its group and note its partitions."""
        consumer = self._owner
        while True:
            await consumer.getmany(timeout_ms=1000, max_records=100)
            self.owned = {tp.partition for tp in consumer.assignment()}

    def _owns(self, application_id: str) -> bool:
        partition = self.partition_of.get(application_id)
        return partition is not None and partition in self.owned

    async def _sweep(self) -> None:
        await self.ready.wait()
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.sweep_interval)
            self._wake.clear()
            await self.sweep_once()

    async def sweep_once(self, now: float | None = None) -> None:
        """One pass over the owned applications (see the module docstring)."""
        now = time.time() if now is None else now
        for state in self.store.states():
            application_id = state.application_id
            if not self._owns(application_id) or application_id in self._inflight:
                continue
            if state.status in ("received", "awaiting_payment") and state.fee_cents is not None:
                received = state.at("received") or state.history[0].at
                if iso_seconds(received) + self.payment_timeout <= now:
                    async with self._lock:
                        current = self.store.get(application_id)
                        if current is not None and current.status == state.status:
                            self.metrics.payments.labels("none", "timeout").inc()
                            await self._reject(current, "PAYMENT_TIMEOUT")
            elif state.status == "paid" and \
                    iso_seconds(state.history[-1].at) + PAID_GRACE_SECONDS <= now:
                async with self._lock:
                    current = self.store.get(application_id)
                    if current is not None and current.status == "paid":
                        await self._release(current)
            elif state.status not in ("received", "awaiting_payment", "paid") and \
                    application_id in self.pending:
                async with self._lock:
                    await self._forget_pending(application_id)
        if self.postfach is None:
            return
        for state in self.store.states():
            if state.status == "rejected" and self._owns(state.application_id) \
                    and state.application_id not in self._inflight:
                self._inflight.add(state.application_id)
                task = asyncio.ensure_future(self._deliver_rejection(state))
                self._deliveries.add(task)
                task.add_done_callback(self._deliveries.discard)

    async def _deliver_rejection(self, state: ApplicationState) -> None:
        try:
            notice = PostfachNotice.rejection(state.application_id, state.applicant_id,
                                              state.service_key, state.authority,
                                              state.reason or "REJECTED")
            await self._deliver(state, notice, None)
        except Exception as exc:
            log.error("rejection notice failed", extra={
                "event": "portal_loop_failed", "message_id": state.application_id,
                "reason": type(exc).__name__})
        finally:
            self._inflight.discard(state.application_id)

    async def _deliver(self, state: ApplicationState, notice: PostfachNotice,
                       source: Any) -> None:
        """The notice to the Postfach, then ``notice_delivered``; or a dead letter and
        ``notice_failed`` when the Postfach does not take it."""
        assert self.postfach is not None
        try:
            attempts = await self.postfach.deliver(notice)
        except DeliveryFailed as exc:
            await self._dead_letter_notice(notice.body(), notice.application_id, exc.code,
                                           exc.reason, source, stage="deliver")
            async with self._lock:
                current = self.store.get(state.application_id) or state
                await self._record_step(current.step("notice_failed", exc.code))
            self.metrics.notices.labels(notice.kind, "failed").inc()
            return
        async with self._lock:
            current = self.store.get(state.application_id) or state
            await self._record_step(current.step("notice_delivered"))
        self.metrics.notices.labels(notice.kind, "delivered").inc()
        log.info("notice delivered", extra={
            "event": "notice_delivered", "message_id": notice.application_id,
            "code": notice.kind, "attempt": attempts})

    # -- notices from the authorities -----------------------------------------------

    async def _consume_notices(self) -> None:
        from aiokafka.structs import OffsetAndMetadata

        await self.ready.wait()
        consumer = self._notices
        while True:
            batches = await consumer.getmany(timeout_ms=500, max_records=50)
            for tp, records in batches.items():
                for record in records:
                    try:
                        await self._handle_notice(record)
                    except Exception:
                        # read it again when the loop restarts (_guard): the position
                        # is already past it, and the next commit would skip it
                        consumer.seek(tp, record.offset)
                        raise
                    await consumer.commit({tp: OffsetAndMetadata(record.offset + 1, "")})

    async def _handle_notice(self, record: Any) -> None:
        authority = self.names.authority_of_notices(record.topic) or ""
        try:
            notice = parse_notice(record.value)
        except NoticeError as exc:
            await self._refuse_notice(record, None, exc.code, exc.reason)
            return
        application_id = notice.application_id
        # the status of a just-forwarded application may still be on its way back
        for _ in range(20):
            state = self.store.get(application_id)
            if state is not None and state.reached("forwarded"):
                break
            await asyncio.sleep(0.25)
        if state is None:
            await self._refuse_notice(record, application_id, "NOTICE_UNKNOWN_APPLICATION",
                                      "no application with this id")
            return
        if state.authority != authority:
            await self._refuse_notice(record, application_id, "NOTICE_WRONG_AUTHORITY",
                                      f"{authority} sent a notice for an application that "
                                      f"went to {state.authority}")
            return
        if not state.reached("forwarded"):
            await self._refuse_notice(record, application_id, "NOTICE_NOT_FORWARDED",
                                      f"the application is {state.status}, not forwarded")
            return
        if state.reached("notice_delivered") or state.reached("notice_failed"):
            self.metrics.notices.labels("decision", "duplicate").inc()
            log.info("notice again", extra={"event": "notice_duplicate",
                                            "message_id": application_id})
            return
        if not state.reached("decided"):
            async with self._lock:
                state = self.store.get(application_id) or state
                state = state.step("decided")
                await self._record_step(state)
        postfach = PostfachNotice(
            notice_id=notice.notice_id, application_id=application_id,
            recipient=state.applicant_id, service=state.service_key,
            authority=state.authority, author=authority, kind="decision",
            text=notice.text, pdf_base64=notice.pdf_base64, filename=notice.filename,
        )
        await self._deliver(state, postfach, record)

    async def _refuse_notice(self, record: Any, application_id: str | None, code: str,
                             reason: str) -> None:
        await self._dead_letter_notice(record.value or b"", application_id, code, reason,
                                       record, stage="notice")
        self.metrics.notices.labels("decision", "deadlettered").inc()

    async def _dead_letter_notice(self, value: bytes, application_id: str | None, code: str,
                                  reason: str, record: Any, *, stage: str) -> None:
        if record is not None:
            headers = dead_letter_headers(stage, code, reason, record.topic, record.partition,
                                          record.offset, message_id=application_id)
            key = dead_letter_key(record.topic, record.partition, record.offset)
        else:
            headers = dead_letter_headers(stage, code, reason, SOURCE,
                                          message_id=application_id)
            key = f"{SOURCE}:{application_id}:notice".encode()
        await self._send_all([(self.names.deadletter, key, value, headers)])
        log.warning("notice dead-lettered", extra={
            "event": "deadlettered", "message_id": application_id or "", "code": code,
            "source": record.topic if record is not None else SOURCE})

    async def _dead_letter(self, state: ApplicationState, service: Service, form: Any,
                           reason: str) -> ApplicationState:
        code = "APPLICATION_DELIVERY_FAILED"
        value = json.dumps({"application_id": state.application_id, "service": service.key,
                            "ags": state.ags, "authority": state.authority,
                            "payment_reference": state.payment_reference, "form": form},
                           ensure_ascii=False).encode("utf-8")
        headers = dead_letter_headers(
            "deliver", code, f"the broker refused the application event: {reason}", SOURCE,
            message_id=state.application_id,
        )
        await self._send_all([(self.names.deadletter,
                               f"{SOURCE}:{state.application_id}".encode(), value, headers)])
        state = state.step("rejected", code)
        await self._record_step(state)
        assert state.authority is not None
        self.metrics.applications.labels(service.key, state.authority, "deadlettered").inc()
        log.warning("application dead-lettered", extra={
            "event": "deadlettered", "message_id": state.application_id, "code": code,
            "reason": reason, "source": SOURCE})
        return state


__all__ = ["ITEM_ROUTE", "PAYMENT_ROUTE", "ROUTE", "STATUS_CODEC", "Portal", "PortalMetrics",
           "portal_digests"]
