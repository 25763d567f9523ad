"""Fixtures for resilience tests: a real local three-node Apache Kafka cluster.

``three_broker_cluster`` starts three KRaft nodes once for the tests of this
folder (about ten seconds on two cores) and stops them after its last test, so
three JVMs do not idle through the rest of the session. Ports: ``XOEV_CLUSTER_BASE_PORT``
(six consecutive ports from there) if set, otherwise a free range found at start.
Tests that kill a node must bring it back before they end (the cluster is shared).
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from hub.broker.embedded import fetch_jars, free_port_range, print_progress
from hub.settings import Settings
from hub.testing.cluster import LocalCluster


@pytest.fixture(scope="package")
def three_broker_cluster(
    settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, LocalCluster]]:
    """``(bootstrap, cluster)`` of a running three-node cluster (RF 3, min ISR 2)."""
    lib = fetch_jars(settings.kafka_version, settings.kafka_cache_dir, print_progress)
    base = int(os.environ.get("XOEV_CLUSTER_BASE_PORT") or free_port_range(6))
    cluster = LocalCluster(
        3,
        base_port=base,
        directory=tmp_path_factory.mktemp("cluster"),
        lib=lib,
        progress=print_progress,
    )
    try:
        cluster.start(timeout=120)
        yield cluster.bootstrap, cluster
    finally:
        cluster.stop()
