"""Deployment files (Compose, Kubernetes/Strimzi) agree with the code.

No Docker engine or cluster runs here, so every file is parsed and checked:
topic names against hub.kafka.topics and the region's authorities, ports and probe
paths against hub.settings and hub.ops.web, settings names against Settings.
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

from hub.core.region import Region
from hub.kafka.topic_admin import contract_topics
from hub.kafka.topics import TopicNames, exchange_topic_name, moves_topic_name, pending_topic_name
from hub.ops.web import HEALTHZ_PATH, METRICS_PATH, READYZ_PATH
from hub.settings import DEFAULT_CONFIG_DIR, Settings
from hub.tools.acl import CLUSTER_NAME, AclBinding, allowed, plan_acls

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
K8S = DEPLOY / "k8s"
WEB_PORT = Settings.model_fields["web_port"].default
SETTINGS_ENV = {f"HUB_{name.upper()}" for name in Settings.model_fields}


def authority_ids() -> list[str]:
    """The default region's authorities (hub/config/region.toml)."""
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


def test_fifteen_authorities() -> None:
    ids = authority_ids()
    assert len(ids) == 18  # six kinds in three cities, registratur, archiv, jugendamt included
    assert {i.split(".")[0] for i in ids} == {"wuppertal", "solingen", "remscheid"}
    assert {i.split(".")[1] for i in ids} == {
        "meldebehoerde", "standesamt", "auslaenderbehoerde", "registratur", "archiv", "jugendamt"
    }


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
    topics = {names.external, names.deadletter, names.audit, names.schemas,
              names.stats_mobility, moves_topic_name("xoev-hub"),
              exchange_topic_name("xoev-hub")}
    for authority in ids:
        topics |= {names.inbound(authority), names.out_xml(authority), names.out_avro(authority)}
    # the service portal (hub.portal): an application topic per authority deciding a service
    from hub.portal.catalog import Catalogue

    catalogue = Catalogue.of_region(Region.load(DEFAULT_CONFIG_DIR / "region.toml"))
    assert catalogue is not None
    topics.add(names.status_applications)
    topics |= {names.applications(a.id) for a in catalogue.deciding_authorities()}
    # its notices (decisions) and the pending forms (decision 0019)
    topics |= {names.notices(a.id) for a in catalogue.deciding_authorities()}
    topics.add(pending_topic_name("xoev-hub"))
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
        assert t["spec"]["replicas"] == 3 and t["spec"]["config"]["min.insync.replicas"] == "2"
    schemas = next(t for t in topics if t["spec"]["topicName"] == TopicNames().schemas)
    assert schemas["spec"]["config"]["cleanup.policy"] == "compact"
    # exactly what `xoev-hub topics apply` creates with 6 partitions and 3 replicas
    settings = Settings.model_construct(topic_partitions=6, replication_factor=3)
    wanted = contract_topics(settings, Region.load(DEFAULT_CONFIG_DIR / "region.toml"))
    assert {t["spec"]["topicName"]: (t["spec"]["partitions"], t["spec"]["config"])
            for t in topics} == {w.name: (w.partitions, dict(w.configs)) for w in wanted}


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


STRIMZI_RESOURCE = {"topic": "TOPIC", "group": "GROUP", "cluster": "CLUSTER",
                    "transactionalId": "TRANSACTIONAL_ID"}
STRIMZI_PATTERN = {"literal": "LITERAL", "prefix": "PREFIXED"}


def bindings_of(users: list[dict[str, Any]]) -> set[AclBinding]:
    """Read KafkaUser ACLs back into hub.tools.acl's terms (Read -> READ, prefix -> PREFIXED)."""
    found: set[AclBinding] = set()
    for user in users:
        principal = f"User:{user['metadata']['name']}"
        for acl in user["spec"]["authorization"]["acls"]:
            resource = acl["resource"]
            assert acl.get("host", "*") == "*"
            for operation in acl["operations"]:
                found.add(AclBinding(
                    principal,
                    STRIMZI_RESOURCE[resource["type"]],  # type: ignore[arg-type]
                    resource.get("name", CLUSTER_NAME),
                    STRIMZI_PATTERN[resource.get("patternType", "literal")],  # type: ignore[arg-type]
                    re.sub(r"(?<!^)(?=[A-Z])", "_", operation).upper(),  # type: ignore[arg-type]
                ))
    return found


def test_kafka_users_carry_exactly_the_acl_plan() -> None:
    ids = authority_ids()
    users = of_kind("KafkaUser")
    assert {u["metadata"]["name"] for u in users} == {
        *ids, "xoev-hub", "xoev-ops", "xoev-osci-gateway"
    }
    for user in users:
        assert user["spec"]["authentication"]["type"] == "scram-sha-512"
    plan = plan_acls(Region.load(DEFAULT_CONFIG_DIR / "region.toml"),
                     Settings.model_construct(), "User:xoev-hub", "User:xoev-ops",
                     "User:xoev-osci-gateway")
    assert bindings_of(users) == set(plan)


