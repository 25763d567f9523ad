"""Worker start-up and memory with many remembered ids (issue 17's goal), real broker.

The dedupe table (``dedupe``, RocksDB through rocksdict, in a state slot under
``HUB_STATE_DIR``) is restored from its changelog ``<group>-dedupe-changelog``.
This benchmark, with topics, consumer group and ``HUB_STATE_DIR`` of its own:

1. **pre-fill**: creates the contract topics and the changelog topic (partitions
   as ``HUB_TOPIC_PARTITIONS``, ``compact,delete``, 30 days) and writes ``--ids``
   entries in the format of :class:`hub.streams.dedupe.Entry` (``<author DVDV
   key>|<uuid>`` → ``<sha256>|<topic:partition:offset>|<epoch>``, recent times, so
   within the retention window), spread over the changelog's partitions;
2. **cold start**: an empty state folder; starts ``python -m hub worker``, sends
   one valid XMeld 0201 (fresh nachrichtenUUID) right after the start and takes
   the time from process start to its audit record (the record's broker
   timestamp), with the worker's VmRSS then and its peak (VmHWM);
3. **warm restart**: SIGTERM, wait for the exit, start again on the same state
   folder — RocksDB holds the ids, only what it lacks is replayed — and the same
   measurement. This is the figure the goal is about.

Then a table of both runs against the goals (ready < 20 s, RSS < 400 MB) with the
host's load average. Topics and the state folder are deleted at the end; no
worker is left running.

    xoev-hub bench dedupe_state [--ids 1000000] [--keep-logs]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from kafka import KafkaConsumer, TopicPartition

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from hub.core.region import Region  # noqa: E402
from hub.kafka.topic_admin import apply_topics  # noqa: E402
from hub.kafka.topics import TopicNames  # noqa: E402
from hub.settings import Settings, load_settings  # noqa: E402

GOAL_SECONDS = 20.0
GOAL_RSS_MB = 400.0
RETENTION_MS = 30 * 86400 * 1000
UUID_RE = re.compile(rb"(<nachrichtenUUID>)[^<]*(</nachrichtenUUID>)")


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def proc_status(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM of pid in kB (0 when gone)."""
    out = {"VmRSS": 0, "VmHWM": 0}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            name, _, rest = line.partition(":")
            if name in out:
                out[name] = int(rest.split()[0])
    except (OSError, ValueError):
        pass
    return out


def du(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


# --- pre-fill -------------------------------------------------------------------


def entry(
    author_keys: list[str], i: int, now: float, inbound: list[str], parts: int
) -> tuple[bytes, bytes]:
    """One table record as :class:`hub.streams.dedupe.Entry` writes it."""
    key = f"{author_keys[i % len(author_keys)]}|{uuid.UUID(int=random.getrandbits(128), version=4)}"
    sha = hashlib.sha256(key.encode()).hexdigest()
    where = f"{inbound[i % len(inbound)]}:{i % parts}:{i // parts}"  # same author as the key
    return key.encode(), f"{sha}|{where}|{now - (i % 86400):.3f}".encode()


async def prefill(
    bootstrap: str, topic: str, n: int, parts: int, author_keys: list[str], inbound: list[str]
) -> float:
    """Write n entries round-robin over the changelog's partitions; returns seconds."""
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        linger_ms=50,
        max_batch_size=1024 * 1024,
        max_request_size=8 * 1024 * 1024,
    )
    await producer.start()
    started = time.monotonic()
    now = time.time()
    pending: list[asyncio.Future[object]] = []
    try:
        for i in range(n):
            key, value = entry(author_keys, i, now, inbound, parts)
            # the record is appended to a batch; only a full buffer makes send wait
            pending.append(await producer.send(topic, value, key=key, partition=i % parts))
            if len(pending) >= 20000:
                await asyncio.gather(*pending)
                pending.clear()
            if (i + 1) % 100_000 == 0:
                took = time.monotonic() - started
                print(
                    f"  pre-fill {i + 1:>9,} / {n:,}  {(i + 1) / took:8,.0f} records/s  "
                    f"(load {load()})",
                    flush=True,
                )
        await asyncio.gather(*pending)
        await producer.flush()
    finally:
        await producer.stop()
    return time.monotonic() - started


