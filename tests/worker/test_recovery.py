"""A worker rebuilding its table state answers /healthz at once and says why it is
not ready, and a restart with its state slot kept replays nothing it already has."""

from __future__ import annotations

import hashlib
import json
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.admin import NewTopic

from hub.broker.embedded import free_port_range
from hub.settings import Settings
from hub.streams.dedupe import Entry, dedupe_key

from .harness import WorkerProcess

pytestmark = [pytest.mark.kafka, pytest.mark.timeout(600)]
IDS = 40_000


def get(url: str) -> tuple[int, dict[str, Any]]:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_health_answers_during_table_recovery(
    kafka_bootstrap: str, worker_settings: Settings, worker_env: dict[str, str], tmp_path: Path
) -> None:
    changelog = f"{worker_settings.consumer_group}-dedupe-changelog"
    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    try:  # as the worker would create it; its test-session cleanup deletes it
        admin.create_topics([NewTopic(changelog, 3, 1, topic_configs={
            "cleanup.policy": "compact,delete"})])
    finally:
        admin.close()
    producer = KafkaProducer(
        bootstrap_servers=kafka_bootstrap, linger_ms=20, batch_size=1 << 20, acks=1
    )
    now = time.time()
    for n in range(IDS):
        key = dedupe_key("ags:05124000", str(uuid.UUID(int=n + 1)))
        value = Entry(hashlib.sha256(key).hexdigest(), f"t:{n % 3}:{n}", now).encode()
        producer.send(changelog, key=key, value=value, partition=n % 3)
    producer.flush()
    producer.close()

    # Whether a poll lands inside the recovery is timing: on a fast, idle run the
    # worker may finish it between two samples (seen in 2 of 4 CI runs of one day,
    # open finding). A second start on an empty state folder recovers everything
    # again; the statuses seen are kept for the failure message.
    seen: list[tuple[int, str]] = []
    for attempt in range(2):
        seen_recovering, status, body = _watch_recovery(
            worker_env, tmp_path / f"attempt-{attempt}", seen)
        if seen_recovering:
            break
    assert seen_recovering, seen[-40:]
    assert status == 200, (body, seen[-40:])


def _watch_recovery(
    worker_env: dict[str, str], folder: Path, seen: list[tuple[int, str]]
) -> tuple[bool, int, Any]:
    port = free_port_range(1)
    env = {**worker_env, "HUB_WEB_PORT": str(port), "HUB_STATE_DIR": str(folder / "state")}
    folder.mkdir(parents=True, exist_ok=True)
    worker = WorkerProcess(env, folder / "worker.log").start()
    status: int = 0
    body: Any = None
    seen_recovering = False
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            try:
                status, body = get(f"http://127.0.0.1:{port}/readyz")
            except (OSError, ValueError):
                time.sleep(0.2)
                continue
            seen.append((status, str(body)[:120]))
            if status == 503 and "recovering" in body:
                assert get(f"http://127.0.0.1:{port}/healthz")[0] == 200
                seen_recovering = True
            if status == 200:
                break
            time.sleep(0.2)
    finally:
        worker.stop()
    return seen_recovering, status, body


def test_the_local_state_knows_the_changelog_offsets_it_holds(
    kafka_bootstrap: str, worker_settings: Settings, start_worker: Any, tmp_path: Path
) -> None:
    """The worker writes its table entries to the changelog itself (they settle with
    the outputs); it must also keep their offsets in RocksDB as Faust does, or a
    restart would read the whole changelog again."""
    import rocksdict
    from kafka.structs import TopicPartition

    from hub.kafka.topics import TopicNames

    from .harness import drain, produce
    from .test_resilience import fresh_copies, templates

    names = TopicNames(worker_settings.topic_prefix)
    worker = start_worker()
    sends, ids = fresh_copies(templates(worker_settings), 300)
    produce(kafka_bootstrap, sends)
    drain(kafka_bootstrap, [names.audit], keys={names.audit: [i.encode() for i in ids]},
          timeout=120, settle=0)
    # settled and committed (a stop before that leaves events to replay, and their
    # changelog offsets unrecorded: at-least-once, not what this test is about)
    inbound = {topic for topic, _key, _value in sends}
    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    consumer = KafkaConsumer(bootstrap_servers=kafka_bootstrap)
    try:
        tps = [TopicPartition(t, p) for t in sorted(inbound) for p in range(3)]
        ends = consumer.end_offsets(tps)
        deadline = time.monotonic() + 60
        while True:
            offsets = admin.list_group_offsets({worker_settings.consumer_group: None})[
                worker_settings.consumer_group
            ]
            done = {tp: meta.offset for tp, meta in offsets.items() if tp.topic in inbound}
            if all(done.get(tp, 0) >= end for tp, end in ends.items() if end):
                break
            assert time.monotonic() < deadline, (done, ends)
            time.sleep(0.2)
    finally:
        admin.close()
        consumer.close()
    assert worker.stop() == 0
    changelog = f"{worker_settings.consumer_group}-dedupe-changelog"
    consumer = KafkaConsumer(bootstrap_servers=kafka_bootstrap)
    try:
        ends = consumer.end_offsets([TopicPartition(changelog, p) for p in range(3)])
    finally:
        consumer.close()
    tables = list((tmp_path / "state").glob("*/*/slot-0/v1/tables"))
    assert len(tables) == 1, tables
    for tp, end in ends.items():
        db = rocksdict.Rdict(
            str(tables[0] / f"dedupe-{tp.partition}.db"),
            options=rocksdict.Options(raw_mode=True),
            access_type=rocksdict.AccessType.read_only(),
        )
        try:
            stored = db.get(b"__faust\x00offset__")
        finally:
            db.close()
        assert end > 0 and stored == str(end - 1).encode(), (tp, end, stored)
