"""End-to-end benchmark against the real broker: inbound topics → outbound topics.

In one run, on ~6 KB XMeld Rückmeldungen:

* **hub**: the worker (``python -m hub worker``) — throughput with a preloaded
  backlog, then end-to-end latency (producer send → consumer receives the audit
  record) at a paced 500 msgs/s;
* **baseline (a)**: the obvious Faust agent decoding with xmlschema and producing
  JSON (bench/baseline_naive_faust.py);
* **ceiling (b)**: a raw aiokafka consume→produce loop doing no work
  (bench/baseline_ceiling.py).

Prints msgs/s, latency percentiles and the ratios hub/baseline and hub/ceiling.
Usage: ``python bench/bench_e2e.py [--messages N] [--rate R] [--seconds S]``
(the broker of the settings must be running: ``xoev-hub kafka up``).
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

from kafka import KafkaConsumer, KafkaProducer

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from hub.region import Region  # noqa: E402
from hub.schemas import SchemaRegistry  # noqa: E402
from hub.settings import load_settings  # noqa: E402
from hub.topics import TopicNames  # noqa: E402
from hub.topology import apply_topics  # noqa: E402

UUID_RE = re.compile(rb"(<nachrichtenUUID>)[0-9a-fA-F-]{36}(</nachrichtenUUID>)")


def templates(settings, count: int = 24) -> list[tuple[str, bytes]]:  # type: ignore[no-untyped-def]
    from hub.samples import generate

    region = Region.load(settings.region_file)
    registry = SchemaRegistry.from_settings(settings)
    package = max((p for p in registry.packages if p.standard == "XMeld"), key=lambda p: p.version)
    message = next(m for m in package.messages.values() if m.code == "0201")
    mbs = sorted(a.id for a in region.authorities.values() if a.kind == "meldebehoerde")
    out = []
    for i in range(count):
        author, reader = mbs[i % len(mbs)], mbs[(i + 1) % len(mbs)]
        payload = generate(
            package,
            message,
            seed=i,
            author_key=region.authorities[author].dvdv_key,
            reader_key=region.authorities[reader].dvdv_key,
        )
        out.append((author, payload))
    return out


def copies(
    base: list[tuple[str, bytes]], names: TopicNames, n: int
) -> list[tuple[str, bytes, bytes]]:
    out = []
    for i in range(n):
        author, payload = base[i % len(base)]
        mid = str(uuid.uuid4()).encode()
        out.append(
            (names.inbound(author), mid, UUID_RE.sub(rb"\g<1>" + mid + rb"\g<2>", payload, 1))
        )
    return out


def preload(bootstrap: str, messages: list[tuple[str, bytes, bytes]]) -> None:
    producer = KafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        linger_ms=20,
        batch_size=512 * 1024,
        max_request_size=8 * 1024 * 1024,
    )
    for topic, key, value in messages:
        producer.send(topic, key=key, value=value)
    producer.flush()
    producer.close()


def count_until(bootstrap: str, topic: str, n: int, timeout: float) -> list[float]:
    """Record timestamps (seconds) of the first n records of topic."""
    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=None,
        auto_offset_reset="earliest",
        fetch_max_wait_ms=50,
    )
    stamps: list[float] = []
    deadline = time.monotonic() + timeout
    while len(stamps) < n and time.monotonic() < deadline:
        for records in consumer.poll(timeout_ms=200).values():
            stamps += [r.timestamp / 1000 for r in records]
    consumer.close()
    return sorted(stamps)


def start(cmd: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    handle = open(log, "ab")  # noqa: SIM115
    return subprocess.Popen(
        cmd, env=env, cwd=REPO, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True
    )


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


def throughput(stamps: list[float]) -> float:
    # steady state: skip the first 10 % (start-up, partition assignment)
    if len(stamps) < 20:
        return 0.0
    head = stamps[len(stamps) // 10]
    return (len(stamps) - len(stamps) // 10 - 1) / max(stamps[-1] - head, 1e-9)


def fresh_target(settings, label: str) -> tuple[str, dict[str, str], TopicNames]:  # type: ignore[no-untyped-def]
    """A topic prefix of its own (topics applied), the environment for its process."""
    prefix = f"bench{uuid.uuid4().hex[:8]}.{label}."
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    env.update(
        HUB_BOOTSTRAP_SERVERS=settings.bootstrap,
        HUB_TOPIC_PREFIX=prefix,
        HUB_CONSUMER_GROUP=f"{prefix}g",
        HUB_WEB_PORT="0",
        HUB_LOG_LEVEL="WARNING",
    )
    bench_settings = load_settings(bootstrap_servers=settings.bootstrap, topic_prefix=prefix)
    apply_topics(bench_settings, Region.load(settings.region_file))
    return prefix, env, TopicNames(prefix)


def run_component(
    label: str,
    cmd: list[str],
    out_topic: str,
    n: int,
    settings,
    base,  # type: ignore[no-untyped-def]
    logdir: Path,
    timeout: float,
) -> float:
    prefix, env, names = fresh_target(settings, label)
    if not out_topic.startswith("xoev."):
        from kafka.admin import KafkaAdminClient, NewTopic

        admin = KafkaAdminClient(bootstrap_servers=settings.bootstrap)
        admin.create_topics([NewTopic(f"{prefix}{out_topic}", settings.topic_partitions, 1)])
        admin.close()
    preload(settings.bootstrap, copies(base, names, n))
    args = [a.replace("{prefix}", prefix).replace("{group}", f"{prefix}g") for a in cmd]
    proc = start(args, env, logdir / f"{label}.log")
    try:
        stamps = count_until(settings.bootstrap, f"{prefix}{out_topic}", n, timeout)
    finally:
        stop(proc)
    if len(stamps) < n:
        print(
            f"  {label}: only {len(stamps)}/{n} outputs within {timeout:.0f}s "
            f"(log: {logdir / (label + '.log')})"
        )
    return throughput(stamps)


def latency(settings, base, rate: float, seconds: float, logdir: Path) -> list[float]:  # type: ignore[no-untyped-def]
    _prefix, env, names = fresh_target(settings, "lat")
    proc = start([sys.executable, "-m", "hub", "worker"], env, logdir / "latency.log")
    sent: dict[bytes, float] = {}
    received: list[float] = []
    done = threading.Event()

    def consume() -> None:
        consumer = KafkaConsumer(
            names.audit,
            bootstrap_servers=settings.bootstrap,
            group_id=None,
            auto_offset_reset="earliest",
            fetch_max_wait_ms=10,
        )
        while not done.is_set():
            for records in consumer.poll(timeout_ms=50).values():
                now = time.time()
                for r in records:
                    if r.key in sent:
                        received.append(now - sent[r.key])
        consumer.close()

    try:
        # warm up: the worker must be consuming before the paced run starts
        preload(settings.bootstrap, copies(base, names, 50))
        if len(count_until(settings.bootstrap, names.audit, 50, 120)) < 50:
            raise SystemExit("latency phase: the worker did not start (see latency.log)")
        reader = threading.Thread(target=consume, daemon=True)
        reader.start()
        time.sleep(1)
        producer = KafkaProducer(bootstrap_servers=settings.bootstrap, acks="all", linger_ms=0)
        messages = copies(base, names, int(rate * seconds))
        started = time.monotonic()
        for i, (topic, key, value) in enumerate(messages):
            delay = started + i / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            sent[key] = time.time()
            producer.send(topic, key=key, value=value)
        producer.flush()
        producer.close()
        deadline = time.monotonic() + 30
        while len(received) < len(messages) and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        done.set()
        stop(proc)
    return received


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))] if values else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--messages", type=int, default=6000, help="backlog for the hub and ceiling"
    )
    parser.add_argument("--naive-messages", type=int, default=600, help="backlog for baseline (a)")
    parser.add_argument("--rate", type=float, default=500.0, help="paced rate for latency")
    parser.add_argument("--seconds", type=float, default=10.0, help="paced run length")
    parser.add_argument("--latency-only", action="store_true", help="skip the throughput runs")
    args = parser.parse_args()
    settings = load_settings()
    base = templates(settings)
    size = statistics.mean(len(p) for _, p in base)
    print(f"messages: XMeld 0201, mean {size / 1024:.1f} KiB; broker {settings.bootstrap}")
    logdir = Path(tempfile.mkdtemp(prefix="bench-e2e-"))
    py = sys.executable
    if not args.latency_only:
        hub = run_component(
            "hub",
            [py, "-m", "hub", "worker"],
            "xoev.audit",
            args.messages,
            settings,
            base,
            logdir,
            300,
        )
        print(f"hub worker        {hub:9.0f} msgs/s  (one process, {args.messages} messages)")
        naive = run_component(
            "naive",
            [py, "bench/baseline_naive_faust.py", "{prefix}", "{group}"],
            "naive.out",
            args.naive_messages,
            settings,
            base,
            logdir,
            300,
        )
        print(f"baseline (a)      {naive:9.0f} msgs/s  (Faust + xmlschema to_dict + JSON)")
        ceiling = run_component(
            "ceiling",
            [py, "bench/baseline_ceiling.py", "{prefix}", "{group}"],
            "ceiling.out",
            args.messages,
            settings,
            base,
            logdir,
            300,
        )
        print(f"ceiling (b)       {ceiling:9.0f} msgs/s  (raw aiokafka consume→produce, no work)")
        print(f"hub/baseline      {hub / naive if naive else float('nan'):9.1f}x")
        print(f"hub/ceiling       {hub / ceiling if ceiling else float('nan'):9.2f}")
    lat = latency(settings, base, args.rate, args.seconds, logdir)
    print(
        f"latency at {args.rate:.0f} msgs/s over {args.seconds:.0f}s: {len(lat)} delivered, "
        f"p50 {pct(lat, 0.5) * 1000:.0f} ms, p99 {pct(lat, 0.99) * 1000:.0f} ms, "
        f"max {max(lat, default=float('nan')) * 1000:.0f} ms"
    )
    print(f"logs: {logdir}")


if __name__ == "__main__":
    main()
