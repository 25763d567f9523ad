"""Shared fixtures. Tests that touch Kafka use the real broker:

* ``HUB_BOOTSTRAP_SERVERS`` set: that cluster is used as it is;
* otherwise the embedded broker of the settings (``HUB_KAFKA_PORT``, default
  9092) is used if it is running, or started for the session and stopped after.
  The topics a session creates under its ``topic_prefix`` names are deleted at
  its end (``XOEV_KEEP_TOPICS=1`` keeps them): a broker that kept every run's
  thousands of partitions would need minutes of log recovery at its next start.
  Another session's topics on the same broker are left alone.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from hub.settings import Settings, load_settings

REPO = Path(__file__).resolve().parent.parent
# ../shared beside the checkout; worktrees sit one level deeper (wt/<name>)
SHARED = next(
    (p / "shared" for p in REPO.parents if (p / "shared" / "xoev-official").is_dir()),
    REPO.parent / "shared",
)
OFFICIAL = SHARED / "xoev-official"


def official_or_skip() -> Path:
    """The official XÖV sets beside the project, or skip with a clear reason."""
    if not OFFICIAL.is_dir():
        pytest.skip(f"official XÖV sets not found at {OFFICIAL} (../shared is absent)")
    return OFFICIAL


@pytest.fixture(scope="session")
def settings() -> Settings:
    return load_settings()


@pytest.fixture(scope="session")
def kafka_bootstrap(settings: Settings) -> Iterator[str]:
    """Bootstrap address of a real, ready Apache Kafka broker."""
    if not settings.embedded:
        from hub.broker.embedded import wait_ready

        assert wait_ready(settings.bootstrap, timeout=30), f"{settings.bootstrap} not reachable"
        yield settings.bootstrap
        return
    from hub.broker.embedded import broker_from_settings, cluster_id_for, print_progress

    broker = broker_from_settings(settings, progress=print_progress)
    started_here = not broker.running()
    broker.start(cluster_id_for(broker.node.directory))
    broker.wait_ready(120)
    yield broker.bootstrap
    if not os.environ.get("XOEV_KEEP_TOPICS") and broker.running():
        mine = {t for t in _topics(broker.bootstrap) if t.startswith(SESSION)}
        _delete_topics(broker.bootstrap, mine)
    if started_here and not os.environ.get("XOEV_KEEP_BROKER"):
        broker.stop()


def _topics(bootstrap: str) -> set[str]:
    from kafka import KafkaAdminClient

    admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=30000)
    try:
        return {t for t in admin.list_topics() if not t.startswith("__")}
    finally:
        admin.close()


def _delete_topics(bootstrap: str, topics: set[str]) -> None:
    """Delete the session's topics (in batches; a failure is reported, never fatal)."""
    from kafka import KafkaAdminClient
    from kafka.errors import KafkaError

    if not topics:
        return
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=60000)
    names = sorted(topics)
    try:
        for start in range(0, len(names), 200):
            try:
                admin.delete_topics(names[start : start + 200], timeout_ms=60000)
            except KafkaError as exc:
                print(f"deleting test topics: {type(exc).__name__}: {exc}")
    finally:
        admin.close()
    print(f"deleted the {len(names)} topics this test session created")


#: Every topic_prefix of this session starts with it (the end-of-session cleanup's mark).
SESSION = f"t{uuid.uuid4().hex[:4]}"


@pytest.fixture
def topic_prefix() -> str:
    """A unique topic prefix so that tests sharing one broker never see each other."""
    return f"{SESSION}{uuid.uuid4().hex[:8]}."
