"""The pure ingest pipeline: everything the worker does to one message, minus Kafka.

::

    bytes ─ parse ─ identify ─ validate ─ read header ─ check author
          ─ [dedupe: the stream's table] ─ route ─ convert (Avro) ─▶ Accepted

Parse, identify, validate and read header are :func:`hub.core.validation.examine`, the
one path that ``validate``, ``convert`` and the HTTP pre-check take as well.
``Pipeline.inspect`` runs the steps before deduplication and ``Pipeline.finish``
the steps after it, so the worker can skip conversion for duplicates. Both raise
a :class:`hub.errors.MessageError` subclass with a stable code for anything that
must be dead-lettered; nothing else is expected to escape (the worker still
guards against the unexpected and dead-letters it as ``INTERNAL_ERROR``).

The pipeline is built once per process from the settings and is safe to call
from one event loop; it keeps no per-message state.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from time import perf_counter
from types import MappingProxyType

from lxml import etree

from hub.avro import ConversionPlan, EventCatalog
from hub.core.convert import envelope_for
from hub.core.filing import Filing, FilingPlan
from hub.core.header import Nachrichtenkopf
from hub.core.projection import ProjectionPlan, Projections
from hub.core.region import Region
from hub.core.routing import RouteDecision, Router, check_author
from hub.core.schemas import MessageType, SchemaPackage, SchemaRegistry
from hub.core.validation import examine
from hub.core.xmlsafe import Limits
from hub.errors import MessageError
from hub.settings import Settings


@dataclass(frozen=True)
class Inspected:
    """A message that parsed, is known, valid, and was sent by its author."""

    raw: bytes
    root: etree._Element
    package: SchemaPackage
    message: MessageType
    header: Nachrichtenkopf
    source: str  # authority id of the inbound topic
    #: seconds per step so far (parse, validate, ...), read-only: ``finish`` hands the
    #: whole set on in :attr:`Accepted.timings`
    timings: Mapping[str, float]

    @property
    def dedupe_id(self) -> str:
        """What names this message among its author's messages (the dedupe table key).

        The header's id when it names one message (g2g ``nachrichtenUUID``); when it
        names a process (xdomea ``ProzessID``, shared by a request and its answers
        and by e.g. 0501 and 0503 of one author), the id plus the message type of
        the root element (``<ProzessID>/0503``).
        """
        if self.header.id_scope == "process":
            return f"{self.header.message_id}/{self.message.code}"
        return self.header.message_id

    @cached_property
    def sha256(self) -> str:
        """Hex SHA-256 of the original bytes (dedupe and audit use it; computed once)."""
        return hashlib.sha256(self.raw).hexdigest()


@dataclass(frozen=True)
class Accepted:
    """A message ready for delivery: its Avro event and where it goes."""

    inspected: Inspected
    event: bytes  # Avro single-object encoding
    route: RouteDecision
    received: str
    plan: ConversionPlan  # wrote ``event``; its schema goes to xoev.schemas once
    #: (recipient, projection plan, projection event) for each recipient of
    #: ``route.projected``; empty, and never computed, for every other message
    projections: tuple[tuple[str, ProjectionPlan, bytes], ...] = ()
    #: the file-plan unit and retention of the message type (hub.core.filing); None:
    #: no rule maps the type (delivered all the same, counted as unfiled)
    filing: Filing | None = None
    #: seconds per step: the inspection's, then route and convert
    timings: Mapping[str, float] = field(default_factory=dict)

    @property
    def message_id(self) -> str:
        return self.inspected.header.message_id

    @property
    def sha256(self) -> str:
        return self.inspected.sha256


class Pipeline:
    """Parse, identify, validate, authorise, route and convert one message."""

    def __init__(
        self,
        registry: SchemaRegistry,
        catalog: EventCatalog,
        region: Region,
        router: Router,
        limits: Limits,
        projections: Projections | None = None,
        filing: FilingPlan | None = None,
    ) -> None:
        self.registry = registry
        self.catalog = catalog
        self.region = region
        self.router = router
        self.limits = limits
        self.projections = projections if projections is not None else Projections(region)
        #: None: no filing plan (tools and tests); every message is unfiled
        self.filing = filing

    @classmethod
    def from_settings(cls, settings: Settings) -> Pipeline:
        registry = SchemaRegistry.from_settings(settings)
        region = Region.load(settings.region_file)
        catalog = EventCatalog(registry)
        projections = Projections(region)
        # every projection path must resolve in every installed release (ConfigError)
        projections.check(registry.packages, catalog)
        # every rule's unit must be in the Aktenplan (ConfigError); each installed
        # message type is matched once here, so a message costs one dict hit
        filing = FilingPlan.from_settings(settings)
        filing.prime(registry.packages)
        return cls(
            registry=registry,
            catalog=catalog,
            region=region,
            router=Router.load(settings.routes_file, region),
            limits=Limits(max_bytes=settings.max_message_bytes, max_depth=settings.max_xml_depth),
            projections=projections,
            filing=filing,
        )

    def inspect(self, raw: bytes, source: str) -> Inspected:
        """Steps before deduplication. Raises MessageError."""
        timings: dict[str, float] = {}
        examined = examine(raw, self.registry, self.limits, timings=timings)
        root, package, message, header = examined.accepted()
        check_author(self.region, source, header.author_key)
        return Inspected(raw, root, package, message, header, source, MappingProxyType(timings))

    def finish(
        self, inspected: Inspected, *, trace_id: str, received: datetime | None = None
    ) -> Accepted:
        """Steps after deduplication: route and convert. Raises MessageError."""
        start = perf_counter()
        header = inspected.header
        received_at = (received or datetime.now(UTC)).isoformat(timespec="milliseconds")
        # route first: a misaddressed message is dead-lettered without converting it
        route = self.router.route(
            standard=inspected.package.standard,
            version=inspected.package.version,
            message_code=inspected.message.code,
            author_key=header.author_key,
            reader_keys=header.reader_keys,
        )
        routed = perf_counter()
        filing = (
            self.filing.lookup(inspected.package, inspected.message)
            if self.filing is not None else None
        )
        envelope = envelope_for(
            header, inspected.package, inspected.message, received=received_at, trace_id=trace_id,
            file_plan_unit=filing.unit if filing is not None else None,
            retention_years=filing.retention_years if filing is not None else None,
        )
        plan = self.catalog.plan(inspected.package, inspected.message)
        record = plan.to_record(inspected.root, envelope, validated=True)
        event = plan.encode(record)
        projections: tuple[tuple[str, ProjectionPlan, bytes], ...] = ()
        if route.projected:  # only then: no cost for any other message
            projections = self._project(inspected, route, plan, record)
        timings = {**inspected.timings, "route": routed - start, "convert": perf_counter() - routed}
        return Accepted(
            inspected=inspected,
            event=event,
            route=route,
            received=received_at,
            plan=plan,
            projections=projections,
            filing=filing,
            timings=MappingProxyType(timings),
        )

    def _project(
        self, inspected: Inspected, route: RouteDecision, plan: ConversionPlan,
        record: dict[str, object],
    ) -> tuple[tuple[str, ProjectionPlan, bytes], ...]:
        """The projection event of each projected recipient (one encoding per kind)."""
        package = inspected.package
        by_kind: dict[str, tuple[ProjectionPlan, bytes]] = {}
        result: list[tuple[str, ProjectionPlan, bytes]] = []
        for recipient in route.projected:
            kind = self.region.authorities[recipient].kind
            done = by_kind.get(kind)
            if done is None:
                projection = self.projections.plan(
                    kind, package.standard, package.version, inspected.message.code, plan
                )
                done = by_kind[kind] = (projection, projection.encode(record))
            result.append((recipient, *done))
        return tuple(result)

    def process(self, raw: bytes, source: str, *, trace_id: str = "") -> Accepted:
        """Both halves without deduplication (tools, fuzzing, benchmarks)."""
        return self.finish(self.inspect(raw, source), trace_id=trace_id)


def classify(exc: BaseException) -> tuple[str, str, str]:
    """(stage, code, detail) of any exception, for the dead-letter headers."""
    if isinstance(exc, MessageError):
        where = ""
        if exc.line is not None:
            where = f" at line {exc.line}" + (f", column {exc.column}" if exc.column else "")
        return exc.stage, exc.code, f"{exc.detail}{where}"[:1000]
    # the type only: the text of an unexpected error (a library's, say) may quote
    # values of the document, and details go into dead letters and logs
    return "internal", "INTERNAL_ERROR", f"unexpected {type(exc).__name__} (a bug to report)"
