"""The mobility agent on the real broker: windows published once, k-anonymous, counts
exact across a kill -9 and a restart (HUB_STATS_WINDOW=5s)."""

from __future__ import annotations

import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaProducer
from lxml import etree

from hub.core.region import Region
from hub.core.schemas import SchemaRegistry  # type: ignore[import-not-found,unused-ignore]
from hub.kafka.topic_admin import apply_topics
from hub.kafka.topics import TopicNames, moves_topic_name
from hub.settings import load_settings
from hub.stats.mobility import MOBILITY_CODEC, decode_moves
from hub.tools.samples import generate
from tests.worker.harness import WorkerProcess, drain, hub_env, produce

WUPPERTAL, SOLINGEN, REMSCHEID = "05124000", "05122000", "05120000"
WINDOW = 5.0


def rueckmeldung(package: Any, seed: int, author: str, reader: str) -> tuple[bytes, int]:
    """A valid 0201 from ``author`` to ``reader`` (addresses set to both); its moves."""
    root = etree.fromstring(generate(package, "0201", seed=seed, author_key=f"ags:{author}",
                                     reader_key=f"ags:{reader}"))
    for node in root.iter():
        if not isinstance(node.tag, str):
            continue
        name = etree.QName(node).localname
        if name in ("wohnung.leser", "wohnung.autor"):
            for code in node.iter("{*}gemeindeschluessel", "gemeindeschluessel"):
                code.text = reader if name == "wohnung.leser" else author
    persons = sum(1 for n in root.iter() if isinstance(n.tag, str)
                  and etree.QName(n).localname == "betroffener")
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8"), persons


def stats(bootstrap: str, names: TopicNames, until: int, timeout: float = 60) -> list[Any]:
    """The records of xoev.stats.mobility once their counts add up to ``until``."""
    deadline = time.monotonic() + timeout
    while True:
        records = drain(bootstrap, [names.stats_mobility], timeout=5, settle=0.5)
        got = records.records.get(names.stats_mobility, [])
        latest = {r.key: MOBILITY_CODEC.decode(r.value) for r in got}  # type: ignore[attr-defined]
        if sum(r["count"] for r in latest.values()) >= until or time.monotonic() > deadline:
            return got
        time.sleep(1)


def wait_for_window_start(offset: float = 0.3) -> None:
    now = time.time()
    time.sleep(WINDOW - now % WINDOW + offset)


@pytest.mark.timeout(150)
def test_windows_are_published_once_and_counts_survive_a_crash(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path
) -> None:
    env = hub_env(kafka_bootstrap, topic_prefix, HUB_STATS_WINDOW="5s",
                  HUB_STATS_MIN_COUNT="3", HUB_STATE_DIR=str(tmp_path / "state"))
    settings = load_settings(bootstrap_servers=kafka_bootstrap, topic_prefix=topic_prefix,
                             consumer_group=env["HUB_CONSUMER_GROUP"])
    apply_topics(settings, Region.load(settings.region_file))
    names = TopicNames(topic_prefix)
    inbound_solingen = names.inbound("solingen.meldebehoerde")
    inbound_remscheid = names.inbound("remscheid.meldebehoerde")
    moves_topic = moves_topic_name(env["HUB_CONSUMER_GROUP"])
    package = SchemaRegistry.from_settings(load_settings()).get("XMeld", "25.11a")

    # window A: 8 Rückmeldungen Wuppertal -> Solingen, and one person Wuppertal -> Remscheid
    batch_a = [rueckmeldung(package, seed, SOLINGEN, WUPPERTAL) for seed in range(8)]
    lonely, lonely_moves = rueckmeldung(package, 1000, REMSCHEID, WUPPERTAL)
    moves_a = sum(n for _x, n in batch_a)
    worker = WorkerProcess(env, tmp_path / "worker.log").start()
    try:
        wait_for_window_start()
        produce(kafka_bootstrap, [(inbound_solingen, None, x) for x, _n in batch_a]
                + [(inbound_remscheid, None, lonely)])
        first = stats(kafka_bootstrap, names, moves_a + lonely_moves)
        published_a = {r.key: MOBILITY_CODEC.decode(r.value) for r in first}
        assert sum(r["count"] for r in published_a.values()) == moves_a + lonely_moves
        for record in published_a.values():
            if record["level"] != "suppressed":
                assert record["count"] >= 3
                assert record["to_ags"] != REMSCHEID  # the lonely move is not visible
        assert sum(r["count"] for r in published_a.values()
                   if r["level"] == "suppressed") >= lonely_moves
        windows_a = {r["window_start"] for r in published_a.values()}

        # window B: counted, then kill -9 before the window closes
        batch_b = [rueckmeldung(package, seed, SOLINGEN, WUPPERTAL) for seed in range(100, 106)]
        moves_b = sum(n for _x, n in batch_b)
        wait_for_window_start()
        produce(kafka_bootstrap, [(inbound_solingen, None, x) for x, _n in batch_b])
        time.sleep(2.0)
        worker.kill()
        assert time.time() % WINDOW < WINDOW - 1  # still inside B's window and grace
    finally:
        if worker.alive():
            worker.stop()

    # at-least-once input: every move record is read again (B's: same window, A's: late)
    recorded = drain(kafka_bootstrap, [moves_topic], timeout=10, settle=0.5).records[moves_topic]
    assert sum(len(decode_moves(r.value)[1]) for r in recorded) == (  # type: ignore[attr-defined]
        moves_a + lonely_moves + moves_b)
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    for record in recorded:
        producer.send(moves_topic, value=record.value, key=record.key,  # type: ignore[attr-defined]
                      partition=0, timestamp_ms=record.timestamp)  # type: ignore[attr-defined]
    producer.flush()
    producer.close()

    worker = WorkerProcess(env, tmp_path / "worker2.log").start()
    try:
        everything = stats(kafka_bootstrap, names, moves_a + lonely_moves + moves_b, timeout=90)
    finally:
        worker.stop()
    latest = {r.key: MOBILITY_CODEC.decode(r.value) for r in everything}
    by_window: dict[str, int] = defaultdict(int)
    for record in latest.values():
        by_window[record["window_start"]] += record["count"]
    assert sum(by_window.values()) == moves_a + lonely_moves + moves_b, (
        dict(by_window), worker.log_text()[-3000:])
    # window A was not re-opened: its records are those published the first time
    assert {k: v for k, v in latest.items() if v["window_start"] in windows_a} == published_a
    for r in everything:  # a re-publication (same key) never changes a count
        assert MOBILITY_CODEC.decode(r.value) == latest[r.key]  # type: ignore[attr-defined]
    assert "mobility" not in worker.log_text().lower() or "Traceback" not in worker.log_text()
    # the table keeps one small record per counted move (not a value per cell that
    # grows with every move of its window: that made counting O(moves in the cell))
    changelog = f"{env['HUB_CONSUMER_GROUP']}-mobility-changelog"
    writes = drain(kafka_bootstrap, [changelog], timeout=10, settle=0.5).records[changelog]
    moves_written = [r for r in writes if r.key.startswith(b"W|")]  # type: ignore[attr-defined]
    assert len({r.key for r in moves_written}) == moves_a + lonely_moves + moves_b  # type: ignore[attr-defined]
    assert all(r.value is None or len(r.value) <= 8 for r in moves_written)  # type: ignore[attr-defined]
