"""Dashboard and alert rules use only metrics and labels a worker really exports
(HubMetrics and the mobility agent's MobilityMetrics on its registry),
and are valid for the real tools (promtool check/test)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml

from hub.ops.metrics import HubMetrics
from hub.streams.exchanges import ExchangeMetrics
from hub.streams.mobility import MobilityMetrics
from hub.testing.tools import require_tool

from .promql import grouping_labels, matcher_labels, metric_names

REPO = Path(__file__).resolve().parents[2]

PROMETHEUS = REPO / "deploy" / "prometheus"
DASHBOARD = REPO / "deploy" / "grafana" / "dashboards" / "xoev-hub.json"
SCRAPE_LABELS = {"instance", "job", "le", "deployment"}


def dashboard_exprs() -> list[str]:
    board = json.loads(DASHBOARD.read_text())
    return [t["expr"] for p in board["panels"] for t in p.get("targets", [])]


def alert_exprs() -> list[str]:
    rules = yaml.safe_load((PROMETHEUS / "alerts.yml").read_text())
    return [r["expr"] for g in rules["groups"] for r in g["rules"]]


def worker_metrics() -> tuple[HubMetrics, MobilityMetrics, ExchangeMetrics]:
    """A worker's metrics: HubMetrics and, on its registry, the mobility and exchanges
    agents' (as hub.streams.app registers them)."""
    metrics = HubMetrics()
    return metrics, MobilityMetrics(metrics.registry), ExchangeMetrics(metrics.registry)


def exported_labels(metrics: HubMetrics, *parts: object) -> dict[str, set[str]]:
    """Sample name -> label names, from the collectors themselves."""
    labels: dict[str, set[str]] = {}
    collectors = [c for holder in (metrics, *parts) for c in vars(holder).values()]
    for value in collectors:
        names = getattr(value, "_labelnames", None)
        if names is None or not hasattr(value, "_name"):
            continue
        base = value._name
        for sample in metrics.sample_names():
            if sample == base or sample.startswith(base + "_"):
                labels[sample] = set(names) | ({"le"} if sample.endswith("_bucket") else set())
    return labels


def promtool() -> str:
    return require_tool("promtool")


def test_expressions_are_found() -> None:
    assert len(dashboard_exprs()) >= 15
    assert len(alert_exprs()) >= 8
    assert metric_names('sum by (le) (rate(a_b_bucket{x="y"}[5m])) / c > 1e3') == {
        "a_b_bucket", "c"
    }


@pytest.mark.parametrize("source", ["dashboard", "alerts"])
def test_every_metric_and_label_is_exported(source: str) -> None:
    metrics, mobility, exchanges = worker_metrics()
    exported = metrics.sample_names() | {"up"}
    labels = exported_labels(metrics, mobility, exchanges)
    all_labels = set().union(*labels.values()) | SCRAPE_LABELS
    exprs = dashboard_exprs() if source == "dashboard" else alert_exprs()
    used: set[str] = set()
    for expr in exprs:
        names = metric_names(expr)
        assert names, f"no metric in {expr!r}"
        assert names <= exported, f"{sorted(names - exported)} not exported (in {expr!r})"
        used |= names
        assert grouping_labels(expr) <= all_labels, expr
        for metric, matched in matcher_labels(expr).items():
            allowed = labels.get(metric, set()) | SCRAPE_LABELS
            assert matched <= allowed, f"{metric}: {sorted(matched - allowed)} in {expr!r}"
    if source == "dashboard":  # the dashboard shows every family the hub exports
        families = {f.name for f in metrics.registry.collect()} - {"xoev_hub_start_time_seconds"}
        shown = {n.removesuffix("_total").removesuffix("_bucket") for n in used}
        assert families <= shown, f"not on the dashboard: {sorted(families - shown)}"


def test_dashboard_expressions_are_valid_promql(tmp_path: Path) -> None:
    rules = {"groups": [{"name": "dashboard", "rules": [
        {"record": f"dashboard:expr{i}", "expr": e.replace("$__rate_interval", "1m")}
        for i, e in enumerate(dashboard_exprs())
    ]}]}
    path = tmp_path / "dashboard-rules.yml"
    path.write_text(yaml.safe_dump(rules, allow_unicode=True))
    result = subprocess.run([promtool(), "check", "rules", str(path)],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_dashboard_is_provisioned_with_its_datasource() -> None:
    board = json.loads(DASHBOARD.read_text())
    assert board["uid"] == "xoev-hub"
    ids = [p["id"] for p in board["panels"]]
    assert len(ids) == len(set(ids))
    provisioning = REPO / "deploy" / "grafana" / "provisioning"
    source = yaml.safe_load((provisioning / "datasources" / "prometheus.yaml").read_text())
    uids = {d["uid"] for d in source["datasources"]}
    for panel in board["panels"]:
        if panel["type"] != "row":
            assert panel["datasource"]["uid"] in uids
    provider = yaml.safe_load((provisioning / "dashboards" / "xoev-hub.yaml").read_text())
    assert provider["providers"][0]["type"] == "file"


def test_alert_rules_check_and_unit_tests() -> None:
    tool = promtool()
    check = subprocess.run([tool, "check", "rules", "alerts.yml"], cwd=PROMETHEUS,
                           capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    test = subprocess.run([tool, "test", "rules", "alerts_test.yml"], cwd=PROMETHEUS,
                          capture_output=True, text=True)
    assert test.returncode == 0, test.stdout + test.stderr
    assert "SUCCESS" in test.stdout
    # every alert is exercised by at least one firing case in the unit tests
    alerts = {r["alert"] for g in yaml.safe_load((PROMETHEUS / "alerts.yml").read_text())["groups"]
              for r in g["rules"]}
    cases = yaml.safe_load((PROMETHEUS / "alerts_test.yml").read_text())["tests"]
    fired = {c["alertname"] for t in cases for c in t["alert_rule_test"] if c["exp_alerts"]}
    assert alerts == fired, f"alerts without a firing test: {sorted(alerts - fired)}"


def test_scrape_config_is_valid() -> None:
    result = subprocess.run([promtool(), "check", "config", "prometheus.yml"], cwd=PROMETHEUS,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    config = yaml.safe_load((PROMETHEUS / "prometheus.yml").read_text())
    (job,) = config["scrape_configs"]
    assert job["job_name"] == "xoev-hub" and job["metrics_path"] == "/metrics"
    targets = [t for s in job["static_configs"] for t in s["targets"]]
    sd = json.loads((PROMETHEUS / "targets" / "workers.json.example").read_text())
    targets += [t for group in sd for t in group["targets"]]
    assert targets and all(t.endswith(":6066") for t in targets)