def test_authorities_write_only_their_inbound_and_read_only_their_outbound_and_schemas() -> None:
    ids = authority_ids()
    bindings = bindings_of(of_kind("KafkaUser"))
    names = TopicNames()
    topics = expected_topics(ids)
    for authority in ids:
        me = f"User:{authority}"
        own_out = {names.out_xml(authority), names.out_avro(authority)}
        if names.applications(authority) in topics:  # it decides a portal service
            own_out.add(names.applications(authority))
        for topic in topics:
            # its inbound topic, and its notices topic when it decides a portal service
            assert allowed(bindings, me, "TOPIC", topic, "WRITE") == (
                topic == names.inbound(authority)
                or (topic == names.notices(authority) and names.applications(authority)
                    in topics)
            )
            # its own outbound, and the Avro writer schemas (no personal data)
            readable = own_out | {names.schemas}
            assert allowed(bindings, me, "TOPIC", topic, "READ") == (topic in readable)
    hub = "User:xoev-hub"
    for authority in ids:
        assert allowed(bindings, hub, "TOPIC", names.inbound(authority), "READ")
        assert allowed(bindings, hub, "TOPIC", names.out_xml(authority), "WRITE")
        assert allowed(bindings, hub, "TOPIC", names.out_avro(authority), "WRITE")
    for topic in (names.external, names.deadletter, names.audit, names.schemas):
        assert allowed(bindings, hub, "TOPIC", topic, "WRITE")
    group = Settings.model_fields["consumer_group"].default
    assert allowed(bindings, hub, "GROUP", group, "READ")


def test_worker_deployment_probes_ports_and_settings() -> None:
    (deployment,) = of_kind("Deployment")
    pod = deployment["spec"]["template"]
    (container,) = pod["spec"]["containers"]
    assert container["args"] == ["worker"]
    hardened = container["securityContext"]
    assert hardened["allowPrivilegeEscalation"] is False
    assert hardened["readOnlyRootFilesystem"] is True
    assert hardened["capabilities"]["drop"] == ["ALL"]
    mounts = {m["mountPath"] for m in container["volumeMounts"]}
    assert {"/tmp", "/var/lib/xoev-hub"} <= mounts  # the writable places
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
    assert env["HUB_STATE_DIR"]["value"].startswith("/var/lib/xoev-hub/")
    (cluster,) = of_kind("Kafka")
    bootstrap = env["HUB_BOOTSTRAP_SERVERS"]["value"]
    assert bootstrap.startswith(f"{cluster['metadata']['name']}-kafka-bootstrap:")
    tls_ports = {li["port"] for li in cluster["spec"]["kafka"]["listeners"] if li["tls"]}
    assert int(bootstrap.rsplit(":", 1)[1]) in tls_ports
    # the inbound partitions of topics.yaml match the worker's setting and bound its replicas
    partitions = {t["spec"]["partitions"] for t in of_kind("KafkaTopic")
                  if t["spec"]["topicName"].startswith("xoev.in.")}
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
    module.main(DEFAULT_CONFIG_DIR / "region.toml", tmp_path)
    for name in ("topics.yaml", "users.yaml", "prometheusrule.yaml"):
        assert (tmp_path / name).read_text() == (K8S / name).read_text(), (
            f"deploy/k8s/{name} is stale: run python deploy/k8s/generate.py"
        )
    rule = load_all(K8S / "prometheusrule.yaml")[0]
    assert rule["spec"] == yaml.safe_load((DEPLOY / "prometheus" / "alerts.yml").read_text())


def test_network_policy_lets_only_ingress_and_prometheus_reach_the_web_port() -> None:
    (deployment,) = of_kind("Deployment")
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    (policy,) = of_kind("NetworkPolicy")
    spec = policy["spec"]
    # it selects the worker pods (so everything it does not allow is denied to them)
    assert spec["podSelector"]["matchLabels"].items() <= pod_labels.items()
    assert spec["podSelector"]["matchLabels"]  # not every pod of the namespace
    assert "Ingress" in spec["policyTypes"]
    container_ports = {p["containerPort"] for p in container["ports"]}
    assert container_ports == {WEB_PORT}  # nothing else to reach
    peers: list[dict[str, Any]] = []
    for rule in spec["ingress"]:
        # every rule names its peers (no open rule) and only the web port, over TCP
        assert rule.get("from"), rule
        assert rule["ports"] == [{"protocol": "TCP", "port": WEB_PORT}], rule
        for peer in rule["from"]:
            assert "ipBlock" not in peer
            # a namespace and a pod selector in one peer: those pods in that namespace
            assert peer["namespaceSelector"]["matchLabels"] and peer["podSelector"]["matchLabels"]
            peers.append(peer)
    namespaces = {p["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
                  for p in peers}
    assert namespaces == {"ingress-nginx", "monitoring"}
    assert {"app.kubernetes.io/name": "prometheus"} in [p["podSelector"]["matchLabels"]
                                                        for p in peers]
