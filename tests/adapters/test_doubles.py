"""The in-memory doubles pass the kit, like every adapter."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import pytest

from hub.adapters import AdapterContext, Sink, Source
from hub.testing import AUTHORITY, SinkContract, SourceContract
from hub.testing.doubles import ListSink, QueueSource

CTX = AdapterContext(AUTHORITY, "double")


class TestListSink(SinkContract):
    @pytest.fixture
    def valid_config(self) -> dict[str, Any]:
        return {"reachable": True}

    @pytest.fixture
    def made(self) -> list[ListSink]:
        return []

    @pytest.fixture
    def adapter_factory(self, valid_config: dict[str, Any],
                        made: list[ListSink]) -> Callable[[], Sink]:
        def factory() -> Sink:
            sink = ListSink.create(valid_config, CTX)
            made.append(sink)
            return sink

        return factory

    @pytest.fixture
    def read_back(self, made: list[ListSink]) -> Callable[[], Mapping[str, bytes]]:
        return lambda: {k: m.payload for s in made for k, m in s.delivered.items()}

    @pytest.fixture
    def make_unreachable(self) -> Callable[[], Sink]:
        return lambda: ListSink.create({"reachable": False}, CTX)


class TestQueueSource(SourceContract):
    @pytest.fixture
    def valid_config(self) -> dict[str, Any]:
        return {}

    @pytest.fixture
    def adapter_factory(self) -> Callable[[], Source]:
        return lambda: QueueSource.create({}, CTX)

    @pytest.fixture
    def inject(self) -> Callable[[Source, bytes], Awaitable[None]]:
        async def inject(source: Source, payload: bytes) -> None:
            assert isinstance(source, QueueSource)
            await source.put(payload)

        return inject
