"""``xoev-hub demo``: the whole hub on one machine, with a live terminal view.

Starts (or reuses) the embedded broker, applies the topics, starts a worker
process and the simulator, and renders every second what the worker's own
``/metrics`` endpoint reports: messages per city pair, dead letters by code,
duplicates, rate and end-to-end latency, and the top flows of the newest mobility
window the worker published to ``xoev.stats.mobility`` during the demo. The
demo's worker runs with ``HUB_STATS_WINDOW=30s`` unless the variable is set, so
windows close within the demo. The worker also takes the service portal's
applications: the demo writes a portal setup (:mod:`hub.portal.simulate`) to its
temporary folder, starts the worker with it (``HUB_PORTAL_PAYMENT_TIMEOUT=20s``
unless set) and plays a few citizens, their payments, Postfach and authorities;
the view shows the steps their applications reached on ``xoev.status.applications``.
Ctrl-C (or ``--duration``) stops everything it started, leaving no process behind.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from hub.core.region import Region
from hub.settings import Settings
from hub.stats.mobility_view import MobilityWindow, MobilityWindows, place, place_names

if TYPE_CHECKING:
    from hub.portal.catalog import Catalogue
    from hub.portal.simulate import Citizen, Outcome, PortalSetup, PortalSimulation

CLEAR = "\x1b[H\x1b[2J"


@dataclass
class Snapshot:
    """What the live view shows, read from the worker's /metrics text."""

    received: float = 0.0
    delivered: float = 0.0
    deadlettered: float = 0.0
    duplicates: float = 0.0
    pairs: dict[tuple[str, str], float] = field(default_factory=lambda: defaultdict(float))
    dead_by_code: dict[str, float] = field(default_factory=lambda: defaultdict(float))


#: How many of the latest deliveries the latency readout covers.
LATENCY_WINDOW = 1000
#: The demo worker's HUB_STATS_WINDOW unless the variable is set: a 30 s window
#: closes 45 s after it starts (plus the agent's tick), within a 60-90 s demo; at the
#: default 20 msg/s it holds about 240 moves, enough households for k = 5 per city pair.
DEMO_STATS_WINDOW = "30s"
#: The demo worker's HUB_PORTAL_PAYMENT_TIMEOUT unless the variable is set: an
#: abandoned application is rejected (and its notice delivered) within the demo.
DEMO_PAYMENT_TIMEOUT = "20s"
#: simulated citizens per second applying through the portal
PORTAL_RATE = 1.0
#: the steps the portal block counts (applications that reached each), in order
PORTAL_STEPS = (("received", "received"), ("awaiting_payment", "awaiting payment"),
                ("forwarded", "forwarded"), ("notice_delivered", "notice delivered"),
                ("rejected", "rejected"))


@dataclass
class PortalView:
    """What the portal block shows: steps reached per application (read from
    ``xoev.status.applications``) and the simulated citizens' outcomes."""

    citizens: int = 0
    applied: int = 0
    as_intended: int = 0
    otherwise: int = 0
    refused: int = 0
    reached: dict[str, set[str]] = field(default_factory=dict)
    error: str | None = None

    def lines(self) -> list[str]:
        head = (f"service portal: {self.applied} of {self.citizens} simulated citizens applied, "
                f"{self.as_intended} settled as intended, {self.otherwise} otherwise "
                "(steps reached on xoev.status.applications)")
        counts = {step: sum(step in steps for steps in self.reached.values())
                  for step, _ in PORTAL_STEPS}
        row = "   ".join(f"{label} {counts[step]}" for step, label in PORTAL_STEPS)
        lines = [head, f"  {row}   refused at the endpoint {self.refused}"]
        if self.error:
            lines.append(f"  the portal simulation stopped: {self.error}")
        return lines