def create_changelog(bootstrap: str, topic: str, parts: int) -> None:
    from kafka.admin import KafkaAdminClient, NewTopic

    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        admin.create_topics(
            [
                NewTopic(
                    topic,
                    parts,
                    1,
                    topic_configs={
                        "cleanup.policy": "compact,delete",
                        "retention.ms": str(RETENTION_MS),
                    },
                )
            ]
        )
    finally:
        admin.close()
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None)
    try:
        deadline = time.monotonic() + 30
        while len(consumer.partitions_for_topic(topic) or ()) < parts:
            if time.monotonic() > deadline:
                raise SystemExit(f"{topic} did not appear in the metadata")
            time.sleep(0.2)  # partitions_for_topic fetches metadata for an unknown topic
    finally:
        consumer.close()


def changelog_tail(bootstrap: str, topic: str, since: dict[int, int]) -> list[tuple[bytes, bytes]]:
    """The records of ``topic`` after the offsets ``since`` (what a worker wrote)."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, consumer_timeout_ms=2000)
    try:
        tps = [TopicPartition(topic, p) for p in since]
        consumer.assign(tps)
        for tp in tps:
            consumer.seek(tp, since[tp.partition])
        return [(r.key, r.value) for r in consumer]
    finally:
        consumer.close()


def state_keys(state_dir: Path) -> tuple[int, int]:
    """(RocksDB databases, keys in them) under the state folder (workers stopped)."""
    import rocksdict

    dbs = [p.parent for p in state_dir.rglob("CURRENT")]
    keys = 0
    for path in dbs:
        options = rocksdict.Options(raw_mode=True)
        db = rocksdict.Rdict(
            str(path), options=options, access_type=rocksdict.AccessType.read_only()
        )
        try:
            it = db.iter()
            it.seek_to_first()
            while it.valid():
                keys += 1
                it.next()
        finally:
            db.close()
    return len(dbs), keys


# --- the probe ------------------------------------------------------------------


def probe_template(settings: Settings) -> tuple[str, bytes]:
    """(inbound topic, payload) of a valid XMeld 0201 between two Meldebehörden."""
    from hub.core.schemas import SchemaRegistry
    from hub.tools.samples import generate

    region = Region.load(settings.region_file)
    registry = SchemaRegistry.from_settings(settings)
    ranked = sorted(registry.packages, key=lambda p: (p.version, p.origin == "installed"))
    package, message = next(
        (p, m)
        for p in reversed(ranked)
        if p.standard == "XMeld"
        for m in p.messages.values()
        if m.code == "0201"
    )
    mbs = sorted(a.id for a in region.authorities.values() if a.kind == "meldebehoerde")
    author, reader = mbs[0], mbs[1]
    payload = generate(
        package,
        message,
        seed=100,
        author_key=region.authorities[author].dvdv_key,
        reader_key=region.authorities[reader].dvdv_key,
    )
    return TopicNames(settings.topic_prefix).inbound(author), payload


def send_probe(bootstrap: str, topic: str, template: bytes) -> str:
    from kafka import KafkaProducer

    message_id = str(uuid.uuid4())
    payload, count = UUID_RE.subn(rb"\g<1>" + message_id.encode() + rb"\g<2>", template, count=1)
    if count != 1:
        raise SystemExit("the probe template has no <nachrichtenUUID>")
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=0)
    producer.send(topic, key=message_id.encode(), value=payload).get(timeout=30)
    producer.close()
    return message_id


def audit_time(bootstrap: str, topic: str, message_id: str) -> float | None:
    """The broker timestamp (s) of the audit record keyed ``message_id``, if there is one."""
    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=None,
        auto_offset_reset="earliest",
        consumer_timeout_ms=2000,
    )
    try:
        for record in consumer:
            if record.key == message_id.encode():
                return float(record.timestamp) / 1000
        return None
    finally:
        consumer.close()


# --- one start ------------------------------------------------------------------


@dataclass
class Run:
    label: str
    ready: float  # seconds from process start to the probe's audit record
    rss_kb: int
    hwm_kb: int
    load: str
    stop_seconds: float = float("nan")


def end_total(consumer: KafkaConsumer, topic: str) -> int:
    parts = consumer.partitions_for_topic(topic) or set()
    return sum(consumer.end_offsets([TopicPartition(topic, p) for p in parts]).values())


def measure(
    label: str,
    env: dict[str, str],
    log: Path,
    bootstrap: str,
    inbound: str,
    template: bytes,
    audit: str,
    timeout: float,
) -> tuple[Run, subprocess.Popen[bytes]]:
    """Start a worker, send the probe, wait for its audit record. The worker is returned
    running (the caller stops it); it is killed here when the measurement fails."""
    watcher = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None)
    before = end_total(watcher, audit)
    handle = open(log, "ab")  # noqa: SIM115 - the child writes to it
    started_wall = time.time()
    started = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-m", "hub", "worker"],
        env=env,
        cwd=REPO,
        stdout=handle,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    handle.close()
    try:
        message_id = send_probe(bootstrap, inbound, template)
        hwm = 0
        while True:
            status = proc_status(proc.pid)
            hwm = max(hwm, status["VmHWM"])
            if end_total(watcher, audit) > before:
                break
            if proc.poll() is not None:
                raise RuntimeError(f"{label}: the worker exited with {proc.returncode}; log {log}")
            if time.monotonic() - started > timeout:
                raise RuntimeError(f"{label}: no audit record after {timeout:.0f} s; log {log}")
            time.sleep(0.2)
        status = proc_status(proc.pid)
        seen = time.monotonic() - started
        stamp = audit_time(bootstrap, audit, message_id)
        ready = stamp - started_wall if stamp is not None else seen
        run = Run(label, ready, status["VmRSS"], max(hwm, status["VmHWM"]), load())
        print(
            f"  {label}: probe processed after {ready:6.1f} s (seen {seen:.1f} s), "
            f"VmRSS {status['VmRSS'] / 1024:6.0f} MB, VmHWM {run.hwm_kb / 1024:6.0f} MB  "
            f"(load {run.load})",
            flush=True,
        )
        return run, proc
    except BaseException:
        kill(proc)
        raise
    finally:
        watcher.close()


def stop(proc: subprocess.Popen[bytes], timeout: float = 120) -> float:
    """SIGTERM the worker's process group and wait; SIGKILL after timeout. Seconds taken."""
    started = time.monotonic()
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            print(f"  worker {proc.pid} ignored SIGTERM for {timeout:.0f} s: killed")
            kill(proc)
    return time.monotonic() - started


