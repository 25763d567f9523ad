"""The relay of bench_e2e: a fixed aiokafka consume→produce loop, the hub's Kafka work only.

For every inbound message it writes what the hub writes for one recipient plus
one more output — 4 records with headers: the bytes to ``xoev.out.<reader>.xml``,
the same bytes to ``xoev.out.<reader>.avro`` (no conversion), the bytes to
``xoev.out.external`` and an audit record to ``xoev.audit`` — and does no XML
work. Tuned the way a careful aiokafka user would: ``getmany`` of at most 500
records, producer batches of 1 MiB (aiokafka's default of 16 KiB holds a single
XÖV message, so one request per broker is in flight and the loop measures round
trips, not capacity), linger 5 ms, ``acks=all``, idempotent; the sends of a
batch are not awaited one by one: their futures are collected and awaited once
per batch, then the batch's offsets are committed.

Run by bench_e2e.py as ``python bench/baseline_ceiling.py PREFIX GROUP READER``
(READER: the authority id of the recipient).
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hub.core.region import Region
from hub.kafka.config import max_request_bytes
from hub.kafka.topics import TopicNames
from hub.settings import load_settings

MAX_RECORDS = 500
BATCH_BYTES = 1024 * 1024


def producer_config(bootstrap: str, max_request: int) -> dict[str, object]:
    """The relay's producer settings (also used by the bench's tests)."""
    return {
        "bootstrap_servers": bootstrap,
        "acks": "all",
        "enable_idempotence": True,
        "linger_ms": 5,
        # a batch must fit the topics' max.message.bytes (see hub.kafka.config)
        "max_batch_size": min(BATCH_BYTES, max_request),
        "max_request_size": max(max_request, BATCH_BYTES),
    }


async def relay(prefix: str, group: str, reader: str, limit: int | None = None) -> int:
    """Relay until ``limit`` messages were relayed (forever without one); the count."""
    settings = load_settings(topic_prefix=prefix)
    names = TopicNames(prefix)
    region = Region.load(settings.region_file)
    consumer = AIOKafkaConsumer(
        *[names.inbound(a) for a in region.authorities],
        bootstrap_servers=settings.bootstrap,
        group_id=group,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        max_partition_fetch_bytes=BATCH_BYTES,
    )
    producer = AIOKafkaProducer(**producer_config(settings.bootstrap, max_request_bytes(settings)))
    outputs = (names.out_xml(reader), names.out_avro(reader), names.external, names.audit)
    relayed = 0
    await consumer.start()
    await producer.start()
    try:
        while limit is None or relayed < limit:
            batch = await consumer.getmany(timeout_ms=200, max_records=MAX_RECORDS)
            futures = []
            for records in batch.values():
                for r in records:
                    headers = [
                        ("xoev-message-id", r.key or b""),
                        ("xoev-source", f"{r.topic}:{r.partition}:{r.offset}".encode()),
                    ]
                    for topic in outputs:
                        futures.append(await producer.send(topic, r.value, r.key, headers=headers))
                    relayed += 1
            if futures:
                await asyncio.gather(*futures)
                await consumer.commit()
    finally:
        await consumer.stop()
        await producer.stop()
    return relayed


if __name__ == "__main__":
    asyncio.run(relay(sys.argv[1], sys.argv[2], sys.argv[3]))