class Latencies:
    """Send → audit record times of the latest deliveries, measured by the demo itself:
    it notes when it sent each message and reads the audit topic (thread-safe)."""

    def __init__(self, window: int = LATENCY_WINDOW) -> None:
        self._sent: dict[bytes, float] = {}
        self._seen: deque[float] = deque(maxlen=window)
        self._lock = threading.Lock()

    def sent(self, message_id: bytes, at: float) -> None:
        with self._lock:
            self._sent[message_id] = at

    def delivered(self, message_id: bytes, at: float) -> None:
        with self._lock:
            started = self._sent.pop(message_id, None)
            if started is not None:
                self._seen.append(max(0.0, at - started))

    def quantiles(self) -> tuple[float, float, int] | None:
        """(p50, p99, how many) over the window, or None before the first delivery."""
        with self._lock:
            values = sorted(self._seen)
        if not values:
            return None
        def at(q: float) -> float:
            return values[min(len(values) - 1, int(q * len(values)))]
        return at(0.5), at(0.99), len(values)


def parse_metrics(text: str, region: Region) -> Snapshot:
    from prometheus_client.parser import text_string_to_metric_families

    snap = Snapshot()
    city = {a.id: a.municipality for a in region.authorities.values()}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            name, labels, value = sample.name, sample.labels, sample.value
            if name == "xoev_hub_messages_received_total":
                snap.received += value
            elif name == "xoev_hub_messages_delivered_total":
                snap.delivered += value
                src = city.get(labels.get("source", ""), labels.get("source", "?"))
                dst = city.get(labels.get("destination", ""), labels.get("destination", "?"))
                snap.pairs[(src, dst)] += value
            elif name == "xoev_hub_messages_deadlettered_total":
                snap.deadlettered += value
                snap.dead_by_code[labels.get("code", "?")] += value
            elif name == "xoev_hub_duplicates_total":
                snap.duplicates += value
    return snap


def _clock(stamp: str) -> str:
    """``2025-01-13T12:00:30.000Z`` → ``12:00:30``."""
    return stamp[11:19] if len(stamp) >= 19 else stamp


def mobility_lines(
    window: MobilityWindow | None, names: dict[str, str], stats_window: str, top: int = 3
) -> list[str]:
    """The live view's mobility block: the newest published window's top flows."""
    head = f"mobility (xoev.stats.mobility, windows of {stats_window})"
    if window is None:
        return [f"{head}: no window yet (a window is published when it has closed, "
                "plus a grace of half of it)"]
    span = (f"{_clock(window.start)}–{_clock(window.end)} UTC"
            if window.start[:10] == window.end[:10] else f"{window.start} – {window.end}")
    lines = [f"{head}: window {span}, {window.published} moves published, "
             f"{window.suppressed} suppressed (k = {window.min_count}); top flows"]
    flows = window.top_flows(top)
    for origin, to, count in flows:
        lines.append(f"  {place(origin, names):>14} → {place(to, names):<14} {count:>8}")
    if not flows:
        lines.append("  (every move of the window is below k: only the suppressed total)")
    return lines


def render(
    snap: Snapshot,
    *,
    rate: float,
    sent: int,
    elapsed: float,
    metrics_url: str,
    latency: tuple[float, float, int] | None = None,
    mobility: list[str] | None = None,
    portal: list[str] | None = None,
) -> str:
    if latency is None:
        measured = "send → audit record: no delivery yet"
    else:
        p50, p99, count = latency
        measured = (
            f"send → audit record p50 {p50 * 1000:.0f} ms   p99 {p99 * 1000:.0f} ms   "
            f"(last {count} deliveries)"
        )

    lines = [
        f"xoev-hub demo — {elapsed:5.0f}s   metrics: {metrics_url}   (Ctrl-C stops)",
        "",
        f"sent by simulator {sent:>8}   received {snap.received:>8.0f}   "
        f"delivered {snap.delivered:>8.0f}   dead letters {snap.deadlettered:>6.0f}   "
        f"duplicates {snap.duplicates:>5.0f}",
        f"rate {rate:7.1f} msg/s    {measured}",
        "",
        "messages per city pair (author's municipality → reader's)",
    ]
    for (src, dst), n in sorted(snap.pairs.items(), key=lambda kv: -kv[1]):
        lines.append(f"  {src:>14} → {dst:<14} {n:>8.0f}")
    if mobility:
        lines += ["", *mobility]
    if portal:
        lines += ["", *portal]
    if snap.dead_by_code:
        lines += ["", "dead letters by reason"]
        for code, n in sorted(snap.dead_by_code.items(), key=lambda kv: -kv[1]):
            lines.append(f"  {code:<30} {n:>6.0f}")
    return "\n".join(lines)