def kill(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def cleanup_topics(bootstrap: str, prefix: str) -> None:
    from kafka.admin import KafkaAdminClient

    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        mine = [t for t in admin.list_topics() if t.startswith(prefix)]
        for i in range(0, len(mine), 200):
            admin.delete_topics(mine[i : i + 200], timeout_ms=60000)
        print(f"deleted {len(mine)} topics {prefix}*")
    finally:
        admin.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ids", type=int, default=1_000_000, help="remembered ids to pre-fill")
    parser.add_argument("--timeout", type=float, default=900, help="seconds to wait for one start")
    parser.add_argument("--keep-logs", action="store_true", help="keep the worker logs")
    args = parser.parse_args()

    base = load_settings()
    bootstrap = base.bootstrap
    prefix = f"bench{uuid.uuid4().hex[:8]}.dedupe."
    group = f"{prefix}g"
    state_dir = Path(tempfile.mkdtemp(prefix="bench-dedupe-state-"))
    logdir = Path(tempfile.mkdtemp(prefix="bench-dedupe-logs-"))
    settings = load_settings(bootstrap_servers=bootstrap, topic_prefix=prefix, consumer_group=group)
    names = TopicNames(prefix)
    region = Region.load(settings.region_file)
    parts = settings.topic_partitions
    changelog = f"{group}-dedupe-changelog"
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    env.update(
        {k: v for k, v in os.environ.items() if k in ("HUB_SCHEMA_DIR", "HUB_REGION_FILE")},
        HUB_BOOTSTRAP_SERVERS=bootstrap,
        HUB_TOPIC_PREFIX=prefix,
        HUB_CONSUMER_GROUP=group,
        HUB_STATE_DIR=str(state_dir),
        HUB_WEB_PORT=str(free_port()),
        HUB_LOG_LEVEL="INFO",
        PYTHONUNBUFFERED="1",
    )
    print(
        f"broker {bootstrap}, {os.cpu_count()} cores, load {load()}; prefix {prefix}, "
        f"state {state_dir}, logs {logdir}",
        flush=True,
    )
    runs: list[Run] = []
    proc: subprocess.Popen[bytes] | None = None
    try:
        apply_topics(settings, region)
        create_changelog(bootstrap, changelog, parts)
        # each author's DVDV key with its own inbound topic
        ids = sorted(region.authorities)
        author_keys = [region.authorities[a].dvdv_key for a in ids]
        inbound = [names.inbound(a) for a in ids]
        print(f"pre-fill: {args.ids:,} entries into {changelog} ({parts} partitions)", flush=True)
        took = asyncio.run(prefill(bootstrap, changelog, args.ids, parts, author_keys, inbound))
        print(
            f"  pre-fill done: {args.ids:,} in {took:.1f} s, {args.ids / took:,.0f} records/s",
            flush=True,
        )
        topic, template = probe_template(settings)
        probe = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None)
        tps = [TopicPartition(changelog, p) for p in range(parts)]
        filled = {tp.partition: end for tp, end in probe.end_offsets(tps).items()}
        probe.close()
        example = entry(author_keys, 0, time.time(), inbound, parts)

        cold, proc = measure(
            "cold start",
            env,
            logdir / "cold.log",
            bootstrap,
            topic,
            template,
            names.audit,
            args.timeout,
        )
        runs.append(cold)
        cold.stop_seconds = stop(proc)
        proc = None
        dbs, keys = state_keys(state_dir)
        print(
            f"  stopped in {cold.stop_seconds:.1f} s; state folder {du(state_dir) / 1e6:.0f} MB, "
            f"{dbs} RocksDB databases holding {keys:,} keys",
            flush=True,
        )
        for key, value in changelog_tail(bootstrap, changelog, filled):
            # the worker's own entry next to a pre-filled one: the format must match
            print(f"  worker wrote  {key!r} -> {value!r}")
            print(f"  pre-fill form {example[0]!r} -> {example[1]!r}")
        warm, proc = measure(
            "warm restart",
            env,
            logdir / "warm.log",
            bootstrap,
            topic,
            template,
            names.audit,
            args.timeout,
        )
        runs.append(warm)
        warm.stop_seconds = stop(proc)
        proc = None
    finally:
        if proc is not None:
            kill(proc)
        try:
            cleanup_topics(bootstrap, prefix)
        finally:
            shutil.rmtree(state_dir, ignore_errors=True)
            if not args.keep_logs and len(runs) == 2:
                shutil.rmtree(logdir, ignore_errors=True)
            else:
                print(f"worker logs kept in {logdir}")

    print()
    print(f"{args.ids:,} remembered ids, {parts} changelog partitions, {os.cpu_count()} cores")
    print(
        f"{'run':<14}{'ready s':>9}{'/20 s':>7}{'VmRSS MB':>10}{'/400 MB':>9}"
        f"{'VmHWM MB':>10}{'/400 MB':>9}{'stop s':>8}   load 1/5/15"
    )
    for r in runs:
        print(
            f"{r.label:<14}{r.ready:9.1f}{r.ready / GOAL_SECONDS:7.2f}"
            f"{r.rss_kb / 1024:10.0f}{r.rss_kb / 1024 / GOAL_RSS_MB:9.2f}"
            f"{r.hwm_kb / 1024:10.0f}{r.hwm_kb / 1024 / GOAL_RSS_MB:9.2f}"
            f"{r.stop_seconds:8.1f}   {r.load}"
        )


if __name__ == "__main__":
    main()
