from __future__ import annotations

import asyncio
import random
from collections.abc import Sequence

import pytest
from prometheus_client import CollectorRegistry

from hub.adapters import (
    AdapterContext,
    AdapterMetrics,
    InboundMessage,
    OutboundMessage,
    RetryPolicy,
    Sink,
    SinkDriver,
    instrument_emit,
)
from hub.errors import MessageError, TransientError
from hub.testing import outbound, run

LABELS = {"adapter": "scripted", "authority": "kit.testbehoerde", "direction": "sink"}


class ScriptedSink(Sink):
    """Fails according to a script, then records what it delivered."""

    def __init__(self, script: list[BaseException | None], poison: set[str] | None = None):
        super().__init__(self.Config(), AdapterContext("kit.testbehoerde", "scripted"))
        self.script = script
        self.poison = poison or set()
        self.delivered: list[str] = []
        self.calls = 0

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def deliver(self, batch: Sequence[OutboundMessage]) -> None:
        self.calls += 1
        if self.script:
            error = self.script.pop(0)
            if error is not None:
                raise error
        if any(m.message_id in self.poison for m in batch):
            raise MessageError("endpoint refuses it", code="REFUSED")
        self.delivered += [m.message_id for m in batch]


def value(reg: CollectorRegistry, name: str, **labels: str) -> float:
    return reg.get_sample_value(name, labels) or 0.0


def driver_for(sink: Sink, reg: CollectorRegistry, policy: RetryPolicy, sleeps: list[float]):
    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)

    return SinkDriver(sink, adapter="scripted", metrics=AdapterMetrics(reg), retry=policy,
                      sleep=sleep)


def test_retry_delays_grow_exponentially_up_to_the_maximum() -> None:
    policy = RetryPolicy(attempts=6, base_seconds=0.5, max_seconds=3, jitter=False)
    assert [policy.delay(n) for n in range(1, 6)] == [0.5, 1.0, 2.0, 3.0, 3.0]
    jittered = RetryPolicy(base_seconds=1, max_seconds=100, jitter=True)
    rng = random.Random(7)
    samples = [jittered.delay(3, rng) for _ in range(200)]
    assert min(samples) >= 2.0 and max(samples) <= 4.0 and len(set(samples)) > 100


def test_transient_failures_are_retried_then_delivered() -> None:
    reg, sleeps = CollectorRegistry(), []
    sink = ScriptedSink([TransientError("down"), TransientError("down"), None])
    driver = driver_for(sink, reg, RetryPolicy(attempts=5, base_seconds=1, jitter=False), sleeps)
    batch = [outbound(0), outbound(1)]
    dead = run(driver.deliver(batch))
    assert dead == []
    assert sink.delivered == [m.message_id for m in batch]
    assert sleeps == [1.0, 2.0]
    assert value(reg, "xoev_hub_adapter_messages_total", **LABELS, outcome="delivered") == 2
    assert value(reg, "xoev_hub_adapter_errors_total", **LABELS, code="TRANSIENT") == 2
    assert value(reg, "xoev_hub_adapter_latency_seconds_count", **LABELS) == 1


def test_after_the_last_attempt_the_batch_is_dead_lettered() -> None:
    reg, sleeps = CollectorRegistry(), []
    sink = ScriptedSink([TransientError("down")] * 3)
    driver = driver_for(sink, reg, RetryPolicy(attempts=3, base_seconds=0.1, jitter=False), sleeps)
    batch = [outbound(0)]
    dead = run(driver.deliver(batch))
    assert [d.message for d in dead] == batch
    assert dead[0].code == "DELIVERY_RETRIES_EXHAUSTED"
    assert "after 3 attempts" in dead[0].detail
    assert sink.calls == 3 and len(sleeps) == 2
    assert value(reg, "xoev_hub_adapter_messages_total", **LABELS, outcome="deadlettered") == 1


def test_a_permanent_error_isolates_the_culprit_of_a_batch() -> None:
    reg, sleeps = CollectorRegistry(), []
    batch = [outbound(n) for n in range(3)]
    sink = ScriptedSink([], poison={batch[1].message_id})
    driver = driver_for(sink, reg, RetryPolicy(jitter=False), sleeps)
    dead = run(driver.deliver(batch))
    assert [d.message.message_id for d in dead] == [batch[1].message_id]
    assert dead[0].code == "REFUSED"
    assert sink.delivered == [batch[0].message_id, batch[2].message_id]
    assert sleeps == []  # permanent errors are not retried
    assert value(reg, "xoev_hub_adapter_messages_total", **LABELS, outcome="delivered") == 2


def test_an_unexpected_exception_does_not_escape() -> None:
    reg, sleeps = CollectorRegistry(), []
    sink = ScriptedSink([RuntimeError("bug")] * 2)
    driver = driver_for(sink, reg, RetryPolicy(attempts=2, jitter=False), sleeps)
    dead = run(driver.deliver([outbound(0)]))
    assert dead[0].code == "ADAPTER_FAILED" and "RuntimeError" in dead[0].detail
    assert value(reg, "xoev_hub_adapter_errors_total", **LABELS, code="ADAPTER_FAILED") == 2


def test_empty_batch_calls_nothing() -> None:
    reg, sleeps = CollectorRegistry(), []
    sink = ScriptedSink([])
    assert run(driver_for(sink, reg, RetryPolicy(), sleeps).deliver([])) == []
    assert sink.calls == 0


def test_instrumented_emit_counts_outcomes() -> None:
    reg = CollectorRegistry()
    metrics = AdapterMetrics(reg)
    outcomes = [None, TransientError("down"), MessageError("no", code="XML_MALFORMED")]

    async def emit(message: InboundMessage) -> None:
        error = outcomes.pop(0)
        if error is not None:
            raise error

    wrapped = instrument_emit(emit, adapter="x", authority="a.b", metrics=metrics)
    msg = InboundMessage("a.b", b"<x/>")

    async def scenario() -> None:
        await wrapped(msg)
        with pytest.raises(TransientError):
            await wrapped(msg)
        with pytest.raises(MessageError):
            await wrapped(msg)

    asyncio.run(scenario())
    labels = {"adapter": "x", "authority": "a.b", "direction": "source"}
    for outcome in ("produced", "unavailable", "rejected"):
        assert value(reg, "xoev_hub_adapter_messages_total", **labels, outcome=outcome) == 1
    assert value(reg, "xoev_hub_adapter_errors_total", **labels, code="XML_MALFORMED") == 1
