"""Run one worker process: topics, pipeline, Faust app, metrics and health endpoints.

Besides the ingest agent the process runs small tasks:

* the loop heartbeat (``/healthz`` turns unhealthy when the loop is stuck),
* the broker probe (a metadata request every few seconds),
* the assignment follower and the offset watcher: the group's committed offsets
  and the assigned inbound partitions' end offsets, for the lag metric and for
  ``/readyz`` ("committed offsets advancing when there is input"),
* the adapters configured in the region file (HTTP inbound on the same port),
* the service portal's endpoints (hub.portal), when the services catalogue has [portal].

``/metrics``, ``/healthz`` and ``/readyz`` are served on HUB_WEB_HOST:HUB_WEB_PORT.
"""

from __future__ import annotations

import asyncio
import contextlib
import faulthandler
import gc
import logging
import signal
import sys
from collections.abc import Callable, Coroutine
from typing import Any

import faust

from hub.errors import ConfigError
from hub.kafka.config import transport_warning
from hub.logging import configure_logging
from hub.ops.health import BrokerProbe, Health, OffsetWatcher
from hub.ops.metrics import HubMetrics
from hub.settings import Settings

log = logging.getLogger("hub.worker")


class HubWorker(faust.Worker):
    """Faust's worker with the hub's JSON log lines and no terminal spinner."""

    def __init__(
        self,
        app: faust.App,
        settings: Settings,
        operations: Callable[[], Coroutine[Any, Any, None]] | None = None,
    ) -> None:
        self.hub_settings = settings
        self.hub_operations = operations
        self.hub_operations_task: asyncio.Future[None] | None = None
        super().__init__(
            app, loglevel=settings.log_level.lower(), quiet=True, redirect_stdouts=False
        )
        self.spinner = None

    async def on_first_start(self) -> None:
        # Faust starts app tasks and timers only after table recovery, which takes
        # minutes for a new state slot: the web port (/healthz, /readyz, /metrics,
        # HTTP inbound) and the adapters must answer during it, so they start here.
        if self.hub_operations is not None:
            self.hub_operations_task = asyncio.ensure_future(self.hub_operations())
            self.hub_operations_task.add_done_callback(operations_ended)
        await super().on_first_start()

    async def on_stop(self) -> None:
        task = self.hub_operations_task
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await super().on_stop()

    def _setup_logging(self) -> None:
        configure_logging(self.hub_settings.log_level)
        logging.getLogger("aiokafka").setLevel(logging.WARNING)
        logging.getLogger("faust").setLevel(logging.WARNING)
        logging.getLogger("mode").setLevel(logging.WARNING)


def operations_ended(task: asyncio.Future[None]) -> None:
    """Say why the web port, the adapters and the portal stopped, when they stop on
    an error (they run as a task of their own next to Faust's agents)."""
    if task.cancelled():
        return
    exc = task.exception()
    if exc is None:
        return
    from hub.errors import HubError

    log.error(
        "web port, adapters and portal stopped: %s",
        # a HubError's text carries ids, codes and settings names by design
        str(exc) if isinstance(exc, HubError) else type(exc).__name__,
        extra={"event": "operations_failed", "code": getattr(exc, "code", "OPERATIONS_FAILED"),
               "reason": type(exc).__name__},
    )
    if isinstance(exc, HubError):  # the %s argument is not rendered for hub.* loggers
        print(f"xoev-hub worker: error: {exc}", file=sys.stderr, flush=True)


async def follow_assignment(
    app: faust.App, health: Health, inbound: set[str], interval: float = 0.5
) -> None:
    """Keep Health's assigned inbound partitions in step with the Faust consumer."""
    while True:
        with contextlib.suppress(Exception):  # no consumer yet during start-up
            tables: Any = app.tables  # TableManagerT does not declare .recovery
            recovery = tables.recovery
            health.set_recovery(recovery.active_remaining_total() if recovery.in_recovery else None)
            assigned = app.consumer.assignment()
            health.set_assignment((tp.topic, tp.partition) for tp in assigned
                                  if tp.topic in inbound)
        await asyncio.sleep(interval)


