"""Broker loss: kill the leader of a partition mid-run; nothing is lost, nothing doubled.

An idempotent producer (``acks=all``) sends 10,000 numbered messages at a steady
pace to a topic with replication factor 3 and ``min.insync.replicas=2`` on a real
three-node cluster. At message 3,000 the leader of partition 0 is SIGKILLed; once
the other nodes have taken over its partitions it is started again and rejoins
the in-sync replicas. A consumer then reads the topic from the beginning: every
message exactly once, in send order per partition. Timings are printed (run with
``-s`` to see them); they are measurements, not assertions.
"""

from __future__ import annotations

import itertools
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.errors import KafkaError
from kafka.producer.future import RecordMetadata

from hub.testing.cluster import LocalCluster

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

TOTAL = 10_000
KILL_AT = 3_000
RATE = 1_000  # messages per second offered by the producer
PARTITIONS = 6


@dataclass
class Acks:
    """What the producer's callbacks saw (written from the producer's I/O thread)."""

    times: list[float] = field(default_factory=list)
    partitions: list[int] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def ok(self, meta: RecordMetadata) -> None:
        with self.lock:
            self.times.append(time.monotonic())
            self.partitions.append(meta.partition)

    def failed(self, exc: BaseException) -> None:
        with self.lock:
            self.errors.append(type(exc).__name__)

    def longest_gap(self, start: float, end: float, partitions: set[int]) -> float:
        """The longest pause between acks of ``partitions`` around ``[start, end]``."""
        with self.lock:
            times = sorted(t for t, p in zip(self.times, self.partitions, strict=True)
                           if p in partitions)
        inside = [t for t in times if start <= t <= end]
        before = [t for t in times if t < start][-1:]
        after = [t for t in times if t > end][:1]
        points = before + inside + after
        return max((b - a for a, b in itertools.pairwise(points)), default=0.0)

    def between(self, start: float, end: float) -> int:
        with self.lock:
            return sum(1 for t in self.times if start <= t < end)


def _leaders(admin: KafkaAdminClient, topic: str) -> dict[int, tuple[int, list[int]]]:
    """partition -> (leader, isr) as the cluster reports it now."""
    described = admin.describe_topics([topic])[0]
    return {
        p["partition_index"]: (p["leader_id"], list(p["isr_nodes"]))
        for p in described["partitions"]
    }


def _wait(predicate: Callable[[], bool], timeout: float, what: str) -> float:
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        try:
            if predicate():
                return time.monotonic()
        except (KafkaError, OSError):  # the cluster is mid-failover: ask again
            pass
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


def _produce(bootstrap: str, topic: str, acks: Acks, sent: list[int]) -> None:
    producer = KafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        enable_idempotence=True,
        max_in_flight_requests_per_connection=5,
        linger_ms=5,
        request_timeout_ms=5000,
        delivery_timeout_ms=60000,
        retry_backoff_ms=100,
    )
    try:
        started = time.monotonic()
        for i in range(TOTAL):
            future = producer.send(topic, key=f"k{i % 97}".encode(), value=f"m{i:05d}".encode())
            future.add_callback(acks.ok)
            future.add_errback(acks.failed)
            sent[0] = i + 1
            if i % 50 == 49:
                lag = started + (i + 1) / RATE - time.monotonic()
                if lag > 0:
                    time.sleep(lag)
        producer.flush(timeout=60)
    finally:
        producer.close(timeout=10)


def _read_all(bootstrap: str, topic: str, expect: int, idle: float = 10.0) -> list[tuple[int, str]]:
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None)
    try:
        parts = [TopicPartition(topic, p) for p in range(PARTITIONS)]
        consumer.assign(parts)
        consumer.seek_to_beginning(*parts)
        got: list[tuple[int, str]] = []
        last = time.monotonic()
        while len(got) < expect and time.monotonic() - last < idle:
            batch = consumer.poll(timeout_ms=500, max_records=5000)
            for tp, records in batch.items():
                got += [(tp.partition, r.value.decode()) for r in records]
                last = time.monotonic()
        # anything beyond the expected count would be a duplicate: look a little longer
        extra_until = time.monotonic() + 1.0
        while time.monotonic() < extra_until:
            for tp, records in consumer.poll(timeout_ms=200).items():
                got += [(tp.partition, r.value.decode()) for r in records]
        return got
    finally:
        consumer.close()


