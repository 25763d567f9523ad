"""SASL/SCRAM principals and ACLs on a real broker (SASL_SSL listener).

Solingen's Meldebehörde may write its inbound topic and read its outbound
topics; Wuppertal's topics are closed to it, and the broker says so with
authorization errors. The hub's principal does its part of the flow.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.errors import (
    GroupAuthorizationFailedError,
    KafkaError,
    KafkaTimeoutError,
    TopicAuthorizationFailedError,
    for_code,
)
from security_fixtures import SecuredBroker

from hub.core.region import Region
from hub.kafka.config import admin_config, consumer_config, producer_config
from hub.kafka.topics import TopicNames
from hub.settings import Settings
from hub.tools.acl import AclBinding, apply_acls, plan_acls, upsert_scram_users

pytestmark = pytest.mark.kafka

SOLINGEN = "solingen.meldebehoerde"
WUPPERTAL = "wuppertal.meldebehoerde"
HUB = "xoev-hub"
OPS = "xoev-ops"


@dataclass(frozen=True)
class World:
    broker: SecuredBroker
    topics: TopicNames
    passwords: dict[str, str]
    prefix: str

    def settings(self, user: str) -> Settings:
        return self.broker.settings(user, self.passwords[user], topic_prefix=self.prefix)


@pytest.fixture(scope="module")
def world(secured_broker: SecuredBroker) -> Iterator[World]:
    prefix = f"t{uuid.uuid4().hex[:8]}."
    topics = TopicNames(prefix)
    passwords = {name: secrets.token_urlsafe(12) for name in (SOLINGEN, WUPPERTAL, HUB, OPS)}
    admin = KafkaAdminClient(**admin_config(secured_broker.admin_settings()))
    try:
        upsert_scram_users(admin, passwords)
        names = [
            name
            for authority in (SOLINGEN, WUPPERTAL)
            for name in (topics.inbound(authority), topics.out_xml(authority),
                         topics.out_avro(authority))
        ] + [topics.audit, topics.deadletter, topics.schemas]
        admin.create_topics({n: {"num_partitions": 1, "replication_factor": 1} for n in names})
    finally:
        admin.close()
    yield World(secured_broker, topics, passwords, prefix)


@pytest.fixture(scope="module")
def plan_applied(world: World) -> tuple[int, int]:
    """Apply the region's ACLs twice; return how many were created each time."""
    settings = world.settings(HUB)
    plan = plan_acls(Region.load(settings.region_file), settings, f"User:{HUB}", f"User:{OPS}")
    admin = KafkaAdminClient(**admin_config(world.broker.admin_settings()))
    try:
        first = apply_acls(admin, plan)
        second = apply_acls(admin, plan)
    finally:
        admin.close()
    assert first.present == 0 and len(first.created) == len(plan)
    return len(first.created), len(second.created)


def _produce(settings: Settings, topic: str, value: bytes) -> None:
    producer = KafkaProducer(**producer_config(settings), acks="all", max_block_ms=10000)
    try:
        producer.send(topic, value=value).get(timeout=15)
    finally:
        producer.close(timeout=5)


def _consume(
    settings: Settings, topic: str, group: str, expect: int = 1, timeout_ms: int = 10000
) -> list[bytes]:
    consumer = KafkaConsumer(
        topic, **consumer_config(settings), group_id=group,
        auto_offset_reset="earliest", consumer_timeout_ms=timeout_ms,
    )
    try:
        got: list[bytes] = []
        for record in consumer:
            got.append(record.value)
            if len(got) >= expect:
                break
        consumer.commit()
        return got
    finally:
        consumer.close()


def test_apply_acls_is_idempotent(plan_applied: tuple[int, int]) -> None:
    first, second = plan_applied
    assert first > 0
    assert second == 0


def test_apply_acls_leaves_bindings_outside_the_plan_alone(
    world: World, plan_applied: object
) -> None:
    """docs/security.md: revoking is a deliberate act, applying the plan never does it."""
    settings = world.settings(HUB)
    plan = plan_acls(Region.load(settings.region_file), settings, f"User:{HUB}", f"User:{OPS}")
    outside = AclBinding(f"User:outsider-{uuid.uuid4().hex[:6]}", "TOPIC",
                         f"{world.prefix}outside", "LITERAL", "READ")
    assert outside not in plan
    admin = KafkaAdminClient(**admin_config(world.broker.admin_settings()))
    try:
        assert len(apply_acls(admin, [outside]).created) == 1
        again = apply_acls(admin, plan)
        kept = apply_acls(admin, [outside])
    finally:
        admin.close()
    assert again.created == () and again.present == len(plan)
    assert kept.created == () and kept.present == 1  # still there after the plan ran


