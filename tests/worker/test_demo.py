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
    # 10 s mobility windows (the demo's default is 30 s): one closes within the run
    env = hub_env(kafka_bootstrap, topic_prefix, web_port=str(port), HUB_STATS_WINDOW="10s")
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
    # the mobility block: nothing at first, then the newest published window's top flows
    assert "mobility (xoev.stats.mobility, windows of 10s): no window yet" in out
    published = re.findall(
        r"windows of 10s\): window (\d\d:\d\d:\d\d)–(\d\d:\d\d:\d\d) UTC, (\d+) moves "
        r"published, (\d+) suppressed \(k = 5\); top flows\n((?:  .+\n)+)", out)
    assert published, out[-3000:]
    start, end, moves, _suppressed, flows = published[-1]
    rows = [re.fullmatch(r"\s*(\S+) → (\S+)\s+(\d+)", line) for line in flows.splitlines()]
    assert rows and all(rows), flows
    counts = [int(row[3]) for row in rows if row]
    assert 1 <= len(counts) <= 3 and counts == sorted(counts, reverse=True)
    assert sum(counts) <= int(moves)

    def seconds(clock: str) -> int:
        h, m, sec = (int(x) for x in clock.split(":"))
        return h * 3600 + m * 60 + sec

    assert (seconds(end) - seconds(start)) % 86400 == 10  # one HUB_STATS_WINDOW
    assert all(row[1] in ("Wuppertal", "Solingen", "Remscheid") for row in rows if row)
    assert re.search(r"send → audit record p50 \d+ ms   p99 \d+ ms   \(last \d+ deliveries\)", out)
    final = re.search(r"stopped: sent (\d+), delivered (\d+)", out)
    assert final, out[-1500:]
    sent, delivered = int(final.group(1)), int(final.group(2))
    assert sent > 100 and delivered > 0
    # the service portal: simulated citizens' applications, counted by the steps reached
    portal = re.findall(
        r"service portal: (\d+) of 12 simulated citizens applied, (\d+) settled as intended, "
        r"(\d+) otherwise \(steps reached on xoev.status.applications\)\n"
        r"  received (\d+)   awaiting payment (\d+)   forwarded (\d+)   notice delivered "
        r"(\d+)   rejected (\d+)   refused at the endpoint (\d+)\n", out)
    assert portal, out[-3000:]
    applied, as_intended, otherwise, received, awaiting, forwarded, noticed, _rejected, \
        refused = (int(x) for x in portal[-1])
    assert applied >= 4 and received >= 3 and awaiting >= 2 and forwarded >= 1, portal[-1]
    assert noticed >= 1 and as_intended >= 2 and otherwise == 0, portal[-1]
    assert received + refused <= applied <= 12
    assert "the portal simulation stopped" not in out
    final_portal = re.search(r"portal: (\d+) of 12 simulated citizens applied, (\d+) settled "
                             r"as intended, 0 otherwise", out)
    assert final_portal, out[-1500:]
    assert not processes_with(f"HUB_TOPIC_PREFIX={topic_prefix}")
    assert not list(REPO.glob(f"{topic_prefix}*-data")), "Faust data dir in the working folder"
