"""A real Prometheus scrapes worker processes: two stand-ins summed, and a real
``xoev-hub worker`` under ``xoev-hub simulate`` traffic.

Each stand-in worker (tests/ops/load_worker.py) has its own HubMetrics and
/metrics endpoint, as separate worker processes do in production. Prometheus
(Debian package, 1 s scrape interval, tmp data dir, loopback port) must see a
positive delivery rate while they work and exactly the sum of both counters
after, and must load the alert rules without errors.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hub.core.region import Region
from hub.settings import DEFAULT_CONFIG_DIR
from hub.testing.tools import require_tool

REPO = Path(__file__).resolve().parents[2]

COUNTS = {"solingen.meldebehoerde": 150, "remscheid.meldebehoerde": 90}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def query(base: str, expr: str) -> list[dict[str, Any]]:
    url = f"{base}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    with urllib.request.urlopen(url, timeout=5) as response:
        body = json.loads(response.read())
    assert body["status"] == "success", body
    return list(body["data"]["result"])


def scalar(base: str, expr: str) -> float | None:
    result = query(base, expr)
    return float(result[0]["value"][1]) if result else None


def wait_for(check: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(0.3)
    raise AssertionError(f"{what} not reached within {timeout}s (last: {last})")


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[list[int]]:
    procs: list[subprocess.Popen[str]] = []
    ports: list[int] = []
    try:
        for source, count in COUNTS.items():
            proc = subprocess.Popen(
                [sys.executable, "-m", "tests.ops.load_worker", "--count", str(count),
                 "--seconds", "6", "--source", source,
                 "--start-file", str(tmp_path / "go")],
                cwd=REPO, stdout=subprocess.PIPE, text=True,
            )
            procs.append(proc)
            assert proc.stdout is not None
            line = proc.stdout.readline().split()
            assert line and line[0] == "port", f"worker did not start: {line}"
            ports.append(int(line[1]))
        yield ports
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(10)
            if proc.stdout:
                proc.stdout.close()


@contextlib.contextmanager
def running_prometheus(tmp_path: Path, ports: list[int]) -> Iterator[str]:
    """A real Prometheus (1 s scrape interval, alert rules loaded) scraping ``ports``."""
    binary = require_tool("prometheus")
    rules = tmp_path / "alerts.yml"
    shutil.copyfile(REPO / "deploy" / "prometheus" / "alerts.yml", rules)
    config = tmp_path / "prometheus.yml"
    targets = ", ".join(f'"127.0.0.1:{p}"' for p in ports)
    config.write_text(
        "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
        f"rule_files: [{json.dumps(str(rules))}]\n"
        "scrape_configs:\n"
        "  - job_name: xoev-hub\n"
        f"    static_configs: [{{targets: [{targets}]}}]\n"
    )
    port = free_port()
    log_path = tmp_path / "prometheus.log"
    log = log_path.open("w")
    proc = subprocess.Popen(
        [binary, f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'data'}",
         f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"],
        stdout=log, stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        def ready() -> bool:
            try:
                with urllib.request.urlopen(f"{base}/-/ready", timeout=1) as r:
                    return r.status == 200
            except OSError:
                assert proc.poll() is None, log_path.read_text()
                return False

        wait_for(ready, 30, "prometheus ready")
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        log.close()


@pytest.fixture
def prometheus(tmp_path: Path, workers: list[int]) -> Iterator[str]:
    with running_prometheus(tmp_path, workers) as base:
        yield base


def test_prometheus_sees_rates_and_sums_over_worker_processes(
    prometheus: str, tmp_path: Path
) -> None:
    base = prometheus
    wait_for(lambda: scalar(base, 'count(up{job="xoev-hub"} == 1)') == 2, 45, "both targets up")
    (tmp_path / "go").touch()  # both are scraped: start the load
    rate = wait_for(
        lambda: scalar(base, "sum(rate(xoev_hub_messages_delivered_total[5s]))"), 15,
        "a positive delivery rate",
    )
    assert rate > 0
    per_source = wait_for(
        lambda: {
            r["metric"]["source"]: float(r["value"][1])
            for r in query(base, "sum by (source) (xoev_hub_messages_delivered_total)")
        } == {k: float(v) for k, v in COUNTS.items()} or None,
        60, "final counts",
    )
    assert per_source
    total = scalar(base, "sum(xoev_hub_messages_delivered_total)")
    assert total == sum(COUNTS.values())
    # p50 end-to-end from the histogram (deliveries were created 0.2 s before)
    p50 = scalar(base, "histogram_quantile(0.5, sum by (le) "
                       "(increase(xoev_hub_end_to_end_seconds_bucket[1m])))")
    assert p50 is not None and 0.1 < p50 <= 0.5
    # the alert rules load and evaluate without errors in the real server
    def rules() -> list[dict[str, Any]]:
        with urllib.request.urlopen(f"{base}/api/v1/rules", timeout=5) as response:
            groups = json.loads(response.read())["data"]["groups"]
        return [rule for group in groups for rule in group["rules"]]

    assert len(rules()) >= 8
    wait_for(lambda: all(r.get("health") == "ok" and r.get("lastEvaluation", "").startswith("2")
                         for r in rules()), 30, "rules evaluated ok")


def http_status(url: str) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return None


@pytest.mark.kafka
def test_prometheus_scrapes_a_real_worker_under_traffic(
    tmp_path: Path, kafka_bootstrap: str, topic_prefix: str
) -> None:
    """`xoev-hub worker` under `xoev-hub simulate` traffic, scraped by a real Prometheus."""
    web_port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    env.update(
        HUB_BOOTSTRAP_SERVERS=kafka_bootstrap, HUB_TOPIC_PREFIX=topic_prefix,
        HUB_CONSUMER_GROUP=f"{topic_prefix}hub", HUB_WEB_HOST="127.0.0.1",
        HUB_WEB_PORT=str(web_port), PYTHONUNBUFFERED="1",
    )
    worker_log = (tmp_path / "worker.log").open("wb")
    worker = subprocess.Popen([sys.executable, "-m", "hub", "worker"], cwd=REPO, env=env,
                              stdout=worker_log, stderr=subprocess.STDOUT,
                              start_new_session=True)
    traffic: subprocess.Popen[bytes] | None = None
    try:
        def worker_ready() -> bool:
            assert worker.poll() is None, (tmp_path / "worker.log").read_text()
            return http_status(f"http://127.0.0.1:{web_port}/readyz") == 200

        wait_for(worker_ready, 180, "worker ready")
        with running_prometheus(tmp_path, [web_port]) as base:
            traffic = subprocess.Popen(
                [sys.executable, "-m", "hub", "simulate", "--rate", "20", "--duration", "20"],
                cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )
            rate = wait_for(
                lambda: scalar(base, "sum(rate(xoev_hub_messages_delivered_total[10s]))"),
                120, "a positive delivery rate from the worker",
            )
            assert rate > 0
            pairs = query(base, "sum by (source, destination) "
                                "(increase(xoev_hub_messages_delivered_total[1m]))")
            authorities = {a.id for a in Region.load(DEFAULT_CONFIG_DIR / "region.toml")}
            assert pairs
            for pair in pairs:
                assert pair["metric"]["source"] in authorities
                assert pair["metric"]["destination"] in authorities | {"external"}
            p99 = wait_for(
                lambda: scalar(base, "histogram_quantile(0.99, sum by (le) "
                                     "(rate(xoev_hub_end_to_end_seconds_bucket[30s])))"),
                60, "an end-to-end latency quantile",
            )
            assert 0 < p99 < 60
            wait_for(lambda: scalar(base, 'max(xoev_hub_ready{job="xoev-hub"})') == 1,
                     60, "a ready worker")
            lag = query(base, "xoev_hub_consumer_lag")
            assert lag and all(r["metric"]["topic"].startswith(topic_prefix) for r in lag)
    finally:
        if traffic is not None:
            traffic.terminate()
            traffic.wait(30)
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGTERM)
            try:
                worker.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(worker.pid, signal.SIGKILL)
                worker.wait(30)
        worker_log.close()
