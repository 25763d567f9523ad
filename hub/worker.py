"""Run the worker process: topics, pipeline, Faust app, metrics and health endpoints."""

from __future__ import annotations

import logging
import sys

from hub.settings import Settings

log = logging.getLogger("hub.worker")


def run_worker(settings: Settings, *, apply_topics: bool = True) -> int:
    """Run until SIGINT/SIGTERM. Returns the process exit code."""
    import faust

    from hub.app import build_app
    from hub.pipeline import Pipeline

    pipeline = Pipeline.from_settings(settings)  # ConfigError on bad files: fail at start
    if apply_topics:
        from hub.topology import apply_topics as apply

        report = apply(settings, pipeline.region)
        print(f"xoev-hub worker: topics {report.summary()}", file=sys.stderr, flush=True)
    app, _flow = build_app(settings, pipeline)
    worker = faust.Worker(
        app,
        loglevel=settings.log_level.lower(),
        quiet=True,
        redirect_stdouts=False,
    )
    try:
        worker.execute_from_commandline()
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0
