"""What the framework wraps around every adapter: metrics, retries, dead letters.

Kafka-free on purpose: :mod:`hub.adapters.runtime` connects these pieces to the
broker, tests drive them directly.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Histogram
from pydantic import BaseModel, ConfigDict, Field

from hub.adapters.base import Emit, InboundMessage, OutboundMessage, Sink
from hub.errors import AdapterError, MessageError, TransientError

log = logging.getLogger(__name__)

#: Error code of a dead letter whose delivery failed on every attempt.
DELIVERY_EXHAUSTED = "DELIVERY_RETRIES_EXHAUSTED"
#: Error code when an adapter raised something outside the hub's error tree.
ADAPTER_FAILED = "ADAPTER_FAILED"


class AdapterMetrics:
    """The adapter metrics; pass a fresh ``CollectorRegistry`` in tests.

    * ``xoev_hub_adapter_messages_total{adapter, authority, direction, outcome}``
      outcomes: source ``produced``/``rejected``/``unavailable``; sink
      ``delivered``/``deadlettered``.
    * ``xoev_hub_adapter_errors_total{adapter, authority, direction, code}``
      every failed attempt (``code`` is a stable error code).
    * ``xoev_hub_adapter_latency_seconds{adapter, authority, direction}``
      one successful emit or delivery call.
    """

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        kwargs = {"registry": registry} if registry is not None else {}
        labels = ("adapter", "authority", "direction")
        self.messages = Counter(
            "xoev_hub_adapter_messages_total",
            "Messages handled by adapters, by outcome.",
            (*labels, "outcome"),
            **kwargs,  # type: ignore[arg-type]
        )
        self.errors = Counter(
            "xoev_hub_adapter_errors_total",
            "Failed adapter attempts, by stable error code.",
            (*labels, "code"),
            **kwargs,  # type: ignore[arg-type]
        )
        self.latency = Histogram(
            "xoev_hub_adapter_latency_seconds",
            "Duration of one successful emit (source) or deliver call (sink).",
            labels,
            buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            **kwargs,  # type: ignore[arg-type]
        )


class RetryPolicy(BaseModel):
    """Exponential backoff: attempt n waits ``min(max, base * 2**(n-1))``, jittered."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    attempts: int = Field(default=8, ge=1, description="Delivery attempts before dead-lettering.")
    base_seconds: float = Field(default=0.5, gt=0)
    max_seconds: float = Field(default=30.0, gt=0)
    jitter: bool = Field(default=True, description="Wait a random 50-100 % of the delay.")

    def delay(self, failed_attempt: int, rng: random.Random | None = None) -> float:
        """Seconds to wait after the ``failed_attempt``-th attempt (1-based)."""
        raw = min(self.max_seconds, self.base_seconds * 2.0 ** max(0, failed_attempt - 1))
        if not self.jitter:
            return float(raw)
        return float(raw * (rng or random).uniform(0.5, 1.0))


@dataclass(frozen=True)
class DeadLetter:
    """A message the sink could not deliver, with the reason (codes, no personal data)."""

    message: OutboundMessage
    code: str
    detail: str


Sleep = Callable[[float], Awaitable[None]]