def test_leader_killed_mid_run_loses_and_duplicates_nothing(
    three_broker_cluster: tuple[str, LocalCluster],
) -> None:
    bootstrap, cluster = three_broker_cluster
    topic = f"failover-{uuid.uuid4().hex[:8]}"
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=5000)
    try:
        admin.create_topics(
            {
                topic: {
                    "num_partitions": PARTITIONS,
                    "replication_factor": 3,
                    "configs": {"min.insync.replicas": "2"},
                }
            }
        )
        _wait(lambda: all(len(isr) == 3 for _, isr in _leaders(admin, topic).values()), 30,
              "all partitions fully replicated")
        victim = _leaders(admin, topic)[0][0]
        victim_was_controller = cluster.controller_id() == victim
        led_by_victim = {p for p, (ld, _) in _leaders(admin, topic).items() if ld == victim}
    finally:
        admin.close()
    survivors = ",".join(cluster.broker(i).bootstrap for i in cluster.node_ids if i != victim)

    acks, sent = Acks(), [0]
    t_start = time.monotonic()
    producer = threading.Thread(target=_produce, args=(bootstrap, topic, acks, sent))
    producer.start()
    _wait(lambda: sent[0] >= KILL_AT, 60, f"{KILL_AT} messages sent")

    t_kill = time.monotonic()
    cluster.kill(victim)
    watcher = KafkaAdminClient(bootstrap_servers=survivors, request_timeout_ms=1000)
    try:
        t_leader = _wait(
            lambda: all(ld not in (victim, -1) for ld, _ in _leaders(watcher, topic).values()),
            60, "new leaders for the victim's partitions",
        )
        t_isr_shrunk = _wait(
            lambda: all(victim not in isr for _, isr in _leaders(watcher, topic).values()),
            60, "the victim dropped from every ISR",
        )
        time.sleep(1.0)  # run degraded for a moment: two replicas still satisfy min ISR 2
        t_restart = time.monotonic()
        cluster.start(victim, timeout=90)
        t_registered = time.monotonic()
        t_isr_back = _wait(
            lambda: all(victim in isr for _, isr in _leaders(watcher, topic).values()),
            90, "the restarted node back in every ISR",
        )
    finally:
        watcher.close()
    producer.join(timeout=120)
    assert not producer.is_alive(), "producer did not finish"
    t_done = max(acks.times) if acks.times else time.monotonic()

    assert acks.errors == [], f"sends failed: {Counter(acks.errors)}"
    assert len(acks.times) == TOTAL

    records = _read_all(bootstrap, topic, TOTAL)
    values = [v for _, v in records]
    counts = Counter(values)
    duplicates = {v: n for v, n in counts.items() if n > 1}
    missing = {f"m{i:05d}" for i in range(TOTAL)} - set(counts)
    for partition in range(PARTITIONS):
        in_partition = [v for p, v in records if p == partition]
        assert in_partition == sorted(in_partition), f"partition {partition} out of send order"

    stall = acks.longest_gap(t_kill, t_isr_back, led_by_victim)
    window = max(t_leader - t_kill, 1e-9)
    outage = acks.between(t_kill, t_leader)
    degraded = acks.between(t_leader, t_restart) / max(t_restart - t_leader, 1e-9)
    before = acks.between(t_start, t_kill) / max(t_kill - t_start, 1e-9)
    recovered = (
        f"{acks.between(t_isr_back, t_done + 1e-6) / (t_done - t_isr_back):.0f}/s"
        if t_done - t_isr_back > 1 else "n/a (all acked before the ISR healed)"
    )
    print(
        "\nfailover: "
        f"victim node {victim} (was controller: {victim_was_controller}, "
        f"led partitions {sorted(led_by_victim)} of {PARTITIONS})\n"
        f"  kill -> new leaders in metadata      {t_leader - t_kill:6.2f} s\n"
        f"  longest ack pause on moved partitions {stall:6.2f} s\n"
        f"  kill -> victim out of every ISR      {t_isr_shrunk - t_kill:6.2f} s\n"
        f"  restart -> registered                {t_registered - t_restart:6.2f} s\n"
        f"  restart -> back in every ISR         {t_isr_back - t_restart:6.2f} s\n"
        f"  total run (first send to last ack)   {t_done - t_start:6.2f} s\n"
        f"  acks/s: before kill {before:.0f}; kill->new leaders {outage} acked "
        f"({outage / window:.0f}/s); degraded, 2 replicas {degraded:.0f}/s; "
        f"after ISR healed {recovered} (offered {RATE}/s)\n"
        f"  sent {TOTAL}, acked {len(acks.times)}, send errors {len(acks.errors)}, "
        f"read {len(values)}, distinct {len(counts)}, duplicates {len(duplicates)}, "
        f"missing {len(missing)}"
    )
    assert not missing, f"{len(missing)} messages lost, e.g. {sorted(missing)[:5]}"
    assert not duplicates, f"{len(duplicates)} duplicated, e.g. {sorted(duplicates)[:5]}"
    assert len(values) == TOTAL
