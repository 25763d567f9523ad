"""The file plan published through the real broker and tracked to its
acknowledgements (issue 14 items 3 and 5): ``aktenplan publish`` sends one 0301 per
registratur through the sender's inbound topic; all three are delivered; two
registraturen answer with 0302; ``aktenplan status`` and ``exchanges list`` (separate
processes, reading the table's changelog) show the third open, the worker's metrics
too; the worker is killed with SIGKILL and restarted on an empty state folder (the
table comes back from its changelog): the third is still open, its 0302 closes it.
An 0302 without a request is delivered and counted."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import pytest

from hub.core.aktenplan import Aktenplan
from hub.core.region import Region
from hub.core.schemas import SchemaRegistry, install
from hub.kafka.topics import TopicNames
from hub.settings import Settings
from hub.tools.samples import generate
from hub.xdomea.exchanges import table_changelog_name
from tests.conftest import official_or_skip

from .harness import REPO, drain, produce

pytestmark = pytest.mark.kafka


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "hub", *args], env=env, cwd=REPO,
                          capture_output=True, text=True, timeout=120)


def metric(port: int, name: str, labels: str) -> float | None:
    try:
        text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read()
    except OSError:
        return None
    match = re.search(rf"^{name}\{{{re.escape(labels)}\}} (\S+)$", text.decode(), re.M)
    return float(match[1]) if match else None


def wait_for(check: Any, timeout: float = 90, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(1)
    raise AssertionError(f"timed out waiting for {what}")


def listing(env: dict[str, str], *extra: str) -> list[dict[str, Any]]:
    result = cli(env, "exchanges", "list", "--json", *extra)
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines() if line.strip()]


def test_file_plan_published_acknowledged_by_two_third_open_across_a_kill(
    kafka_bootstrap: str, worker_env: dict[str, str], worker_settings: Settings,
    start_worker: Any, tmp_path: Path,
) -> None:
    official = official_or_skip()
    schema_dir = tmp_path / "schemas"
    install(official / "xdomea-3.0.0", schema_dir)
    package = SchemaRegistry.load([schema_dir]).get("xdomea", "3.0.0")
    names = TopicNames(worker_settings.topic_prefix)
    region = Region.load(worker_settings.region_file)
    plan = Aktenplan.default()
    sender = region.get(plan.sender)
    registraturen = sorted(a.id for a in region if a.kind == "registratur")
    assert len(registraturen) == 3 and plan.sender not in registraturen
    port = free_port()
    env = {**worker_env, "HUB_SCHEMA_DIR": str(schema_dir)}
    worker = start_worker(HUB_SCHEMA_DIR=str(schema_dir), HUB_WEB_PORT=str(port))

    published = cli(env, "aktenplan", "publish")
    assert published.returncode == 0, published.stdout + published.stderr
    pids = dict(re.findall(r"^(\S+): 0301 version \S+ ProzessID (\S+) ->", published.stdout, re.M))
    assert sorted(pids) == registraturen

    out = {r: names.out_xml(r) for r in registraturen}
    got = drain(kafka_bootstrap, list(out.values()), until={t: 1 for t in out.values()})
    assert {r: got.count(t) for r, t in out.items()} == dict.fromkeys(registraturen, 1)
    for r, topic in out.items():
        (headers,) = got.headers(topic)
        assert headers["xoev-message-type"] == b"0301"
        assert headers["xoev-message-id"] == pids[r].encode()

    def answer(registratur: str, pid: str, seed: int) -> tuple[str, bytes, bytes]:
        reg = region.get(registratur)
        data = generate(package, "0302", seed=seed, author_key=reg.dvdv_key,
                        reader_key=sender.dvdv_key, overrides={"Kopf/ProzessID": pid})
        return names.inbound(registratur), pid.encode(), data

    first, second, third = registraturen
    orphan = str(uuid.uuid4())
    produce(kafka_bootstrap, [answer(first, pids[first], 1), answer(second, pids[second], 2),
                              answer(first, orphan, 3)])

    def settled() -> list[dict[str, Any]] | None:
        rows = listing(env, "--all")
        states = sorted((r["responder"], r["state"]) for r in rows)
        done = len(states) == 4 and [s for _, s in states].count("closed") == 2
        return rows if done else None

    rows = wait_for(settled, what="two acknowledgements and one unmatched answer")
    by_state = {(r["responder"], r["state"]): r for r in rows}
    assert by_state[(third, "open")]["process_id"] == pids[third]
    assert by_state[(third, "open")]["subject"] == plan.version
    # the orphan, kept as the exchange it would answer: its reader asked, its author answers
    assert by_state[(first, "unmatched")]["requester"] == sender.id
    assert [r["responder"] for r in listing(env)] == [third]  # default: open ones only
    status = cli(env, "aktenplan", "status", "--json")
    assert status.returncode == 1, status.stderr  # not every registratur acknowledged
    report = {r["registratur"]: r for r in json.loads(status.stdout)["registraturen"]}
    assert [report[r]["acknowledged"] for r in (first, second, third)] == \
        [plan.version, plan.version, None]
    assert report[third]["waiting"] == plan.version
    # the worker's metrics: one open file plan exchange, one answer without request
    label = 'type="aktenplan"'
    wait_for(lambda: metric(port, "xoev_hub_open_exchanges", label) == 1.0, what="metric")
    assert metric(port, "xoev_hub_exchange_unmatched_answers_total", label) == 1.0
    assert (metric(port, "xoev_hub_oldest_open_exchange_age_seconds", label) or 0) > 0
    # the orphan was delivered all the same
    arc_out = names.out_xml(sender.id)
    assert drain(kafka_bootstrap, [arc_out], until={arc_out: 3}).count(arc_out) == 3

    # kill -9 mid-exchange; the new worker starts on an empty state folder
    worker.kill()
    port = free_port()
    worker = start_worker("worker2", HUB_SCHEMA_DIR=str(schema_dir), HUB_WEB_PORT=str(port),
                          HUB_STATE_DIR=str(tmp_path / "state-after-kill"))
    wait_for(lambda: metric(port, "xoev_hub_open_exchanges", label) == 1.0, timeout=120,
             what="the open exchange after the restart")
    assert [r["responder"] for r in listing(env)] == [third]
    produce(kafka_bootstrap, [answer(third, pids[third], 4)])
    wait_for(lambda: metric(port, "xoev_hub_open_exchanges", label) == 0.0, what="closed")
    assert listing(env) == []
    assert metric(port, "xoev_hub_exchange_unmatched_answers_total", label) == 0.0
    status = cli(env, "aktenplan", "status")
    assert status.returncode == 0, status.stdout + status.stderr
    assert status.stdout.count(plan.version) >= 4  # the header line and three registraturen
    assert worker.alive(), worker.log_text()[-3000:]
    assert table_changelog_name(worker_env["HUB_CONSUMER_GROUP"]).endswith("-changelog")
    assert os.environ.get("HUB_SCHEMA_DIR") != str(schema_dir)
