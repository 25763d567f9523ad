"""docs/security.md, "Principals and ACLs": the topics of the service portal and of
the mobility statistics in the plan. A deciding authority reads only its own
application topic and writes only its own notices topic; the hub writes applications
and status, reads notices and writes the statistics; no authority touches another's
portal topics, the status topic or the statistics.
"""

from __future__ import annotations

import pytest

from hub.core.region import Region
from hub.kafka.topics import TopicNames
from hub.portal.catalog import Catalogue
from hub.settings import Settings, load_settings
from hub.tools.acl import AclBinding, allowed, authority_principal, plan_acls

HUB, OPS = "User:xoev-hub", "User:xoev-ops"


@pytest.fixture(params=["", "t1234."], ids=["no-prefix", "prefix"])
def settings(request: pytest.FixtureRequest) -> Settings:
    return load_settings(topic_prefix=request.param)


def test_portal_and_statistics_topics_in_the_plan(settings: Settings) -> None:
    region = Region.load(settings.region_file)
    assert region.services_file is not None
    deciding = [a.id for a in Catalogue.load(region.services_file, region).deciding_authorities()]
    assert len(deciding) >= 2
    plan: list[AclBinding] = plan_acls(region, settings, HUB, OPS)
    topics = TopicNames(settings.topic_prefix)

    for topic in (topics.status_applications, topics.stats_mobility):
        assert allowed(plan, HUB, "TOPIC", topic, "WRITE")
    for authority in deciding:
        me = authority_principal(authority)
        assert allowed(plan, me, "TOPIC", topics.applications(authority), "READ")
        assert not allowed(plan, me, "TOPIC", topics.applications(authority), "WRITE")
        assert allowed(plan, me, "TOPIC", topics.notices(authority), "WRITE")
        assert not allowed(plan, me, "TOPIC", topics.notices(authority), "READ")
        assert allowed(plan, HUB, "TOPIC", topics.applications(authority), "WRITE")
        assert allowed(plan, HUB, "TOPIC", topics.notices(authority), "READ")
        assert not allowed(plan, HUB, "TOPIC", topics.notices(authority), "WRITE")
        for other in deciding:
            if other != authority:
                assert not allowed(plan, me, "TOPIC", topics.applications(other), "READ")
                assert not allowed(plan, me, "TOPIC", topics.notices(other), "WRITE")
    for authority in region.authorities:
        me = authority_principal(authority)
        for topic in (topics.status_applications, topics.stats_mobility):
            for operation in ("READ", "WRITE"):
                assert not allowed(plan, me, "TOPIC", topic, operation), (authority, topic)
