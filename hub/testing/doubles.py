"""In-memory test doubles (not registered as adapters): ``ListSink`` records
what it is given, ``QueueSource`` emits what a test puts in. Both pass the kit.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence

from pydantic import Field

from hub.adapters.base import (
    AdapterConfig,
    AdapterContext,
    Emit,
    InboundMessage,
    OutboundMessage,
    Sink,
    Source,
)
from hub.errors import TransientError


class ListSinkConfig(AdapterConfig):
    reachable: bool = Field(default=True, description="False: every deliver is transient.")


class ListSink(Sink):
    """Keeps delivered messages in ``delivered`` (by message id, last wins)."""

    Config = ListSinkConfig
    config: ListSinkConfig

    def __init__(self, config: ListSinkConfig, context: AdapterContext) -> None:
        super().__init__(config, context)
        self.delivered: dict[str, OutboundMessage] = {}
        self.calls = 0

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def deliver(self, batch: Sequence[OutboundMessage]) -> None:
        self.calls += 1
        if not batch:
            return
        if not self.config.reachable:
            raise TransientError("ListSink configured unreachable")
        for message in batch:
            self.delivered[message.message_id] = message


class QueueSourceConfig(AdapterConfig):
    pass


class QueueSource(Source):
    """``await source.put(payload)`` is emitted in the background; payloads
    whose emit failed transiently are retried after a short pause."""

    Config = QueueSourceConfig

    def __init__(self, config: AdapterConfig, context: AdapterContext) -> None:
        super().__init__(config, context)
        self.queue: asyncio.Queue[bytes] | None = None
        self._task: asyncio.Task[None] | None = None

    async def put(self, payload: bytes) -> None:
        if self.queue is None:
            raise RuntimeError("QueueSource is not started")
        await self.queue.put(payload)

    async def start(self, emit: Emit) -> None:
        if self._task is not None:
            return
        self.queue = self.queue or asyncio.Queue()
        self._task = asyncio.create_task(self._run(emit))

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self.queue = None

    async def _run(self, emit: Emit) -> None:
        assert self.queue is not None
        while True:
            payload = await self.queue.get()
            while True:
                try:
                    await emit(InboundMessage(self.context.authority_id, payload))
                    break
                except TransientError:
                    await asyncio.sleep(0.05)
