"""Deduplication against the real broker: per author, payload-checked, for a while.

One worker with a short retention window (HUB_DEDUPE_RETENTION=20s) sees the same
nachrichtenUUID from two authorities, again with the same payload, again with
another payload, and again after the window.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest

from hub.core.region import Region
from hub.core.schemas import SchemaRegistry
from hub.kafka.headers import H_ERROR_CODE
from hub.kafka.topics import TopicNames
from hub.settings import Settings
from hub.tools.samples import generate

from .conftest import find
from .harness import drain, produce
from .test_resilience import UUID_RE

pytestmark = [pytest.mark.kafka, pytest.mark.timeout(600)]


def test_dedupe_is_per_author_checks_the_payload_and_forgets_after_the_window(
    kafka_bootstrap: str, worker_settings: Settings, start_worker: Any
) -> None:
    names = TopicNames(worker_settings.topic_prefix)
    region = Region.load(worker_settings.region_file)
    package, message = find(SchemaRegistry.from_settings(worker_settings), "XMeld", "0201")
    shared_id = str(uuid.uuid4())

    def make(author: str, reader: str, seed: int) -> tuple[str, bytes, bytes]:
        payload = generate(
            package, message, seed=seed,
            author_key=region.authorities[author].dvdv_key,
            reader_key=region.authorities[reader].dvdv_key,
        )
        copy, n = UUID_RE.subn(rb"\g<1>" + shared_id.encode() + rb"\g<2>", payload, count=1)
        assert n == 1
        return names.inbound(author), shared_id.encode(), copy

    a, b = "wuppertal.meldebehoerde", "solingen.meldebehoerde"
    first_a = make(a, b, 1)
    first_b = make(b, a, 2)  # another authority, the same nachrichtenUUID
    conflicting = make(a, b, 3)  # author a, same id, another payload
    worker = start_worker(HUB_DEDUPE_RETENTION="20s", HUB_LOG_LEVEL="DEBUG")

    def audits(expected: int) -> int:
        out = drain(kafka_bootstrap, [names.audit], total=expected, timeout=120, settle=1)
        return out.keys(names.audit).count(shared_id.encode())

    produce(kafka_bootstrap, [first_a])
    assert audits(1) == 1, worker.log_text()[-3000:]
    started = time.monotonic()
    produce(kafka_bootstrap, [first_b])
    assert audits(2) == 2, "b's message with a's id must be delivered, not dropped"

    produce(kafka_bootstrap, [first_a, conflicting])  # a duplicate, then a conflict
    dead = drain(kafka_bootstrap, [names.deadletter], total=1, timeout=120, settle=1)
    codes = [h.get(H_ERROR_CODE) for h in dead.headers(names.deadletter)]
    assert codes == [b"DUPLICATE_ID_CONFLICT"], codes
    assert audits(2) == 2
    assert time.monotonic() - started < 20, "too slow to test inside the retention window"
    log = worker.log_text()
    assert log.count('"event":"duplicate"') == 1, log[-3000:]

    time.sleep(max(0.0, 21 - (time.monotonic() - started)))  # past the window
    produce(kafka_bootstrap, [conflicting])
    assert audits(3) == 3, "after the retention window the id is new again"

    # the periodic sweep drops expired ids from memory and the changelog
    deadline = time.monotonic() + 60
    while '"event":"dedupe_sweep"' not in worker.log_text():
        assert time.monotonic() < deadline, worker.log_text()[-3000:]
        time.sleep(0.5)
