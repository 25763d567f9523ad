"""Runs the adapters the region configuration names, connected to Kafka.

* Sources → ``xoev.in.<authority>`` (aiokafka producer, ``acks=all``): a
  source's ``emit`` returns only after the broker acknowledged the message.
* Sinks ← ``xoev.out.<authority>.xml``: one consumer group per authority and
  adapter (``<consumer_group>.adapter.<authority>.<name>``), offsets committed
  only after the batch was delivered or dead-lettered (``xoev.deadletter`` with
  the contract headers, stage ``deliver``). While a batch is out, its partition
  is paused and the consumer keeps polling (a slow endpoint never exceeds
  ``max.poll.interval.ms``).

Authorities name their adapters in the region file (``adapters`` of an
``[[authority]]``); the adapter's options sit beside ``type`` or in ``config``::

    adapters = [
      { type = "directory-inbound", path = "/srv/xoev/solingen.meldebehoerde/inbox" },
      { type = "webhook", name = "fachverfahren", url = "https://...", secret_env = "HOOK",
        retry = { attempts = 8, base_seconds = 0.5, max_seconds = 30 }, batch_size = 100 },
    ]

``type = "kafka"`` means the authority's system reads and writes the Kafka
topics itself: no adapter is built for it.

Principals (docs/decisions/0008): with SASL, an adapter that names
``kafka_credentials`` (see :mod:`hub.kafka.credentials`) acts as that principal, the
authority's own: a source produces to ``xoev.in.<authority>`` with it, a sink
consumes ``xoev.out.<authority>.xml`` with it in the group
``<topic prefix><authority>.<consumer_group>.adapter.<name>`` (the ACL plan lets
an authority use the groups ``<authority>.*``). Delivery dead letters are
written with the hub's principal (only the hub may write ``xoev.deadletter``).
An adapter without ``kafka_credentials``, and every adapter without SASL, uses
the hub's settings and the group ``<consumer_group>.adapter.<authority>.<name>``.
When the broker refuses a principal (ACLs), a source answers "unavailable"
(``KAFKA_NOT_AUTHORIZED``, the message stays with the sender) and a sink retries
with a backoff that doubles up to a minute; both log one error line that names
the authority, the adapter, the topic and the code.

``run_adapters(settings, region, stop_event)`` runs them until the event is set.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from hub.adapters.base import (
    AdapterContext,
    InboundMessage,
    OutboundMessage,
    Sink,
    Source,
)
from hub.adapters.framework import (
    AdapterMetrics,
    DeadLetter,
    RetryPolicy,
    SinkDriver,
    instrument_emit,
    rejection_counter,
)
from hub.adapters.http_inbound import HttpGateway, HttpInboundSource
from hub.adapters.intake import ContainerIntake
from hub.adapters.precheck import Checker, validating_checker
from hub.adapters.registry import AdapterRegistry
from hub.errors import ConfigError, MessageError, NotAuthorizedError, TransientError
from hub.kafka.config import SaslCredentials, connection_config, uses_sasl
from hub.kafka.credentials import KafkaCredentialsRef, resolve_credentials
from hub.kafka.headers import H_MESSAGE_ID, dead_letter_headers, dead_letter_key
from hub.kafka.topics import TopicNames
from hub.settings import Settings
from hub.xdomea.blobstore import LocalBlobStore
from hub.xdomea.containers import ContainerLimits

log = logging.getLogger(__name__)


#: Adapter types that need no adapter: the city system speaks Kafka itself.
NATIVE_TYPES = frozenset({"kafka"})

#: A sink runner that failed waits this long before it starts again, doubling
#: up to SINK_RESTART_MAX while it keeps failing (a refused principal does not
#: flood the log or the broker).
SINK_RESTART_MIN = 2.0
SINK_RESTART_MAX = 60.0
#: A source whose principal is refused logs that at most once per this many seconds.
REFUSAL_LOG_INTERVAL = 60.0

#: The operations an adapter performs with its principal, by direction:
#: (resource type, resource, operation) for :func:`hub.tools.acl.allowed`.
SOURCE, SINK = "source", "sink"


class AdapterSpec(BaseModel):
    """One entry of an authority's ``adapters`` list in the region file
    (:class:`hub.core.region.AdapterEntry`) as the runtime reads it.

    Keys other than ``type``, ``name``, ``retry``, ``batch_size`` and
    ``kafka_credentials`` are the adapter's own options; they may also be given as
    one ``config`` table.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _flat_options(cls, data: Any) -> Any:
        if not isinstance(data, Mapping):
            return data
        own = {"type", "name", "retry", "batch_size", "config", "kafka_credentials"}
        options = {k: v for k, v in data.items() if k not in own}
        if not options:
            return data
        if "config" in data:
            raise ValueError(
                f"give adapter options either flat or in config, not both: {sorted(options)}"
            )
        return {**{k: v for k, v in data.items() if k in own}, "config": options}

    type: str = Field(description="Registered adapter name (entry point).")
    name: str | None = Field(default=None, pattern=r"^[A-Za-z0-9._-]+$")
    config: dict[str, Any] = Field(default_factory=dict)
    retry: RetryPolicy = Field(default_factory=RetryPolicy)
    batch_size: int = Field(default=100, ge=1, le=10_000)
    kafka_credentials: KafkaCredentialsRef | None = Field(
        default=None,
        description="The Kafka principal the adapter acts as (hub.kafka.credentials); "
        "default: the hub's.",
    )

    @property
    def instance(self) -> str:
        return self.name or self.type


