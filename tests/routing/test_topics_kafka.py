"""``topics apply`` against the real broker: creation, configs, idempotency, drift."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from kafka import KafkaAdminClient
from kafka.admin import ConfigResource, ConfigResourceType

from hub.core.region import Region
from hub.errors import ConfigError
from hub.kafka.topic_admin import DAY_MS, apply_topics, contract_topics
from hub.settings import Settings, load_settings

pytestmark = pytest.mark.kafka

#: contract topics of the bundled region: three per authority (eighteen, registraturen,
#: archive and Jugendämter included) plus out.external, deadletter, audit, schemas,
#: stats.mobility; the service portal's topics come on top (see the first test)
TOPICS = 3 * 18 + 5


def with_portal(region: Region) -> int:
    """TOPICS plus the service portal's prefixed topics: an application and a notices
    topic per deciding authority and the status topic (hub.portal, decisions 0016 and
    0019; its internal pending topic is named by the consumer group, unprefixed here)."""
    from hub.portal.catalog import Catalogue

    catalogue = Catalogue.of_region(region)
    assert catalogue is not None
    return TOPICS + 2 * len(catalogue.deciding_authorities()) + 1


def describe(settings: Settings, names: list[str]) -> tuple[dict[str, int], dict[str, dict]]:
    admin = KafkaAdminClient(bootstrap_servers=settings.bootstrap)
    try:
        partitions = {t["name"]: len(t["partitions"]) for t in admin.describe_topics(names)}
        configs = admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, n) for n in names], config_filter="all"
        )["topic"]
    finally:
        admin.close()
    values = {n: {k: v["value"] for k, v in c.items()} for n, c in configs.items()}
    return partitions, values


def eventually(check: Callable[[], bool], timeout: float = 15.0) -> None:
    """Wait until ``check()`` holds: a broker applies committed metadata asynchronously."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "the broker did not show the change in time"
        time.sleep(0.1)


def test_apply_creates_every_topic_with_its_configs_then_is_a_noop(
    kafka_settings: Settings, region: Region
) -> None:
    p = kafka_settings.topic_prefix
    report = apply_topics(kafka_settings, region)
    expected = {f"{p}xoev.in.{a}" for a in region.authorities}
    expected |= {f"{p}xoev.out.{a}.{f}" for a in region.authorities for f in ("xml", "avro")}
    expected |= {f"{p}xoev.{n}" for n in ("out.external", "deadletter", "audit", "schemas",
                                          "stats.mobility")}
    assert len(expected) == TOPICS
    # the service portal: an application topic per authority deciding a service, and
    # the compacted status topic (hub.portal, decision 0016)
    from hub.portal.catalog import Catalogue

    catalogue = Catalogue.of_region(region)
    assert catalogue is not None
    expected |= {f"{p}xoev.applications.{a.id}" for a in catalogue.deciding_authorities()}
    expected.add(f"{p}xoev.status.applications")
    # the authorities' notices to their applicants, the pending forms (decision 0019)
    expected |= {f"{p}xoev.notices.{a.id}" for a in catalogue.deciding_authorities()}
    if kafka_settings.consumer_group.startswith(p):
        expected.add(f"{kafka_settings.consumer_group}-portal-pending")
    # the mobility agent's moves topic carries no test prefix: created by the first test only
    created = [t for t in report.created if t.startswith(p)]
    assert set(created) == expected
    assert report.changed and not report.updated and not report.warnings

    partitions, configs = describe(kafka_settings, sorted(expected))
    for name in expected:
        config = configs[name]
        if name.endswith(("xoev.schemas", "xoev.stats.mobility")):
            assert partitions[name] == 1
            assert config["cleanup.policy"] == "compact"
            continue
        assert partitions[name] == kafka_settings.topic_partitions
        if name.endswith("xoev.status.applications"):
            assert config["cleanup.policy"] == "compact"
            continue
        assert config["cleanup.policy"] == "delete"
        assert int(config["max.message.bytes"]) > kafka_settings.max_message_bytes
        assert config["min.insync.replicas"] == "1"
    retention = {n: int(configs[n]["retention.ms"]) // DAY_MS for n in expected
                 if not n.endswith(("schemas", "stats.mobility", "status.applications"))}
    assert retention[f"{p}xoev.applications.solingen.meldebehoerde"] == 30
    assert retention[f"{p}xoev.audit"] == 400  # BMG § 40: >= 12 months
    assert retention[f"{p}xoev.deadletter"] == 90
    assert retention[f"{p}xoev.in.wuppertal.meldebehoerde"] == 7
    assert retention[f"{p}xoev.out.solingen.standesamt.avro"] == 30
    assert retention[f"{p}xoev.out.external"] == 30

    again = apply_topics(kafka_settings, region)
    assert not again.changed
    assert {t for t in again.existing if t.startswith(p)} == expected
    # the prefixed ones, the mobility agent's moves topic, the exchanges agent's input
    # and the portal's pending forms (the consumer group carries no test prefix)
    n = len(again.topics)
    assert n == len(expected) + 2 + (not kafka_settings.consumer_group.startswith(p))
    assert again.summary() == f"{n} topics: 0 created, 0 updated, {n} unchanged (nothing to do)"


