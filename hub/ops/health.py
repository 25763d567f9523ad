"""Liveness (``/healthz``) and readiness (``/readyz``) of a worker.

The worker feeds one ``Health`` object with facts; two pure functions turn it
into ``(status_code, json_body)``:

* **alive** (``healthz``): the event loop is not stuck — a heartbeat task
  (``Health.run_heartbeat``) updates a timestamp every second; older than
  ``heartbeat_timeout`` seconds means the loop is blocked.
* **ready** (``readyz``): alive, the broker answered a metadata request within
  ``broker_timeout`` seconds (``BrokerProbe`` checks it periodically),
  partitions are assigned, and on every assigned partition with lag (end
  offset > committed offset) the committed offset has moved within
  ``stall_timeout`` seconds. The last rule catches the classic Faust failure:
  a rebalance stall or a dead agent that leaves the process alive but idle.

Feeding it takes three tasks: ``Health.run_heartbeat``, a ``BrokerProbe`` and an
``OffsetWatcher`` (committed offsets of the consumer group and end offsets of
the assigned partitions, read from the broker); the worker only reports its
assignment (``set_assignment``) on every rebalance.

Topic-partitions are ``(topic, partition)`` tuples; aiokafka's
``TopicPartition`` is such a tuple, so the worker can pass its own objects.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hub.settings import Settings

TP = tuple[str, int]
Clock = Callable[[], float]

log = logging.getLogger("hub.health")


@dataclass
class _Partition:
    committed: int | None = None
    end: int | None = None
    progress_at: float = 0.0  # last time the committed offset moved (or waiting began)

    @property
    def lag(self) -> int | None:
        if self.end is None:
            return None
        return max(0, self.end - (self.committed or 0))


@dataclass
class Health:
    """Facts about one worker; thread-safe (the probe may run in another thread)."""

    heartbeat_timeout: float = 10.0
    stall_timeout: float = 60.0
    broker_timeout: float = 30.0
    require_assignment: bool = True
    clock: Clock = time.monotonic
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _heartbeat: float | None = None
    _broker_ok: bool = False
    _broker_at: float | None = None
    _broker_error: str | None = None
    _partitions: dict[TP, _Partition] = field(default_factory=dict)
    _assigned: bool = False
    _recovering: int | None = None  # changelog records still to read, None: not recovering

    # -- fed by the worker ---------------------------------------------------
    def loop_heartbeat(self) -> None:
        """Record that the event loop ran just now."""
        with self._lock:
            self._heartbeat = self.clock()

    async def run_heartbeat(self, interval: float = 1.0) -> None:
        """Beat every ``interval`` seconds until cancelled (run it as a task)."""
        while True:
            self.loop_heartbeat()
            await asyncio.sleep(interval)

    def set_broker_reachable(self, reachable: bool, error: str | None = None) -> None:
        with self._lock:
            self._broker_ok = reachable
            self._broker_at = self.clock()
            self._broker_error = None if reachable else (error or "broker not reachable")

    def set_recovery(self, remaining: int | None) -> None:
        """Table recovery in progress with ``remaining`` changelog records (None: done)."""
        with self._lock:
            self._recovering = remaining

    def set_assignment(self, partitions: Iterable[TP]) -> None:
        """The partitions assigned after a rebalance (replaces the previous set)."""
        now = self.clock()
        with self._lock:
            new = {(str(t), int(p)) for t, p in partitions}
            self._partitions = {
                tp: self._partitions.get(tp) or _Partition(progress_at=now) for tp in new
            }
            for state in self._partitions.values():
                state.progress_at = now  # a rebalance restarts every wait
            self._assigned = True

    def record_committed(self, tp: TP, offset: int) -> None:
        """The committed offset (next offset to read) of an assigned partition."""
        key = (str(tp[0]), int(tp[1]))
        with self._lock:
            state = self._partitions.get(key)
            if state is None:
                return
            if state.committed != offset:
                state.committed = offset
                state.progress_at = self.clock()

    def record_end_offsets(self, offsets: Mapping[TP, int]) -> None:
        """High-water marks of assigned partitions (e.g. from the consumer)."""
        now = self.clock()
        with self._lock:
            for tp, end in offsets.items():
                state = self._partitions.get((str(tp[0]), int(tp[1])))
                if state is None:
                    continue
                had_lag = bool(state.lag)
                state.end = end
                if not had_lag and state.lag:
                    state.progress_at = now  # input arrived: the wait starts now

    # -- read --------------------------------------------------------------------
    def assigned(self) -> list[TP]:
        with self._lock:
            return sorted(self._partitions)

    def lag(self) -> dict[TP, int]:
        with self._lock:
            return {tp: s.lag for tp, s in self._partitions.items() if s.lag is not None}

    def liveness(self) -> tuple[bool, dict[str, Any]]:
        now = self.clock()
        with self._lock:
            beat = self._heartbeat
        if beat is None:
            return False, {"loop": "no heartbeat yet"}
        age = now - beat
        ok = age <= self.heartbeat_timeout
        return ok, {"loop": "ok" if ok else "stuck", "heartbeat_age_seconds": round(age, 3)}

    def readiness(self) -> tuple[bool, dict[str, Any]]:
        alive, body = self.liveness()
        reasons: list[str] = [] if alive else ["event loop not running"]
        now = self.clock()
        with self._lock:
            if self._broker_at is None:
                reasons.append("broker not checked yet")
                body["broker"] = "unknown"
            elif now - self._broker_at > self.broker_timeout:
                reasons.append("broker check is stale")
                body["broker"] = "stale"
            elif not self._broker_ok:
                reasons.append(self._broker_error or "broker not reachable")
                body["broker"] = "unreachable"
            else:
                body["broker"] = "ok"
            body["partitions"] = len(self._partitions)
            if self._recovering is not None:
                reasons.append(
                    f"recovering table state ({self._recovering} changelog records left)"
                )
                body["recovering"] = self._recovering
            if self.require_assignment and not self._partitions:
                reasons.append(
                    "no partitions assigned" if self._assigned else "no assignment yet"
                )
            stalled = sorted(
                f"{t}[{p}]"
                for (t, p), s in self._partitions.items()
                if s.lag and now - s.progress_at > self.stall_timeout
            )
            body["lag"] = sum(s.lag or 0 for s in self._partitions.values())
        if stalled:
            reasons.append(
                f"committed offsets not moving for {self.stall_timeout:g}s with lag on "
                + ", ".join(stalled)
            )
            body["stalled"] = stalled
        if reasons:
            body["reasons"] = reasons
        return not reasons, body


def healthz(health: Health) -> tuple[int, dict[str, Any]]:
    """``/healthz``: 200 while the process and its event loop are alive, else 503."""
    ok, body = health.liveness()
    return (200 if ok else 503), {"status": "ok" if ok else "unhealthy", **body}


def readyz(health: Health) -> tuple[int, dict[str, Any]]:
    """``/readyz``: 200 when the worker can do its job, else 503 with reasons."""
    ok, body = health.readiness()
    return (200 if ok else 503), {"status": "ready" if ok else "not ready", **body}


class _Periodic:
    """A check run every ``interval`` seconds as a task of the running loop."""

    name = "periodic"
    interval: float
    _task: asyncio.Task[None] | None

    async def check_once(self) -> bool:
        raise NotImplementedError

    async def run(self) -> None:
        """Check every ``interval`` seconds until cancelled."""
        while True:
            await self.check_once()
            await asyncio.sleep(self.interval)

    def start(self) -> asyncio.Task[None]:
        """Start ``run`` as a task of the running loop."""
        self._task = asyncio.get_running_loop().create_task(self.run(), name=self.name)
        return self._task

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None


class BrokerProbe(_Periodic):
    """Checks periodically that the brokers answer a metadata request.

    Each check opens a short-lived aiokafka client, bootstraps (a metadata
    request), and closes it; the result goes to ``health.set_broker_reachable``.
    """

    name = "broker-probe"

    def __init__(
        self,
        bootstrap: str,
        health: Health,
        *,
        interval: float = 2.0,
        timeout: float = 3.0,
        client_config: Mapping[str, Any] | None = None,
    ) -> None:
        self.bootstrap = bootstrap
        self.health = health
        self.interval = interval
        self.timeout = timeout
        self.client_config = dict(client_config or {})
        self._task: asyncio.Task[None] | None = None

    @classmethod
    def from_settings(cls, settings: Settings, health: Health, **kwargs: Any) -> BrokerProbe:
        return cls(settings.bootstrap, health, client_config=client_config(settings), **kwargs)

    async def check_once(self) -> bool:
        from aiokafka import AIOKafkaClient

        client = AIOKafkaClient(
            bootstrap_servers=self.bootstrap,
            request_timeout_ms=int(self.timeout * 1000),
            **self.client_config,
        )
        try:
            await asyncio.wait_for(client.bootstrap(), self.timeout)
        except Exception as exc:  # any failure (incl. TimeoutError) means "not reachable"
            self.health.set_broker_reachable(False, f"broker not reachable: {type(exc).__name__}")
            return False
        finally:
            with contextlib.suppress(Exception):
                await client.close()
        self.health.set_broker_reachable(True)
        return True


class OffsetWatcher(_Periodic):
    """Feeds ``health`` with the committed and end offsets of its assigned partitions.

    Reads them from the broker, not from the consumer's memory: committed
    offsets of ``group_id`` through an admin client (OffsetFetch; it never joins
    the group) and end offsets through a group-less consumer, every
    ``interval`` seconds. So readiness sees what the group really committed,
    whatever the consumer library. Failures are left to ``BrokerProbe`` to
    report; the watcher retries on its next round.
    """

    name = "offset-watcher"

    def __init__(
        self,
        bootstrap: str,
        group_id: str,
        health: Health,
        *,
        interval: float = 5.0,
        client_config: Mapping[str, Any] | None = None,
    ) -> None:
        self.bootstrap = bootstrap
        self.group_id = group_id
        self.health = health
        self.interval = interval
        self.client_config = dict(client_config or {})
        self._admin: Any = None
        self._consumer: Any = None
        self._task: asyncio.Task[None] | None = None

    @classmethod
    def from_settings(cls, settings: Settings, health: Health, **kwargs: Any) -> OffsetWatcher:
        return cls(settings.bootstrap, settings.consumer_group, health,
                   client_config=client_config(settings), **kwargs)

    async def _clients(self) -> tuple[Any, Any]:
        from aiokafka import AIOKafkaConsumer
        from aiokafka.admin import AIOKafkaAdminClient

        if self._admin is None:
            admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap, **self.client_config)
            await admin.start()
            self._admin = admin
        if self._consumer is None:
            consumer = AIOKafkaConsumer(
                bootstrap_servers=self.bootstrap, group_id=None, enable_auto_commit=False,
                **self.client_config,
            )
            await consumer.start()
            self._consumer = consumer
        return self._admin, self._consumer

    async def check_once(self) -> bool:
        """One round; True when both offset kinds were read."""
        from aiokafka import TopicPartition

        tps = [TopicPartition(t, p) for t, p in self.health.assigned()]
        if not tps:
            return True
        try:
            admin, consumer = await self._clients()
            committed = await admin.list_consumer_group_offsets(self.group_id, partitions=tps)
            ends = await consumer.end_offsets(tps)
        except Exception as exc:  # broker trouble: BrokerProbe reports it; retry next round
            log.debug("offset watch failed", extra={"event": "offset_watch_failed",
                                                     "reason": type(exc).__name__})
            return False
        for tp, meta in committed.items():
            if meta.offset >= 0:
                self.health.record_committed((tp.topic, tp.partition), meta.offset)
        self.health.record_end_offsets({(tp.topic, tp.partition): end for tp, end in ends.items()})
        return True

    async def stop(self) -> None:
        await super().stop()
        for client in (self._consumer, self._admin):
            if client is not None:
                with contextlib.suppress(Exception):
                    await (client.stop() if hasattr(client, "stop") else client.close())
        self._admin = self._consumer = None


_SECURITY_KEYS = ("security_protocol", "sasl_mechanism", "sasl_plain_username",
                  "sasl_plain_password", "ssl_context")


def client_config(settings: Settings) -> dict[str, Any]:
    """aiokafka security options (TLS, SASL), from ``hub.kafka.config`` (the one place)."""
    from hub.kafka.config import consumer_config

    config = consumer_config(settings, client="aiokafka")
    return {key: config[key] for key in _SECURITY_KEYS if key in config}
