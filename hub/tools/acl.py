"""Per-authority access control: which principal may do what on which topic.

Every authority authenticates as ``User:<authority id>`` (SASL/SCRAM-SHA-512) and
may only

* WRITE (and DESCRIBE) its own inbound topic ``xoev.in.<id>``;
* READ its own outbound topics ``xoev.out.<id>.xml`` and ``xoev.out.<id>.avro``;
* READ (join, commit) consumer groups whose names start with ``<id>.``.

Topic permissions are LITERAL: a prefixed pattern such as ``xoev.out.<id>`` would
also match the topics of an authority whose id extends ``<id>`` (``wuppertal.melde``
vs ``wuppertal.meldebehoerde``). The group prefix ends with a dot, and ids hold
exactly one dot, so ``<id>.`` never starts another authority's groups.

The hub's principal reads every inbound topic, writes every outbound topic, the
external hand-over, audit, dead-letter and schema topics, uses its own consumer
group and transactional ids (both named by ``HUB_CONSUMER_GROUP``, the Faust app
id, which carries no topic prefix) and owns the Faust-internal topics
``<group>-*``. It may CREATE the contract topics it uses (Faust declares topics;
on an existing topic that changes nothing) but never an authority's group.
The operators' principal reads audit and dead letters (``dlq list|show``) with
groups ``<operators>.*``; the OSCI/XTA gateway's principal, when one is named,
reads ``xoev.out.external`` with groups ``<gateway>.*``. Creating topics and ACLs
is an administrator's job (a super user), not the hub's.

:func:`plan_acls` is pure; :func:`apply_acls` creates what is missing through a
kafka-python admin client and can run any number of times. :func:`allowed`
evaluates a plan the way Kafka's StandardAuthorizer does (allow-only plans), so
the plan's properties are tested without a broker.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol

from hub.errors import ConfigError
from hub.kafka.topics import TopicNames

if TYPE_CHECKING:
    from hub.settings import Settings

__all__ = [
    "AclBinding",
    "ApplyResult",
    "allowed",
    "apply_acls",
    "authority_principal",
    "plan_acls",
    "upsert_scram_users",
]

ResourceType = Literal["TOPIC", "GROUP", "CLUSTER", "TRANSACTIONAL_ID"]
PatternType = Literal["LITERAL", "PREFIXED"]
Operation = Literal[
    "ALL", "READ", "WRITE", "CREATE", "DELETE", "ALTER", "DESCRIBE",
    "DESCRIBE_CONFIGS", "ALTER_CONFIGS", "IDEMPOTENT_WRITE",
]
CLUSTER_NAME = "kafka-cluster"

#: Operations that imply DESCRIBE (Kafka's rule for ALLOW bindings).
_IMPLY_DESCRIBE = {"READ", "WRITE", "DELETE", "ALTER"}


class HasAuthorities(Protocol):
    """What the plan needs of ``hub.core.region.Region``: the authorities by id."""

    @property
    def authorities(self) -> Mapping[str, Any]: ...


@dataclass(frozen=True, order=True)
class AclBinding:
    """One ALLOW rule: ``principal`` may ``operation`` on a resource (any host)."""

    principal: str  # "User:solingen.meldebehoerde"
    resource_type: ResourceType
    name: str
    pattern: PatternType
    operation: Operation

    def matches(self, resource_type: str, name: str) -> bool:
        if resource_type != self.resource_type:
            return False
        if self.pattern == "LITERAL":
            return name == self.name or self.name == "*"
        return name.startswith(self.name)

    def __str__(self) -> str:
        return (
            f"{self.principal} {self.operation} {self.resource_type}:"
            f"{self.name}{'*' if self.pattern == 'PREFIXED' else ''}"
        )


def authority_principal(authority_id: str) -> str:
    """The Kafka principal an authority authenticates as."""
    return f"User:{authority_id}"


def _principal(value: str) -> str:
    if not value.startswith("User:") or len(value) <= len("User:"):
        raise ConfigError(f"a principal looks like 'User:<name>', not {value!r}")
    return value


def plan_acls(
    region: HasAuthorities,
    settings: Settings,
    hub_principal: str,
    operators_principal: str,
    gateway_principal: str | None = None,
) -> list[AclBinding]:
    """Every ALLOW binding the region needs, sorted and without duplicates.

    ``gateway_principal`` (the OSCI/XTA gateway) may read ``xoev.out.external`` with
    groups ``<gateway>.*`` and nothing else."""
    hub, ops = _principal(hub_principal), _principal(operators_principal)
    gateway = _principal(gateway_principal) if gateway_principal else None
    topics = TopicNames(settings.topic_prefix)
    plan: set[AclBinding] = set()

    def allow(
        principal: str, rtype: ResourceType, name: str, pattern: PatternType, *ops_: Operation
    ) -> None:
        plan.update(AclBinding(principal, rtype, name, pattern, op) for op in ops_)

    for authority_id in sorted(region.authorities):
        if authority_id in {p.removeprefix("User:") for p in (hub, ops, gateway) if p}:
            raise ConfigError(f"authority id {authority_id!r} collides with a hub principal")
        user = authority_principal(authority_id)
        inbound = topics.inbound(authority_id)
        allow(user, "TOPIC", inbound, "LITERAL", "WRITE", "DESCRIBE")
        for out in (topics.out_xml(authority_id), topics.out_avro(authority_id)):
            allow(user, "TOPIC", out, "LITERAL", "READ", "DESCRIBE")
            allow(hub, "TOPIC", out, "LITERAL", "WRITE", "DESCRIBE")
        allow(user, "GROUP", f"{settings.topic_prefix}{authority_id}.", "PREFIXED", "READ")
        # the writer schemas of its Avro events (no personal data: schemas only)
        allow(user, "TOPIC", topics.schemas, "LITERAL", "READ", "DESCRIBE")
        allow(hub, "TOPIC", inbound, "LITERAL", "READ", "DESCRIBE")
        # Faust may declare the topics it uses; on existing topics that is a no-op
        for name in (inbound, *(topics.out_xml(authority_id), topics.out_avro(authority_id))):
            allow(hub, "TOPIC", name, "LITERAL", "CREATE", "DESCRIBE_CONFIGS")

    # xoev.stats.mobility: the mobility agent publishes there (and apply_topics
    # describes it at every worker start)
    for name in (topics.external, topics.audit, topics.deadletter, topics.schemas,
                 topics.stats_mobility):
        allow(hub, "TOPIC", name, "LITERAL", "WRITE", "READ", "DESCRIBE", "CREATE",
              "DESCRIBE_CONFIGS")
    # the service portal (hub.portal): the hub writes the applications and their status;
    # an authority deciding a service reads its application topic
    from hub.core.region import Region

    if isinstance(region, Region) and region.services_file is not None:
        from hub.portal.catalog import Catalogue

        allow(hub, "TOPIC", topics.status_applications, "LITERAL", "WRITE", "READ",
              "DESCRIBE", "CREATE", "DESCRIBE_CONFIGS")
        for deciding in Catalogue.load(region.services_file, region).deciding_authorities():
            name = topics.applications(deciding.id)
            allow(hub, "TOPIC", name, "LITERAL", "WRITE", "DESCRIBE", "CREATE",
                  "DESCRIBE_CONFIGS")
            allow(authority_principal(deciding.id), "TOPIC", name, "LITERAL", "READ", "DESCRIBE")
            # its notices (decisions) for the applicants: the authority writes, the hub reads
            notices = topics.notices(deciding.id)
            allow(hub, "TOPIC", notices, "LITERAL", "READ", "DESCRIBE", "CREATE",
                  "DESCRIBE_CONFIGS")
            allow(authority_principal(deciding.id), "TOPIC", notices, "LITERAL", "WRITE",
                  "DESCRIBE")
    # the Faust app id: consumer group, transactional ids and internal topics
    group = settings.consumer_group
    allow(hub, "GROUP", group, "PREFIXED", "READ", "DESCRIBE")
    # Faust's own topics (changelogs, repartitions) are "<app id>-..."
    allow(hub, "TOPIC", f"{group}-", "PREFIXED", "ALL")
    allow(hub, "TRANSACTIONAL_ID", group, "PREFIXED", "WRITE", "DESCRIBE")
    allow(hub, "CLUSTER", CLUSTER_NAME, "LITERAL", "IDEMPOTENT_WRITE", "DESCRIBE")

    for name in (topics.audit, topics.deadletter):
        allow(ops, "TOPIC", name, "LITERAL", "READ", "DESCRIBE")
    allow(ops, "GROUP", f"{settings.topic_prefix}{ops.removeprefix('User:')}.", "PREFIXED", "READ")
    if gateway is not None:
        allow(gateway, "TOPIC", topics.external, "LITERAL", "READ", "DESCRIBE")
        allow(gateway, "GROUP", f"{settings.topic_prefix}{gateway.removeprefix('User:')}.",
              "PREFIXED", "READ")
    return sorted(plan)


def allowed(
    bindings: Iterable[AclBinding], principal: str, resource_type: str, name: str, operation: str
) -> bool:
    """Whether an allow-only plan lets ``principal`` do ``operation`` on a resource."""
    for b in bindings:
        if b.principal != principal or not b.matches(resource_type, name):
            continue
        if b.operation in ("ALL", operation):
            return True
        if operation == "DESCRIBE" and b.operation in _IMPLY_DESCRIBE:
            return True
        if operation == "DESCRIBE_CONFIGS" and b.operation == "ALTER_CONFIGS":
            return True
    return False


@dataclass(frozen=True)
class ApplyResult:
    """What :func:`apply_acls` did."""

    created: tuple[AclBinding, ...]
    present: int  # bindings that already existed


def _to_kafka(binding: AclBinding) -> Any:
    from kafka.admin import (
        ACL,
        ACLOperation,
        ACLPermissionType,
        ACLResourcePatternType,
        ResourcePattern,
        ResourceType,
    )

    return ACL(
        principal=binding.principal,
        host="*",
        operation=ACLOperation[binding.operation],
        permission_type=ACLPermissionType.ALLOW,
        resource_pattern=ResourcePattern(
            ResourceType[binding.resource_type],
            binding.name,
            ACLResourcePatternType[binding.pattern],
        ),
    )


def _existing(admin: Any, principals: set[str]) -> set[AclBinding]:
    from kafka.admin import (
        ACLFilter,
        ACLOperation,
        ACLPermissionType,
        ACLResourcePatternType,
        ResourcePatternFilter,
        ResourceType,
    )

    found: set[AclBinding] = set()
    for principal in sorted(principals):
        acls, _ = admin.describe_acls(
            ACLFilter(
                principal=principal,
                host="*",
                operation=ACLOperation.ANY,
                permission_type=ACLPermissionType.ALLOW,
                resource_pattern=ResourcePatternFilter(
                    ResourceType.ANY, None, ACLResourcePatternType.ANY
                ),
            )
        )
        for acl in acls:
            pattern = acl.resource_pattern
            found.add(
                AclBinding(
                    principal=acl.principal,
                    resource_type=pattern.resource_type.name,
                    name=pattern.resource_name,
                    pattern=pattern.pattern_type.name,
                    operation=acl.operation.name,
                )
            )
    return found


def apply_acls(
    admin: Any, bindings: Sequence[AclBinding], visible_timeout: float = 15.0
) -> ApplyResult:
    """Create the bindings that the cluster lacks (``admin``: ``KafkaAdminClient``).

    Returns once the broker answers with every binding. Idempotent: a second run
    creates nothing. Bindings outside the plan are left
    alone (removing access is a deliberate, reviewed act). Raises ConfigError with
    the broker's reason when the cluster refuses (e.g. no authorizer configured,
    or the admin client is not a super user).
    """
    from kafka.errors import KafkaError

    wanted = set(bindings)
    try:
        present = _existing(admin, {b.principal for b in wanted}) & wanted
        missing = sorted(wanted - present)
        if missing:
            result = admin.create_acls([_to_kafka(b) for b in missing])
            if result["failed"]:
                reasons = sorted({type(e).__name__ if not isinstance(e, type) else e.__name__
                                  for e in result["failed"]})
                raise ConfigError(
                    f"the cluster refused {len(result['failed'])} of {len(missing)} ACLs: "
                    + ", ".join(reasons)
                )
        # the brokers' authorizers learn new ACLs from the metadata log a moment
        # after the controller accepted them: wait until they are in force
        deadline = time.monotonic() + visible_timeout
        while missing and not wanted <= _existing(admin, {b.principal for b in wanted}):
            if time.monotonic() > deadline:
                raise ConfigError(
                    f"ACLs created but not visible after {visible_timeout:.0f}s; run again"
                )
            time.sleep(0.2)
    except KafkaError as exc:
        raise ConfigError(f"cannot manage ACLs: {type(exc).__name__}: {exc}") from exc
    return ApplyResult(created=tuple(missing), present=len(present))


def upsert_scram_users(
    admin: Any, users: Mapping[str, str], mechanism: str = "SCRAM-SHA-512"
) -> None:
    """Create or update SCRAM credentials (name -> password) through the admin API."""
    from kafka.admin import UserScramCredentialUpsertion
    from kafka.errors import KafkaError

    try:
        result = admin.alter_user_scram_credentials(
            [UserScramCredentialUpsertion(name, mechanism, password)
             for name, password in sorted(users.items())]
        )
    except KafkaError as exc:
        raise ConfigError(f"cannot set SCRAM credentials: {type(exc).__name__}: {exc}") from exc
    failed = {user: error for user, error in result.items() if error}
    if failed:
        raise ConfigError(
            "SCRAM credentials refused for "
            + ", ".join(f"{user} ({error})" for user, error in sorted(failed.items()))
        )