def run_worker(settings: Settings, *, apply_topics: bool = True) -> int:
    """Run until SIGINT/SIGTERM. Returns the process exit code.

    ``kill -USR1 <pid>`` writes the stacks of all threads to stderr (the log), for
    a worker that is alive but does not make progress.
    """
    if hasattr(signal, "SIGUSR1"):
        faulthandler.register(signal.SIGUSR1, all_threads=True)
    from prometheus_client import REGISTRY

    from hub.core.pipeline import Pipeline
    from hub.kafka.topic_admin import apply_topics as apply
    from hub.kafka.topics import TopicNames
    from hub.ops.web import start_web
    from hub.streams.app import build_app

    configure_logging(settings.log_level)
    from hub.ops.web import plain_http_warning

    for warning in (transport_warning(settings), plain_http_warning(settings)):
        if warning:
            print(f"xoev-hub worker: warning: {warning}", file=sys.stderr, flush=True)
    pipeline = Pipeline.from_settings(settings)  # ConfigError on bad files: fail at start
    if apply_topics:
        report = apply(settings, pipeline.region)
        print(f"xoev-hub worker: topics {report.summary()}", file=sys.stderr, flush=True)
    else:
        missing = apply(settings, pipeline.region, dry_run=True).created
        if missing:  # the worker would wait on them, then stop with DELIVERY_FAILED
            raise ConfigError(
                f"{len(missing)} contract topics are missing ({', '.join(missing[:3])}"
                f"{', …' if len(missing) > 3 else ''}); run `xoev-hub topics apply`"
            )
    metrics = HubMetrics(REGISTRY)
    metrics.set_build_info(settings.kafka_version if settings.embedded else "unknown")
    health = Health()
    from hub.streams.state import cluster_id, take_slot

    slot = take_slot(settings.state_dir, cluster_id(settings), settings.consumer_group)
    print(f"xoev-hub worker: table state in {slot.path}", file=sys.stderr, flush=True)
    app, _flow = build_app(settings, pipeline, metrics, datadir=slot.path)
    names = TopicNames(settings.topic_prefix)
    inbound = {names.inbound(a) for a in pipeline.region.authorities}

    async def operations() -> None:
        from aiohttp import web

        from hub.adapters.framework import AdapterMetrics
        from hub.adapters.http_inbound import HttpGateway
        from hub.adapters.runtime import AdapterRuntime

        # HTTP inbound (POST /v1/authorities/<id>/messages) shares the web port
        web_app = web.Application(client_max_size=settings.max_message_bytes + 65536)
        gateway = HttpGateway(
            settings.max_message_bytes, AdapterRuntime.default_http_checker(settings)
        )
        gateway.add_routes(web_app)
        # the service portal's POST/GET /v1/applications, when the catalogue has [portal]
        from hub.portal.runtime import Portal

        portal = Portal.from_region(settings, pipeline.region, REGISTRY)
        if portal is not None:
            portal.add_routes(web_app)
        adapters = AdapterRuntime(
            settings, pipeline.region, metrics=AdapterMetrics(REGISTRY), gateway=gateway
        )
        runner = await start_web(settings, metrics, health, app=web_app)
        # health first: /readyz must tell table recovery and the assignment while the
        # adapters and the portal start (the portal reads its status topic back first)
        probe = BrokerProbe.from_settings(settings, health)
        probe.start()
        heartbeat = asyncio.ensure_future(health.run_heartbeat())
        watcher = OffsetWatcher.from_settings(settings, health)
        watcher.start()
        assignment = asyncio.ensure_future(follow_assignment(app, health, inbound))
        try:
            await adapters.start()
            if portal is not None:
                await portal.start()
            log.info("worker started",
                     extra={"event": "worker_started", "port": settings.web_port})
            await asyncio.Event().wait()
        finally:
            for task in (heartbeat, assignment):
                task.cancel()
            await watcher.stop()
            await adapters.stop()
            if portal is not None:
                await portal.stop()
            await probe.stop()
            await runner.cleanup()

    # The schemas, plans and Faust's objects are long-lived: move them out of the
    # collector's view, and let the young generation grow (a full collection over
    # them paused the loop for tens of ms, the p99 at 500 msgs/s).
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 50, 100)
    worker = HubWorker(app, settings, operations)
    try:
        worker.execute_from_commandline()
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0
