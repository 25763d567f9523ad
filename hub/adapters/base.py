"""The adapter model: ``Source`` and ``Sink`` base classes and their messages.

An adapter connects one authority's system that does not speak Kafka to the hub.
A **source** brings messages *in* (city system → ``xoev.in.<authority>``); a
**sink** takes messages *out* (``xoev.out.<authority>.xml`` → city system).

Adapters only move bytes. The framework (:mod:`hub.adapters.framework`,
:mod:`hub.adapters.runtime`) wraps every adapter with metrics, retries with
exponential backoff, dead-lettering and offset commits, so an adapter never
counts, sleeps between attempts or talks to Kafka itself.

Writing one: subclass ``Source`` or ``Sink``, declare a pydantic ``Config``
(subclass of :class:`AdapterConfig`, unknown keys are refused), implement the
lifecycle methods, and register ``name = "module:Class"`` in the entry-point
group ``xoev_hub.adapters``. Prove it with the kit in :mod:`hub.testing`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Self

from pydantic import BaseModel, ConfigDict, ValidationError

from hub.errors import ConfigError

if TYPE_CHECKING:
    from hub.adapters.intake import ContainerIntake
    from hub.xdomea.blobstore import BlobStore


class AdapterConfig(BaseModel):
    """Base of every adapter configuration: typed, frozen, unknown keys refused."""

    model_config = ConfigDict(extra="forbid", frozen=True)


@dataclass(frozen=True)
class InboundMessage:
    """One message a source received from a city system.

    ``payload`` are the XÖV XML bytes exactly as received; ``key`` is the
    nachrichtenUUID when the source could read it cheaply (else None, the worker
    reads the header anyway); ``metadata`` holds ids and codes only (a file name,
    a request id), never personal data: it is not forwarded as Kafka headers.
    ``headers`` are contract headers the source sets, sent as Kafka headers: the
    claim check of a hand-over container (``xoev-container-*``, hub.xdomea.containers).
    """

    authority_id: str
    payload: bytes
    key: str | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class OutboundMessage:
    """One message the hub delivers to a city system through a sink.

    ``message_id`` is the nachrichtenUUID (the Kafka key of ``xoev.out.*``);
    ``headers`` are the contract headers of the hub's output (``xoev-*``,
    ``traceparent``) decoded as text; ``topic``/``partition``/``offset`` say
    where it came from (used for dead letters).
    """

    authority_id: str
    message_id: str
    payload: bytes
    headers: Mapping[str, str] = field(default_factory=dict)
    topic: str = ""
    partition: int = -1
    offset: int = -1


#: What a source calls for each message. Returning means the message is durably
#: stored (produced with ``acks=all``). It raises ``TransientError`` when the hub
#: cannot take the message now, and ``MessageError`` when it never will.
Emit = Callable[[InboundMessage], Awaitable[None]]


@dataclass(frozen=True)
class AdapterContext:
    """What the framework tells an adapter about where it runs.

    A source that refuses a message itself (before ``emit``: too large, not
    well-formed) calls ``rejected(code)`` so that the framework counts it.
    ``containers`` takes hand-over containers in (sources) and ``blobs`` holds them
    for delivery (sinks); None where the runtime gives none (then sources take
    XML only and a sink refuses a message that carries a container).
    """

    authority_id: str
    name: str
    max_message_bytes: int = 4 * 1024 * 1024
    on_rejected: Callable[[str], None] | None = field(default=None, compare=False, repr=False)
    containers: ContainerIntake | None = field(default=None, compare=False, repr=False)
    blobs: BlobStore | None = field(default=None, compare=False, repr=False)

    def rejected(self, code: str) -> None:
        """Count a message the adapter refused before ``emit`` (stable ``code``)."""
        if self.on_rejected is not None:
            self.on_rejected(code)


class Adapter(ABC):
    """Common part of sources and sinks: a typed config and a repeatable lifecycle.

    ``start()`` then ``stop()`` may be called any number of times in that order
    (start–stop–start works); ``stop()`` on a stopped adapter does nothing.
    """

    #: The pydantic config class; subclasses override it.
    Config: ClassVar[type[AdapterConfig]] = AdapterConfig
    #: ``"source"`` or ``"sink"``; set by the two base classes.
    direction: ClassVar[str]

    def __init__(self, config: AdapterConfig, context: AdapterContext) -> None:
        if not isinstance(config, self.Config):
            raise ConfigError(
                f"{type(self).__name__} needs a {self.Config.__name__}, "
                f"got {type(config).__name__}"
            )
        self.config = config
        self.context = context

    @classmethod
    def parse_config(cls, raw: Mapping[str, Any]) -> AdapterConfig:
        """Validate raw configuration; a ``ConfigError`` names every problem."""
        try:
            return cls.Config.model_validate(dict(raw))
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in err['loc']) or 'config'}: {err['msg']}"
                for err in exc.errors()
            )
            raise ConfigError(f"{cls.__name__} configuration: {problems}") from exc

    @classmethod
    def create(cls, raw: Mapping[str, Any], context: AdapterContext) -> Self:
        """Build the adapter from raw configuration (``parse_config`` + constructor)."""
        return cls(cls.parse_config(raw), context)


class Source(Adapter):
    """Brings messages from a city system into the hub.

    Contract:

    * ``start(emit)`` begins receiving in the background and returns promptly;
      for every message it calls ``await emit(InboundMessage(...))``.
    * A message counts as taken over from the city system only after ``emit``
      returned (the framework produced it with ``acks=all``). Before that the
      source must not acknowledge, delete or move it.
    * ``emit`` raising ``TransientError``: keep the message and try again later
      (or tell the sender to retry, e.g. HTTP 503). Nothing is lost.
    * ``emit`` raising ``MessageError``: the hub will never take this message;
      report it to the sender (HTTP 4xx, ``failed/`` folder) and go on.
    * ``stop()`` stops receiving, waits for in-flight ``emit`` calls, frees
      resources; afterwards ``start`` may be called again.
    * Sources may emit the same message twice (after a crash); the worker
      dedupes on nachrichtenUUID.
    """

    direction: ClassVar[str] = "source"

    @abstractmethod
    async def start(self, emit: Emit) -> None:
        """Begin receiving; call ``emit`` for each message."""

    @abstractmethod
    async def stop(self) -> None:
        """Stop receiving and release resources (idempotent)."""


class Sink(Adapter):
    """Delivers messages from the hub to a city system.

    Contract:

    * ``start()`` acquires resources (connections, folders); it must not fail
      because the endpoint is down for now — ``deliver`` reports that.
    * ``await deliver(batch)`` returns only when every message of the batch is
      durably handed over. An empty batch returns at once.
    * Raise ``TransientError`` when the endpoint is unreachable or answers
      "try later": the framework retries the whole batch with backoff, so
      delivery must be idempotent per ``message_id`` (same file name, receivers
      dedupe on the id). A sink whose messages are separate requests sets
      ``per_message = True``: the framework then hands it one message at a time
      and retries each on its own, so a failure never re-sends what arrived.
    * Raise ``MessageError`` (with a stable ``code``) when a message will never
      be accepted: the framework dead-letters it (for a batch, after retrying
      its messages one by one to find the culprit).
    * Never swallow errors, never sleep to retry, never count: the framework does.
    """

    direction: ClassVar[str] = "sink"
    #: True: ``deliver`` gets one message at a time, each retried on its own.
    per_message: ClassVar[bool] = False

    @abstractmethod
    async def start(self) -> None:
        """Acquire resources; idempotent after ``stop``."""

    @abstractmethod
    async def stop(self) -> None:
        """Release resources (idempotent)."""

    @abstractmethod
    async def deliver(self, batch: Sequence[OutboundMessage]) -> None:
        """Hand over every message of ``batch`` or raise."""
