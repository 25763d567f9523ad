"""STAND-IN for the lead's Faust worker (issue 5), used ONLY until the real
worker is on main: copies ``xoev.in.<a>`` to ``xoev.out.<b>.xml`` where ``b``
is the authority whose DVDV key is the message's reader (``leser/kennung``,
read with ``hub.header``). It does not validate, convert or audit; it dedupes
on nachrichtenUUID in memory. Replace its uses with the real worker once that
lands.
"""

from __future__ import annotations

import asyncio
import contextlib

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from hub.header import read_header
from hub.region import Region
from hub.topics import H_AUTHOR, H_MESSAGE_ID, H_MESSAGE_TYPE, H_READER, TopicNames
from hub.xmlsafe import parse_xml


class StandInWorker:
    def __init__(self, bootstrap: str, topics: TopicNames, region: Region,
                 sources: list[str]) -> None:
        self.bootstrap = bootstrap
        self.topics = topics
        self.region = region
        self.sources = sources
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
            header = read_header(parse_xml(record.value))
            if header.message_id in self.seen:
                self.duplicates += 1
            else:
                self.seen.add(header.message_id)
                reader = header.reader_keys[0]
                authority = self.region.by_dvdv_key(reader)
                assert authority is not None, reader
                await self._producer.send_and_wait(
                    self.topics.out_xml(authority.id), record.value,
                    key=header.message_id.encode(),
                    headers=[(H_MESSAGE_ID, header.message_id.encode()),
                             (H_MESSAGE_TYPE, header.message_code.encode()),
                             (H_AUTHOR, header.author_key.encode()),
                             (H_READER, reader.encode())],
                )
            await self._consumer.commit()
