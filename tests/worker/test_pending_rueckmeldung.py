"""``xoev_hub_oldest_pending_rueckmeldung_age_seconds`` is fed by the ingest flow: a
Rückmeldung the worker has read but whose outputs the broker has not acknowledged
yet counts with its age (from the header's erstellungszeitpunkt), and drops out once
they are (docs/operations.md; alert XoevHubRueckmeldungPendingNearDeadline).

The outputs are held back for real: the recipient's XML topic is deleted, so the
worker's producer waits for the topic's metadata (the broker creates no topics by
itself); once ``topics apply`` has created it again, the output is sent and
acknowledged.
"""

from __future__ import annotations

import re
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from kafka import KafkaAdminClient

from hub.core.region import Region
from hub.kafka.topic_admin import apply_topics
from hub.kafka.topics import TopicNames
from hub.settings import Settings

from .harness import drain, produce
from .test_privacy import free_port
from .test_resilience import fresh_copies, templates

pytestmark = pytest.mark.kafka

GAUGE = "xoev_hub_oldest_pending_rueckmeldung_age_seconds"
CREATED = re.compile(rb"(<(?:\w+:)?erstellungszeitpunkt>)[^<]*(<)")


def gauge(port: int) -> float | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
            text = resp.read().decode()
    except OSError:
        return None
    found = re.search(rf"^{GAUGE} (\S+)$", text, flags=re.M)
    return float(found.group(1)) if found else None


def wait_for(port: int, check: Any, timeout: float) -> float | None:
    value, deadline = gauge(port), time.monotonic() + timeout
    while not (value is not None and check(value)) and time.monotonic() < deadline:
        time.sleep(0.5)
        value = gauge(port)
    return value


def delete_topic(bootstrap: str, topic: str) -> None:
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        admin.delete_topics([topic])
        deadline = time.monotonic() + 30
        while topic in admin.list_topics():
            assert time.monotonic() < deadline, f"{topic} was not deleted"
            time.sleep(0.2)
    finally:
        admin.close()


def test_a_rueckmeldung_waiting_for_its_outputs_shows_its_age(
    kafka_bootstrap: str, worker_settings: Settings, start_worker: Any
) -> None:
    names = TopicNames(worker_settings.topic_prefix)
    base = templates(worker_settings)[:1]  # XMeld 0201: remscheid → solingen
    held = names.out_xml("solingen.meldebehoerde")
    port = free_port()
    worker = start_worker(HUB_WEB_PORT=str(port))

    warm, _ = fresh_copies(base, 1)
    produce(kafka_bootstrap, warm)
    assert drain(kafka_bootstrap, [names.audit], total=1, timeout=120, settle=0).count(
        names.audit
    ) == 1, worker.log_text()[-2000:]
    assert wait_for(port, lambda v: v == 0, 30) == 0

    # a Rückmeldung created three days ago, whose outputs the broker holds back
    three_days = datetime.now(UTC) - timedelta(days=3)
    stamp = three_days.isoformat(timespec="seconds").encode()
    sends, _ = fresh_copies(base, 1)
    (topic, key, payload), = sends
    assert key is not None
    old, replaced = CREATED.subn(rb"\g<1>" + stamp + rb"\g<2>", payload, count=1)
    assert replaced == 1
    delete_topic(kafka_bootstrap, held)
    try:
        produce(kafka_bootstrap, [(topic, key, old)])
        age = wait_for(port, lambda v: v > 0, 60)
        assert age is not None and 3 * 86400 - 60 < age < 3 * 86400 + 600, (
            age, worker.log_text()[-2000:])
        assert worker.alive()
    finally:
        apply_topics(worker_settings, Region.load(worker_settings.region_file))
    # sent and acknowledged once the topic is back: nothing pending any more
    assert drain(kafka_bootstrap, [held], keys={held: [key]}, timeout=120).keys(held)
    assert wait_for(port, lambda v: v == 0, 60) == 0
