"""Runs the adapters the region configuration names, connected to Kafka.

* Sources → ``xoev.in.<authority>`` (aiokafka producer, ``acks=all``): a
  source's ``emit`` returns only after the broker acknowledged the message.
* Sinks ← ``xoev.out.<authority>.xml``: one consumer group per authority and
  adapter (``<consumer_group>.adapter.<authority>.<name>``), offsets committed
  only after the batch was delivered or dead-lettered (``xoev.deadletter`` with
  the contract headers, stage ``deliver``).

Authorities name their adapters in the region file (``adapters`` of an
``[[authority]]``); the adapter's options sit beside ``type`` or in ``config``::

    adapters = [
      { type = "directory-inbound", path = "/srv/xoev/solingen.meldebehoerde/inbox" },
      { type = "webhook", name = "fachverfahren", url = "https://...", secret_env = "HOOK",
        retry = { attempts = 8, base_seconds = 0.5, max_seconds = 30 }, batch_size = 100 },
    ]

``type = "kafka"`` means the authority's system reads and writes the Kafka
topics itself: no adapter is built for it.

``run_adapters(settings, region, stop_event)`` runs them until the event is set.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from hub import topics as t
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
from hub.adapters.precheck import Checker, validating_checker
from hub.adapters.registry import AdapterRegistry
from hub.errors import ConfigError, MessageError, TransientError
from hub.settings import Settings
from hub.topics import TopicNames

log = logging.getLogger(__name__)


#: Adapter types that need no adapter: the city system speaks Kafka itself.
NATIVE_TYPES = frozenset({"kafka"})


class AdapterSpec(BaseModel):
    """One entry of an authority's ``adapters`` list in the region file.

    Keys other than ``type``, ``name``, ``retry`` and ``batch_size`` are the
    adapter's own options; they may also be given as one ``config`` table.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _flat_options(cls, data: Any) -> Any:
        if not isinstance(data, Mapping):
            return data
        own = {"type", "name", "retry", "batch_size", "config"}
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


def kafka_client_options(settings: Settings) -> dict[str, Any]:
    """aiokafka connection options from the settings (security included), from
    :mod:`hub.kafka_client`, the one place that maps settings to client arguments."""
    from hub.kafka_client import connection_config

    return connection_config(settings, client="aiokafka")


@dataclass
class RunningSource:
    authority_id: str
    name: str
    adapter_type: str
    source: Source


