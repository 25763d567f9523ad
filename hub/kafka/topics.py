"""Topic names: part of the public contract (see docs/architecture and README).

The header names are in :mod:`hub.kafka.headers`; the topics' specs and their
creation in :mod:`hub.kafka.topic_admin`.

| topic                          | key                 | value                     |
|--------------------------------|---------------------|---------------------------|
| ``xoev.in.<authority>``        | nachrichtenUUID/none| XÖV XML bytes             |
| ``xoev.out.<authority>.xml``   | nachrichtenUUID     | original XML bytes        |
| ``xoev.out.<authority>.avro``  | nachrichtenUUID     | Avro single-object bytes  |
| ``xoev.out.external``          | nachrichtenUUID     | original XML bytes        |
| ``xoev.deadletter``            | source offset id    | original bytes            |
| ``xoev.audit``                 | nachrichtenUUID     | Avro audit record         |
| ``xoev.schemas``               | schema fingerprint  | Avro schema JSON (compacted) |
| ``xoev.stats.mobility``        | window + cell       | Avro MobilityCount (compacted) |
| ``xoev.applications.<authority>`` | application id   | Avro application event (portal) |
| ``xoev.status.applications``   | application id      | Avro ApplicationStatus (compacted) |
| ``xoev.notices.<authority>``   | application id      | JSON notice from the authority (portal) |

``prefix`` (setting ``HUB_TOPIC_PREFIX``, empty by default) is prepended to every
name so that test runs or staging tenants can share one cluster.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TopicNames:
    """Builds contract topic names, optionally under a prefix."""

    prefix: str = ""

    def inbound(self, authority_id: str) -> str:
        return f"{self.prefix}xoev.in.{authority_id}"

    def out_xml(self, authority_id: str) -> str:
        return f"{self.prefix}xoev.out.{authority_id}.xml"

    def out_avro(self, authority_id: str) -> str:
        return f"{self.prefix}xoev.out.{authority_id}.avro"

    @property
    def external(self) -> str:
        return f"{self.prefix}xoev.out.external"

    @property
    def deadletter(self) -> str:
        return f"{self.prefix}xoev.deadletter"

    @property
    def audit(self) -> str:
        return f"{self.prefix}xoev.audit"

    @property
    def schemas(self) -> str:
        return f"{self.prefix}xoev.schemas"

    @property
    def stats_mobility(self) -> str:
        return f"{self.prefix}xoev.stats.mobility"

    def applications(self, authority_id: str) -> str:
        """The service portal's applications for an authority (hub.portal)."""
        return f"{self.prefix}xoev.applications.{authority_id}"

    @property
    def status_applications(self) -> str:
        """Every step of every portal application, latest per id kept (compacted)."""
        return f"{self.prefix}xoev.status.applications"

    def notices(self, authority_id: str) -> str:
        """Notices (decisions) an authority writes for the portal's applicants (hub.portal)."""
        return f"{self.prefix}xoev.notices.{authority_id}"

    def authority_of_notices(self, topic: str) -> str | None:
        """The authority id of a notices topic name, or None if it is not one."""
        head = f"{self.prefix}xoev.notices."
        return topic[len(head):] if topic.startswith(head) else None

    def authority_of_inbound(self, topic: str) -> str | None:
        """The authority id of an inbound topic name, or None if it is not one."""
        head = f"{self.prefix}xoev.in."
        return topic[len(head):] if topic.startswith(head) else None


# Internal topics of the worker's agents: Faust-internal names start with the app id
# (the consumer group), which the hub principal's ACL covers; no authority reads them.


def moves_topic_name(consumer_group: str) -> str:
    """The worker's internal topic of moves (Faust-internal names start with the app id:
    the hub principal's ACL covers them)."""
    return f"{consumer_group}-mobility-moves"


def exchange_topic_name(consumer_group: str) -> str:
    """The worker's internal topic of exchange records (Faust-internal names start
    with the app id, which the hub principal's ACL covers)."""
    return f"{consumer_group}-exchange-messages"


def pending_topic_name(consumer_group: str) -> str:
    """The worker's internal compacted topic of applications waiting for their payment
    (key: application id, value: the form data as JSON; tombstoned when released or
    rejected). Internal: no authority reads it."""
    return f"{consumer_group}-portal-pending"