class SinkDriver:
    """Delivers batches through a sink with metrics, retries and dead-lettering.

    ``await driver.deliver(batch)`` returns the dead letters; every other message
    of the batch was delivered. It raises only ``asyncio.CancelledError``.
    """

    def __init__(
        self,
        sink: Sink,
        *,
        adapter: str,
        metrics: AdapterMetrics,
        retry: RetryPolicy | None = None,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.sink = sink
        self.adapter = adapter
        self.authority = sink.context.authority_id
        self.metrics = metrics
        self.retry = retry or RetryPolicy()
        self._sleep = sleep

    def _labels(self) -> dict[str, str]:
        return {"adapter": self.adapter, "authority": self.authority, "direction": "sink"}

    async def deliver(self, batch: Sequence[OutboundMessage]) -> list[DeadLetter]:
        if not batch:
            return []
        if self.sink.per_message and len(batch) > 1:
            # each message is retried on its own: a failure of the n-th never
            # re-sends the ones before it
            each: list[DeadLetter] = []
            for message in batch:
                each.extend(await self.deliver([message]))
            return each
        try:
            await self._attempts(batch)
        except MessageError as exc:
            if len(batch) == 1:
                return [self._dead(batch[0], exc.code, exc.detail)]
            # find the culprit(s): deliver one by one (deliveries are idempotent)
            dead: list[DeadLetter] = []
            for message in batch:
                dead.extend(await self.deliver([message]))
            return dead
        except _Exhausted as exc:
            return [self._dead(m, exc.code, exc.detail) for m in batch]
        self.metrics.messages.labels(**self._labels(), outcome="delivered").inc(len(batch))
        return []

    async def _attempts(self, batch: Sequence[OutboundMessage]) -> None:
        labels = self._labels()
        last_code, last_detail = DELIVERY_EXHAUSTED, ""
        for attempt in range(1, self.retry.attempts + 1):
            started = time.perf_counter()
            try:
                await self.sink.deliver(batch)
            except MessageError as exc:
                self.metrics.errors.labels(**labels, code=exc.code).inc()
                raise
            except TransientError as exc:
                self.metrics.errors.labels(**labels, code="TRANSIENT").inc()
                last_code, last_detail = DELIVERY_EXHAUSTED, f"transient: {exc}"
            except AdapterError as exc:
                self.metrics.errors.labels(**labels, code=ADAPTER_FAILED).inc()
                last_code, last_detail = ADAPTER_FAILED, str(exc)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a buggy adapter must not kill the runner
                self.metrics.errors.labels(**labels, code=ADAPTER_FAILED).inc()
                last_code = ADAPTER_FAILED
                last_detail = f"{type(exc).__name__} from adapter {self.adapter}"
                log.exception("adapter %s (%s) raised unexpectedly", self.adapter, self.authority)
            else:
                self.metrics.latency.labels(**labels).observe(time.perf_counter() - started)
                return
            if attempt < self.retry.attempts:
                await self._sleep(self.retry.delay(attempt))
        raise _Exhausted(
            last_code, f"{last_detail} (after {self.retry.attempts} attempts)"[:500]
        )

    def _dead(self, message: OutboundMessage, code: str, detail: str) -> DeadLetter:
        self.metrics.messages.labels(**self._labels(), outcome="deadlettered").inc()
        log.warning(
            "dead-lettering message %s for %s via %s: %s",
            message.message_id, self.authority, self.adapter, code,
        )
        return DeadLetter(message, code, detail)


class _Exhausted(Exception):
    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


def rejection_counter(
    *, adapter: str, authority: str, metrics: AdapterMetrics
) -> Callable[[str], None]:
    """The ``AdapterContext.on_rejected`` hook: counts refusals before ``emit``."""
    labels = {"adapter": adapter, "authority": authority, "direction": "source"}

    def rejected(code: str) -> None:
        metrics.errors.labels(**labels, code=code).inc()
        metrics.messages.labels(**labels, outcome="rejected").inc()

    return rejected


def instrument_emit(emit: Emit, *, adapter: str, authority: str, metrics: AdapterMetrics) -> Emit:
    """Wrap a source's ``emit`` with the adapter metrics (outcome and latency)."""
    labels = {"adapter": adapter, "authority": authority, "direction": "source"}

    async def wrapped(message: InboundMessage) -> None:
        started = time.perf_counter()
        try:
            await emit(message)
        except MessageError as exc:
            metrics.errors.labels(**labels, code=exc.code).inc()
            metrics.messages.labels(**labels, outcome="rejected").inc()
            raise
        except TransientError:
            metrics.errors.labels(**labels, code="TRANSIENT").inc()
            metrics.messages.labels(**labels, outcome="unavailable").inc()
            raise
        metrics.latency.labels(**labels).observe(time.perf_counter() - started)
        metrics.messages.labels(**labels, outcome="produced").inc()

    return wrapped
