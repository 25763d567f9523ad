"""The contract topics of a region and an idempotent ``apply`` that creates them.

:func:`contract_topics` lists every topic the hub needs with its partitions,
replication factor and configs; :func:`apply_topics` makes the cluster match:
it creates what is missing, sets configs that drifted (incremental alter, only
the keys listed here), adds partitions when the settings ask for more (never
removes any: that would reshuffle keys and lose data; it reports instead), and
reports replication factors it cannot change. A second run changes nothing.

Retention (see docs/routing.md, "Topics"):

=====================  ==========  ==================================================
topic                  retention   why
=====================  ==========  ==================================================
xoev.in.<id>           7 days      the hub consumes within seconds; room for outages
xoev.out.<id>.xml      30 days     city systems may be down over holidays
xoev.out.<id>.avro     30 days     same
xoev.out.external      30 days     the OSCI/XTA gateway's backlog
xoev.deadletter        90 days     time to investigate and replay
xoev.audit             400 days    BMG § 40: transmission logs kept >= 12 months
xoev.schemas           compacted   the latest schema per fingerprint, kept forever
xoev.stats.mobility    compacted   the latest publication of each window and cell
xoev.applications.<id> 30 days     the portal's applications; authorities read them
xoev.status.applications compacted the latest state of every portal application
xoev.notices.<id>      7 days      notices an authority writes for its applicants
<group>-portal-pending compacted   forms waiting for their payment (tombstoned after)
=====================  ==========  ==================================================
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from hub.errors import ConfigError, TransientError
from hub.kafka.config import admin_config, max_request_bytes, schema_topic_bytes
from hub.kafka.topics import TopicNames, exchange_topic_name, moves_topic_name, pending_topic_name

if TYPE_CHECKING:
    from hub.core.region import Region
    from hub.settings import Settings

__all__ = [
    "RETENTION_DAYS",
    "ApplyReport",
    "TopicOutcome",
    "TopicSpec",
    "apply_topics",
    "contract_topics",
]

DAY_MS = 24 * 60 * 60 * 1000
#: Retention per topic role, in days (the table in the module docstring).
RETENTION_DAYS: Mapping[str, int] = {
    "inbound": 7,
    "out": 30,
    "external": 30,
    "deadletter": 90,
    "audit": 400,
}
#: Kafka's limit on topic name length.
MAX_TOPIC_NAME = 249

Action = Literal["created", "existing", "updated"]


@dataclass(frozen=True)
class TopicSpec:
    """A topic as the hub wants it."""

    name: str
    partitions: int
    replication_factor: int
    configs: Mapping[str, str]
    purpose: str = ""


@dataclass(frozen=True)
class TopicOutcome:
    """What ``apply`` did (or, in a dry run, would do) to one topic."""

    name: str
    action: Action
    changes: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class ApplyReport:
    """The outcome of :func:`apply_topics`, per topic, in contract order."""

    topics: tuple[TopicOutcome, ...]
    dry_run: bool = False
    #: Topics under the hub's names that the configuration no longer lists.
    unlisted: tuple[str, ...] = field(default=())

    def _names(self, action: Action) -> list[str]:
        return [t.name for t in self.topics if t.action == action]

    @property
    def created(self) -> list[str]:
        return self._names("created")

    @property
    def existing(self) -> list[str]:
        return self._names("existing")

    @property
    def updated(self) -> list[str]:
        return self._names("updated")

    @property
    def warnings(self) -> list[str]:
        found = [f"{t.name}: {w}" for t in self.topics for w in t.warnings]
        found += [
            f"{name}: not in the configuration (authority removed?); left as it is"
            for name in self.unlisted
        ]
        return found

    @property
    def changed(self) -> bool:
        return any(t.action != "existing" for t in self.topics)

    def summary(self) -> str:
        verb = "would be " if self.dry_run else ""
        text = (
            f"{len(self.topics)} topics: {len(self.created)} {verb}created, "
            f"{len(self.updated)} {verb}updated, {len(self.existing)} unchanged"
        )
        if not self.changed:
            text += " (nothing to do)"
        if self.warnings:
            text += f"; {len(self.warnings)} warning(s)"
        return text


def _base_configs(settings: Settings, retention_days: int | None) -> dict[str, str]:
    configs = {
        "cleanup.policy": "delete" if retention_days is not None else "compact",
        "max.message.bytes": str(max_request_bytes(settings)),
        "min.insync.replicas": "2" if settings.replication_factor >= 3 else "1",
    }
    if retention_days is not None:
        configs["retention.ms"] = str(retention_days * DAY_MS)
    return configs


def _portal_topics(settings: Settings, region: Region, spec: Any) -> list[TopicSpec]:
    """The service portal's topics (hub.portal): one application topic and one notices
    topic per authority that decides a service of the region's catalogue, the compacted
    status topic and the worker's internal compacted topic of pending forms."""
    from hub.portal.catalog import Catalogue

    catalogue = Catalogue.of_region(region)
    if catalogue is None:
        return []
    names = TopicNames(settings.topic_prefix)
    topics: list[TopicSpec] = [
        spec(names.applications(a.id), "out", f"service portal applications to {a.id}")
        for a in catalogue.deciding_authorities()
    ]
    topics += [
        spec(names.notices(a.id), "inbound", f"notices {a.id} writes for its applicants")
        for a in catalogue.deciding_authorities()
    ]
    topics.append(TopicSpec(names.status_applications, settings.topic_partitions,
                            settings.replication_factor, _base_configs(settings, None),
                            "every step of the portal's applications (compacted)"))
    topics.append(TopicSpec(pending_topic_name(settings.consumer_group),
                            settings.topic_partitions, settings.replication_factor,
                            _base_configs(settings, None),
                            "forms of portal applications waiting for their payment "
                            "(internal, compacted)"))
    return topics


