"""Fixtures for worker tests: a mixed regional stream with known expected outcomes."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from hub.core.region import Region
from hub.core.schemas import MessageType, SchemaPackage, SchemaRegistry
from hub.kafka.topics import TopicNames
from hub.settings import Settings, load_settings

from .harness import WorkerProcess, hub_env

XXE = b'<?xml version="1.0"?>\n<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>\n<r>&x;</r>'


def find(registry: SchemaRegistry, standard: str, code: str) -> tuple[SchemaPackage, MessageType]:
    # the newest release; of two packages for one namespace the installed one wins
    ranked = sorted(registry.packages, key=lambda p: (p.version, p.origin == "installed"))
    for package in reversed(ranked):
        if package.standard == standard:
            for message in package.messages.values():
                if message.code == code:
                    return package, message
    raise LookupError(f"{standard} {code} not installed")


@dataclass
class Scenario:
    """Messages to send and what must come out, per topic."""

    names: TopicNames
    sends: list[tuple[str, bytes | None, bytes]] = field(default_factory=list)
    expected: Counter[str] = field(default_factory=Counter)
    expected_dead_codes: Counter[str] = field(default_factory=Counter)
    delivered: int = 0
    duplicates: int = 0

    def deliver(
        self,
        topic: str,
        key: bytes | None,
        payload: bytes,
        readers: list[str],
        external: bool = False,
    ) -> None:
        self.sends.append((topic, key, payload))
        self.delivered += 1
        for reader in readers:
            self.expected[self.names.out_xml(reader)] += 1
            self.expected[self.names.out_avro(reader)] += 1
        if external:
            self.expected[self.names.external] += 1
        self.expected[self.names.audit] += 1

    def dead(self, topic: str, payload: bytes, code: str) -> None:
        self.sends.append((topic, None, payload))
        self.expected[self.names.deadletter] += 1
        self.expected_dead_codes[code] += 1

    def duplicate(self, topic: str, key: bytes | None, payload: bytes) -> None:
        self.sends.append((topic, key, payload))
        self.duplicates += 1

    @property
    def all_topics(self) -> list[str]:
        return sorted(
            set(self.expected) | {self.names.deadletter, self.names.external, self.names.audit}
        )


def mixed_scenario(settings: Settings, names: TopicNames, seed: int = 7) -> Scenario:
    """Valid traffic for all nine authorities plus every kind of bad message."""
    from hub.core.header import read_header
    from hub.core.xmlsafe import parse_xml
    from hub.tools.samples import generate

    region = Region.load(settings.region_file)
    registry = SchemaRegistry.from_settings(settings)
    by_kind: dict[str, list[str]] = {}
    for authority in sorted(region.authorities.values(), key=lambda a: a.id):
        by_kind.setdefault(authority.kind, []).append(authority.id)
    auth = region.authorities
    scenario = Scenario(names)
    n = seed

    def make(standard: str, code: str, author: str, reader_key: str) -> tuple[bytes, bytes]:
        nonlocal n
        n += 1
        package, message = find(registry, standard, code)
        payload = generate(
            package, message, seed=n, author_key=auth[author].dvdv_key, reader_key=reader_key
        )
        return payload, read_header(parse_xml(payload)).message_id.encode()

    def other(kind: str, than: str) -> str:
        return next(a for a in by_kind[kind] if auth[a].municipality != auth[than].municipality)

    def same(kind: str, as_: str) -> str:
        return next(a for a in by_kind[kind] if auth[a].municipality == auth[as_].municipality)

    for reader in sorted(auth):
        kind = auth[reader].kind
        if region.kinds[kind].projected:
            continue  # projections only (Jugendamt): tests/worker/test_projection_kafka.py
        if kind == "meldebehoerde":
            author = other("meldebehoerde", reader)
            payload, key = make("XMeld", "0201", author, auth[reader].dvdv_key)
        elif kind == "standesamt":
            author = other("standesamt", reader)
            payload, key = make("XPersonenstand", "035010", author, auth[reader].dvdv_key)
        else:
            author = same("meldebehoerde", reader)
            payload, key = make("XAuslaender", "030101", author, auth[reader].dvdv_key)
        scenario.deliver(names.inbound(author), key, payload, [reader])
    # a birth in one city's hospital for parents living in another, sent without a key
    sta = by_kind["standesamt"][0]
    mb = other("meldebehoerde", sta)
    payload, _ = make("XPersonenstand", "031010", sta, auth[mb].dvdv_key)
    scenario.deliver(names.inbound(sta), None, payload, [mb])
    # ... which the routes file also copies, as its projection, to recipients of a
    # kind limited to projections (the Jugendamt of mb's city): their .avro only
    from hub.core.routing import Router

    header = read_header(parse_xml(payload))
    route = Router.from_settings(settings, region).route(
        standard="XPersonenstand", version=find(registry, "XPersonenstand", "031010")[0].version,
        message_code="031010", author_key=header.author_key,
        reader_keys=header.reader_keys,
    )
    for projected in route.projected:
        scenario.expected[names.out_avro(projected)] += 1
    # readers outside the region: another city's Meldebehörde, a federal body
    mb0 = by_kind["meldebehoerde"][0]
    for external_key in ("ags:05158032", "dbs:490010010000"):
        payload, key = make("XMeld", "0201", mb0, external_key)
        scenario.deliver(names.inbound(mb0), key, payload, [], external=True)
    # the same message twice: counted once as a duplicate
    payload, key = make("XMeld", "0090", mb0, auth[other("meldebehoerde", mb0)].dvdv_key)
    scenario.deliver(names.inbound(mb0), key, payload, [other("meldebehoerde", mb0)])
    scenario.duplicate(names.inbound(mb0), key, payload)
    # spoofed: a Meldebehörde's message on another authority's inbound topic
    payload, _ = make("XMeld", "0201", mb0, auth[other("meldebehoerde", mb0)].dvdv_key)
    scenario.dead(names.inbound(by_kind["meldebehoerde"][1]), payload, "AUTHOR_MISMATCH")
    # misaddressed: reader key of an unknown prefix
    payload, _ = make("XMeld", "0201", mb0, "xyz:12345")
    scenario.dead(names.inbound(mb0), payload, "READER_UNKNOWN_PREFIX")
    # schema-invalid: the nachrichtenUUID loses its pattern
    payload, _ = make("XMeld", "0201", mb0, auth[other("meldebehoerde", mb0)].dvdv_key)
    scenario.dead(
        names.inbound(mb0),
        payload.replace(b"nachrichtenUUID>", b"nachrichtenUUID>x", 1),
        "SCHEMA_INVALID",
    )
    # hostile, unknown, empty, not XML
    scenario.dead(names.inbound(mb0), XXE, "XML_ENTITY_FORBIDDEN")
    scenario.dead(names.inbound(mb0), b'<m xmlns="urn:unbekannt"/>', "UNKNOWN_NAMESPACE")
    scenario.dead(names.inbound(mb0), b"", "XML_EMPTY")
    scenario.dead(names.inbound(mb0), b"\x89PNG\r\n\x1a\n", "XML_NOT_XML")
    return scenario


@pytest.fixture(scope="session")
def official_schema_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """HUB_SCHEMA_DIR with the official XMeld 25.11a and XPersonenstand 25.11 installed
    by ``xoev-hub schemas add`` straight from ../shared (skips when it is absent)."""
    import subprocess
    import sys

    from tests.conftest import official_or_skip

    official = official_or_skip()
    target = tmp_path_factory.mktemp("official-schemas")
    for name in ("xmeld-25.11a", "xpersonenstand-25.11"):
        subprocess.run(
            [sys.executable, "-m", "hub", "schemas", "add", str(official / name)],
            env={**os.environ, "HUB_SCHEMA_DIR": str(target)},
            check=True,
            capture_output=True,
            timeout=600,
        )
    return target


@pytest.fixture(params=["bundled", "official"])
def packages(request: pytest.FixtureRequest) -> str:
    """Which schema packages the worker and the generator use."""
    return str(request.param)


@pytest.fixture
def worker_env(kafka_bootstrap: str, topic_prefix: str) -> dict[str, str]:
    return hub_env(kafka_bootstrap, topic_prefix)


@pytest.fixture
def worker_settings(worker_env: dict[str, str]) -> Settings:
    """Settings of the test's worker; its contract topics exist before it starts."""
    from hub.kafka.topic_admin import apply_topics

    settings = load_settings(
        bootstrap_servers=worker_env["HUB_BOOTSTRAP_SERVERS"],
        topic_prefix=worker_env["HUB_TOPIC_PREFIX"],
        consumer_group=worker_env["HUB_CONSUMER_GROUP"],
    )
    apply_topics(settings, Region.load(settings.region_file))
    return settings


@pytest.fixture
def start_worker(worker_env: dict[str, str], tmp_path: Path) -> Iterator[object]:
    """Start worker processes; all are stopped at the end of the test."""
    started: list[WorkerProcess] = []

    def start(name: str = "worker", **env: str) -> WorkerProcess:
        state = {"HUB_STATE_DIR": str(tmp_path / "state")}  # the test's workers share it
        worker = WorkerProcess({**worker_env, **state, **env}, tmp_path / f"{name}.log").start()
        started.append(worker)
        return worker

    yield start
    for worker in started:
        if worker.alive():
            worker.stop()
