"""An output the broker refuses stops the worker and leaves the message uncommitted.

The worker acks an inbound event only when the broker acknowledged all of its
outputs. Here the broker refuses one output for real: the recipient's XML topic
gets a ``max.message.bytes`` smaller than the message. The worker must stop with
``DELIVERY_FAILED`` without committing the message's offset; once the topic is
repaired (a restarted worker applies the contract topics again), the message is
delivered — nothing lost.
"""

from __future__ import annotations

import os
import signal
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaAdminClient
from kafka.admin import ConfigResource, ConfigResourceType

from hub.kafka.topics import TopicNames
from hub.settings import Settings

from .harness import drain, produce
from .test_resilience import fresh_copies, templates

pytestmark = pytest.mark.kafka


def committed(bootstrap: str, group: str, topic: str) -> dict[int, int]:
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        offsets = admin.list_group_offsets({group: None})[group]
    finally:
        admin.close()
    return {tp.partition: meta.offset for tp, meta in offsets.items() if tp.topic == topic}


def refuse_records_above(bootstrap: str, topic: str, size: int) -> None:
    """Make the broker refuse records of ``topic`` above ``size`` bytes, for real."""
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        resource = ConfigResource(
            ConfigResourceType.TOPIC, topic, configs={"max.message.bytes": str(size)}
        )
        result = admin.alter_configs([resource])
        assert result == {"topic": {topic: "OK"}}, result  # kafka-python: no raise
        # the broker applies the change asynchronously: wait until it shows it
        deadline = time.monotonic() + 30
        while admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, topic)], config_filter="all"
        )["topic"][topic]["max.message.bytes"]["value"] != str(size):
            assert time.monotonic() < deadline, "the broker did not apply max.message.bytes"
            time.sleep(0.2)
    finally:
        admin.close()


def test_refused_output_stops_the_worker_and_the_message_is_delivered_later(
    kafka_bootstrap: str,
    worker_settings: Settings,
    start_worker: Any,
    tmp_path: Path,
) -> None:
    names = TopicNames(worker_settings.topic_prefix)
    base = templates(worker_settings)
    inbound = base[0][0]  # remscheid.meldebehoerde → solingen.meldebehoerde
    refusing = names.out_xml("solingen.meldebehoerde")

    # warm up: the worker consumes and commits
    worker = start_worker()
    warm, warm_ids = fresh_copies(base[:1], 1)
    produce(kafka_bootstrap, warm)
    assert drain(kafka_bootstrap, [names.audit], total=1, timeout=120, settle=0).count(
        names.audit
    ) == 1, worker.log_text()[-2000:]

    refuse_records_above(kafka_bootstrap, refusing, 512)
    sends, ids = fresh_copies(base[:1], 1)
    produce(kafka_bootstrap, sends)

    deadline = time.monotonic() + 90
    while worker.alive() and time.monotonic() < deadline:
        time.sleep(0.5)
    log = worker.log_text()
    assert not worker.alive(), "the worker must stop when an output is refused"
    assert '"code":"DELIVERY_FAILED"' in log
    assert f"{inbound}:" in log  # the unacknowledged source offset is named
    group_offsets = committed(kafka_bootstrap, worker_settings.consumer_group, inbound)
    # only the warm-up message (offset 0 of its partition) may be committed
    assert sum(group_offsets.values()) <= 1, group_offsets

    # a new worker re-applies the contract topics (max.message.bytes repaired)
    second = start_worker("second")
    every = {refusing: [i.encode() for i in ids + warm_ids]}
    out = drain(kafka_bootstrap, [refusing], keys=every, timeout=120)
    delivered = {k.decode() for k in out.keys(refusing)}
    if not set(ids) <= delivered:
        # Seen twice in about 25 runs under load: the restarted worker joins the group,
        # gets its partitions and processes nothing (cause not found yet, see
        # docs/operations.md). Fail with its thread stacks, for the diagnosis.
        assert second.proc is not None
        os.kill(second.proc.pid, signal.SIGUSR1)
        time.sleep(2)
        stall = second.log_text()[-20000:]
        (tmp_path / "stall.txt").write_text(stall)
        raise AssertionError(
            f"the restarted worker did not deliver the refused message in 120 s; its "
            f"log with thread stacks: {tmp_path / 'stall.txt'}\n{stall[-8000:]}"
        )
    assert set(warm_ids) <= delivered


