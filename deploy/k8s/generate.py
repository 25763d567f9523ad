"""Write deploy/k8s/topics.yaml, users.yaml (from the region's authorities),
patches/worker-credentials.yaml (the KafkaUser secrets of the authorities whose adapters
run in the worker) and prometheusrule.yaml (from deploy/prometheus/alerts.yml).

    python deploy/k8s/generate.py [REGION_FILE]

The region defaults to hub/config/region.toml. Topics are exactly those of
``xoev-hub topics apply`` (hub.kafka.topic_admin.contract_topics, with 6 partitions and 3
replicas), ACLs exactly hub.tools.acl.plan_acls, so the cluster matches what the hub
sets up locally. Re-run after adding an authority; tests/ops/test_deploy.py
checks the files against the code.

Adapters act with their authority's principal (docs/decisions/0008): an adapter
entry of the region names ``kafka_credentials =
"file:/etc/xoev-hub/kafka-users/<user>/password"``, and patches/worker-credentials.yaml
(a patch of the worker Deployment) mounts exactly those users' secrets, written
by Strimzi's User Operator, there. Other references are refused here.
"""

from __future__ import annotations

import sys
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
sys.path.insert(0, str(REPO))

from hub.adapters.runtime import adapter_specs  # noqa: E402
from hub.core.region import Region  # noqa: E402
from hub.kafka.topic_admin import TopicSpec, contract_topics  # noqa: E402
from hub.settings import DEFAULT_CONFIG_DIR, Settings  # noqa: E402
from hub.tools.acl import AclBinding, plan_acls  # noqa: E402

CLUSTER = "xoev-kafka"
HUB_USER = "xoev-hub"
OPERATORS_USER = "xoev-ops"
GATEWAY_USER = "xoev-osci-gateway"  # reads xoev.out.external (hand-over to OSCI/XTA)
PARTITIONS = 6
#: Where the worker finds the KafkaUser secrets of its adapters' authorities.
CREDENTIALS_DIR = "/etc/xoev-hub/kafka-users"
REPLICAS = 3


def deployment_settings() -> Settings:
    """The settings the manifests describe: defaults (not this shell's HUB_* variables),
    no topic prefix, PARTITIONS partitions, REPLICAS replicas."""
    return Settings.model_construct(topic_partitions=PARTITIONS, replication_factor=REPLICAS)


def kafka_topic(spec: TopicSpec) -> dict[str, object]:
    return {
        "apiVersion": "kafka.strimzi.io/v1beta2",
        "kind": "KafkaTopic",
        "metadata": {"name": spec.name, "labels": {"strimzi.io/cluster": CLUSTER}},
        "spec": {"topicName": spec.name, "partitions": spec.partitions,
                 "replicas": spec.replication_factor, "config": dict(spec.configs)},
    }


#: Strimzi spellings of hub.tools.acl's Kafka names.
RESOURCE = {"TOPIC": "topic", "GROUP": "group", "CLUSTER": "cluster",
            "TRANSACTIONAL_ID": "transactionalId"}
PATTERN = {"LITERAL": "literal", "PREFIXED": "prefix"}


def operation_name(operation: str) -> str:
    """READ -> Read, DESCRIBE_CONFIGS -> DescribeConfigs, IDEMPOTENT_WRITE -> IdempotentWrite."""
    return "".join(part.capitalize() for part in operation.split("_"))


def user(name: str, bindings: list[AclBinding]) -> dict[str, object]:
    """A KafkaUser whose ACLs are exactly ``bindings`` (grouped per resource)."""
    grouped: dict[tuple[str, str, str], list[str]] = {}
    for b in bindings:
        grouped.setdefault((b.resource_type, b.name, b.pattern), []).append(
            operation_name(b.operation)
        )
    acls = []
    for (rtype, rname, pattern), operations in grouped.items():
        resource: dict[str, str] = {"type": RESOURCE[rtype]}
        if rtype != "CLUSTER":
            resource |= {"name": rname, "patternType": PATTERN[pattern]}
        acls.append({"resource": resource, "operations": sorted(operations), "host": "*"})
    return {
        "apiVersion": "kafka.strimzi.io/v1beta2",
        "kind": "KafkaUser",
        "metadata": {"name": name, "labels": {"strimzi.io/cluster": CLUSTER}},
        "spec": {"authentication": {"type": "scram-sha-512"},
                 "authorization": {"type": "simple", "acls": acls}},
    }


def adapter_users(region: Region) -> list[str]:
    """The Kafka users whose credentials the worker's adapters reference (sorted);
    SystemExit if a reference does not point into CREDENTIALS_DIR."""
    users: set[str] = set()
    for authority in region:
        for spec in adapter_specs(authority):
            ref = spec.kafka_credentials
            if ref is None:
                continue
            name = ref.username or authority.id
            wanted = f"file:{CREDENTIALS_DIR}/{name}/password"
            if ref.password != wanted:
                raise SystemExit(
                    f"authority {authority.id}: adapter {spec.instance}: deploy/k8s mounts "
                    f"the KafkaUser secret at {wanted!r}; reference that"
                )
            users.add(name)
    return sorted(users)


def worker_credentials(users: list[str]) -> dict[str, object]:
    """A patch of the worker Deployment mounting the users' secrets (key ``password``)."""
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "xoev-hub-worker"},
        "spec": {"template": {"spec": {
            "containers": [{"name": "worker", "volumeMounts": [
                {"name": "kafka-users", "mountPath": CREDENTIALS_DIR, "readOnly": True}]}],
            "volumes": [{"name": "kafka-users", "projected": {"sources": [
                {"secret": {"name": name, "items": [
                    {"key": "password", "path": f"{name}/password", "mode": 0o400}]}}
                for name in users
            ]}}],
        }}},
    }


def main(region_file: Path = DEFAULT_CONFIG_DIR / "region.toml", out: Path = HERE) -> None:
    settings = deployment_settings()
    region = Region.load(region_file)
    # exactly the topics `xoev-hub topics apply` creates
    topics = [kafka_topic(spec) for spec in contract_topics(settings, region)]
    # the same plan `hub.tools.acl` applies to a local cluster, in Strimzi's words
    plan = plan_acls(region, settings, f"User:{HUB_USER}", f"User:{OPERATORS_USER}",
                     f"User:{GATEWAY_USER}")
    principals = sorted({b.principal for b in plan})
    users = [
        user(p.removeprefix("User:"), [b for b in plan if b.principal == p]) for p in principals
    ]
    alerts = yaml.safe_load((REPO / "deploy" / "prometheus" / "alerts.yml").read_text())
    rule = {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {"name": "xoev-hub", "labels": {"app.kubernetes.io/name": "xoev-hub"}},
        "spec": alerts,
    }
    header = ("# Generated by deploy/k8s/generate.py from hub.kafka.topics and the region's "
              "authorities; do not edit.\n")
    patch = worker_credentials(adapter_users(region))
    for filename, docs in (("topics.yaml", topics), ("users.yaml", users),
                           ("patches/worker-credentials.yaml", [patch]),
                           ("prometheusrule.yaml", [rule])):
        (out / filename).parent.mkdir(parents=True, exist_ok=True)
        (out / filename).write_text(
            header + yaml.safe_dump_all(docs, sort_keys=False, allow_unicode=True)
        )


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_CONFIG_DIR / "region.toml")
