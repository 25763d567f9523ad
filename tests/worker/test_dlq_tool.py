"""Dead-letter tooling against the real broker (entries written as the worker does)."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest
from kafka import KafkaConsumer, KafkaProducer
from kafka.admin import KafkaAdminClient, NewTopic

from hub.errors import ConfigError
from hub.kafka.topics import TopicNames
from hub.settings import load_settings
from hub.tools.dlq import parse_since, read_dead_letters, replay

from .harness import REPO, hub_env

pytestmark = pytest.mark.kafka
UUID = "3f1c2a4e-9b7d-4e21-8c55-0a1b2c3d4e5f"


def _seed(bootstrap: str, prefix: str) -> TopicNames:
    names = TopicNames(prefix)
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    admin.create_topics(
        [NewTopic(names.deadletter, 1, 1), NewTopic(names.inbound("solingen.meldebehoerde"), 1, 1)]
    )
    admin.close()
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
    for offset, code in enumerate(["SCHEMA_INVALID", "XML_ENTITY_FORBIDDEN"]):
        producer.send(
            names.deadletter,
            key=f"{names.inbound('solingen.meldebehoerde')}:0:{offset}".encode(),
            value=f"<x><nachrichtenUUID>{UUID}</nachrichtenUUID>{offset}</x>".encode(),
            headers=[
                ("xoev-error-stage", b"validate"),
                ("xoev-error-code", code.encode()),
                ("xoev-error-detail", b"detail"),
                ("xoev-source-topic", names.inbound("solingen.meldebehoerde").encode()),
                ("xoev-source-partition", b"0"),
                ("xoev-source-offset", str(offset).encode()),
            ],
        )
    producer.flush()
    producer.close()
    return names


def test_list_filter_and_replay(kafka_bootstrap: str, topic_prefix: str) -> None:
    names = _seed(kafka_bootstrap, topic_prefix)
    settings = load_settings(bootstrap_servers=kafka_bootstrap, topic_prefix=topic_prefix)
    entries = list(read_dead_letters(settings))
    assert [e.code for e in entries] == ["SCHEMA_INVALID", "XML_ENTITY_FORBIDDEN"]
    assert entries[0].message_id == UUID
    assert entries[0].source_offset == 0
    only = list(read_dead_letters(settings, code="XML_ENTITY_FORBIDDEN"))
    assert [e.id for e in only] == [entries[1].id]
    assert replay(settings, only) == 1
    consumer = KafkaConsumer(
        names.inbound("solingen.meldebehoerde"),
        bootstrap_servers=kafka_bootstrap,
        auto_offset_reset="earliest",
        consumer_timeout_ms=10000,
        group_id=None,
    )
    record = next(iter(consumer))
    consumer.close()
    assert record.value == entries[1].payload
    assert dict(record.headers)["xoev-replay"] == entries[1].id.encode()
    assert record.key == UUID.encode()


def test_cli_list_show_and_errors(kafka_bootstrap: str, topic_prefix: str) -> None:
    _seed(kafka_bootstrap, topic_prefix)
    env = hub_env(kafka_bootstrap, topic_prefix)

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "hub", "dlq", *args],
            env=env,
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=60,
        )

    listed = cli("list")
    assert listed.returncode == 0, listed.stderr
    assert "SCHEMA_INVALID" in listed.stdout and UUID in listed.stdout
    assert "2 dead letter(s)" in listed.stderr
    entry_id = listed.stdout.split()[2]
    shown = cli("show", entry_id)
    assert shown.returncode == 0 and "xoev-error-code: SCHEMA_INVALID" in shown.stdout
    missing = cli("show", "nope:0:0")
    assert missing.returncode == 2 and "no dead letter with id" in missing.stderr
    dry = cli("replay", "--code", "SCHEMA_INVALID", "--dry-run")
    assert dry.returncode == 0 and dry.stdout.count("would replay") == 1


def test_missing_topic_is_a_clear_error(kafka_bootstrap: str, topic_prefix: str) -> None:
    settings = load_settings(bootstrap_servers=kafka_bootstrap, topic_prefix=topic_prefix)
    with pytest.raises(ConfigError, match="does not exist"):
        list(read_dead_letters(settings))


def test_parse_since() -> None:
    assert datetime.now(UTC) - parse_since("2h") - timedelta(hours=2) < timedelta(seconds=5)
    assert parse_since("2026-11-25T10:00") == datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
    with pytest.raises(ConfigError):
        parse_since("yesterday")


def test_replay_skips_foreign_entries_goes_on_and_never_resends(
    kafka_bootstrap: str, topic_prefix: str
) -> None:
    """An entry from a topic that is not an inbound topic is skipped and reported,
    the rest is replayed; replaying the same selection again sends nothing."""
    names = _seed(kafka_bootstrap, topic_prefix)
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    producer.send(names.deadletter, key=b"elsewhere:0:7", value=b"<x/>", headers=[
        ("xoev-error-code", b"XML_MALFORMED"), ("xoev-source-topic", b"elsewhere")])
    producer.flush()
    producer.close()
    settings = load_settings(bootstrap_servers=kafka_bootstrap, topic_prefix=topic_prefix)
    entries = list(read_dead_letters(settings))
    foreign = entries[-1]
    selection = [foreign, *entries[:2]]  # the foreign one first
    seen: list[tuple[str, str]] = []
    assert replay(settings, selection, progress=lambda e, what: seen.append((e.id, what))) == 2
    assert seen[0][0] == foreign.id and seen[0][1].startswith("skipped")
    assert [what for _, what in seen[1:]] == [f"replayed to {entries[0].source_topic}"] * 2
    again: list[tuple[str, str]] = []
    assert replay(settings, selection, progress=lambda e, what: again.append((e.id, what))) == 0
    assert [what.split(":")[0] for _, what in again] == ["skipped"] * 3
    assert "replayed before" in again[1][1]
    consumer = KafkaConsumer(
        names.inbound("solingen.meldebehoerde"), bootstrap_servers=kafka_bootstrap,
        auto_offset_reset="earliest", consumer_timeout_ms=3000, group_id=None,
    )
    replays = [dict(r.headers).get("xoev-replay") for r in consumer]
    consumer.close()
    assert sorted(replays) == sorted(e.id.encode() for e in entries[:2])