def contract_topics(
    settings: Settings, region: Region, extra: Iterable[TopicSpec] = ()
) -> list[TopicSpec]:
    """Every topic the hub needs for this region, in a stable order.

    ``extra`` adds topics of other parts (e.g. the worker's own); names given
    there are used as they are (apply the prefix yourself).
    """
    names = TopicNames(settings.topic_prefix)
    partitions = settings.topic_partitions
    replicas = settings.replication_factor

    def spec(name: str, role: str, purpose: str) -> TopicSpec:
        return TopicSpec(name, partitions, replicas,
                         _base_configs(settings, RETENTION_DAYS[role]), purpose)

    topics: list[TopicSpec] = []
    for authority in region:
        topics.append(spec(names.inbound(authority.id), "inbound",
                           f"XÖV XML written by {authority.id}"))
        topics.append(spec(names.out_xml(authority.id), "out",
                           f"original XML delivered to {authority.id}"))
        topics.append(spec(names.out_avro(authority.id), "out",
                           f"Avro events delivered to {authority.id}"))
    topics.extend(_portal_topics(settings, region, spec))
    topics.append(spec(names.external, "external", "hand-over to the OSCI/XTA gateway"))
    topics.append(spec(names.deadletter, "deadletter", "messages that failed, with reason"))
    topics.append(spec(names.audit, "audit", "one record per delivery (BMG § 40)"))
    schema_configs = {
        **_base_configs(settings, None),
        "max.message.bytes": str(schema_topic_bytes(settings)),
    }
    topics.append(TopicSpec(names.schemas, 1, replicas, schema_configs,
                            "Avro schemas keyed by fingerprint (compacted)"))
    topics.append(TopicSpec(names.stats_mobility, 1, replicas, _base_configs(settings, None),
                            "k-anonymous mobility statistics per window (compacted)"))
    # the worker's internal input of the mobility agent: kept until its window is published
    moves_days = max(RETENTION_DAYS["inbound"], int(3 * settings.stats_window_seconds / 86400) + 1)
    topics.append(TopicSpec(moves_topic_name(settings.consumer_group), 1, replicas,
                            _base_configs(settings, moves_days),
                            "moves handed from ingest to the mobility agent (internal)"))
    # the worker's internal input of the exchanges agent (one record per xdomea message)
    topics.append(TopicSpec(exchange_topic_name(settings.consumer_group), 1, replicas,
                            _base_configs(settings, RETENTION_DAYS["inbound"]),
                            "xdomea exchange records handed from ingest to the exchanges "
                            "agent (internal)"))
    topics.extend(extra)
    seen: set[str] = set()
    for topic in topics:
        if topic.name in seen:
            raise ConfigError(f"topic {topic.name} is listed twice")
        seen.add(topic.name)
        if len(topic.name) > MAX_TOPIC_NAME:
            raise ConfigError(
                f"topic name {topic.name[:60]}... is longer than {MAX_TOPIC_NAME} characters "
                "(shorten HUB_TOPIC_PREFIX or the authority id)"
            )
    return topics


def apply_topics(
    settings: Settings,
    region: Region,
    *,
    extra: Sequence[TopicSpec] = (),
    dry_run: bool = False,
    connect_timeout: float = 15.0,
) -> ApplyReport:
    """Create or fix every contract topic; return what was done.

    Raises TransientError when the cluster is unreachable (after
    ``connect_timeout`` seconds) and ConfigError when
    the cluster refuses the topics as configured (e.g. replication factor
    above the number of brokers).
    """
    from kafka import KafkaAdminClient
    from kafka.errors import KafkaError

    wanted = contract_topics(settings, region, extra)
    try:
        admin = KafkaAdminClient(
            **admin_config(settings), bootstrap_timeout_ms=int(connect_timeout * 1000)
        )
    except KafkaError as exc:
        raise TransientError(f"cannot reach Kafka at {settings.bootstrap}: {exc}") from exc
    try:
        return _apply(admin, settings, wanted, dry_run)
    except KafkaError as exc:
        raise TransientError(f"Kafka at {settings.bootstrap} failed: {exc}") from exc
    finally:
        admin.close()


