"""A stand-in worker process for the Prometheus test: serves /metrics and counts
``--count`` deliveries over ``--seconds`` (once ``--start-file`` exists, if
given), then idles until terminated.

Run: python -m tests.ops.load_worker --count 100 --seconds 3
Prints ``port <n>`` once the server listens and ``done`` when the load is over.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from pathlib import Path

from hub.ops.health import Health
from hub.ops.metrics import HubMetrics
from hub.ops.web import bound_port, start_web
from hub.settings import load_settings


async def main(count: int, seconds: float, source: str, start_file: str | None) -> None:
    metrics = HubMetrics()
    health = Health(require_assignment=False)
    health.set_broker_reachable(True)
    runner = await start_web(load_settings(), metrics, health, host="127.0.0.1", port=0)
    beat = asyncio.get_running_loop().create_task(health.run_heartbeat(0.5))
    print(f"port {bound_port(runner)}", flush=True)
    while start_file and not Path(start_file).exists():  # wait until Prometheus scrapes
        await asyncio.sleep(0.1)
    pause = seconds / max(count, 1)
    for _ in range(count):
        metrics.observe_received(source, 4096)
        metrics.observe_delivery(
            source=source, destinations=["wuppertal.meldebehoerde"], standard="XMeld",
            message_type="0201", created=time.time() - 0.2,
        )
        metrics.observe_stage("total", 0.001)
        await asyncio.sleep(pause)
    print("done", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        beat.cancel()
        await runner.cleanup()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--source", default="solingen.meldebehoerde")
    parser.add_argument("--start-file", help="begin the load once this file exists")
    args = parser.parse_args()
    asyncio.run(main(args.count, args.seconds, args.source, args.start_file))
