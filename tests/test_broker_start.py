"""Starting a broker: progress while it starts, and a failure that says why."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from hub.broker.embedded import (
    BrokerNode,
    EmbeddedBroker,
    cluster_id_for,
    fetch_jars,
    free_port_range,
)
from hub.errors import TransientError
from hub.settings import Settings


@pytest.fixture
def fresh_broker(settings: Settings, tmp_path: Path) -> Iterator[EmbeddedBroker]:
    base = free_port_range(2)
    node = BrokerNode(node_id=1, port=base, controller_port=base + 1, directory=tmp_path / "kafka")
    broker = EmbeddedBroker(node, fetch_jars(settings.kafka_version, settings.kafka_cache_dir))
    yield broker
    broker.stop()


def test_not_ready_in_time_names_the_probe_and_the_log(fresh_broker: EmbeddedBroker) -> None:
    fresh_broker.start(cluster_id_for(fresh_broker.node.directory))
    with pytest.raises(TransientError) as caught:
        fresh_broker.wait_ready(timeout=0.2)  # a JVM needs seconds: too short on purpose
    message = str(caught.value)
    assert "not ready after 0s" in message
    assert "does not say 'Kafka Server started'" in message
    assert "last probe of 127.0.0.1:" in message
    assert str(fresh_broker.log_file) in message


def test_start_reports_progress_then_is_ready(fresh_broker: EmbeddedBroker) -> None:
    heard: list[str] = []
    fresh_broker.start(cluster_id_for(fresh_broker.node.directory))
    fresh_broker.wait_ready(timeout=90, progress=heard.append, every=0.5)
    assert heard, "a start of seconds reports at least once at a 0.5 s interval"
    assert all(line.startswith("still starting after ") for line in heard)
    assert "its log says: " in heard[-1]