def _apply(admin: Any, settings: Settings, wanted: list[TopicSpec], dry_run: bool) -> ApplyReport:
    present = set(admin.list_topics())
    missing = [t for t in wanted if t.name not in present]
    outcomes: dict[str, TopicOutcome] = {}
    if missing and not dry_run:
        outcomes.update(_create(admin, missing))
    else:
        outcomes.update({t.name: TopicOutcome(t.name, "created") for t in missing})
    existing = [t for t in wanted if t.name not in outcomes]
    if existing:
        outcomes.update(_reconcile(admin, existing, dry_run))
    names = TopicNames(settings.topic_prefix)
    ours = (names.inbound(""), f"{settings.topic_prefix}xoev.out.", names.applications(""),
            names.notices(""))
    wanted_names = {t.name for t in wanted}
    unlisted = tuple(sorted(
        name for name in present
        if name.startswith(ours) and name not in wanted_names
    ))
    return ApplyReport(tuple(outcomes[t.name] for t in wanted), dry_run, unlisted)


def _create(admin: Any, missing: list[TopicSpec]) -> dict[str, TopicOutcome]:
    from kafka.errors import InvalidReplicationFactorError, TopicAlreadyExistsError, for_code

    request = {
        t.name: {
            "num_partitions": t.partitions,
            "replication_factor": t.replication_factor,
            "configs": dict(t.configs),
        }
        for t in missing
    }
    result = admin.create_topics(request, raise_errors=False)
    outcomes: dict[str, TopicOutcome] = {}
    raced: list[str] = []
    for topic in result["topics"]:
        error = for_code(topic["error_code"])
        if topic["error_code"] == 0:
            outcomes[topic["name"]] = TopicOutcome(topic["name"], "created")
        elif error is TopicAlreadyExistsError:
            raced.append(topic["name"])  # someone else created it meanwhile
        elif error is InvalidReplicationFactorError:
            raise ConfigError(
                f"cannot create {topic['name']}: {topic['error_message']} "
                "(lower HUB_REPLICATION_FACTOR or add brokers)"
            )
        else:
            raise ConfigError(
                f"cannot create {topic['name']}: {error.__name__}: {topic['error_message']}"
            )
    created = list(outcomes)
    if created:
        admin.wait_for_topics(created, timeout_ms=30000)
    if raced:
        by_name = {t.name: t for t in missing}
        outcomes.update(_reconcile(admin, [by_name[n] for n in raced], dry_run=False))
    return outcomes


def _reconcile(admin: Any, topics: list[TopicSpec], dry_run: bool) -> dict[str, TopicOutcome]:
    from kafka.admin import ConfigResource, ConfigResourceType

    described = {t["name"]: t for t in admin.describe_topics([t.name for t in topics])}
    resources = [
        ConfigResource(ConfigResourceType.TOPIC, t.name, configs=dict.fromkeys(t.configs))
        for t in topics
    ]
    current = admin.describe_configs(resources, config_filter="all")["topic"]
    outcomes: dict[str, TopicOutcome] = {}
    alters: list[Any] = []
    grow: dict[str, int] = {}
    for topic in topics:
        changes: list[str] = []
        warnings: list[str] = []
        actual = current.get(topic.name, {})
        drift = {
            key: value for key, value in topic.configs.items()
            if actual.get(key, {}).get("value") != value
        }
        for key, value in drift.items():
            changes.append(f"{key}: {actual.get(key, {}).get('value')} -> {value}")
        if drift:
            alters.append(ConfigResource(ConfigResourceType.TOPIC, topic.name, configs=drift))
        partitions = described[topic.name]["partitions"]
        count = len(partitions)
        if count < topic.partitions:
            changes.append(f"partitions: {count} -> {topic.partitions}")
            grow[topic.name] = topic.partitions
        elif count > topic.partitions:
            warnings.append(
                f"has {count} partitions, the settings ask for {topic.partitions}; "
                "partitions are never removed"
            )
        replicas = len(partitions[0]["replica_nodes"]) if partitions else 0
        if replicas != topic.replication_factor:
            warnings.append(
                f"has replication factor {replicas}, the settings ask for "
                f"{topic.replication_factor}; change it with a partition reassignment"
            )
        action: Action = "updated" if changes else "existing"
        outcomes[topic.name] = TopicOutcome(topic.name, action, tuple(changes), tuple(warnings))
    if not dry_run:
        if alters:
            result = admin.alter_configs(alters)
            failed = {k: v for k, v in result.get("topic", {}).items() if v != "OK"}
            if failed:
                raise ConfigError(f"cannot update topic configs: {failed}")
        if grow:
            admin.create_partitions(grow)
    return outcomes
