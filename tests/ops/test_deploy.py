"""Deployment files (Compose, Kubernetes/Strimzi) agree with the code.

No Docker engine or cluster runs here, so every file is parsed and checked:
topic names against hub.topics and the region's authorities, ports and probe
paths against hub.settings and hub.web, settings names against Settings.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from hub.settings import Settings
from hub.topics import TopicNames
from hub.web import HEALTHZ_PATH, METRICS_PATH, READYZ_PATH

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
K8S = DEPLOY / "k8s"
WEB_PORT = Settings.model_fields["web_port"].default
SETTINGS_ENV = {f"HUB_{name.upper()}" for name in Settings.model_fields}


def authority_ids() -> list[str]:
    """The default region's authorities (hub.region once it exists, else the fixture)."""
    try:
        from hub.region import Region  # type: ignore[import-not-found]

        from hub.settings import DEFAULT_CONFIG_DIR
    except ImportError:
        fixture = Path(__file__).parent / "fixtures" / "authorities.txt"
        return sorted(x.strip() for x in fixture.read_text().splitlines() if x.strip())
    return sorted(Region.load(DEFAULT_CONFIG_DIR / "region.toml").authorities)


def load_all(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d is not None]


@functools.cache
def k8s_docs() -> list[dict[str, Any]]:
    return [d for p in sorted(K8S.glob("*.yaml")) for d in load_all(p)]


def of_kind(kind: str) -> list[dict[str, Any]]:
    return [d for d in k8s_docs() if d["kind"] == kind]


def test_every_yaml_and_json_file_parses() -> None:
    files = sorted(DEPLOY.rglob("*.y*ml")) + sorted(DEPLOY.rglob("*.json*"))
    assert len(files) >= 12
    for path in files:
        if path.suffix in (".yml", ".yaml"):
            assert load_all(path), path
        else:
            json.loads(path.read_text())


def test_nine_authorities() -> None:
    ids = authority_ids()
    assert len(ids) == 9
    assert {i.split(".")[0] for i in ids} == {"wuppertal", "solingen", "remscheid"}


# -- Compose --------------------------------------------------------------------
@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return dict(yaml.safe_load((DEPLOY / "compose" / "compose.yaml").read_text()))


def test_compose_kafka_is_a_three_node_kraft_quorum(compose: dict[str, Any]) -> None:
    kafkas = {n: s for n, s in compose["services"].items() if n.startswith("kafka-")}
    assert len(kafkas) == 3
    voters = set()
    cluster_ids = set()
    for name, service in kafkas.items():
        env = service["environment"]
        assert service["image"].startswith("apache/kafka:")
        assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"
        controller_port = re.search(r"CONTROLLER://:(\d+)", env["KAFKA_LISTENERS"])
        assert controller_port
        voters.add(f"{env['KAFKA_NODE_ID']}@{name}:{controller_port[1]}")
        assert env["KAFKA_ADVERTISED_LISTENERS"] == f"PLAINTEXT://{name}:9092"
        assert "CONTROLLER" not in env["KAFKA_ADVERTISED_LISTENERS"]
        assert env["KAFKA_CONTROLLER_LISTENER_NAMES"] == "CONTROLLER"
        cluster_ids.add(env["CLUSTER_ID"])
        for quorum in kafkas.values():  # one shared voter list
            assert quorum["environment"]["KAFKA_CONTROLLER_QUORUM_VOTERS"] == (
                env["KAFKA_CONTROLLER_QUORUM_VOTERS"]
            )
        assert env["KAFKA_MIN_INSYNC_REPLICAS"] == 2
    assert set(env["KAFKA_CONTROLLER_QUORUM_VOTERS"].split(",")) == voters
    (cluster_id,) = cluster_ids
    assert re.fullmatch(r"[A-Za-z0-9_-]{22}", cluster_id) and not cluster_id.startswith("-")
    assert sorted(s["environment"]["KAFKA_NODE_ID"] for s in kafkas.values()) == [1, 2, 3]


