"""Readiness follows the real broker: stop it, /readyz fails; start it, /readyz recovers."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time

import aiohttp
import pytest

from hub.health import BrokerProbe, Health
from hub.metrics import HubMetrics
from hub.settings import Settings
from hub.web import bound_port, start_web

pytestmark = pytest.mark.kafka


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


def test_readiness_follows_the_broker(settings: Settings, kafka_bootstrap: str) -> None:
    if not settings.embedded:
        pytest.skip("stopping the broker needs the embedded one (HUB_BOOTSTRAP_SERVERS is set)")
    from hub.broker.embedded import broker_from_settings

    broker = broker_from_settings(settings)

    def kafka(action: str) -> None:  # the real CLI, as an operator would run it
        subprocess.run([sys.executable, "-m", "hub", "kafka", action], check=True,
                       capture_output=True, timeout=120)

    metrics = HubMetrics()
    health = Health(broker_timeout=5, require_assignment=False)

    async def scenario() -> list[dict[str, object]]:
        runner = await start_web(settings, metrics, health, host="127.0.0.1", port=0)
        url = f"http://127.0.0.1:{bound_port(runner)}/readyz"
        beat = asyncio.get_running_loop().create_task(health.run_heartbeat(0.2))
        probe = BrokerProbe(kafka_bootstrap, health, interval=0.5, timeout=2.0)
        probe.start()
        bodies: list[dict[str, object]] = []
        try:
            async with aiohttp.ClientSession() as session:
                bodies.append((await wait_status(session, url, 200, 20))[1])
                await asyncio.to_thread(kafka, "down")
                bodies.append((await wait_status(session, url, 503, 20))[1])
                await asyncio.to_thread(kafka, "up")
                bodies.append((await wait_status(session, url, 200, 30))[1])
        finally:
            await probe.stop()
            beat.cancel()
            await runner.cleanup()
            if not broker.running():  # leave the broker as the session expects it
                kafka("up")
        return bodies

    up, down, again = asyncio.run(scenario())
    assert up["broker"] == "ok"
    assert down["broker"] == "unreachable" and down["status"] == "not ready"
    assert any("broker not reachable" in str(r) for r in down["reasons"])  # type: ignore[attr-defined]
    assert again["broker"] == "ok" and again["status"] == "ready"
