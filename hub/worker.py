"""Run one worker process: topics, pipeline, Faust app, metrics and health endpoints.

Besides the ingest agent the process runs three small tasks:

* the loop heartbeat (``/healthz`` turns unhealthy when the loop is stuck),
* the broker probe (a metadata request every few seconds),
* the offset monitor: every few seconds it reads the group's committed offsets
  and the inbound partitions' end offsets, for the lag metric and for
  ``/readyz`` ("committed offsets advancing when there is input").

``/metrics``, ``/healthz`` and ``/readyz`` are served on HUB_WEB_HOST:HUB_WEB_PORT.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
from typing import Any

import faust

from hub.health import BrokerProbe, Health, client_config
from hub.logging import configure_logging
from hub.metrics import HubMetrics
from hub.settings import Settings

log = logging.getLogger("hub.worker")


class HubWorker(faust.Worker):
    """Faust's worker with the hub's JSON log lines and no terminal spinner."""

    def __init__(self, app: faust.App, settings: Settings) -> None:
        self.hub_settings = settings
        super().__init__(
            app, loglevel=settings.log_level.lower(), quiet=True, redirect_stdouts=False
        )
        self.spinner = None

    def _setup_logging(self) -> None:
        configure_logging(self.hub_settings.log_level)
        logging.getLogger("aiokafka").setLevel(logging.WARNING)
        logging.getLogger("faust").setLevel(logging.WARNING)
        logging.getLogger("mode").setLevel(logging.WARNING)


class OffsetMonitor:
    """Feeds Health and the lag metric from the group's committed and end offsets."""

    def __init__(
        self,
        app: faust.App,
        settings: Settings,
        health: Health,
        inbound: set[str],
        interval: float = 3.0,
    ) -> None:
        self.app = app
        self.settings = settings
        self.health = health
        self.inbound = inbound
        self.interval = interval

    async def run(self) -> None:
        from aiokafka import AIOKafkaConsumer
        from aiokafka.admin import AIOKafkaAdminClient

        config = client_config(self.settings)
        admin = AIOKafkaAdminClient(bootstrap_servers=self.settings.bootstrap, **config)
        reader = AIOKafkaConsumer(
            bootstrap_servers=self.settings.bootstrap,
            group_id=None,
            enable_auto_commit=False,
            **config,
        )
        started = False
        try:
            while True:
                try:
                    if not started:
                        await admin.start()
                        await reader.start()
                        started = True
                    await self.check(admin, reader)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # broker away: the probe reports it; retry
                    log.warning(
                        "offset monitor failed",
                        extra={"event": "offset_monitor_failed", "reason": type(exc).__name__},
                    )
                await asyncio.sleep(self.interval)
        finally:
            with contextlib.suppress(Exception):
                await reader.stop()
            with contextlib.suppress(Exception):
                await admin.close()

    async def check(self, admin: Any, reader: Any) -> None:
        assigned = [tp for tp in self.app.consumer.assignment() if tp.topic in self.inbound]
        self.health.set_assignment((tp.topic, tp.partition) for tp in assigned)
        if not assigned:
            return
        from aiokafka import TopicPartition

        tps = [TopicPartition(tp.topic, tp.partition) for tp in assigned]
        committed = await admin.list_consumer_group_offsets(
            self.settings.consumer_group, partitions=tps
        )
        for tp, meta in committed.items():
            if meta is not None and meta.offset >= 0:
                self.health.record_committed((tp.topic, tp.partition), meta.offset)
        ends = await reader.end_offsets(tps)
        self.health.record_end_offsets({(tp.topic, tp.partition): end for tp, end in ends.items()})


def run_worker(settings: Settings, *, apply_topics: bool = True) -> int:
    """Run until SIGINT/SIGTERM. Returns the process exit code."""
    from prometheus_client import REGISTRY

    from hub.app import build_app
    from hub.pipeline import Pipeline
    from hub.topics import TopicNames
    from hub.web import start_web

    configure_logging(settings.log_level)
    pipeline = Pipeline.from_settings(settings)  # ConfigError on bad files: fail at start
    if apply_topics:
        from hub.topology import apply_topics as apply

        report = apply(settings, pipeline.region)
        print(f"xoev-hub worker: topics {report.summary()}", file=sys.stderr, flush=True)
    metrics = HubMetrics(REGISTRY)
    metrics.set_build_info()
    health = Health()
    app, _flow = build_app(settings, pipeline, metrics)
    names = TopicNames(settings.topic_prefix)
    inbound = {names.inbound(a) for a in pipeline.region.authorities}

    async def operations() -> None:
        runner = await start_web(settings, metrics, health)
        probe = BrokerProbe.from_settings(settings, health)
        probe.start()
        heartbeat = asyncio.ensure_future(health.run_heartbeat())
        monitor = asyncio.ensure_future(OffsetMonitor(app, settings, health, inbound).run())
        log.info("worker started", extra={"event": "worker_started", "port": settings.web_port})
        try:
            await asyncio.Event().wait()
        finally:
            for task in (heartbeat, monitor):
                task.cancel()
            await probe.stop()
            await runner.cleanup()

    app.task(operations)
    worker = HubWorker(app, settings)
    try:
        worker.execute_from_commandline()
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0
