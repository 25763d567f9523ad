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
* a service with a fee: the steps ``received`` and ``awaiting_payment``.

A permanent refusal of the event by the broker dead-letters the application
(without the assertion) with code ``APPLICATION_DELIVERY_FAILED`` and records the
step ``rejected``. The state of every application is read back from the
compacted status topic at start and followed afterwards, so it survives a
restart and every worker answers ``GET``.
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
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiohttp import web
from prometheus_client import REGISTRY, CollectorRegistry, Counter

from hub.audit import AUDIT_CODEC
from hub.avro import dumps_schema
from hub.errors import ConfigError
from hub.kafka_client import consumer_config, producer_config
from hub.logging import register_secret
from hub.portal.catalog import Catalogue, PortalConfig, Service
from hub.portal.forms import FormSchema
from hub.portal.identity import IdentityError, IdentityVerifier
from hub.portal.status import (
    STATUS_CODEC,
    ApplicationState,
    ApplicationStore,
    request_digest,
)
from hub.topics import (
    H_ERROR_CODE,
    H_ERROR_DETAIL,
    H_ERROR_STAGE,
    H_MESSAGE_ID,
    H_SOURCE_TOPIC,
    H_TRACEPARENT,
    TopicNames,
)

if TYPE_CHECKING:
    from hub.region import Region
    from hub.settings import Settings

log = logging.getLogger("hub.portal")

ROUTE = "/v1/applications"
ITEM_ROUTE = "/v1/applications/{application_id}"
#: application ids: what a portal's case numbers look like, nothing that could be prose
APPLICATION_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")
MAX_BODY_BYTES = 256 * 1024
SOURCE = "portal"
#: The record fields of a request (anything else is refused).
REQUEST_FIELDS = frozenset({"service", "ags", "application_id", "identity",
                            "payment_reference", "form"})


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def portal_digests(config: PortalConfig) -> tuple[str, ...]:
    """The accepted SHA-256 digests of the portal's bearer token(s)."""
    digests = list(config.token_sha256)
    if config.token_env:
        raw = os.environ.get(config.token_env)
        if not raw:
            raise ConfigError(f"portal: environment variable {config.token_env} is not set")
        tokens = [t.strip() for t in raw.split(",") if t.strip()]
        for token in tokens:
            register_secret(token)
        digests += [token_digest(t) for t in tokens]
    if not digests:
        raise ConfigError("portal: no token configured ([portal] token_sha256 or token_env)")
    return tuple(digests)


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
        topic = self.names.status_applications
        deadline = time.monotonic() + timeout
        partitions: set[int] | None = None
        while not partitions:
            partitions = consumer.partitions_for_topic(topic)
            if partitions:
                break
            if time.monotonic() > deadline:
                raise ConfigError(f"topic {topic} is missing: run `xoev-hub topics apply`")
            await consumer._client.force_metadata_update()
            await asyncio.sleep(0.2)
        assigned = [TopicPartition(topic, p) for p in sorted(partitions)]
        consumer.assign(assigned)
        await consumer.seek_to_beginning(*assigned)
        ends = await consumer.end_offsets(assigned)
        self._tail = asyncio.ensure_future(self._follow(ends))

    async def _follow(self, ends: dict[Any, int]) -> None:
        consumer = self._consumer
        loaded = 0
        while True:
            batches = await consumer.getmany(timeout_ms=200, max_records=2000)
            for records in batches.values():
                for record in records:
                    try:
                        self.store.apply_record(record.key, record.value)
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

    async def stop(self) -> None:
        if self._tail is not None:
            self._tail.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._tail
        for client in (self._consumer, self._producer):
            if client is not None:
                with contextlib.suppress(Exception):
                    await client.stop()
        self._consumer = self._producer = None

    async def _send_all(self, records: Sequence[tuple[str, bytes, bytes, list[Any]]]) -> None:
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
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return False
        presented = token_digest(token.strip())
        found = False
        for digest in self.digests:
            found = hmac.compare_digest(presented, digest) or found
        return found

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
        if known is not None and (known.reached("forwarded") or known.reached("rejected")
                                  or known.status == "awaiting_payment"):
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
        records.append((self.names.audit, key, audit, headers))
        try:
            await self._send_all(records)
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

    async def _dead_letter(self, state: ApplicationState, service: Service, form: Any,
                           reason: str) -> ApplicationState:
        code = "APPLICATION_DELIVERY_FAILED"
        value = json.dumps({"application_id": state.application_id, "service": service.key,
                            "ags": state.ags, "authority": state.authority,
                            "payment_reference": state.payment_reference, "form": form},
                           ensure_ascii=False).encode("utf-8")
        headers = [
            (H_ERROR_STAGE, b"deliver"), (H_ERROR_CODE, code.encode()),
            (H_ERROR_DETAIL, f"the broker refused the application event: {reason}".encode()),
            (H_SOURCE_TOPIC, SOURCE.encode()), (H_MESSAGE_ID, state.application_id.encode()),
        ]
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


__all__ = ["ITEM_ROUTE", "ROUTE", "STATUS_CODEC", "Portal", "PortalMetrics", "portal_digests"]
