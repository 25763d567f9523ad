"""Prometheus metrics of the hub (names and labels are a public contract).

Every metric is created on the ``CollectorRegistry`` handed to ``HubMetrics``
(a fresh one per instance by default, so tests never share state; the worker
passes ``prometheus_client.REGISTRY`` or its own). All names start with
``xoev_hub_``. Labels carry only authority ids, standards, versions, message
type codes, stages, error codes, topics and partitions — never personal data.

Each worker process exposes its own ``/metrics``; Prometheus adds the
``instance`` label at scrape time and PromQL sums over instances
(``sum without (instance) (rate(...))``), so counters stay correct with any
number of workers. The full table is in ``docs/contracts.md`` ("Metrics").
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Iterable, Mapping
from datetime import datetime
from importlib import metadata
from typing import TYPE_CHECKING, Any, Final

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

if TYPE_CHECKING:
    from hub.ops.health import Health

PREFIX: Final = "xoev_hub_"

#: Stages timed by ``xoev_hub_processing_seconds`` (``total`` is the whole message).
STAGES: Final = ("parse", "validate", "convert", "route", "deliver", "total")

#: Per-step processing time: 0.5 ms … 10 s. One message costs ~0.1–1 ms on the
#: hot path (lxml parse + validate ~60 µs, Avro ~2 µs, Kafka produce ~ms), so the
#: fine buckets sit below 25 ms; the tail catches broker stalls.
PROCESSING_BUCKETS: Final = (
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
)

#: Creation (header ``erstellungszeitpunkt``) to delivery: 50 ms … 1 day.
#: Normal operation is sub-second; backlogs after an outage take minutes to hours.
END_TO_END_BUCKETS: Final = (
    0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0,
    4 * 3600.0, 86400.0,
)

DAY: Final = 86400.0
#: Age of an XMeld Rückmeldung at delivery, for the BMG § 33 deadline (at the
#: latest 3 working days). Buckets at 1 h, 6 h and whole calendar days; 2 days
#: (``le="172800"``) is the warning line: 2 calendar days are always fewer than
#: 3 working days, whatever the weekday or holidays.
RUECKMELDUNG_AGE_BUCKETS: Final = (
    3600.0, 6 * 3600.0, 12 * 3600.0, DAY, 2 * DAY, 3 * DAY, 4 * DAY, 5 * DAY, 7 * DAY,
)

#: Size of inbound messages: 1 KiB … 4 MiB (the default HUB_MAX_MESSAGE_BYTES).
MESSAGE_BYTES_BUCKETS: Final = tuple(float(1024 * 2**i) for i in range(13))


#: What a label value may look like, per kind. Values that do not match are
#: exported as ``invalid`` (and logged by label name once): a name or an address
#: passed by mistake never reaches Prometheus, and cardinality stays bounded.
LABEL_PATTERNS: Final = {
    # authority ids "<municipality>.<kind>" (lower case, at least one dot) or "external"
    "authority": re.compile(r"external|[a-z0-9][a-z0-9_-]*(\.[a-z0-9_-]+)+"),
    "code": re.compile(r"[A-Z][A-Z0-9_]{0,63}"),
    "stage": re.compile(r"[a-z][a-z_]{0,31}"),
    # XMeld, XPersonenstand, ... and xdomea (the one XÖV standard spelt lower-case)
    "standard": re.compile(r"[Xx][A-Za-zÄÖÜäöü0-9._-]{1,39}"),
    "message_type": re.compile(r"[A-Za-z0-9._-]{1,64}"),
    "topic": re.compile(r"[A-Za-z0-9._-]{1,249}"),
}
INVALID: Final = "invalid"
log = logging.getLogger("hub.metrics")
_reported: set[str] = set()


_accepted: set[tuple[str, str]] = set()  # accepted values: as bounded as the series themselves


def safe_label(kind: str, value: str) -> str:
    """``value`` if it looks like a ``kind`` (see ``LABEL_PATTERNS``), else ``invalid``."""
    if (kind, value) in _accepted:
        return value
    if LABEL_PATTERNS[kind].fullmatch(value):
        _accepted.add((kind, value))
        return value
    if kind not in _reported:
        _reported.add(kind)
        log.warning("metric label value rejected",
                    extra={"event": "metric_label_rejected", "reason": kind})
    return INVALID


def is_rueckmeldung(standard: str, message_code: str) -> bool:
    """XMeld Rückmeldungen (BMG § 33) have message type codes 02xx."""
    return standard == "XMeld" and len(message_code) == 4 and message_code.startswith("02")


def parse_created(created: str) -> float | None:
    """Unix time of a lexical ``xs:dateTime`` header value, or None if unreadable.

    A value without a zone is read as UTC (XÖV headers normally carry one).
    """
    text = created.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        return None
    if value.tzinfo is None:
        from datetime import UTC

        value = value.replace(tzinfo=UTC)
    return value.timestamp()



#: A header time older than this, or further ahead than the skew, is not observed.
MAX_CREATED_AGE = 400 * 86400.0
MAX_CREATED_SKEW = 86400.0


def plausible_created(created: str | float, now: float) -> float | None:
    """``created`` as Unix time if it lies within the last 400 days or up to a day
    ahead (clock skew); None otherwise. ``erstellungszeitpunkt`` is chosen by the
    sender: a forged one must not fill the deadline histograms or trip alerts."""
    created_at = parse_created(created) if isinstance(created, str) else created
    if created_at is None or not now - MAX_CREATED_AGE <= created_at <= now + MAX_CREATED_SKEW:
        return None
    return created_at

def _version(distribution: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "unknown"


class HubMetrics:
    """Every metric of the hub, with small helpers the worker calls per event."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry(auto_describe=True)
        r = self.registry
        p = PREFIX
        self.received = Counter(
            f"{p}messages_received", "Messages read from an inbound topic.", ["source"],
            registry=r,
        )
        self.delivered = Counter(
            f"{p}messages_delivered",
            "Deliveries of a message to one destination (authority id or 'external').",
            ["source", "destination", "standard", "message_type"],
            registry=r,
        )
        self.completed = Counter(
            f"{p}messages_completed",
            "Messages finished, once each: outcome delivered, deadlettered or duplicate "
            "(received minus completed is what is in flight).",
            ["source", "outcome"],
            registry=r,
        )
        self.deadlettered = Counter(
            f"{p}messages_deadlettered",
            "Messages written to the dead-letter topic, by failing stage and error code.",
            ["source", "stage", "code"],
            registry=r,
        )
        self.unfiled = Counter(
            f"{p}unfiled_messages",
            "Delivered messages whose type no rule of the filing file maps to a unit of "
            "the file plan (delivered without file-plan unit and retention).",
            ["standard", "message_type"],
            registry=r,
        )
        self.duplicates = Counter(
            f"{p}duplicates",
            "Messages dropped because their nachrichtenUUID was already delivered.",
            ["source"],
            registry=r,
        )
        self.processing = Histogram(
            f"{p}processing_seconds",
            "Time spent per processing stage (parse, validate, convert, route, deliver, total).",
            ["stage"],
            buckets=PROCESSING_BUCKETS,
            registry=r,
        )
        self.end_to_end = Histogram(
            f"{p}end_to_end_seconds",
            "From the header's erstellungszeitpunkt to delivery.",
            ["standard", "message_type"],
            buckets=END_TO_END_BUCKETS,
            registry=r,
        )
        self.rueckmeldung_age = Histogram(
            f"{p}rueckmeldung_age_at_delivery_seconds",
            "Age (delivery time minus erstellungszeitpunkt) of XMeld Rückmeldungen "
            "at delivery; BMG § 33 allows at most 3 working days.",
            ["message_type"],
            buckets=RUECKMELDUNG_AGE_BUCKETS,
            registry=r,
        )
        self.message_bytes = Histogram(
            f"{p}message_bytes",
            "Size of inbound messages in bytes.",
            ["source"],
            buckets=MESSAGE_BYTES_BUCKETS,
            registry=r,
        )
        self.consumer_lag = Gauge(
            f"{p}consumer_lag",
            "Messages not yet committed by this worker (end offset minus committed offset).",
            ["topic", "partition"],
            registry=r,
        )
        self.newest_message_age = Gauge(
            f"{p}newest_message_age_seconds",
            "Seconds since the broker timestamp of the newest message this worker "
            "processed on the topic.",
            ["topic"],
            registry=r,
        )
        self.pending_rueckmeldung_age = Gauge(
            f"{p}oldest_pending_rueckmeldung_age_seconds",
            "Age of the oldest XMeld Rückmeldung read by this worker but not yet "
            "delivered or dead-lettered (0 when none is pending).",
            registry=r,
        )
        self.pending_rueckmeldung_age.set_function(self._oldest_pending_age)
        self.build_info = Gauge(
            f"{p}build_info",
            "Versions of the hub and its Kafka stack (value is always 1).",
            ["version", "faust_version", "aiokafka_version", "broker_version"],
            registry=r,
        )
        self.ready = Gauge(
            f"{p}ready",
            "1 when this worker reports ready on /readyz, else 0.",
            registry=r,
        )
        self.started = Gauge(
            f"{p}start_time_seconds", "Unix time this worker process started.", registry=r
        )
        self.started.set(time.time())
        self._lock = threading.Lock()
        self._pending: dict[object, float] = {}
        self._newest: dict[str, float] = {}
        self._lag_series: set[tuple[str, str]] = set()
        self._children: dict[tuple[str, tuple[str, ...]], Any] = {}
        self.set_build_info()

    def _child(self, metric: Any, *values: str) -> Any:
        """``metric.labels(*values)``, cached (labels() takes a lock and sorts kwargs)."""
        key = (metric._name, values)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*values)
        return child

    # -- helpers for the worker -------------------------------------------------
    def set_build_info(self, broker_version: str = "unknown") -> None:
        """Publish versions; call again once the broker version is known."""
        from hub import __version__

        self.build_info.clear()
        self.build_info.labels(
            version=__version__,
            faust_version=_version("faust-streaming"),
            aiokafka_version=_version("aiokafka"),
            broker_version=broker_version,
        ).set(1)

    def observe_received(self, source: str, size: int) -> None:
        """One message read from ``xoev.in.<source>`` (``size`` in bytes)."""
        source = safe_label("authority", source)
        self._child(self.received, source).inc()
        self._child(self.message_bytes, source).observe(size)

    def observe_stage(self, stage: str, seconds: float) -> None:
        """Time one processing stage of one message took."""
        self._child(self.processing, safe_label("stage", stage)).observe(seconds)

    def observe_delivery(
        self,
        *,
        source: str,
        destinations: Iterable[str],
        standard: str,
        message_type: str,
        created: str | float | None = None,
        now: float | None = None,
    ) -> None:
        """A message was delivered to every destination (authority ids or ``external``).

        ``created`` is the header's ``erstellungszeitpunkt`` (lexical or Unix
        time); when given, end-to-end latency (once per message) and, for XMeld
        Rückmeldungen, the age at delivery are observed. Unreadable times and
        times outside the plausible window (:func:`plausible_created`: the sender
        sets them) are not observed; a time up to a day ahead counts as age 0.
        """
        source = safe_label("authority", source)
        standard = safe_label("standard", standard)
        message_type = safe_label("message_type", message_type)
        self._child(self.completed, source, "delivered").inc()
        for destination in destinations:
            self._child(
                self.delivered, source, safe_label("authority", destination), standard,
                message_type,
            ).inc()
        if created is None:
            return
        created_at = plausible_created(created, time.time() if now is None else now)
        if created_at is None:
            return
        age = max(0.0, (time.time() if now is None else now) - created_at)
        self._child(self.end_to_end, standard, message_type).observe(age)
        if is_rueckmeldung(standard, message_type):
            self._child(self.rueckmeldung_age, message_type).observe(age)

    def observe_unfiled(self, *, standard: str, message_type: str) -> None:
        """A message was delivered without a file-plan unit (its type is not mapped)."""
        self._child(
            self.unfiled, safe_label("standard", standard),
            safe_label("message_type", message_type),
        ).inc()

    def observe_deadletter(self, *, source: str, stage: str, code: str) -> None:
        """A message went to the dead-letter topic (stage and stable error code)."""
        source = safe_label("authority", source)
        self._child(
            self.deadlettered, source, safe_label("stage", stage), safe_label("code", code)
        ).inc()
        self._child(self.completed, source, "deadlettered").inc()

    def observe_duplicate(self, source: str) -> None:
        """A message dropped as a duplicate (its nachrichtenUUID was delivered before)."""
        source = safe_label("authority", source)
        self._child(self.duplicates, source).inc()
        self._child(self.completed, source, "duplicate").inc()

    def observe_consumed(self, topic: str, timestamp: float) -> None:
        """A record with broker ``timestamp`` (Unix seconds) was processed on ``topic``."""
        topic = safe_label("topic", topic)
        with self._lock:
            known = topic in self._newest
            if timestamp > self._newest.get(topic, float("-inf")):
                self._newest[topic] = timestamp
        if not known:
            self.newest_message_age.labels(topic=topic).set_function(
                lambda: max(0.0, time.time() - self._newest[topic])
            )

    def set_consumer_lag(self, lag: Mapping[tuple[str, int], int]) -> None:
        """Replace the lag series with ``{(topic, partition): lag}`` (revoked ones vanish)."""
        with self._lock:
            current = {(topic, str(partition)) for topic, partition in lag}
            for old_topic, old_partition in self._lag_series - current:
                self.consumer_lag.remove(old_topic, old_partition)
            for (topic, partition), value in lag.items():
                self.consumer_lag.labels(topic=topic, partition=str(partition)).set(value)
            self._lag_series = current

    # -- Rückmeldungen in flight -------------------------------------------------
    def pending_begin(self, key: object, *, standard: str, message_type: str,
                      created: str | float) -> None:
        """Track a message whose outputs are not acknowledged yet; only Rückmeldungen
        are kept (the ingest flow calls it for every message it delivers).

        ``key`` is any opaque hashable (e.g. ``(topic, partition, offset)``); it
        never becomes a label.
        """
        if not is_rueckmeldung(standard, message_type):
            return
        created_at = plausible_created(created, time.time())
        if created_at is None:
            return
        with self._lock:
            self._pending[key] = created_at

    def pending_end(self, key: object) -> None:
        """The outputs of the message under ``key`` were acknowledged (the ingest
        flow calls it for every message it settles; a crash ends the process, and
        with it the gauge, so nothing is left behind)."""
        if key not in self._pending:  # most messages: no lock (only this loop writes)
            return
        with self._lock:
            self._pending.pop(key, None)

    def _oldest_pending_age(self) -> float:
        with self._lock:
            if not self._pending:
                return 0.0
            oldest = min(self._pending.values())
        return max(0.0, time.time() - oldest)

    # -- health -------------------------------------------------------------------
    def refresh(self, health: Health) -> None:
        """Copy lag and readiness from ``health`` (the web server calls it per scrape)."""
        from hub.ops.health import readyz

        self.set_consumer_lag(health.lag())
        self.ready.set(1 if readyz(health)[0] == 200 else 0)

    # -- introspection --------------------------------------------------------------
    def sample_names(self) -> set[str]:
        """Every sample name this registry can export (incl. _total/_bucket/_sum/_count)."""
        names: set[str] = set()
        for family in self.registry.collect():
            names.add(family.name)
            if family.type == "counter":
                names.update({f"{family.name}_total", f"{family.name}_created"})
            elif family.type == "histogram":
                names.update(
                    f"{family.name}{suffix}" for suffix in ("_bucket", "_sum", "_count", "_created")
                )
            elif family.type == "info":
                names.add(f"{family.name}_info")
        return names
