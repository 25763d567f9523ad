"""Runs one directory-inbound adapter through ``run_adapters`` until SIGTERM.

Usage: python -m tests.adapters.inbox_process AUTHORITY INBOX
(settings from the environment: HUB_BOOTSTRAP_SERVERS, HUB_TOPIC_PREFIX).
"""

from __future__ import annotations

import asyncio
import signal
import sys
from types import SimpleNamespace

from hub.adapters import run_adapters
from hub.settings import load_settings


async def main(authority: str, inbox: str) -> None:
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    region = SimpleNamespace(authorities={authority: SimpleNamespace(id=authority, adapters=[
        {"type": "directory-inbound", "config": {"path": inbox, "poll_seconds": 0.05}},
    ])})
    await run_adapters(load_settings(), region, stop)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