def test_a_failed_output_is_never_committed_past_by_later_messages(
    kafka_bootstrap: str,
    worker_settings: Settings,
    start_worker: Any,
) -> None:
    """Message N's output is refused while N+1 … N+k (other recipient, same inbound
    partition) are delivered. The worker must not commit past N: faust-streaming
    0.15.3 commits past a hole in the acked offsets (its issue 606), so the hub
    acks strictly in offset order. After a restart N is delivered."""
    from kafka import KafkaProducer

    from hub.core.region import Region
    from hub.core.schemas import SchemaRegistry
    from hub.tools.samples import generate

    from .conftest import find
    from .test_resilience import UUID_RE

    names = TopicNames(worker_settings.topic_prefix)
    region = Region.load(worker_settings.region_file)
    registry = SchemaRegistry.from_settings(worker_settings)
    package, message = find(registry, "XMeld", "0201")
    author = "remscheid.meldebehoerde"
    inbound = names.inbound(author)
    refusing = names.out_xml("solingen.meldebehoerde")
    accepting = names.out_xml("wuppertal.meldebehoerde")

    def make(reader: str, seed: int) -> tuple[str, bytes]:
        payload = generate(
            package, message, seed=seed,
            author_key=region.authorities[author].dvdv_key,
            reader_key=region.authorities[reader].dvdv_key,
        )
        new_id = str(uuid.uuid4())
        copy, replaced = UUID_RE.subn(rb"\g<1>" + new_id.encode() + rb"\g<2>", payload, count=1)
        assert replaced == 1
        return new_id, copy

    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all", linger_ms=5)

    def send_all(messages: list[tuple[str, bytes]]) -> None:
        futures = [producer.send(inbound, key=i.encode(), value=v, partition=0)
                   for i, v in messages]
        producer.flush()
        for future in futures:
            future.get(timeout=30)

    worker = start_worker()
    warm = [make("wuppertal.meldebehoerde", 1)]
    send_all(warm)  # offset 0: delivered and committed
    assert drain(kafka_bootstrap, [names.audit], total=1, timeout=120, settle=0).count(
        names.audit
    ) == 1, worker.log_text()[-2000:]
    deadline = time.monotonic() + 30
    while committed(kafka_bootstrap, worker_settings.consumer_group, inbound).get(0) != 1:
        assert time.monotonic() < deadline, "the warm-up offset was not committed"
        time.sleep(0.2)

    refuse_records_above(kafka_bootstrap, refusing, 512)

    failing = make("solingen.meldebehoerde", 2)  # offset 1: its XML output is refused
    later = [make("wuppertal.meldebehoerde", 10 + i) for i in range(20)]  # offsets 2..21
    send_all([failing, *later])
    producer.close()

    deadline = time.monotonic() + 90
    while worker.alive() and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not worker.alive(), "the worker must stop when an output is refused"
    assert '"code":"DELIVERY_FAILED"' in worker.log_text()
    offsets = committed(kafka_bootstrap, worker_settings.consumer_group, inbound)
    assert offsets.get(0, 0) <= 1, f"committed past the undelivered offset 1: {offsets}"

    second = start_worker("second")
    want = {refusing: [failing[0].encode()], accepting: [i.encode() for i, _ in later]}
    out = drain(kafka_bootstrap, [refusing, accepting], keys=want, timeout=120)
    assert failing[0].encode() in out.keys(refusing), second.log_text()[-4000:]
    assert {i for i, _ in later} <= {k.decode() for k in out.keys(accepting)}
