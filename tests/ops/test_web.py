"""Real HTTP requests against the operations web server."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp

from hub.ops.health import Health
from hub.ops.metrics import HubMetrics
from hub.ops.web import bound_port, start_web
from hub.settings import Settings


async def get(session: aiohttp.ClientSession, url: str) -> tuple[int, str, str]:
    async with session.get(url) as response:
        return response.status, response.headers.get("Content-Type", ""), await response.text()


def test_metrics_healthz_readyz_over_http(settings: Settings) -> None:
    metrics = HubMetrics()
    health = Health(require_assignment=True)

    async def scenario() -> dict[str, Any]:
        runner = await start_web(settings, metrics, health, host="127.0.0.1", port=0)
        base = f"http://127.0.0.1:{bound_port(runner)}"
        beat = asyncio.get_running_loop().create_task(health.run_heartbeat(0.05))
        out: dict[str, Any] = {}
        try:
            async with aiohttp.ClientSession() as session:
                await asyncio.sleep(0.1)
                out["healthz"] = await get(session, f"{base}/healthz")
                out["readyz_before"] = await get(session, f"{base}/readyz")
                health.set_broker_reachable(True)
                health.set_assignment([("xoev.in.wuppertal.standesamt", 0)])
                health.record_end_offsets({("xoev.in.wuppertal.standesamt", 0): 4})
                metrics.observe_received("wuppertal.standesamt", 5000)
                metrics.observe_delivery(
                    source="wuppertal.standesamt", destinations=["wuppertal.meldebehoerde"],
                    standard="XPersonenstand", message_type="031010",
                )
                out["readyz_after"] = await get(session, f"{base}/readyz")
                out["metrics"] = await get(session, f"{base}/metrics")
                out["missing"] = await get(session, f"{base}/nope")
        finally:
            beat.cancel()
            await runner.cleanup()
        return out

    out = asyncio.run(scenario())
    status, ctype, text = out["healthz"]
    assert status == 200 and ctype.startswith("application/json")
    assert json.loads(text)["status"] == "ok"
    status, _, text = out["readyz_before"]
    assert status == 503 and "broker not checked yet" in json.loads(text)["reasons"]
    status, _, text = out["readyz_after"]
    assert status == 200 and json.loads(text)["lag"] == 4
    status, ctype, text = out["metrics"]
    assert status == 200 and ctype.startswith("text/plain")
    assert 'xoev_hub_messages_received_total{source="wuppertal.standesamt"} 1.0' in text
    assert (
        'xoev_hub_messages_delivered_total{destination="wuppertal.meldebehoerde",'
        'message_type="031010",source="wuppertal.standesamt",standard="XPersonenstand"} 1.0'
    ) in text
    # refreshed from health at scrape time
    assert 'xoev_hub_consumer_lag{partition="0",topic="xoev.in.wuppertal.standesamt"} 4.0' in text
    assert "xoev_hub_ready 1.0" in text
    assert out["missing"][0] == 404