def test_compose_workers_prometheus_grafana(compose: dict[str, Any]) -> None:
    services = compose["services"]
    workers = {n: s for n, s in services.items() if n.startswith("worker-")}
    assert len(workers) == 2
    bootstrap = {f"{n}:9092" for n in services if n.startswith("kafka-")}
    for service in [*workers.values(), services["topics"]]:
        env = service["environment"]
        assert set(env) <= SETTINGS_ENV, set(env) - SETTINGS_ENV
        assert set(env["HUB_BOOTSTRAP_SERVERS"].split(",")) == bootstrap
        assert int(env["HUB_WEB_PORT"]) == WEB_PORT
    for service in workers.values():
        assert service["command"] == ["worker"]
        assert f"{WEB_PORT}{HEALTHZ_PATH}" in " ".join(service["healthcheck"]["test"])
        assert any(p.endswith(f":{WEB_PORT}") for p in service["ports"])
    assert services["topics"]["command"] == ["topics", "apply"]
    # Prometheus scrapes exactly these workers, with the repository's config and rules
    assert "../prometheus:/etc/prometheus:ro" in services["prometheus"]["volumes"]
    scrape = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    targets = {t for s in scrape["scrape_configs"][0]["static_configs"] for t in s["targets"]}
    assert targets == {f"{n}:{WEB_PORT}" for n in workers}
    assert scrape["rule_files"] == ["alerts.yml"]
    # Grafana gets the provisioning files and the dashboard where the provider looks
    provider = yaml.safe_load(
        (DEPLOY / "grafana" / "provisioning" / "dashboards" / "xoev-hub.yaml").read_text()
    )
    dashboards_dir = provider["providers"][0]["options"]["path"]
    volumes = services["grafana"]["volumes"]
    assert f"../grafana/dashboards:{dashboards_dir}:ro" in volumes
    assert "../grafana/provisioning:/etc/grafana/provisioning:ro" in volumes
    datasource = yaml.safe_load(
        (DEPLOY / "grafana" / "provisioning" / "datasources" / "prometheus.yaml").read_text()
    )["datasources"][0]
    assert datasource["url"] == "http://prometheus:9090"
    dockerfile = (DEPLOY / "compose" / "Dockerfile").read_text()
    assert f"EXPOSE {WEB_PORT}" in dockerfile and 'ENTRYPOINT ["xoev-hub"]' in dockerfile


# -- Kubernetes / Strimzi --------------------------------------------------------------
def expected_topics(ids: list[str]) -> set[str]:
    names = TopicNames()
    topics = {names.external, names.deadletter, names.audit, names.schemas}
    for authority in ids:
        topics |= {names.inbound(authority), names.out_xml(authority), names.out_avro(authority)}
    return topics


def test_kafka_topics_are_the_contract_topics() -> None:
    topics = of_kind("KafkaTopic")
    names = [t["spec"]["topicName"] for t in topics]
    assert len(names) == len(set(names))
    assert set(names) == expected_topics(authority_ids())
    (cluster,) = of_kind("Kafka")
    for t in topics:
        assert t["metadata"]["labels"]["strimzi.io/cluster"] == cluster["metadata"]["name"]
        assert re.fullmatch(r"[a-z0-9]([-a-z0-9.]*[a-z0-9])?", t["metadata"]["name"])
        assert t["spec"]["replicas"] == 3 and t["spec"]["config"]["min.insync.replicas"] == 2
    schemas = next(t for t in topics if t["spec"]["topicName"] == TopicNames().schemas)
    assert schemas["spec"]["config"]["cleanup.policy"] == "compact"


def test_kafka_cluster_uses_kraft_node_pools() -> None:
    (cluster,) = of_kind("Kafka")
    annotations = cluster["metadata"]["annotations"]
    assert annotations["strimzi.io/kraft"] == "enabled"
    assert annotations["strimzi.io/node-pools"] == "enabled"
    assert "zookeeper" not in cluster["spec"]
    assert cluster["spec"]["kafka"]["authorization"]["type"] == "simple"
    pools = of_kind("KafkaNodePool")
    roles = {r for p in pools for r in p["spec"]["roles"]}
    assert roles == {"controller", "broker"}
    assert sum(p["spec"]["replicas"] for p in pools) >= 3


def _allowed(user: dict[str, Any], operation: str, kind: str, name: str) -> bool:
    for acl in user["spec"]["authorization"]["acls"]:
        resource = acl["resource"]
        if resource["type"] != kind or operation not in acl["operations"]:
            continue
        if resource["patternType"] == "literal" and resource["name"] == name:
            return True
        if resource["patternType"] == "prefix" and name.startswith(resource["name"]):
            return True
    return False


