"""Real-broker harness for worker tests: a worker subprocess, a producer, a drain.

The worker runs as ``python -m hub worker`` in its own process, exactly as an
operator runs it, so ``kill -9`` and restarts are real.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kafka import KafkaProducer

REPO = Path(__file__).resolve().parents[2]


def hub_env(bootstrap: str, prefix: str, **extra: str) -> dict[str, str]:
    """Environment for a worker of one test: its own topic prefix and group."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    env.update(
        HUB_BOOTSTRAP_SERVERS=bootstrap,
        HUB_TOPIC_PREFIX=prefix,
        HUB_CONSUMER_GROUP=f"{prefix}hub",
        HUB_WEB_PORT=str(extra.pop("web_port", "0")),
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


@dataclass
class WorkerProcess:
    env: Mapping[str, str]
    log_path: Path
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> WorkerProcess:
        log = open(self.log_path, "ab")  # noqa: SIM115 - handed to the child
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "hub", "worker"],
            env=dict(self.env),
            cwd=REPO,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        return self

    def kill(self) -> None:
        """SIGKILL: a crash, no clean shutdown."""
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)

    def stop(self, timeout: float = 120) -> int:
        """SIGTERM and wait for a clean exit."""
        assert self.proc is not None
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=30)
        return self.proc.returncode

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def produce(
    bootstrap: str, messages: Iterable[tuple[str, bytes | None, bytes]], *, acks: str = "all"
) -> int:
    """Send (topic, key, value) triples; returns how many were acknowledged."""
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks=acks, linger_ms=5)
    futures = [producer.send(topic, key=key, value=value) for topic, key, value in messages]
    producer.flush()
    for future in futures:
        future.get(timeout=30)
    producer.close()
    return len(futures)


@dataclass
class Drained:
    records: dict[str, list[object]] = field(default_factory=lambda: defaultdict(list))

    def count(self, topic: str) -> int:
        return len(self.records.get(topic, []))

    def keys(self, topic: str) -> list[bytes]:
        return [r.key for r in self.records.get(topic, [])]  # type: ignore[attr-defined]

    def headers(self, topic: str) -> list[dict[str, bytes]]:
        return [dict(r.headers) for r in self.records.get(topic, [])]  # type: ignore[attr-defined]


def drain(
    bootstrap: str,
    topics: Sequence[str],
    *,
    until: Mapping[str, int] | None = None,
    total: int | None = None,
    keys: Mapping[str, Iterable[bytes]] | None = None,
    timeout: float = 120,
    settle: float = 3.0,
) -> Drained:
    """Read topics from the beginning until the expected counts are reached
    (then ``settle`` seconds more, to catch anything extra) or ``timeout``.

    ``keys`` waits for every one of the given record keys per topic: after a crash
    or a replay the count includes repeats, so a count is reached before the last
    distinct message has arrived.

    Uses aiokafka: kafka-python 3.0.12's ``poll(timeout_ms=…)`` was seen blocking
    far past its timeout on these topics.
    """
    import asyncio

    from aiokafka import AIOKafkaConsumer, TopicPartition

    out = Drained()
    wanted = {t: set(k) for t, k in (keys or {}).items()}

    def reached() -> bool:
        if until is not None and any(out.count(t) < n for t, n in until.items()):
            return False
        if any(w - set(out.keys(t)) for t, w in wanted.items()):
            return False
        return not (total is not None and sum(out.count(t) for t in topics) < total)

    async def run() -> None:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap,
            group_id=None,
            enable_auto_commit=False,
            max_partition_fetch_bytes=8 << 20,
        )
        await consumer.start()
        try:
            tps = [
                TopicPartition(t, p)
                for t in topics
                for p in (consumer.partitions_for_topic(t) or await _partitions(consumer, t))
            ]
            consumer.assign(tps)
            await consumer.seek_to_beginning(*tps)
            deadline = time.monotonic() + timeout
            settled_at: float | None = None
            while time.monotonic() < deadline:
                batch = await consumer.getmany(timeout_ms=300)
                for tp, records in batch.items():
                    out.records[tp.topic].extend(records)
                if reached():
                    settled_at = settled_at or time.monotonic()
                    if time.monotonic() - settled_at >= settle:
                        break
        finally:
            await consumer.stop()

    asyncio.run(run())
    for records in out.records.values():
        records.sort(key=lambda r: (r.partition, r.offset))  # type: ignore[attr-defined]
    return out


async def _partitions(consumer: object, topic: str) -> set[int]:
    client = consumer._client  # type: ignore[attr-defined]
    await client.force_metadata_update()
    return set(client.cluster.partitions_for_topic(topic) or {0})


def duplicates_of(keys: Iterable[bytes]) -> dict[bytes, int]:
    return {k: n for k, n in Counter(keys).items() if n > 1}


def identical_repeats(records: Iterable[Any]) -> int:
    """Records whose key, value and headers all equal an earlier one's.

    A send retried by a producer without idempotence writes the same bytes twice;
    a replay by the worker writes a new record (new ``received`` time), which
    does not count here.
    """
    seen = Counter((r.key, r.value, tuple(r.headers)) for r in records)
    return sum(n - 1 for n in seen.values())