def test_drifted_configs_are_fixed_and_reported(kafka_settings: Settings, region: Region) -> None:
    p = kafka_settings.topic_prefix
    apply_topics(kafka_settings, region)
    audit, inbound = f"{p}xoev.audit", f"{p}xoev.in.remscheid.standesamt"
    admin = KafkaAdminClient(bootstrap_servers=kafka_settings.bootstrap)
    try:
        admin.alter_configs([
            ConfigResource(ConfigResourceType.TOPIC, audit, configs={"retention.ms": "1000"}),
            ConfigResource(ConfigResourceType.TOPIC, inbound,
                           configs={"cleanup.policy": "compact", "max.message.bytes": "1000"}),
        ])
    finally:
        admin.close()
    eventually(lambda: describe(kafka_settings, [audit, inbound])[1][inbound]["max.message.bytes"]
               == "1000" and describe(kafka_settings, [audit])[1][audit]["retention.ms"] == "1000")
    dry = apply_topics(kafka_settings, region, dry_run=True)
    assert dry.updated == [inbound, audit] and dry.dry_run
    report = apply_topics(kafka_settings, region)
    assert report.updated == [inbound, audit]
    outcome = {t.name: t for t in report.topics}
    assert outcome[audit].changes == (f"retention.ms: 1000 -> {400 * DAY_MS}",)
    assert set(outcome[inbound].changes) == {
        "cleanup.policy: compact -> delete",
        f"max.message.bytes: 1000 -> {kafka_settings.max_message_bytes + 65536}",
    }
    eventually(lambda: describe(kafka_settings, [audit])[1][audit]["retention.ms"]
               == str(400 * DAY_MS))
    eventually(lambda: describe(kafka_settings, [inbound])[1][inbound]["cleanup.policy"]
               == "delete")
    assert not apply_topics(kafka_settings, region).changed


def test_partitions_grow_but_never_shrink(kafka_settings: Settings, region: Region) -> None:
    one = kafka_settings.model_copy(update={"topic_partitions": 1})
    assert len(apply_topics(one, region).created) == with_portal(region)
    two = kafka_settings.model_copy(update={"topic_partitions": 2})
    report = apply_topics(two, region)
    name = f"{kafka_settings.topic_prefix}xoev.in.wuppertal.meldebehoerde"
    outcome = {t.name: t for t in report.topics}
    assert outcome[name].action == "updated"
    assert outcome[name].changes == ("partitions: 1 -> 2",)
    # all but the one-partition xoev.schemas and xoev.stats.mobility
    assert len(report.updated) == with_portal(region) - 2
    eventually(lambda: describe(kafka_settings, [name])[0][name] == 2)
    shrink = apply_topics(one, region)
    assert not shrink.changed
    assert any(w.startswith(f"{name}: has 2 partitions, the settings ask for 1")
               for w in shrink.warnings)
    assert describe(kafka_settings, [name])[0][name] == 2


def test_dry_run_creates_nothing(kafka_settings: Settings, region: Region) -> None:
    report = apply_topics(kafka_settings, region, dry_run=True)
    assert len(report.created) == with_portal(region) and report.dry_run
    admin = KafkaAdminClient(bootstrap_servers=kafka_settings.bootstrap)
    try:
        assert not [t for t in admin.list_topics() if t.startswith(kafka_settings.topic_prefix)]
    finally:
        admin.close()


def test_replication_factor_above_brokers_is_a_clear_error(
    kafka_settings: Settings, region: Region
) -> None:
    three = kafka_settings.model_copy(update={"replication_factor": 3})
    with pytest.raises(ConfigError, match="HUB_REPLICATION_FACTOR"):
        apply_topics(three, region)


