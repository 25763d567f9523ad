"""Contract test suites every adapter passes (built-in or third-party).

Subclass ``SourceContract`` or ``SinkContract`` in a test module (class name
starting with ``Test``) and provide the fixtures listed in the class docstring.
The suites are synchronous pytest tests that run their own event loop, so no
pytest plugin is needed.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

try:
    import pytest
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "hub.testing needs pytest: pip install 'xoev-hub[dev]' (or pytest)"
    ) from exc

from hub.adapters.base import InboundMessage, OutboundMessage, Sink, Source
from hub.errors import ConfigError, TransientError

#: The authority id the kit uses in contexts and messages.
AUTHORITY = "kit.testbehoerde"


def sample_payload(n: int = 0, message_id: str | None = None) -> bytes:
    """A small XÖV-shaped message with a g2g header carrying a nachrichtenUUID."""
    mid = message_id or str(uuid.uuid4())
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<test.nachricht xmlns="urn:xoev-hub:kit"><nachrichtenkopf.g2g>'
        f"<identifikation.nachricht><nachrichtenUUID>{mid}</nachrichtenUUID>"
        "</identifikation.nachricht></nachrichtenkopf.g2g>"
        f"<inhalt>Nachricht {n} äöüß</inhalt></test.nachricht>\n"
    ).encode()


def outbound(n: int = 0, authority_id: str = AUTHORITY) -> OutboundMessage:
    """An outbound message as the runtime would hand it to a sink."""
    mid = str(uuid.uuid4())
    return OutboundMessage(
        authority_id, mid, sample_payload(n, mid),
        {"xoev-message-id": mid, "xoev-message-type": "0000"},
        "xoev.out.kit.testbehoerde.xml", 0, n,
    )


def run(coro: Awaitable[Any], timeout: float = 30.0) -> Any:
    """Run a coroutine on a fresh event loop with a timeout."""

    async def bounded() -> Any:
        return await asyncio.wait_for(coro, timeout)

    return asyncio.run(bounded())


async def wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    """Poll ``condition`` until true; ``AssertionError`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        await asyncio.sleep(0.02)


class _Config:
    def test_config_rejects_unknown_keys(
        self, adapter_factory: Callable[[], Any], valid_config: Mapping[str, Any]
    ) -> None:
        cls = type(adapter_factory())
        cls.parse_config(valid_config)  # the valid one passes
        with pytest.raises(ConfigError, match="no_such_option"):
            cls.parse_config({**valid_config, "no_such_option": 1})

    def test_config_class_forbids_extra(self, adapter_factory: Callable[[], Any]) -> None:
        cls = type(adapter_factory())
        assert cls.Config.model_config.get("extra") == "forbid"


class SourceContract(_Config):
    """The contract of a ``Source``. Provide these fixtures:

    * ``adapter_factory`` — ``() -> Source``: a fresh source for authority
      ``AUTHORITY`` (``hub.testing.AUTHORITY``);
    * ``valid_config`` — the raw config (a dict) the factory uses;
    * ``inject`` — ``async (source, payload: bytes) -> None``: deliver one
      message to the source from the outside, behaving like a well-behaved
      client (retry when told to, e.g. on HTTP 503); called after ``start``.
    """

    def test_start_stop_repeatable(self, adapter_factory: Callable[[], Source]) -> None:
        source = adapter_factory()
        got: list[InboundMessage] = []

        async def emit(message: InboundMessage) -> None:
            got.append(message)

        async def scenario() -> None:
            await source.start(emit)
            await source.stop()
            await source.start(emit)
            await source.stop()
            await source.stop()

        run(scenario())
        assert got == []

    def test_idle_emits_nothing(self, adapter_factory: Callable[[], Source]) -> None:
        source = adapter_factory()
        got: list[InboundMessage] = []

        async def emit(message: InboundMessage) -> None:
            got.append(message)

        async def scenario() -> None:
            await source.start(emit)
            await asyncio.sleep(0.3)
            await source.stop()

        run(scenario())
        assert got == []

    def test_round_trip(
        self,
        adapter_factory: Callable[[], Source],
        inject: Callable[[Source, bytes], Awaitable[None]],
    ) -> None:
        source = adapter_factory()
        got: list[InboundMessage] = []
        payloads = [sample_payload(n) for n in range(3)]

        async def emit(message: InboundMessage) -> None:
            got.append(message)

        async def scenario() -> None:
            await source.start(emit)
            for payload in payloads:
                await inject(source, payload)
            await wait_for(lambda: len(got) >= len(payloads))
            await source.stop()

        run(scenario())
        assert sorted(m.payload for m in got) == sorted(payloads)
        assert {m.authority_id for m in got} == {AUTHORITY}

    def test_restart_then_round_trip(
        self,
        adapter_factory: Callable[[], Source],
        inject: Callable[[Source, bytes], Awaitable[None]],
    ) -> None:
        source = adapter_factory()
        got: list[bytes] = []

        async def emit(message: InboundMessage) -> None:
            got.append(message.payload)

        payload = sample_payload(7)

        async def scenario() -> None:
            await source.start(emit)
            await source.stop()
            await source.start(emit)
            await inject(source, payload)
            await wait_for(lambda: payload in got)
            await source.stop()

        run(scenario())
        assert got == [payload]

    def test_transient_emit_failure_loses_nothing(
        self,
        adapter_factory: Callable[[], Source],
        inject: Callable[[Source, bytes], Awaitable[None]],
    ) -> None:
        """The hub unreachable for a while (emit raises TransientError): the
        message arrives once it is back."""
        source = adapter_factory()
        got: list[bytes] = []
        failures = {"left": 2}

        async def emit(message: InboundMessage) -> None:
            if failures["left"] > 0:
                failures["left"] -= 1
                raise TransientError("broker unreachable (simulated by the kit)")
            got.append(message.payload)

        payload = sample_payload(1)

        async def scenario() -> None:
            await source.start(emit)
            await inject(source, payload)
            await wait_for(lambda: payload in got, timeout=20)
            await source.stop()

        run(scenario(), timeout=40)
        assert failures["left"] == 0
        assert got[0] == payload


class SinkContract(_Config):
    """The contract of a ``Sink``. Provide these fixtures:

    * ``adapter_factory`` — ``() -> Sink``: a fresh sink with a reachable
      endpoint, for authority ``AUTHORITY``;
    * ``valid_config`` — the raw config (a dict) the factory uses;
    * ``read_back`` — ``() -> Mapping[str, bytes]``: what the endpoint of the
      factory's sinks received so far, by message id;
    * ``make_unreachable`` — ``() -> Sink``: a sink whose endpoint is down.
    """

    def test_start_stop_repeatable(
        self, adapter_factory: Callable[[], Sink], read_back: Callable[[], Mapping[str, bytes]]
    ) -> None:
        sink = adapter_factory()

        async def scenario() -> None:
            await sink.start()
            await sink.stop()
            await sink.start()
            await sink.stop()
            await sink.stop()

        run(scenario())
        assert dict(read_back()) == {}

    def test_empty_batch(
        self, adapter_factory: Callable[[], Sink], read_back: Callable[[], Mapping[str, bytes]]
    ) -> None:
        sink = adapter_factory()

        async def scenario() -> None:
            await sink.start()
            await sink.deliver([])
            await sink.stop()

        run(scenario())
        assert dict(read_back()) == {}

    def test_round_trip(
        self, adapter_factory: Callable[[], Sink], read_back: Callable[[], Mapping[str, bytes]]
    ) -> None:
        sink = adapter_factory()
        batch = [outbound(n) for n in range(3)]

        async def scenario() -> None:
            await sink.start()
            await sink.deliver(batch)
            await sink.stop()

        run(scenario())
        assert dict(read_back()) == {m.message_id: m.payload for m in batch}

    def test_redelivery_is_idempotent(
        self, adapter_factory: Callable[[], Sink], read_back: Callable[[], Mapping[str, bytes]]
    ) -> None:
        sink = adapter_factory()
        batch = [outbound(n) for n in range(2)]

        async def scenario() -> None:
            await sink.start()
            await sink.deliver(batch)
            await sink.deliver(batch)  # the framework retries whole batches
            await sink.stop()
            await sink.start()  # and start-stop-start works
            await sink.deliver(batch[:1])
            await sink.stop()

        run(scenario())
        assert dict(read_back()) == {m.message_id: m.payload for m in batch}

    def test_unreachable_endpoint_raises_transient(
        self, make_unreachable: Callable[[], Sink]
    ) -> None:
        sink = make_unreachable()

        async def scenario() -> None:
            await sink.start()  # starting must not fail because the endpoint is down
            try:
                with pytest.raises(TransientError):
                    await sink.deliver([outbound(0)])
            finally:
                await sink.stop()

        run(scenario())
