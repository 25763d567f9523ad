"""Topic names: part of the public contract (see docs/architecture and README).

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

#: Header names on hub output (contract).
H_MESSAGE_ID = "xoev-message-id"
H_STANDARD = "xoev-standard"
H_VERSION = "xoev-version"
H_MESSAGE_TYPE = "xoev-message-type"
H_AUTHOR = "xoev-author"
H_READER = "xoev-reader"
H_TRACEPARENT = "traceparent"
H_ERROR_STAGE = "xoev-error-stage"
H_ERROR_CODE = "xoev-error-code"
H_ERROR_DETAIL = "xoev-error-detail"
H_SOURCE_TOPIC = "xoev-source-topic"
H_SOURCE_PARTITION = "xoev-source-partition"
H_SOURCE_OFFSET = "xoev-source-offset"
H_REPLAY = "xoev-replay"
#: filing (hub.filing, decision 0015): the file-plan unit's Kennzeichen and its
#: retention (years or "unbefristet"); on every output of a filed message type
H_FILE_PLAN_UNIT = "xoev-file-plan-unit"
H_RETENTION_YEARS = "xoev-retention-years"


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
