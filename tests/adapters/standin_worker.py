"""STAND-IN for the lead's Faust worker (issue 5), used ONLY until the real
worker is on main: copies ``xoev.in.<a>`` to ``xoev.out.<b>.xml`` where ``b``
is the authority of the message's ``leser/kennung``. It does not validate,
convert or audit; it dedupes on nachrichtenUUID in memory. Replace its uses
with the real worker once that lands.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from lxml import etree

from hub.topics import H_AUTHOR, H_MESSAGE_ID, H_READER, TopicNames


def _first(root: etree._Element, path: str) -> str:
    found = root.xpath(path)
    assert isinstance(found, list) and found, path
    return str(found[0]).strip()


class StandInWorker:
    def __init__(self, bootstrap: str, topics: TopicNames, sources: list[str],
                 readers: Mapping[str, str]) -> None:
        self.bootstrap = bootstrap
        self.topics = topics
        self.sources = sources
        self.readers = readers
        self.seen: set[str] = set()
        self.duplicates = 0
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> StandInWorker:
        self._consumer = AIOKafkaConsumer(
            *[self.topics.inbound(a) for a in self.sources],
            bootstrap_servers=self.bootstrap, group_id=f"{self.topics.prefix}standin",
            auto_offset_reset="earliest", enable_auto_commit=False,
        )
        self._producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap, acks="all")
        await self._consumer.start()
        await self._producer.start()
        self._task = asyncio.create_task(self._run())
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        await self._consumer.stop()
        await self._producer.stop()

    async def _run(self) -> None:
        async for record in self._consumer:
            root = etree.fromstring(record.value, etree.XMLParser(resolve_entities=False))
            mid = _first(root, "//*[local-name()='nachrichtenUUID']/text()")
            reader = _first(root, "//*[local-name()='leser']/*[local-name()='kennung']/text()")
            author = _first(root, "//*[local-name()='autor']/*[local-name()='kennung']/text()")
            if mid in self.seen:
                self.duplicates += 1
            else:
                self.seen.add(mid)
                await self._producer.send_and_wait(
                    self.topics.out_xml(self.readers[reader]), record.value, key=mid.encode(),
                    headers=[(H_MESSAGE_ID, mid.encode()), (H_AUTHOR, author.encode()),
                             (H_READER, reader.encode())],
                )
            await self._consumer.commit()
