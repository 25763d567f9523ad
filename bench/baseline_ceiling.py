"""Baseline (b) of bench_e2e: the ceiling — a raw aiokafka consume→produce loop doing no work.

Run by bench_e2e.py as ``python bench/baseline_ceiling.py PREFIX GROUP``.
"""

from __future__ import annotations

import asyncio
import sys

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from hub.region import Region
from hub.settings import load_settings
from hub.topics import TopicNames


async def main(prefix: str, group: str) -> None:
    settings = load_settings()
    names = TopicNames(prefix)
    region = Region.load(settings.region_file)
    consumer = AIOKafkaConsumer(
        *[names.inbound(a) for a in region.authorities],
        bootstrap_servers=settings.bootstrap,
        group_id=group,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    producer = AIOKafkaProducer(bootstrap_servers=settings.bootstrap, acks="all", linger_ms=5)
    await consumer.start()
    await producer.start()
    try:
        while True:
            batch = await consumer.getmany(timeout_ms=200, max_records=2000)
            futures = [
                await producer.send(f"{prefix}ceiling.out", r.value, key=r.key)
                for records in batch.values()
                for r in records
            ]
            if futures:
                await asyncio.gather(*futures)
                await consumer.commit()
    finally:
        await consumer.stop()
        await producer.stop()


asyncio.run(main(sys.argv[1], sys.argv[2]))