def scrape(url: str, timeout: float = 2.0) -> str | None:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return str(response.read().decode("utf-8"))
    except OSError:
        return None


class Demo:
    """Starts and stops the demo's parts; ``run`` blocks until Ctrl-C or duration."""

    def __init__(
        self,
        settings: Settings,
        *,
        rate: float,
        seed: int,
        faults: float,
        out: Callable[[str], None],
        citizens: int = 12,
    ) -> None:
        self.settings = settings
        self.rate = rate
        self.seed = seed
        self.faults = faults
        self.out = out
        self.worker: subprocess.Popen[bytes] | None = None
        self.broker_started = False
        self.stop_event = threading.Event()
        self.sent = 0
        self.latencies = Latencies()
        self.stats_window = os.environ.get("HUB_STATS_WINDOW", "").strip() or DEMO_STATS_WINDOW
        self.mobility = MobilityWindows()
        self.mobility_lock = threading.Lock()
        self.citizens = citizens
        self.payment_timeout = (os.environ.get("HUB_PORTAL_PAYMENT_TIMEOUT", "").strip()
                                or DEMO_PAYMENT_TIMEOUT)
        self.portal_setup: PortalSetup | None = None
        self.portal_catalogue: Catalogue | None = None
        self.portal_citizens: list[Citizen] = []
        self.portal_dir: Path | None = None
        self.portal = PortalView(citizens=citizens)
        self.portal_lock = threading.Lock()

    def start_broker(self) -> None:
        if not self.settings.embedded:
            return
        from hub.broker.embedded import broker_from_settings, cluster_id_for, print_progress

        broker = broker_from_settings(self.settings, progress=print_progress)
        if not broker.running():
            print_progress("starting the embedded Kafka broker ...")
            broker.start(cluster_id_for(broker.node.directory))
            self.broker_started = True
        broker.wait_ready(120)

    def start_worker(self) -> None:
        log_dir = self.settings.broker_dir.parent
        log_dir.mkdir(parents=True, exist_ok=True)
        log = open(log_dir / "demo-worker.log", "ab")  # noqa: SIM115 - handed to the child
        env = dict(os.environ, HUB_STATS_WINDOW=self.stats_window)
        if self.portal_setup is not None:
            env.update(self.portal_setup.worker_env())
        self.worker = subprocess.Popen(
            [sys.executable, "-m", "hub", "worker"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()

    def simulate(self) -> None:
        """The simulator's traffic (hub.tools.simulate, the one traffic source) with
        its share of faults, until the demo stops."""
        from kafka import KafkaProducer

        from hub.core.schemas import SchemaRegistry
        from hub.kafka.config import producer_config
        from hub.kafka.topics import TopicNames
        from hub.tools.simulate import (
            SimulatedMessage,
            Simulator,
            addressed,
            load_flows,
            run_simulation,
        )

        region = Region.load(self.settings.region_file)
        simulator = Simulator(
            region, SchemaRegistry.from_settings(self.settings), load_flows(), seed=self.seed
        )
        names = TopicNames(self.settings.topic_prefix)
        producer = KafkaProducer(**producer_config(self.settings), acks="all", linger_ms=5)

        def send(message: SimulatedMessage) -> None:
            topic, payload = addressed(message, names, faults=self.faults, rng=simulator.rng,
                                       region=region)
            key = message.message_id.encode()
            self.latencies.sent(key, time.time())
            producer.send(topic, key=key, value=payload)
            self.sent += 1

        try:
            run_simulation(simulator, send, rate=self.rate, stop=self.stop_event)
        finally:
            producer.flush()
            producer.close()

    def watch_audit(self) -> None:
        """Note when each simulated message's audit record appears (its timestamp is
        set when the worker produced it)."""
        from kafka import KafkaConsumer

        from hub.kafka.config import consumer_config
        from hub.kafka.topics import TopicNames

        consumer = KafkaConsumer(
            TopicNames(self.settings.topic_prefix).audit,
            **consumer_config(self.settings), group_id=None, auto_offset_reset="latest",
        )
        try:
            while not self.stop_event.is_set():
                for records in consumer.poll(timeout_ms=200).values():
                    for record in records:
                        if record.key:
                            self.latencies.delivered(record.key, record.timestamp / 1000)
        finally:
            consumer.close()

    def watch_stats(self) -> None:
        """Read the mobility windows the worker publishes while the demo runs (from the
        topic's end at the start: an earlier run's windows are not shown)."""
        from kafka import KafkaConsumer, TopicPartition

        from hub.kafka.config import consumer_config
        from hub.kafka.topics import TopicNames

        consumer = KafkaConsumer(**consumer_config(self.settings), group_id=None,
                                 enable_auto_commit=False)
        try:
            tp = TopicPartition(TopicNames(self.settings.topic_prefix).stats_mobility, 0)
            consumer.assign([tp])
            consumer.seek_to_end(tp)
            while not self.stop_event.is_set():
                for records in consumer.poll(timeout_ms=200).values():
                    with self.mobility_lock:
                        for record in records:
                            self.mobility.add(record.key, record.value)
        finally:
            consumer.close()

    def setup_portal(self) -> None:
        """A portal setup in the demo's temporary folder (the worker is started with
        it): simulated identity provider, tokens, Postfach on a free loopback port."""
        from hub.portal.simulate import PortalSetup, free_port

        if self.citizens <= 0:
            return
        self.portal_dir = Path(tempfile.mkdtemp(prefix="xoev-hub-demo-portal-"))
        self.portal_setup = PortalSetup(
            self.portal_dir, free=(),
            postfach_url=f"http://127.0.0.1:{free_port()}/postfach",
            postfach_attempts=5, postfach_backoff_seconds=0.5,
            region_source=self.settings.region_file, payment_timeout=self.payment_timeout,
        ).save()
        from hub.portal.catalog import Catalogue
        from hub.portal.simulate import plan_citizens

        catalogue = Catalogue.of_region(Region.load(self.portal_setup.region_file))
        assert catalogue is not None
        self.portal_catalogue = catalogue
        self.portal_citizens = plan_citizens(catalogue, self.citizens, self.seed)

    def simulate_portal(self) -> None:
        """A small portal simulation alongside the XÖV traffic (its lines are not
        printed: the view counts them)."""
        from hub.errors import HubError
        from hub.portal.simulate import PortalSimulation

        setup, catalogue = self.portal_setup, self.portal_catalogue
        assert setup is not None and catalogue is not None
        citizens = self.portal_citizens
        try:
            def settled(outcome: Outcome) -> None:
                with self.portal_lock:
                    if outcome.ok:
                        self.portal.as_intended += 1
                    else:
                        self.portal.otherwise += 1
                    self.portal.refused += outcome.refusal is not None

            simulation = PortalSimulation(
                self.settings, setup, citizens, catalogue,
                url=f"http://{self.settings.web_host}:{self.settings.web_port}",
                rate=PORTAL_RATE, stop=self.stop_event, on_outcome=settled,
            )
            watcher = threading.Thread(target=self._count_applied, args=(simulation,),
                                       daemon=True, name="portal-count")
            # the citizens start once the worker delivers XÖV traffic: its start-up
            # (consumer group joins) is not slowed by the portal's requests
            deadline = time.monotonic() + 60
            while self.latencies.quantiles() is None and time.monotonic() < deadline:
                if self.stop_event.wait(0.2):
                    return
            watcher.start()
            simulation.run(ready_timeout=180)
        except (HubError, OSError) as exc:
            if not self.stop_event.is_set():
                with self.portal_lock:
                    self.portal.error = str(exc).splitlines()[0][:160]

    def _count_applied(self, simulation: PortalSimulation) -> None:
        while not self.stop_event.wait(0.5):
            with self.portal_lock:
                self.portal.applied = simulation.sent

    def watch_portal(self) -> None:
        """Read the steps of this demo's applications (from the status topic's end at
        the start; an earlier run's applications are not counted)."""
        from kafka import KafkaConsumer, TopicPartition

        from hub.kafka.config import consumer_config
        from hub.kafka.topics import TopicNames
        from hub.portal.status import ApplicationState

        topic = TopicNames(self.settings.topic_prefix).status_applications
        ours = {c.application_id for c in self.portal_citizens}  # not an earlier run's
        consumer = KafkaConsumer(**consumer_config(self.settings), group_id=None,
                                 enable_auto_commit=False)
        try:
            found = consumer.partitions_for_topic(topic) or set()
            partitions = [TopicPartition(topic, p) for p in sorted(found)]
            consumer.assign(partitions)
            consumer.seek_to_end(*partitions)
            while not self.stop_event.is_set():
                for records in consumer.poll(timeout_ms=200).values():
                    for record in records:
                        if record.value is None:
                            continue
                        try:
                            state = ApplicationState.decode(record.value)
                        except Exception:
                            continue
                        if state.application_id not in ours:
                            continue
                        with self.portal_lock:
                            self.portal.reached.setdefault(state.application_id, set()).update(
                                s.status for s in state.history)
        finally:
            consumer.close()

    def portal_view(self) -> list[str] | None:
        if self.portal_setup is None:
            return None
        with self.portal_lock:
            return self.portal.lines()

    def mobility_view(self, names: dict[str, str]) -> list[str]:
        with self.mobility_lock:
            window = self.mobility.latest(complete=True)
            return mobility_lines(window, names, self.stats_window)

    def stop(self) -> None:
        self.stop_event.set()
        if self.worker is not None and self.worker.poll() is None:
            os.killpg(self.worker.pid, signal.SIGTERM)
            try:
                self.worker.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(self.worker.pid, signal.SIGKILL)
                self.worker.wait(timeout=30)
        if self.broker_started:
            from hub.broker.embedded import broker_from_settings

            broker_from_settings(self.settings).stop()

    def run(self, duration: float | None) -> int:
        from hub.kafka.topic_admin import apply_topics

        region = Region.load(self.settings.region_file)
        self.start_broker()
        apply_topics(self.settings, region)
        self.setup_portal()
        self.start_worker()
        watcher = threading.Thread(target=self.watch_audit, name="audit-watch", daemon=True)
        watcher.start()
        stats = threading.Thread(target=self.watch_stats, name="stats-watch", daemon=True)
        stats.start()
        portal_threads: list[threading.Thread] = []
        if self.portal_setup is not None:
            portal_threads = [
                threading.Thread(target=self.watch_portal, name="portal-watch", daemon=True),
                threading.Thread(target=self.simulate_portal, name="portal-sim", daemon=True),
            ]
            for thread in portal_threads:
                thread.start()
        names = place_names(region)
        feeder = threading.Thread(target=self.simulate, name="simulator", daemon=True)
        feeder.start()
        url = f"http://{self.settings.web_host}:{self.settings.web_port}/metrics"
        started = time.monotonic()
        last_delivered, last_time = 0.0, started
        snap = Snapshot()
        try:
            while duration is None or time.monotonic() - started < duration:
                time.sleep(1.0)
                if self.worker is not None and self.worker.poll() is not None:
                    self.out(
                        f"the worker exited with code {self.worker.returncode}; "
                        f"see {self.settings.broker_dir.parent / 'demo-worker.log'}"
                    )
                    return 1
                text = scrape(url)
                if text is None:
                    continue
                snap = parse_metrics(text, region)
                now = time.monotonic()
                rate = (snap.delivered - last_delivered) / (now - last_time)
                last_delivered, last_time = snap.delivered, now
                self.out(
                    CLEAR
                    + render(
                        snap, rate=rate, sent=self.sent, elapsed=now - started, metrics_url=url,
                        latency=self.latencies.quantiles(), mobility=self.mobility_view(names),
                        portal=self.portal_view(),
                    )
                )
        except KeyboardInterrupt:
            pass
        finally:
            self.stop()
            feeder.join(timeout=10)
            watcher.join(timeout=10)
            stats.join(timeout=10)
            for thread in portal_threads:
                thread.join(timeout=10)
            if self.portal_dir is not None:
                shutil.rmtree(self.portal_dir, ignore_errors=True)
        self.out(
            f"\nstopped: sent {self.sent}, delivered {snap.delivered:.0f}, "
            f"dead letters {snap.deadlettered:.0f}, duplicates {snap.duplicates:.0f}"
        )
        if self.portal_setup is not None:
            with self.portal_lock:
                self.out(f"portal: {self.portal.applied} of {self.citizens} simulated citizens "
                         f"applied, {self.portal.as_intended} settled as intended, "
                         f"{self.portal.otherwise} otherwise")
        return 0