class AuthorityLike(Protocol):
    id: str
    adapters: Any


class RegionLike(Protocol):
    @property
    def authorities(self) -> Mapping[str, Any]: ...


def adapter_specs(authority: Any) -> list[AdapterSpec]:
    """The adapter entries of one authority that need an adapter (``ConfigError``
    if an entry is wrong); ``kafka`` entries are left out."""
    raw = getattr(authority, "adapters", None) or []
    specs: list[AdapterSpec] = []
    for index, entry in enumerate(raw):
        data = entry.model_dump() if isinstance(entry, BaseModel) else entry
        try:
            specs.append(AdapterSpec.model_validate(data))
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
            )
            raise ConfigError(
                f"authority {authority.id}: adapters[{index}]: {problems}"
            ) from exc
    specs = [s for s in specs if s.type not in NATIVE_TYPES]
    names = [s.instance for s in specs]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ConfigError(f"authority {authority.id}: adapter name(s) used twice: {dupes}")
    return specs


def kafka_client_options(
    settings: Settings, credentials: SaslCredentials | None = None
) -> dict[str, Any]:
    """aiokafka connection options from the settings (security included), from
    :mod:`hub.kafka.config`, the one place that maps settings to client arguments;
    ``credentials``: the adapter's own principal instead of the hub's."""
    return connection_config(settings, client="aiokafka", credentials=credentials)


def sink_group(settings: Settings, authority_id: str, name: str, *, own_principal: bool) -> str:
    """The consumer group of a sink: in the authority's groups when it acts as the
    authority's principal, otherwise under the hub's group (as before 0008)."""
    if own_principal:
        return f"{settings.topic_prefix}{authority_id}.{settings.consumer_group}.adapter.{name}"
    return f"{settings.consumer_group}.adapter.{authority_id}.{name}"


def adapter_operations(
    settings: Settings, authority_id: str, direction: str, name: str
) -> list[tuple[str, str, str]]:
    """What an adapter of ``authority_id`` asks of the broker with the authority's
    principal, as (resource type, name, operation): what the ACL plan must allow."""
    topics = TopicNames(settings.topic_prefix)
    if direction == SOURCE:
        inbound = topics.inbound(authority_id)
        return [("TOPIC", inbound, "DESCRIBE"), ("TOPIC", inbound, "WRITE")]
    out = topics.out_xml(authority_id)
    group = sink_group(settings, authority_id, name, own_principal=True)
    return [("TOPIC", out, "DESCRIBE"), ("TOPIC", out, "READ"),
            ("GROUP", group, "DESCRIBE"), ("GROUP", group, "READ")]


def refusal_code(exc: BaseException) -> str | None:
    """``KAFKA_NOT_AUTHORIZED`` when the broker refused the principal (ACLs)."""
    from aiokafka import errors

    refused = (errors.TopicAuthorizationFailedError, errors.GroupAuthorizationFailedError,
               errors.ClusterAuthorizationFailedError,
               errors.TransactionalIdAuthorizationFailed)
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, (*refused, NotAuthorizedError)):
            return NotAuthorizedError.code
        seen = seen.__cause__
    return None


