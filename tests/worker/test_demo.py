"""``xoev-hub demo`` end to end: live view from the worker's /metrics, clean stop."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from .harness import REPO, hub_env

pytestmark = pytest.mark.kafka


def processes_with(marker: str) -> list[int]:
    pids = []
    for environ in Path("/proc").glob("[0-9]*/environ"):
        try:
            if marker.encode() in environ.read_bytes():
                pids.append(int(environ.parent.name))
        except OSError:
            continue
    return pids


def test_demo_runs_shows_traffic_and_leaves_no_process(
    kafka_bootstrap: str, topic_prefix: str
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = hub_env(kafka_bootstrap, topic_prefix, web_port=str(port))
    result = subprocess.run(
        [sys.executable, "-m", "hub", "demo", "--duration", "40", "--rate", "15"],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    out = result.stdout
    assert f"metrics: http://127.0.0.1:{port}/metrics" in out
    assert "messages per city pair" in out
    assert re.search(r"Wuppertal|Solingen|Remscheid", out)
    assert "dead letters by reason" in out  # --faults defaults to 3 %
    assert re.search(r"send → audit record p50 \d+ ms   p99 \d+ ms   \(last \d+ deliveries\)", out)
    final = re.search(r"stopped: sent (\d+), delivered (\d+)", out)
    assert final, out[-1500:]
    sent, delivered = int(final.group(1)), int(final.group(2))
    assert sent > 100 and delivered > 0
    assert not processes_with(f"HUB_TOPIC_PREFIX={topic_prefix}")
    assert not list(REPO.glob(f"{topic_prefix}*-data")), "Faust data dir in the working folder"