def test_authorities_write_only_their_inbound_and_read_only_their_outbound() -> None:
    ids = authority_ids()
    users = {u["metadata"]["name"]: u for u in of_kind("KafkaUser")}
    assert set(users) == {*ids, "xoev-hub"}
    names = TopicNames()
    topics = expected_topics(ids)
    for authority in ids:
        user = users[authority]
        assert user["spec"]["authentication"]["type"] == "scram-sha-512"
        for topic in topics:
            assert _allowed(user, "Write", "topic", topic) == (topic == names.inbound(authority))
            own_out = {names.out_xml(authority), names.out_avro(authority)}
            assert _allowed(user, "Read", "topic", topic) == (topic in own_out), (authority, topic)
        # prefixes must not leak to another authority whose id extends this one
        for other in ids:
            if other != authority:
                assert not _allowed(user, "Read", "topic", names.out_xml(other))
    hub = users["xoev-hub"]
    for authority in ids:
        assert _allowed(hub, "Read", "topic", names.inbound(authority))
        assert _allowed(hub, "Write", "topic", names.out_xml(authority))
        assert _allowed(hub, "Write", "topic", names.out_avro(authority))
    for topic in (names.external, names.deadletter, names.audit, names.schemas):
        assert _allowed(hub, "Write", "topic", topic)
    assert _allowed(hub, "Read", "group", Settings.model_fields["consumer_group"].default)


def test_worker_deployment_probes_ports_and_settings() -> None:
    (deployment,) = of_kind("Deployment")
    pod = deployment["spec"]["template"]
    (container,) = pod["spec"]["containers"]
    assert container["args"] == ["worker"]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports["http"] == WEB_PORT
    assert container["livenessProbe"]["httpGet"]["path"] == HEALTHZ_PATH
    assert container["readinessProbe"]["httpGet"]["path"] == READYZ_PATH
    assert container["livenessProbe"]["httpGet"]["port"] == "http"
    env = {e["name"]: e for e in container["env"]}
    assert set(env) <= SETTINGS_ENV, set(env) - SETTINGS_ENV
    assert int(env["HUB_WEB_PORT"]["value"]) == WEB_PORT
    assert env["HUB_WEB_HOST"]["value"] == "0.0.0.0"
    assert env["HUB_SASL_USERNAME"]["value"] == "xoev-hub"
    (cluster,) = of_kind("Kafka")
    bootstrap = env["HUB_BOOTSTRAP_SERVERS"]["value"]
    assert bootstrap.startswith(f"{cluster['metadata']['name']}-kafka-bootstrap:")
    tls_ports = {li["port"] for li in cluster["spec"]["kafka"]["listeners"] if li["tls"]}
    assert int(bootstrap.rsplit(":", 1)[1]) in tls_ports
    # the partitions of topics.yaml match the worker's setting
    partitions = {t["spec"]["partitions"] for t in of_kind("KafkaTopic")}
    assert partitions == {int(env["HUB_TOPIC_PARTITIONS"]["value"])}
    assert deployment["spec"]["replicas"] <= min(partitions)
    # the PodMonitor scrapes these pods on the same port and path, as job xoev-hub
    (monitor,) = of_kind("PodMonitor")
    selector = monitor["spec"]["selector"]["matchLabels"]
    assert selector.items() <= pod["metadata"]["labels"].items()
    assert selector.items() <= deployment["spec"]["selector"]["matchLabels"].items()
    (endpoint,) = monitor["spec"]["podMetricsEndpoints"]
    assert endpoint["port"] == "http" and endpoint["path"] == METRICS_PATH
    assert {"targetLabel": "job", "replacement": "xoev-hub"} in endpoint["relabelings"]


def test_kustomization_lists_every_manifest() -> None:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    manifests = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert set(kustomization["resources"]) == manifests


def test_generated_manifests_are_up_to_date(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("k8s_generate", K8S / "generate.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.main(authority_ids(), tmp_path)
    for name in ("topics.yaml", "users.yaml", "prometheusrule.yaml"):
        assert (tmp_path / name).read_text() == (K8S / name).read_text(), (
            f"deploy/k8s/{name} is stale: run python deploy/k8s/generate.py"
        )
    rule = load_all(K8S / "prometheusrule.yaml")[0]
    assert rule["spec"] == yaml.safe_load((DEPLOY / "prometheus" / "alerts.yml").read_text())