def test_removed_authority_is_reported_not_deleted(
    kafka_settings: Settings, region: Region, write: Callable[[str, str], Path]
) -> None:
    apply_topics(kafka_settings, region)
    from hub.settings import DEFAULT_CONFIG_DIR

    text = (DEFAULT_CONFIG_DIR / "region.toml").read_text(encoding="utf-8")
    cut = text.index('[[authority]]\nid = "remscheid.auslaenderbehoerde"')
    end = text.index("[[authority]]", cut + 1)  # only this authority's entry
    smaller = Region.load(write("region.toml", text[:cut] + text[end:]))
    report = apply_topics(kafka_settings, smaller)
    assert len(smaller.authorities) == len(region.authorities) - 1
    # its three topics and its service portal application and notices topics
    assert len(report.topics) == len(apply_topics(kafka_settings, region).topics) - 5
    assert not report.changed
    p = kafka_settings.topic_prefix
    assert report.unlisted == (
        f"{p}xoev.applications.remscheid.auslaenderbehoerde",
        f"{p}xoev.in.remscheid.auslaenderbehoerde",
        f"{p}xoev.notices.remscheid.auslaenderbehoerde",
        f"{p}xoev.out.remscheid.auslaenderbehoerde.avro",
        f"{p}xoev.out.remscheid.auslaenderbehoerde.xml",
    )
    assert len(report.warnings) == 5


def test_cli_apply_twice_and_a_fourth_city(
    hub_env: dict[str, str], kafka_settings: Settings, write: Callable[[str, str], Path]
) -> None:
    from hub.settings import DEFAULT_CONFIG_DIR

    text = (DEFAULT_CONFIG_DIR / "region.toml").read_text(encoding="utf-8") + """
[[authority]]
id = "velbert.meldebehoerde"
municipality = "Velbert"
ags = "5158032"
kind = "meldebehoerde"
dvdv_key = "ags:05158032"
"""
    env = dict(hub_env, HUB_REGION_FILE=str(write("region.toml", text)))
    first = subprocess.run([sys.executable, "-m", "hub", "topics", "apply"], env=env,
                           capture_output=True, text=True, timeout=120)
    assert first.returncode == 0, first.stderr
    p = kafka_settings.topic_prefix
    assert f"created   {p}xoev.in.velbert.meldebehoerde\n" in first.stdout
    n = len(contract_topics(kafka_settings, Region.load(Path(env["HUB_REGION_FILE"]))))
    summary = first.stdout.strip().splitlines()[-1]
    assert summary.startswith(f"{n} topics: ") and ", 0 updated, " in summary
    second = subprocess.run([sys.executable, "-m", "hub", "topics", "apply"], env=env,
                            capture_output=True, text=True, timeout=120)
    assert second.returncode == 0, second.stderr
    assert second.stdout == f"{n} topics: 0 created, 0 updated, {n} unchanged (nothing to do)\n"
    check = subprocess.run([sys.executable, "-m", "hub", "topics", "apply", "--dry-run"],
                           env=env, capture_output=True, text=True, timeout=120)
    assert check.returncode == 0, check.stdout


def test_unreachable_cluster_is_one_line() -> None:
    # in a subprocess: kafka-python leaves the sockets of a failed bootstrap to the GC
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    env["HUB_BOOTSTRAP_SERVERS"] = "127.0.0.1:1"
    result = subprocess.run([sys.executable, "-m", "hub", "topics", "apply", "--timeout", "1"],
                            env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert result.stderr.splitlines()[-1].startswith(
        "xoev-hub topics: error: cannot reach Kafka at 127.0.0.1:1"
    )


def test_contract_topics_is_pure_and_checks_name_length(region: Region) -> None:
    settings = load_settings(topic_prefix="p.")
    names = [t.name for t in contract_topics(settings, region)]
    assert names[:3] == ["p.xoev.in.wuppertal.meldebehoerde",
                         "p.xoev.out.wuppertal.meldebehoerde.xml",
                         "p.xoev.out.wuppertal.meldebehoerde.avro"]
    assert names[-7:] == ["p.xoev.out.external", "p.xoev.deadletter", "p.xoev.audit",
                          "p.xoev.schemas", "p.xoev.stats.mobility", "xoev-hub-mobility-moves",
                          "xoev-hub-exchange-messages"]
    long = load_settings(topic_prefix="x" * 230)
    with pytest.raises(ConfigError, match="longer than 249"):
        contract_topics(long, region)
    three = load_settings(replication_factor=3)
    assert all(t.configs["min.insync.replicas"] == "2" for t in contract_topics(three, region))
