"""Readiness follows the real broker: stop it, /readyz fails; start it, /readyz recovers."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import pytest

from hub.broker.embedded import free_port_range
from hub.ops.health import BrokerProbe, Health
from hub.ops.metrics import HubMetrics
from hub.ops.web import bound_port, start_web
from hub.settings import Settings

pytestmark = [pytest.mark.kafka, pytest.mark.timeout(900)]

#: ``kafka up`` waits longer than its 90 s default: the JVM starts on a loaded CI host
KAFKA_ARGS = {"up": ["--timeout", "300"], "down": []}


async def wait_status(session: aiohttp.ClientSession, url: str, want: int,
                      timeout: float) -> tuple[float, dict[str, object]]:
    start = time.monotonic()
    body: dict[str, object] = {}
    while time.monotonic() - start < timeout:
        async with session.get(url) as response:
            body = json.loads(await response.text())
            if response.status == want:
                return time.monotonic() - start, body
        await asyncio.sleep(0.2)
    raise AssertionError(f"{url} did not return {want} within {timeout}s; last body {body}")


def test_readiness_follows_the_broker(settings: Settings, tmp_path: Path) -> None:
    """A broker of its own (free ports, data in tmp_path), stopped and started with
    the real CLI as an operator would: the session's broker is never touched, and
    a broker with no partitions restarts in seconds."""
    if not settings.embedded:
        pytest.skip("stopping a broker needs the embedded one (HUB_BOOTSTRAP_SERVERS is set)")
    base = free_port_range(2)
    env = {
        **os.environ,
        "HUB_KAFKA_PORT": str(base),
        "HUB_KAFKA_CONTROLLER_PORT": str(base + 1),
        "HUB_KAFKA_DATA_DIR": str(tmp_path / "kafka"),
    }
    bootstrap = f"127.0.0.1:{base}"

    def kafka(action: str) -> None:
        done = subprocess.run(
            [sys.executable, "-m", "hub", "kafka", action, *KAFKA_ARGS[action]],
            capture_output=True, text=True, timeout=420, env=env,
        )
        assert done.returncode == 0, f"kafka {action}: {done.stderr[-2000:]}"

    metrics = HubMetrics()
    health = Health(broker_timeout=5, require_assignment=False)

    async def scenario() -> list[dict[str, object]]:
        runner = await start_web(settings, metrics, health, host="127.0.0.1", port=0)
        url = f"http://127.0.0.1:{bound_port(runner)}/readyz"
        beat = asyncio.get_running_loop().create_task(health.run_heartbeat(0.2))
        probe = BrokerProbe(bootstrap, health, interval=0.5, timeout=2.0)
        probe.start()
        bodies: list[dict[str, object]] = []
        try:
            async with aiohttp.ClientSession() as session:
                bodies.append((await wait_status(session, url, 200, 60))[1])
                await asyncio.to_thread(kafka, "down")
                bodies.append((await wait_status(session, url, 503, 30))[1])
                await asyncio.to_thread(kafka, "up")
                bodies.append((await wait_status(session, url, 200, 60))[1])
        finally:
            await probe.stop()
            beat.cancel()
            await runner.cleanup()
        return bodies

    try:
        kafka("up")
        up, down, again = asyncio.run(scenario())
    finally:
        kafka("down")  # also when "up" failed: a no-op if nothing runs
    assert up["broker"] == "ok"
    assert down["broker"] == "unreachable" and down["status"] == "not ready"
    assert any("broker not reachable" in str(r) for r in down["reasons"])  # type: ignore[attr-defined]
    assert again["broker"] == "ok" and again["status"] == "ready"
