"""Crash, scale-out and ordering of the worker against the real broker."""

from __future__ import annotations

import re
import time
import uuid
from collections import Counter
from typing import Any

import pytest

from hub.core.region import Region
from hub.core.schemas import SchemaRegistry
from hub.kafka.topics import TopicNames
from hub.settings import Settings

from .conftest import find
from .harness import drain, identical_repeats, produce

pytestmark = [pytest.mark.kafka, pytest.mark.slow, pytest.mark.timeout(900)]
UUID_RE = re.compile(rb"(<nachrichtenUUID>)[0-9a-fA-F-]{36}(</nachrichtenUUID>)")


def templates(settings: Settings, count: int = 12) -> list[tuple[str, bytes]]:
    """(inbound topic, payload) pairs of valid messages between the region's Meldebehörden."""
    from hub.tools.samples import generate

    region = Region.load(settings.region_file)
    registry = SchemaRegistry.from_settings(settings)
    package, message = find(registry, "XMeld", "0201")
    meldebehoerden = sorted(a.id for a in region.authorities.values() if a.kind == "meldebehoerde")
    names = TopicNames(settings.topic_prefix)
    out = []
    for i in range(count):
        author = meldebehoerden[i % len(meldebehoerden)]
        reader = meldebehoerden[(i + 1) % len(meldebehoerden)]
        payload = generate(
            package,
            message,
            seed=100 + i,
            author_key=region.authorities[author].dvdv_key,
            reader_key=region.authorities[reader].dvdv_key,
        )
        out.append((names.inbound(author), payload))
    return out


def fresh_copies(
    base: list[tuple[str, bytes]], n: int, key: str | None = None
) -> tuple[list[tuple[str, bytes | None, bytes]], list[str]]:
    """n messages made from the templates, each with a new nachrichtenUUID."""
    sends: list[tuple[str, bytes | None, bytes]] = []
    ids = []
    for i in range(n):
        topic, payload = base[i % len(base)]
        new_id = str(uuid.UUID(int=uuid.uuid4().int))
        copy, replaced = UUID_RE.subn(rb"\g<1>" + new_id.encode() + rb"\g<2>", payload, count=1)
        assert replaced == 1
        sends.append((topic, key.encode() if key else new_id.encode(), copy))
        ids.append(new_id)
    return sends, ids


def audit_ids(out: Any, names: TopicNames) -> Counter[str]:
    return Counter(k.decode() for k in out.keys(names.audit))


def test_kill_9_mid_run_loses_nothing(
    kafka_bootstrap: str, worker_settings: Settings, start_worker: Any, capsys: Any
) -> None:
    names = TopicNames(worker_settings.topic_prefix)
    sends, ids = fresh_copies(templates(worker_settings), 10_000)
    first = start_worker("first")
    produce(kafka_bootstrap, sends)
    # wait until the worker is about a third through, then crash it
    progress = drain(kafka_bootstrap, [names.audit], total=3000, timeout=180, settle=0)
    assert progress.count(names.audit) >= 3000, first.log_text()[-3000:]
    first.kill()
    start_worker("second")
    every = {names.audit: [i.encode() for i in ids]}
    out = drain(kafka_bootstrap, [names.audit, names.deadletter], keys=every, timeout=300)
    seen = audit_ids(out, names)
    lost = set(ids) - set(seen)
    assert not lost, f"{len(lost)} messages lost"
    assert out.count(names.deadletter) == 0
    duplicates = sum(n - 1 for n in seen.values() if n > 1)
    assert identical_repeats(out.records[names.audit]) == 0  # repeats are replays only
    # duplicate outputs carry the same message id in key, header and payload
    for record, headers in zip(out.records[names.audit], out.headers(names.audit), strict=True):
        assert record.key == headers["xoev-message-id"]
    with capsys.disabled():
        print(
            f"\ncrash test: 10000 sent, {len(seen)} distinct delivered, "
            f"{duplicates} duplicate deliveries after kill -9"
        )


def test_two_workers_share_partitions_and_survive_one_stopping(
    kafka_bootstrap: str, worker_settings: Settings, start_worker: Any
) -> None:
    names = TopicNames(worker_settings.topic_prefix)
    sends, ids = fresh_copies(templates(worker_settings), 4000)
    one = start_worker("one")
    two = start_worker("two")
    time.sleep(8)  # both join the group
    produce(kafka_bootstrap, sends)
    drain(kafka_bootstrap, [names.audit], total=1000, timeout=180, settle=0)
    assert two.stop() == 0
    every = {names.audit: [i.encode() for i in ids]}
    out = drain(kafka_bootstrap, [names.audit, names.deadletter], keys=every, timeout=240)
    assert one.alive()
    seen = audit_ids(out, names)
    assert set(ids) <= set(seen)
    assert out.count(names.deadletter) == 0


def test_same_key_arrives_in_order(
    kafka_bootstrap: str, worker_settings: Settings, start_worker: Any
) -> None:
    names = TopicNames(worker_settings.topic_prefix)
    base = templates(worker_settings, 1)
    sends, ids = fresh_copies(base, 300, key="fall-4711")
    reader_topic = None
    start_worker()
    produce(kafka_bootstrap, sends)
    out = drain(kafka_bootstrap, [names.audit], total=300, timeout=180)
    assert out.count(names.audit) == 300
    for topic in out.records:
        assert topic == names.audit
    # the recipient's topic, read in partition order, has the ids in the order sent
    region = Region.load(worker_settings.region_file)
    meldebehoerden = sorted(a.id for a in region.authorities.values() if a.kind == "meldebehoerde")
    reader_topic = names.out_xml(meldebehoerden[1])
    delivered = drain(kafka_bootstrap, [reader_topic], total=300, timeout=60)
    partitions = {r.partition for r in delivered.records[reader_topic]}  # type: ignore[attr-defined]
    assert len(partitions) == 1
    assert [k.decode() for k in delivered.keys(reader_topic)] == ids