def test_the_flow_works_for_the_right_principals(world: World, plan_applied: object) -> None:
    topics, p = world.topics, world.prefix
    solingen, hub = world.settings(SOLINGEN), world.settings(HUB)
    _produce(solingen, topics.inbound(SOLINGEN), b"<nachricht id='1'/>")
    group = hub.consumer_group
    assert _consume(hub, topics.inbound(SOLINGEN), group) == [b"<nachricht id='1'/>"]
    _produce(hub, topics.out_xml(SOLINGEN), b"<routed/>")
    _produce(hub, topics.out_xml(WUPPERTAL), b"<for-wuppertal/>")
    _produce(hub, topics.audit, b"audit")
    _produce(hub, topics.deadletter, b"dead")
    assert _consume(solingen, topics.out_xml(SOLINGEN), f"{p}{SOLINGEN}.fachverfahren") == [
        b"<routed/>"
    ]
    ops = world.settings(OPS)
    assert _consume(ops, topics.deadletter, f"{p}{OPS}.dlq") == [b"dead"]
    # the hub publishes Avro writer schemas; every authority may read them
    _produce(hub, topics.schemas, b'{"type": "record"}')
    assert _consume(solingen, topics.schemas, f"{p}{SOLINGEN}.schemas") == [
        b'{"type": "record"}'
    ]


def test_solingen_cannot_write_wuppertals_inbound(world: World, plan_applied: object) -> None:
    with pytest.raises(TopicAuthorizationFailedError):
        _produce(world.settings(SOLINGEN), world.topics.inbound(WUPPERTAL), b"<spoof/>")


def _fetch_directly(settings: Settings, topic: str) -> list[bytes]:
    """Read partition 0 without a group (the way to try reading a foreign topic)."""
    consumer = KafkaConsumer(**consumer_config(settings), group_id=None,
                             enable_auto_commit=False)
    try:
        consumer.assign([TopicPartition(topic, 0)])
        consumer.seek_to_beginning()
        got: list[bytes] = []
        for _ in range(6):
            for records in consumer.poll(timeout_ms=500).values():
                got += [r.value for r in records]
        return got
    finally:
        consumer.close()


def _metadata_error(settings: Settings, topic: str) -> str:
    """The broker's answer when ``settings``' principal asks about ``topic``."""
    admin = KafkaAdminClient(**admin_config(settings))
    try:
        described = admin.describe_topics([topic])
    except KafkaError as exc:
        return type(exc).__name__
    finally:
        admin.close()
    return for_code(described[0]["error_code"]).__name__


def test_solingen_cannot_read_wuppertals_outbound(world: World, plan_applied: object) -> None:
    solingen, hub = world.settings(SOLINGEN), world.settings(HUB)
    for topic in (world.topics.out_xml(WUPPERTAL), world.topics.out_avro(WUPPERTAL)):
        _produce(hub, topic, b"<nur-fuer-wuppertal/>")
        assert _consume(world.broker.admin_settings(), topic, "admin-check") != []
        assert _metadata_error(solingen, topic) == "TopicAuthorizationFailedError"
        # kafka-python gets no leader for a topic it may not see, so it fetches nothing
        assert _fetch_directly(solingen, topic) == []
        assert _consume(solingen, topic, f"{world.prefix}{SOLINGEN}.spy", timeout_ms=2000) == []
    # and the same principal does see its own topic
    assert _metadata_error(solingen, world.topics.out_xml(SOLINGEN)) == "NoError"


def test_solingen_cannot_read_audit_or_its_own_inbound(world: World, plan_applied: object) -> None:
    for topic in (world.topics.audit, world.topics.deadletter):
        assert _metadata_error(world.settings(SOLINGEN), topic) == "TopicAuthorizationFailedError"
    # its inbound topic: it may describe it (to produce) but not read it
    inbound = world.topics.inbound(SOLINGEN)
    assert _metadata_error(world.settings(SOLINGEN), inbound) == "NoError"
    with pytest.raises(TopicAuthorizationFailedError):
        _fetch_directly(world.settings(SOLINGEN), inbound)


def test_solingen_cannot_use_another_authoritys_group(world: World, plan_applied: object) -> None:
    with pytest.raises(GroupAuthorizationFailedError):
        _consume(world.settings(SOLINGEN), world.topics.out_xml(SOLINGEN),
                 f"{world.prefix}{WUPPERTAL}.fachverfahren")


def test_hub_cannot_write_inbound(world: World, plan_applied: object) -> None:
    with pytest.raises(TopicAuthorizationFailedError):
        _produce(world.settings(HUB), world.topics.inbound(WUPPERTAL), b"<forged/>")


def test_wrong_password_is_refused(world: World) -> None:
    logs = world.broker.broker.node.directory / "logs"

    def failures() -> int:
        return sum(
            path.read_text(errors="replace").count("due to invalid credentials")
            for path in logs.glob("*.log")
        )

    before = failures()
    wrong = world.broker.settings(SOLINGEN, "not-the-password")
    # kafka-python sees only a closed connection; the broker logs why it closed it
    with pytest.raises(KafkaTimeoutError, match="Unable to bootstrap"):
        KafkaAdminClient(**admin_config(wrong), bootstrap_timeout_ms=3000).close()
    assert failures() > before
