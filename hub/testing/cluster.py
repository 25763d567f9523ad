"""A local Apache Kafka cluster of several KRaft nodes (failover and resilience tests).

Each node is an :class:`~hub.broker.embedded.EmbeddedBroker` that is broker and
controller at once, with its own node id, ports and folder ``<directory>/node-<id>``;
all share one cluster id and one static ``controller.quorum.voters`` list. Node
``i`` (1-based) listens for clients on ``base_port + 2*(i-1)`` and for the KRaft
controller on the port after it.

The cluster defaults make it behave like a small production cluster: replication
factor 3 for new topics and for the offsets and transaction topics,
``min.insync.replicas=2``; heartbeats and the broker session timeout are shorter
than Kafka's defaults so that a killed node is fenced in about three seconds
instead of nine (override with ``extra``).
"""

from __future__ import annotations

import gc
import signal
import time
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from hub.broker.embedded import (
    BrokerNode,
    EmbeddedBroker,
    Progress,
    _alive,
    _last_error,
    _quiet,
    cluster_id_for,
    port_open,
)
from hub.errors import ConfigError, TransientError


def cluster_properties(size: int) -> dict[str, str]:
    """Broker settings shared by every node of a ``size``-node cluster."""
    replicas = min(size, 3)
    min_isr = max(1, min(2, replicas - 1)) if replicas > 1 else 1
    return {
        "default.replication.factor": str(replicas),
        "min.insync.replicas": str(min_isr),
        "offsets.topic.replication.factor": str(replicas),
        "transaction.state.log.replication.factor": str(replicas),
        "transaction.state.log.min.isr": str(min_isr),
        "share.coordinator.state.topic.replication.factor": str(replicas),
        "share.coordinator.state.topic.min.isr": str(min_isr),
        "unclean.leader.election.enable": "false",
        # fence a dead node after ~3 s (defaults: heartbeat 2 s, session 9 s)
        "broker.heartbeat.interval.ms": "500",
        "broker.session.timeout.ms": "3000",
        "controller.quorum.fetch.timeout.ms": "2000",
        "controller.quorum.election.timeout.ms": "1000",
    }


