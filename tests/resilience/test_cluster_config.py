"""The local cluster's node configuration, checked without starting Java."""

from __future__ import annotations

from pathlib import Path

import pytest

from hub.broker.embedded import BrokerNode
from hub.errors import ConfigError
from hub.testing.cluster import LocalCluster, cluster_properties


def test_three_nodes_share_voters_and_differ_in_everything_else(tmp_path: Path) -> None:
    cluster = LocalCluster(3, base_port=9200, directory=tmp_path, lib=tmp_path / "lib")
    props = {i: cluster.broker(i).node.properties() for i in cluster.node_ids}
    assert [p["node.id"] for p in props.values()] == ["1", "2", "3"]
    voters = {p["controller.quorum.voters"] for p in props.values()}
    assert voters == {"1@127.0.0.1:9201,2@127.0.0.1:9203,3@127.0.0.1:9205"}
    assert len({p["listeners"] for p in props.values()}) == 3
    assert len({p["log.dirs"] for p in props.values()}) == 3
    assert cluster.bootstrap == "127.0.0.1:9200,127.0.0.1:9202,127.0.0.1:9204"
    for p in props.values():
        assert p["default.replication.factor"] == "3"
        assert p["min.insync.replicas"] == "2"
        assert p["offsets.topic.replication.factor"] == "3"
        assert p["transaction.state.log.replication.factor"] == "3"
        assert p["transaction.state.log.min.isr"] == "2"
        assert p["unclean.leader.election.enable"] == "false"
    assert cluster.cluster_id == LocalCluster(
        3, base_port=9200, directory=tmp_path, lib=tmp_path / "lib"
    ).cluster_id


def test_extra_settings_win(tmp_path: Path) -> None:
    cluster = LocalCluster(3, base_port=9200, directory=tmp_path, lib=tmp_path,
                           extra={"broker.session.timeout.ms": "9000"})
    assert cluster.broker(2).node.properties()["broker.session.timeout.ms"] == "9000"


def test_small_clusters_keep_a_satisfiable_min_isr() -> None:
    assert cluster_properties(1)["min.insync.replicas"] == "1"
    assert cluster_properties(2)["min.insync.replicas"] == "1"
    assert cluster_properties(5)["default.replication.factor"] == "3"


def test_unknown_node_and_empty_cluster_are_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no node 4"):
        LocalCluster(3, base_port=9200, directory=tmp_path, lib=tmp_path).broker(4)
    with pytest.raises(ConfigError, match="at least one"):
        LocalCluster(0, base_port=9200, directory=tmp_path, lib=tmp_path)


def test_single_node_defaults_are_unchanged(tmp_path: Path) -> None:
    props = BrokerNode(1, 9092, 9093, tmp_path).properties()
    assert props["controller.quorum.voters"] == "1@127.0.0.1:9093"
    assert props["listeners"] == "PLAINTEXT://127.0.0.1:9092,CONTROLLER://127.0.0.1:9093"
    assert props["listener.security.protocol.map"] == "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT"
    assert props["offsets.topic.replication.factor"] == "1"
    assert "authorizer.class.name" not in props
    assert "min.insync.replicas" not in props
