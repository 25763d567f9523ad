"""The ACL plan without a broker: who may do what, and nothing more."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pytest

from hub.core.region import Region
from hub.errors import ConfigError
from hub.kafka.topics import TopicNames
from hub.settings import Settings
from hub.tools.acl import AclBinding, HasAuthorities, allowed, authority_principal, plan_acls

HUB = "User:xoev-hub"
OPS = "User:xoev-ops"
# a made-up region where one id is a prefix of another id's topic names
PREFIX_IDS = (
    "wuppertal.meldebehoerde",
    "wuppertal.meldebehoerde-nord",
    "solingen.meldebehoerde",
    "solingen.standesamt",
    "remscheid.auslaenderbehoerde",
)


@dataclass
class StandInRegion:
    """The part of hub.core.region.Region the plan reads (authorities by id)."""

    ids: tuple[str, ...]
    authorities: Mapping[str, object] = field(init=False)

    def __post_init__(self) -> None:
        self.authorities = {i: object() for i in self.ids}


@pytest.fixture(params=["", "t1234."], ids=["no-prefix", "prefix"])
def settings(request: pytest.FixtureRequest) -> Settings:
    return Settings(topic_prefix=request.param)


@pytest.fixture(params=["default-region", "prefix-ids"])
def region(request: pytest.FixtureRequest, settings: Settings) -> HasAuthorities:
    if request.param == "default-region":
        return Region.load(settings.region_file)
    return StandInRegion(PREFIX_IDS)


@pytest.fixture
def ids(region: HasAuthorities) -> list[str]:
    return sorted(region.authorities)


@pytest.fixture
def plan(region: HasAuthorities, settings: Settings) -> list[AclBinding]:
    return plan_acls(region, settings, HUB, OPS)


def test_default_region_has_fifteen_authorities(settings: Settings) -> None:
    authorities = Region.load(settings.region_file).authorities
    assert len(authorities) == 18
    assert {"solingen.registratur", "wuppertal.archiv", "remscheid.jugendamt"} <= set(authorities)


def test_each_authority_writes_only_its_own_inbound(
    plan: list[AclBinding], settings: Settings, ids: list[str]
) -> None:
    topics = TopicNames(settings.topic_prefix)
    for me in ids:
        user = authority_principal(me)
        for other in ids:
            assert allowed(plan, user, "TOPIC", topics.inbound(other), "WRITE") is (me == other)
            assert not allowed(plan, user, "TOPIC", topics.inbound(other), "READ")


def test_each_authority_reads_only_its_own_outbound(
    plan: list[AclBinding], settings: Settings, ids: list[str]
) -> None:
    topics = TopicNames(settings.topic_prefix)
    for me in ids:
        user = authority_principal(me)
        for other in ids:
            for topic in (topics.out_xml(other), topics.out_avro(other)):
                assert allowed(plan, user, "TOPIC", topic, "READ") is (me == other), (me, topic)
                assert not allowed(plan, user, "TOPIC", topic, "WRITE")
        for topic in (topics.audit, topics.deadletter, topics.external):
            assert not allowed(plan, user, "TOPIC", topic, "READ")
            assert not allowed(plan, user, "TOPIC", topic, "WRITE")
            assert not allowed(plan, user, "TOPIC", topic, "DESCRIBE")
        # the writer schemas of its Avro events: read, never write
        assert allowed(plan, user, "TOPIC", topics.schemas, "READ")
        assert not allowed(plan, user, "TOPIC", topics.schemas, "WRITE")


def test_authority_topic_rules_are_literal(plan: list[AclBinding]) -> None:
    for binding in plan:
        if binding.principal != HUB and binding.resource_type == "TOPIC":
            assert binding.pattern == "LITERAL", binding


def test_authority_groups_are_their_own(settings: Settings) -> None:
    plan = plan_acls(StandInRegion(PREFIX_IDS), settings, HUB, OPS)
    p = settings.topic_prefix
    wuppertal = authority_principal("wuppertal.meldebehoerde")
    assert allowed(plan, wuppertal, "GROUP", f"{p}wuppertal.meldebehoerde.fachverfahren", "READ")
    assert not allowed(plan, wuppertal, "GROUP", f"{p}wuppertal.meldebehoerde-nord.x", "READ")
    assert not allowed(plan, wuppertal, "GROUP", f"{p}solingen.meldebehoerde.x", "READ")
    assert not allowed(plan, wuppertal, "GROUP", "xoev-hub", "READ")
    nord = authority_principal("wuppertal.meldebehoerde-nord")
    assert not allowed(plan, nord, "GROUP", f"{p}wuppertal.meldebehoerde.x", "READ")


def test_hub_does_its_part(plan: list[AclBinding], settings: Settings, ids: list[str]) -> None:
    topics = TopicNames(settings.topic_prefix)
    for authority in ids:
        assert allowed(plan, HUB, "TOPIC", topics.inbound(authority), "READ")
        assert not allowed(plan, HUB, "TOPIC", topics.inbound(authority), "WRITE")
        assert allowed(plan, HUB, "TOPIC", topics.out_xml(authority), "WRITE")
        assert allowed(plan, HUB, "TOPIC", topics.out_avro(authority), "WRITE")
    for topic in (topics.audit, topics.deadletter, topics.external, topics.schemas):
        assert allowed(plan, HUB, "TOPIC", topic, "WRITE")
    group = settings.consumer_group  # the Faust app id, never prefixed
    assert allowed(plan, HUB, "GROUP", group, "READ")
    assert allowed(plan, HUB, "TRANSACTIONAL_ID", f"{group}-0", "WRITE")
    assert allowed(plan, HUB, "TOPIC", f"{group}-dedupe-changelog", "CREATE")
    assert allowed(plan, HUB, "CLUSTER", "kafka-cluster", "IDEMPOTENT_WRITE")
    assert not allowed(plan, HUB, "CLUSTER", "kafka-cluster", "ALTER")


def test_operators_read_audit_and_dead_letters_only(
    plan: list[AclBinding], settings: Settings, ids: list[str]
) -> None:
    topics = TopicNames(settings.topic_prefix)
    assert allowed(plan, OPS, "TOPIC", topics.audit, "READ")
    assert allowed(plan, OPS, "TOPIC", topics.deadletter, "READ")
    assert not allowed(plan, OPS, "TOPIC", topics.deadletter, "WRITE")
    for authority in ids:
        assert not allowed(plan, OPS, "TOPIC", topics.out_xml(authority), "READ")
        assert not allowed(plan, OPS, "TOPIC", topics.inbound(authority), "READ")


def test_plan_is_stable_and_free_of_duplicates(settings: Settings) -> None:
    first = plan_acls(StandInRegion(PREFIX_IDS), settings, HUB, OPS)
    again = plan_acls(StandInRegion(tuple(reversed(PREFIX_IDS))), settings, HUB, OPS)
    assert first == again == sorted(set(first))


def test_principals_are_checked(settings: Settings) -> None:
    with pytest.raises(ConfigError, match="User:<name>"):
        plan_acls(StandInRegion(PREFIX_IDS), settings, "xoev-hub", OPS)
    with pytest.raises(ConfigError, match="collides"):
        plan_acls(StandInRegion(PREFIX_IDS), settings, "User:solingen.meldebehoerde", OPS)


def test_prefixed_topic_rule_would_have_leaked() -> None:
    """Why the plan uses LITERAL topic rules: the prefix of one id matches another."""
    naive = AclBinding("User:wuppertal.meldebehoerde", "TOPIC",
                       "xoev.out.wuppertal.meldebehoerde", "PREFIXED", "READ")
    assert allowed([naive], naive.principal, "TOPIC",
                   "xoev.out.wuppertal.meldebehoerde-nord.xml", "READ")


def test_the_osci_gateway_reads_only_the_external_hand_over(
    region: HasAuthorities, settings: Settings
) -> None:
    gateway = "User:xoev-osci-gateway"
    plan = plan_acls(region, settings, HUB, OPS, gateway_principal=gateway)
    topics = TopicNames(settings.topic_prefix)
    assert allowed(plan, gateway, "TOPIC", topics.external, "READ")
    group = f"{settings.topic_prefix}xoev-osci-gateway.handover"
    assert allowed(plan, gateway, "GROUP", group, "READ")
    others = [topics.audit, topics.deadletter, topics.schemas]
    for authority_id in sorted(region.authorities):
        others += [topics.inbound(authority_id), topics.out_xml(authority_id)]
    for name in others:
        for operation in ("READ", "WRITE"):
            assert not allowed(plan, gateway, "TOPIC", name, operation), (name, operation)
    assert not allowed(plan, gateway, "TOPIC", topics.external, "WRITE")
    # without a gateway principal, nobody but the hub touches the external topic
    assert plan_acls(region, settings, HUB, OPS) == [b for b in plan if b.principal != gateway]