class LocalCluster:
    """Start, kill, restart and stop ``size`` local KRaft nodes as one cluster."""

    def __init__(
        self,
        size: int = 3,
        *,
        base_port: int,
        directory: Path,
        lib: Path,
        extra: Mapping[str, str] | None = None,
        heap: str = "384m",
        progress: Progress = _quiet,
    ) -> None:
        if size < 1:
            raise ConfigError(f"a cluster needs at least one node, not {size}")
        self.size = size
        self.directory = directory
        self.progress = progress
        ports = {i: (base_port + 2 * (i - 1), base_port + 2 * (i - 1) + 1) for i in self.node_ids}
        voters = ",".join(f"{i}@127.0.0.1:{ports[i][1]}" for i in self.node_ids)
        props = cluster_properties(size)
        props.update(extra or {})
        self._expected: set[int] = set()
        self.brokers: dict[int, EmbeddedBroker] = {
            i: EmbeddedBroker(
                BrokerNode(
                    node_id=i,
                    port=ports[i][0],
                    controller_port=ports[i][1],
                    directory=directory / f"node-{i}",
                    voters=voters,
                    extra=dict(props),
                    heap=heap,
                ),
                lib,
            )
            for i in self.node_ids
        }

    @property
    def node_ids(self) -> range:
        return range(1, self.size + 1)

    @property
    def cluster_id(self) -> str:
        return cluster_id_for(self.directory)

    @property
    def bootstrap(self) -> str:
        """All client addresses, comma separated (clients need only one to be up)."""
        return ",".join(b.bootstrap for b in self.brokers.values())

    def broker(self, node_id: int) -> EmbeddedBroker:
        try:
            return self.brokers[node_id]
        except KeyError:
            raise ConfigError(f"no node {node_id} in this {self.size}-node cluster") from None

    # -- lifecycle -------------------------------------------------------------
    def start(self, node_id: int | None = None, timeout: float = 120.0) -> None:
        """Start every node (or one), then wait until all running ones are registered."""
        targets = self.node_ids if node_id is None else [node_id]
        for i in targets:
            pid = self.broker(i).start(self.cluster_id)
            self._expected.add(i)
            self.progress(f"kafka node {i} started (pid {pid}, port {self.brokers[i].node.port})")
        self.wait_registered(timeout)

    def running_ids(self) -> list[int]:
        return [i for i, b in self.brokers.items() if b.running()]

    def describe(self, request_timeout_ms: int = 3000) -> dict[str, Any]:
        """``describe_cluster`` through the reachable nodes (empty dict if none answers)."""
        from kafka import KafkaAdminClient
        from kafka.errors import KafkaError

        reachable = [
            b.bootstrap
            for i, b in self.brokers.items()
            if i in self.running_ids() and port_open("127.0.0.1", b.node.port)
        ]
        if not reachable:
            return {}
        # kafka-python leaves sockets of a failed bootstrap to the garbage collector;
        # collect them here, where their ResourceWarning is expected and harmless
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ResourceWarning)
            try:
                admin = KafkaAdminClient(
                    bootstrap_servers=",".join(reachable), request_timeout_ms=request_timeout_ms
                )
            except (KafkaError, OSError, ValueError):
                gc.collect()
                return {}
            try:
                return dict(admin.describe_cluster())
            except (KafkaError, OSError, ValueError):
                return {}
            finally:
                admin.close()
                gc.collect()

    def registered_ids(self) -> set[int]:
        """Node ids that the cluster metadata lists as live, unfenced brokers."""
        brokers = self.describe().get("brokers") or []
        return {int(b["broker_id"]) for b in brokers if not b.get("is_fenced")}

    def controller_id(self) -> int | None:
        """The node id of the active KRaft controller, as the brokers report it."""
        value = self.describe().get("controller_id")
        return int(value) if value is not None and int(value) >= 0 else None

    def wait_registered(self, timeout: float = 120.0) -> None:
        """Wait until every running node is a registered, unfenced broker."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            running = self.running_ids()
            for i in self._expected - set(running):
                raise TransientError(
                    f"kafka node {i} exited during start; see {self.brokers[i].log_file}: "
                    + _last_error(self.brokers[i].node.directory / "logs")
                )
            if running and set(running) <= self.registered_ids():
                return
            time.sleep(0.3)
        raise TransientError(
            f"cluster nodes {self.running_ids()} not all registered after {timeout:.0f}s "
            f"(registered: {sorted(self.registered_ids())}); see {self.directory}/node-*/logs"
        )

    def kill(self, node_id: int) -> None:
        """SIGKILL one node at once (no clean shutdown, no leadership hand-over)."""
        self.broker(node_id).kill()
        self._expected.discard(node_id)
        self.progress(f"kafka node {node_id} killed")

    def stop(self, node_id: int | None = None, timeout: float = 15.0) -> None:
        """Stop every node (or one): SIGTERM to all at once, SIGKILL after ``timeout`` s.

        All at once, because the last nodes of a cluster stopped one by one wait
        for a controller quorum that is already gone.
        """
        targets = list(self.node_ids) if node_id is None else [node_id]
        pids: dict[int, int] = {}
        for i in targets:
            self._expected.discard(i)
            pid = self.broker(i).pid()
            if pid is not None:
                pids[i] = pid
                EmbeddedBroker._signal(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and any(_alive(p) for p in pids.values()):
            time.sleep(0.2)
        for i, pid in pids.items():
            if _alive(pid):
                EmbeddedBroker._signal(pid, signal.SIGKILL)
                while _alive(pid):
                    time.sleep(0.05)
            self.brokers[i].pid_file.unlink(missing_ok=True)
            self.brokers[i].reap(pid)

    def __enter__(self) -> LocalCluster:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
