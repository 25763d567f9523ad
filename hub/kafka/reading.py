"""Reading a topic back to its end: the commands' and tools' one consumer loop
(``dlq``, ``exchanges list``, ``stats mobility``), built with :mod:`hub.kafka.config`."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from hub.errors import ConfigError, HubError
from hub.kafka.config import consumer_config

if TYPE_CHECKING:
    from hub.settings import Settings


def read_to_end(
    settings: Settings,
    topics: list[str],
    since_ms: int | None,
    timeout: float,
    *,
    missing_is_error: bool = False,
) -> Iterator[Any]:
    """The records of every partition of ``topics`` from ``since_ms`` (or the start)
    up to the end offsets seen when reading began."""
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(**consumer_config(settings), group_id=None, enable_auto_commit=False)
    try:
        tps = []
        for topic in topics:
            partitions = consumer.partitions_for_topic(topic)
            if not partitions and missing_is_error:
                raise ConfigError(f"topic {topic} does not exist (run: xoev-hub topics apply)")
            tps += [TopicPartition(topic, p) for p in sorted(partitions or ())]
        if not tps:
            return
        consumer.assign(tps)
        end = consumer.end_offsets(tps)
        if since_ms is None:
            consumer.seek_to_beginning(*tps)
        else:
            stamps = consumer.offsets_for_times(dict.fromkeys(tps, since_ms))
            for tp in tps:
                found = stamps.get(tp)
                consumer.seek(tp, found.offset if found is not None else end[tp])
        deadline = time.monotonic() + timeout
        while any(consumer.position(tp) < end[tp] for tp in tps):
            if time.monotonic() > deadline:
                raise HubError(f"reading {', '.join(topics)} timed out after {timeout:.0f}s")
            for records in consumer.poll(timeout_ms=500).values():
                yield from records
    finally:
        consumer.close()