@dataclass
class RunningSink:
    authority_id: str
    name: str
    adapter_type: str
    sink: Sink
    spec: AdapterSpec
    task: asyncio.Task[None] | None = None


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
        self._producer: Any = None
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
        from hub.schemas import SchemaRegistry
        from hub.xmlsafe import Limits

        return validating_checker(SchemaRegistry.from_settings(settings),
                                  Limits.from_settings(settings))

    # --- construction ---------------------------------------------------
    def _build(self) -> None:
        for authority_id, authority in self.region.authorities.items():
            for spec in adapter_specs(authority):
                cls = self.registry.load(spec.type)
                context = AdapterContext(
                    authority_id, spec.instance, self.settings.max_message_bytes,
                    on_rejected=rejection_counter(
                        adapter=spec.type, authority=authority_id, metrics=self.metrics
                    ),
                )
                adapter = cls.create(spec.config, context)
                if isinstance(adapter, Source):
                    self.sources.append(
                        RunningSource(authority_id, spec.instance, spec.type, adapter)
                    )
                elif isinstance(adapter, Sink):
                    self.sinks.append(
                        RunningSink(authority_id, spec.instance, spec.type, adapter, spec)
                    )

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
        if self.sources:
            self._producer = AIOKafkaProducer(
                acks="all", linger_ms=5, request_timeout_ms=15_000,
                max_request_size=self.settings.max_message_bytes + 64 * 1024,
                **kafka_client_options(self.settings),
            )
            try:
                await self._producer.start()
            except KafkaError as exc:
                raise TransientError(
                    f"Kafka at {self.settings.bootstrap} unreachable: {type(exc).__name__}"
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
        producer, self._producer = self._producer, None
        if producer is not None:
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

        async def emit(message: InboundMessage) -> None:
            if message.authority_id != running.authority_id:
                raise ConfigError(
                    f"adapter {running.name} of {running.authority_id} emitted for "
                    f"{message.authority_id}"
                )
            producer = self._producer
            if producer is None:
                raise TransientError("producer not running")
            key = message.key.encode("utf-8") if message.key else None
            try:
                await producer.send_and_wait(topic, message.payload, key=key)
            except TOO_LARGE as exc:
                # retrying cannot help: the broker's or topic's size limit is lower
                raise MessageError(
                    f"{len(message.payload)} bytes exceed the broker's limit for {topic}",
                    code="XML_TOO_LARGE",
                ) from exc
            except KafkaError as exc:
                raise TransientError(f"produce to {topic} failed: {type(exc).__name__}") from exc

        return emit

    # --- Kafka → sinks --------------------------------------------------
    def group_id(self, authority_id: str, name: str) -> str:
        return f"{self.settings.consumer_group}.adapter.{authority_id}.{name}"

    async def _run_sink(self, running: RunningSink) -> None:
        while not self._stopping.is_set():
            try:
                await self._consume(running)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("sink runner %s of %s failed; restarting",
                              running.name, running.authority_id)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), 2.0)

    async def _consume(self, running: RunningSink) -> None:
        from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

        topic = self.topics.out_xml(running.authority_id)
        consumer = AIOKafkaConsumer(
            topic,
            group_id=self.group_id(running.authority_id, running.name),
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_partition_fetch_bytes=self.settings.max_message_bytes + 64 * 1024,
            **kafka_client_options(self.settings),
        )
        dead_producer = AIOKafkaProducer(
            acks="all", max_request_size=self.settings.max_message_bytes + 64 * 1024,
            **kafka_client_options(self.settings),
        )
        driver = SinkDriver(
            running.sink, adapter=running.adapter_type,
            metrics=self.metrics, retry=running.spec.retry,
        )
        await consumer.start()
        await dead_producer.start()
        try:
            while not self._stopping.is_set():
                fetched = await consumer.getmany(
                    timeout_ms=300, max_records=running.spec.batch_size
                )
                for tp, records in fetched.items():
                    batch = [self._outbound(running.authority_id, r) for r in records]
                    dead = await driver.deliver(batch)
                    await self._dead_letter(dead_producer, dead)
                    await consumer.commit({TopicPartition(tp.topic, tp.partition):
                                           records[-1].offset + 1})
        finally:
            await consumer.stop()
            await dead_producer.stop()

    @staticmethod
    def _outbound(authority_id: str, record: Any) -> OutboundMessage:
        headers = _headers(record.headers)
        key = record.key.decode("utf-8", "replace") if record.key else None
        message_id = key or headers.get(t.H_MESSAGE_ID) or (
            f"{record.topic}-{record.partition}-{record.offset}"
        )
        return OutboundMessage(
            authority_id, message_id, record.value or b"", headers,
            record.topic, record.partition, record.offset,
        )

    async def _dead_letter(self, producer: Any, dead: Sequence[DeadLetter]) -> None:
        for letter in dead:
            m = letter.message
            headers = [(k, v.encode("utf-8")) for k, v in m.headers.items()
                       if not k.startswith("xoev-error-") and not k.startswith("xoev-source-")]
            headers += [
                (t.H_ERROR_STAGE, b"deliver"),
                (t.H_ERROR_CODE, letter.code.encode()),
                (t.H_ERROR_DETAIL, letter.detail.encode("utf-8")[:1000]),
                (t.H_SOURCE_TOPIC, m.topic.encode()),
                (t.H_SOURCE_PARTITION, str(m.partition).encode()),
                (t.H_SOURCE_OFFSET, str(m.offset).encode()),
            ]
            key = f"{m.topic}:{m.partition}:{m.offset}".encode()
            await producer.send_and_wait(
                self.topics.deadletter, m.payload, key=key, headers=headers
            )


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