@dataclass
class RunningSource:
    authority_id: str
    name: str
    adapter_type: str
    source: Source
    credentials: SaslCredentials | None = None


@dataclass
class RunningSink:
    authority_id: str
    name: str
    adapter_type: str
    sink: Sink
    spec: AdapterSpec
    task: asyncio.Task[None] | None = None
    credentials: SaslCredentials | None = None


def _headers(raw: Iterable[tuple[str, bytes]] | None) -> dict[str, str]:
    return {k: v.decode("utf-8", "replace") for k, v in (raw or ())}


class AdapterRuntime:
    """Builds and runs the configured adapters; ``start()`` / ``stop()``."""

    def __init__(
        self,
        settings: Settings,
        region: RegionLike,
        *,
        registry: AdapterRegistry | None = None,
        metrics: AdapterMetrics | None = None,
        gateway: HttpGateway | None = None,
        http_listen: tuple[str, int] | None = None,
        checker: Checker | None = None,
    ) -> None:
        self.settings = settings
        self.region = region
        self.registry = registry or AdapterRegistry.discover()
        self.metrics = metrics or AdapterMetrics()
        self.topics = TopicNames(settings.topic_prefix)
        self.http_listen = http_listen
        self._external_gateway = gateway is not None
        self.sources: list[RunningSource] = []
        self.sinks: list[RunningSink] = []
        #: extra AIOKafkaConsumer arguments of the sink consumers (tests shorten
        #: max_poll_interval_ms)
        self.sink_consumer_options: dict[str, Any] = {}
        #: one producer per principal of the sources (None: the hub's)
        self._producers: dict[str | None, Any] = {}
        self._stopping = asyncio.Event()
        self._build()
        http_sources = [r.source for r in self.sources if isinstance(r.source, HttpInboundSource)]
        if http_sources and http_listen is None and gateway is None:
            raise ConfigError(
                "http-inbound adapters configured: give http_listen=(host, port) or a "
                "gateway mounted on a web server of your own"
            )
        if gateway is None:
            if http_sources and checker is None:
                checker = self.default_http_checker(settings)
            gateway = HttpGateway(settings.max_message_bytes, checker)
        self.gateway = gateway
        for source in http_sources:
            source.attach(gateway)

    @staticmethod
    def default_http_checker(settings: Settings) -> Checker:
        """HTTP inbound answers with the full validation (bundled and installed
        schema packages of the settings)."""
        from hub.core.schemas import SchemaRegistry
        from hub.core.xmlsafe import Limits

        return validating_checker(SchemaRegistry.from_settings(settings),
                                  Limits.from_settings(settings))

    # --- construction ---------------------------------------------------
    def _build(self) -> None:
        # hand-over containers (hub.xdomea.containers): sources check and store them in the
        # blob store, sinks deliver them from there
        settings = self.settings
        self.blobs = LocalBlobStore(settings.blob_dir)
        self.containers = ContainerIntake(
            self.blobs, ContainerLimits.from_settings(settings),
            lambda: self.default_http_checker(settings),
        )
        for authority_id, authority in self.region.authorities.items():
            for spec in adapter_specs(authority):
                cls = self.registry.load(spec.type)
                context = AdapterContext(
                    authority_id, spec.instance, self.settings.max_message_bytes,
                    on_rejected=rejection_counter(
                        adapter=spec.type, authority=authority_id, metrics=self.metrics
                    ),
                    containers=self.containers, blobs=self.blobs,
                )
                adapter = cls.create(spec.config, context)
                credentials = self._credentials(authority_id, spec)
                if isinstance(adapter, Source):
                    self.sources.append(RunningSource(
                        authority_id, spec.instance, spec.type, adapter, credentials
                    ))
                elif isinstance(adapter, Sink):
                    self.sinks.append(RunningSink(
                        authority_id, spec.instance, spec.type, adapter, spec,
                        credentials=credentials,
                    ))

    def _credentials(self, authority_id: str, spec: AdapterSpec) -> SaslCredentials | None:
        """The adapter's own principal (ConfigError if its secret is missing), or
        None for the hub's: when it names none, or when the hub uses no SASL."""
        fields = {"event": "adapter_principal", "authority": authority_id,
                  "adapter": spec.instance}
        if spec.kafka_credentials is None:
            if uses_sasl(self.settings):
                log.warning("adapter uses the hub's principal (no kafka_credentials); under "
                            "the ACL plan the broker refuses it (docs/security.md)",
                            extra=fields)
            return None
        credentials = resolve_credentials(
            spec.kafka_credentials, authority_id=authority_id,
            where=f"authority {authority_id}: adapter {spec.instance}",
        )
        if not uses_sasl(self.settings):
            log.info("kafka_credentials not used: the hub connects without SASL",
                     extra=fields)
            return None
        return credentials

    # --- lifecycle ------------------------------------------------------
    async def start(self) -> None:
        """Start producer, sources, gateway and sink runners; on failure, undo."""
        try:
            await self._start()
        except BaseException:
            await self.stop()
            raise

    async def _start(self) -> None:
        from aiokafka import AIOKafkaProducer
        from aiokafka.errors import KafkaError

        self._stopping = asyncio.Event()
        principals = {_key(r.credentials): r.credentials for r in self.sources}
        for key, credentials in sorted(principals.items(), key=lambda kv: kv[0] or ""):
            producer = AIOKafkaProducer(
                acks="all", linger_ms=5, request_timeout_ms=15_000,
                max_request_size=self.settings.max_message_bytes + 64 * 1024,
                **kafka_client_options(self.settings, credentials),
            )
            self._producers[key] = producer
            try:
                await producer.start()
            except KafkaError as exc:
                who = f" as {key}" if key else ""
                raise TransientError(
                    f"Kafka at {self.settings.bootstrap} unreachable{who}: "
                    f"{type(exc).__name__}"
                ) from exc
        for running in self.sources:
            emit = instrument_emit(
                self._emitter(running), adapter=running.adapter_type,
                authority=running.authority_id, metrics=self.metrics,
            )
            await running.source.start(emit)
        if self.http_listen is not None and not self._external_gateway and any(
            isinstance(r.source, HttpInboundSource) for r in self.sources
        ):
            await self.gateway.serve(*self.http_listen)
        for running_sink in self.sinks:
            await running_sink.sink.start()
            running_sink.task = asyncio.create_task(
                self._run_sink(running_sink),
                name=f"sink:{running_sink.authority_id}:{running_sink.name}",
            )
        log.info("adapters running: %d sources, %d sinks", len(self.sources), len(self.sinks))

    async def stop(self) -> None:
        self._stopping.set()
        for running in self.sources:
            await running.source.stop()
        if not self._external_gateway:
            await self.gateway.close()
        tasks = {r.task for r in self.sinks if r.task is not None}
        if tasks:
            # let current batches finish; if retries take too long, cancel: their
            # offsets are not committed, so they are delivered again later
            _, pending = await asyncio.wait(tasks, timeout=10.0)
            for task in pending:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        for running_sink in self.sinks:
            running_sink.task = None
            await running_sink.sink.stop()
        producers, self._producers = self._producers, {}
        for producer in producers.values():
            await producer.stop()

    # --- sources → Kafka ------------------------------------------------
    def _emitter(self, running: RunningSource) -> Any:
        topic = self.topics.inbound(running.authority_id)

        from aiokafka.errors import (
            KafkaError,
            MessageSizeTooLargeError,
            RecordListTooLargeError,
            RecordTooLargeError,
        )

        TOO_LARGE = (MessageSizeTooLargeError, RecordTooLargeError, RecordListTooLargeError)
        last_refusal_log = -REFUSAL_LOG_INTERVAL

        async def emit(message: InboundMessage) -> None:
            nonlocal last_refusal_log
            if message.authority_id != running.authority_id:
                raise ConfigError(
                    f"adapter {running.name} of {running.authority_id} emitted for "
                    f"{message.authority_id}"
                )
            producer = self._producers.get(_key(running.credentials))
            if producer is None:
                raise TransientError("producer not running")
            key = message.key.encode("utf-8") if message.key else None
            headers = [(k, v.encode("utf-8")) for k, v in message.headers.items()] or None
            try:
                await producer.send_and_wait(topic, message.payload, key=key, headers=headers)
            except TOO_LARGE as exc:
                # retrying cannot help: the broker's or topic's size limit is lower
                raise MessageError(
                    f"{len(message.payload)} bytes exceed the broker's limit for {topic}",
                    code="XML_TOO_LARGE",
                ) from exc
            except KafkaError as exc:
                if refusal_code(exc) is None:
                    raise TransientError(
                        f"produce to {topic} failed: {type(exc).__name__}"
                    ) from exc
                # counted besides the framework's TRANSIENT (the message stays unsent)
                self.metrics.errors.labels(
                    adapter=running.adapter_type, authority=running.authority_id,
                    direction="source", code=NotAuthorizedError.code,
                ).inc()
                now = time.monotonic()
                if now - last_refusal_log >= REFUSAL_LOG_INTERVAL:
                    last_refusal_log = now
                    log.error(
                        "the broker refuses this adapter's principal; messages stay with "
                        "the sender until the credentials or ACLs are fixed",
                        extra={"event": "adapter_not_authorized",
                               "authority": running.authority_id, "adapter": running.name,
                               "topic": topic, "code": NotAuthorizedError.code,
                               "reason": type(exc).__name__},
                    )
                raise NotAuthorizedError(
                    f"the broker refuses {_key(running.credentials) or 'the hub'} "
                    f"WRITE on {topic}"
                ) from exc

        return emit

    # --- Kafka → sinks --------------------------------------------------
    def group_id(self, authority_id: str, name: str, *, own_principal: bool = False) -> str:
        return sink_group(self.settings, authority_id, name, own_principal=own_principal)

    async def _run_sink(self, running: RunningSink) -> None:
        delay = SINK_RESTART_MIN
        while not self._stopping.is_set():
            started = time.monotonic()
            try:
                await self._consume(running)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if time.monotonic() - started > SINK_RESTART_MAX:
                    delay = SINK_RESTART_MIN  # it ran for a while: a new failure
                fields = {"authority": running.authority_id, "adapter": running.name,
                          "topic": self.topics.out_xml(running.authority_id),
                          "retry_in": round(delay, 1)}
                code = refusal_code(exc)
                if code is not None:
                    self.metrics.errors.labels(
                        adapter=running.adapter_type, authority=running.authority_id,
                        direction="sink", code=code,
                    ).inc()
                    log.error(
                        "the broker refuses this sink's principal; nothing is delivered "
                        "until the credentials or ACLs are fixed",
                        extra={"event": "adapter_not_authorized", "code": code,
                               "reason": type(exc).__name__, **fields},
                    )
                else:
                    log.exception("sink runner failed; restarting",
                                  extra={"event": "sink_restart", **fields})
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), delay)
                delay = min(SINK_RESTART_MAX, delay * 2)

    async def _consume(self, running: RunningSink) -> None:
        from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
        from aiokafka.errors import CommitFailedError

        topic = self.topics.out_xml(running.authority_id)
        consumer = AIOKafkaConsumer(
            topic,
            group_id=self.group_id(running.authority_id, running.name,
                                   own_principal=running.credentials is not None),
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_partition_fetch_bytes=self.settings.max_message_bytes + 64 * 1024,
            **kafka_client_options(self.settings, running.credentials),
            **self.sink_consumer_options,
        )
        # dead letters are the hub's: its principal writes xoev.deadletter
        dead_producer = AIOKafkaProducer(
            acks="all", max_request_size=self.settings.max_message_bytes + 64 * 1024,
            **kafka_client_options(self.settings),
        )
        driver = SinkDriver(
            running.sink, adapter=running.adapter_type,
            metrics=self.metrics, retry=running.spec.retry,
        )
        # A batch is delivered in a task of its own while its partition is paused,
        # and this loop keeps polling: a slow endpoint or a long backoff never keeps
        # the consumer from polling within max.poll.interval.ms (it would leave the
        # group, another member would deliver the uncommitted batch again, and the
        # late commit would fail). One delivery at a time per sink, as before.
        in_flight: dict[TopicPartition, asyncio.Task[int]] = {}
        one_at_a_time = asyncio.Lock()

        async def deliver(records: list[Any]) -> int:
            batch = [self._outbound(running.authority_id, r) for r in records]
            async with one_at_a_time:
                dead = await driver.deliver(batch)
                await self._dead_letter(dead_producer, dead)
            return int(records[-1].offset) + 1

        async def settle(wait: bool) -> None:
            if wait and in_flight:
                await asyncio.wait(list(in_flight.values()))
            for tp, task in list(in_flight.items()):
                if not task.done():
                    continue
                del in_flight[tp]
                try:
                    await consumer.commit({tp: task.result()})
                except CommitFailedError:
                    # the partition moved to another member during the delivery,
                    # which delivers from the last commit again (receivers dedupe)
                    log.warning("sink %s of %s: partition %s moved during a delivery",
                                running.name, running.authority_id, tp.partition)
                if tp in consumer.assignment():
                    consumer.resume(tp)

        try:
            # inside the try: a refused start (ACLs) must not leak the clients
            await consumer.start()
            await dead_producer.start()
            while not self._stopping.is_set():
                await settle(wait=False)
                assigned = consumer.assignment()
                busy = [tp for tp in in_flight if tp in assigned]
                if busy:  # again: a rebalance forgets pauses
                    consumer.pause(*busy)
                fetched = await consumer.getmany(
                    timeout_ms=100 if in_flight else 300, max_records=running.spec.batch_size
                )
                for fetched_tp, records in fetched.items():
                    tp = TopicPartition(fetched_tp.topic, fetched_tp.partition)
                    if tp in in_flight:  # given back to us while its batch is out
                        consumer.seek(tp, records[0].offset)
                        continue
                    consumer.pause(tp)
                    in_flight[tp] = asyncio.create_task(
                        deliver(records), name=f"deliver:{running.authority_id}:{tp.partition}"
                    )
            await settle(wait=True)  # a stop lets the deliveries under way finish
        finally:
            for task in in_flight.values():
                task.cancel()
            await asyncio.gather(*in_flight.values(), return_exceptions=True)
            for client in (consumer, dead_producer):
                with contextlib.suppress(Exception):
                    await client.stop()

    @staticmethod
    def _outbound(authority_id: str, record: Any) -> OutboundMessage:
        headers = _headers(record.headers)
        key = record.key.decode("utf-8", "replace") if record.key else None
        message_id = key or headers.get(H_MESSAGE_ID) or (
            f"{record.topic}-{record.partition}-{record.offset}"
        )
        return OutboundMessage(
            authority_id, message_id, record.value or b"", headers,
            record.topic, record.partition, record.offset,
        )

    async def _dead_letter(self, producer: Any, dead: Sequence[DeadLetter]) -> None:
        for letter in dead:
            m = letter.message
            headers = dead_letter_headers(
                "deliver", letter.code, letter.detail, m.topic, m.partition, m.offset,
                carried=[(k, v.encode("utf-8")) for k, v in m.headers.items()],
            )
            key = dead_letter_key(m.topic, m.partition, m.offset)
            await producer.send_and_wait(
                self.topics.deadletter, m.payload, key=key, headers=headers
            )


def _key(credentials: SaslCredentials | None) -> str | None:
    return credentials.username if credentials is not None else None


async def run_adapters(
    settings: Settings,
    region: RegionLike,
    stop_event: asyncio.Event,
    *,
    registry: AdapterRegistry | None = None,
    metrics: AdapterMetrics | None = None,
    gateway: HttpGateway | None = None,
    http_listen: tuple[str, int] | None = None,
    checker: Checker | None = None,
) -> None:
    """Run every adapter the region names until ``stop_event`` is set.

    HTTP inbound is served on ``http_listen`` if given; otherwise pass
    ``gateway`` and mount it with ``gateway.add_routes(app)`` on your own (the
    worker's), or neither if no authority uses ``http-inbound``. ``checker``
    is the synchronous HTTP check (default: parse, identify and XSD-validate
    with the settings' schema packages, ``hub.adapters.precheck.validating_checker``).
    """
    runtime = AdapterRuntime(
        settings, region, registry=registry, metrics=metrics,
        gateway=gateway, http_listen=http_listen, checker=checker,
    )
    await runtime.start()
    try:
        await stop_event.wait()
    finally:
        await runtime.stop()
