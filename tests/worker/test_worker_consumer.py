"""The worker's consumer does not let a fetch of empty partitions pace the drain.

Faust fixes aiokafka's ``fetch_max_wait_ms`` at 1,500 ms; with the hub's many
inbound topics, a fetch for only the idle partitions then blocked the busy ones
for 1.5 s at a time and capped the drain at about 4 MB/s (issue 17). The
benchmark shows the effect (``xoev-hub bench e2e``); this test pins the setting.
"""

from __future__ import annotations

import asyncio
from typing import Any

from hub.settings import load_settings
from hub.streams.app import FETCH_MAX_WAIT_MS, HubConsumer, build_app


def test_the_worker_consumer_waits_at_most_the_prefetch_backoff() -> None:
    settings = load_settings(bootstrap_servers="127.0.0.1:1")  # nothing is contacted

    async def run() -> int:
        app, _flow = build_app(settings)
        consumer = app.consumer
        assert isinstance(consumer, HubConsumer)
        client: Any = consumer._thread._create_worker_consumer(app.transport)
        try:
            return int(client._fetch_max_wait_ms)
        finally:
            await client.stop()
            consumer._thread.thread_loop.close()

    assert asyncio.run(run()) == FETCH_MAX_WAIT_MS <= 100  # aiokafka's prefetch backoff
