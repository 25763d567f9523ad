"""Projections through the real broker: a projected recipient receives nothing outside
its allow-list on any of its topics.

A worker runs with the bundled region and routes (the Jugendamt and the rule
geburt-an-jugendamt) plus a kind a test defines ('statistik', XMeld 0201). Birth
notices, deaths and moves go in; then every record of the projected authorities'
topics is read back, decoded with the schema the worker published on
xoev.schemas, and its field set compared with the allow-list; the raw bytes are
scanned for document values (names, streets, register numbers) that must not be
there. The .xml topics of projected authorities stay empty.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import fastavro
import pytest

from hub.avro.audit import AUDIT_CODEC
from hub.core.header import read_header
from hub.core.region import Region
from hub.core.schemas import SchemaRegistry
from hub.core.xmlsafe import parse_xml
from hub.kafka.topics import TopicNames
from hub.settings import Settings, load_settings
from hub.tools.samples import generate
from tests.routing.test_projections import (
    ROUTES,
    STATISTIK_FIELDS,
    STATISTIK_RULE,
    allowed,
    paths_of,
    statistik_region,
    texts,
)

from .conftest import find
from .harness import drain, produce

pytestmark = pytest.mark.kafka


def decode(data: bytes, schemas: dict[bytes, Any]) -> dict[str, Any]:
    assert data[:2] == b"\xc3\x01", "single-object encoding"
    schema = schemas[data[2:10]]
    record: dict[str, Any] = fastavro.schemaless_reader(io.BytesIO(data[10:]), schema, None)
    return record


def fields_of(region: Region, kind: str, standard: str, code: str) -> Iterable[str]:
    spec = region.kinds[kind].projection_for(standard, code)
    assert spec is not None
    return spec.fields


@pytest.fixture
def projected_settings(
    worker_env: dict[str, str], tmp_path: Path
) -> tuple[Settings, dict[str, str]]:
    region_file = tmp_path / "region.toml"
    region_file.write_text(statistik_region(), encoding="utf-8")
    routes_file = tmp_path / "routes.toml"
    routes_file.write_text(ROUTES.read_text(encoding="utf-8") + STATISTIK_RULE, encoding="utf-8")
    env = {"HUB_REGION_FILE": str(region_file), "HUB_ROUTES_FILE": str(routes_file)}
    from hub.kafka.topic_admin import apply_topics

    settings = load_settings(
        bootstrap_servers=worker_env["HUB_BOOTSTRAP_SERVERS"],
        topic_prefix=worker_env["HUB_TOPIC_PREFIX"],
        consumer_group=worker_env["HUB_CONSUMER_GROUP"],
        region_file=region_file,
        routes_file=routes_file,
    )
    apply_topics(settings, Region.load(region_file))
    return settings, env


def test_projected_recipients_receive_only_their_allow_list(
    kafka_bootstrap: str, projected_settings: tuple[Settings, dict[str, str]],
    start_worker: Any,
) -> None:
    settings, env = projected_settings
    names = TopicNames(settings.topic_prefix)
    region = Region.load(settings.region_file)
    registry = SchemaRegistry.from_settings(settings)
    auth = region.authorities
    sends: list[tuple[str, bytes, bytes]] = []
    births: list[bytes] = []
    moves: list[bytes] = []
    cities = ["wuppertal", "solingen", "remscheid"]
    seed = 100
    for i, city in enumerate(cities):  # births in one city for parents in another
        for n in range(2):
            seed += 1
            author = f"{cities[(i + 1 + n) % 3]}.standesamt"
            package, message = find(registry, "XPersonenstand", "031010")
            payload = generate(package, message, seed=seed, author_key=auth[author].dvdv_key,
                               reader_key=auth[f"{city}.meldebehoerde"].dvdv_key)
            births.append(payload)
            sends.append((names.inbound(author), read_header(parse_xml(payload)).message_id
                          .encode(), payload))
        seed += 1  # a death: never to a Jugendamt
        package, message = find(registry, "XPersonenstand", "035010")
        payload = generate(package, message, seed=seed, author_key=auth[f"{city}.standesamt"]
                           .dvdv_key, reader_key=auth[f"{city}.meldebehoerde"].dvdv_key)
        sends.append((names.inbound(f"{city}.standesamt"),
                      read_header(parse_xml(payload)).message_id.encode(), payload))
    for n in range(4):  # moves to Wuppertal: the test-defined 'statistik' projection
        seed += 1
        package, message = find(registry, "XMeld", "0201")
        author = f"{cities[1 + n % 2]}.meldebehoerde"
        payload = generate(package, message, seed=seed, author_key=auth[author].dvdv_key,
                           reader_key=auth["wuppertal.meldebehoerde"].dvdv_key)
        moves.append(payload)
        sends.append((names.inbound(author), read_header(parse_xml(payload)).message_id
                      .encode(), payload))

    worker = start_worker(**env)
    produce(kafka_bootstrap, sends)
    projected = [a.id for a in region if region.kinds[a.kind].projected]
    assert sorted(projected) == ["remscheid.jugendamt", "solingen.jugendamt",
                                 "wuppertal.jugendamt", "wuppertal.statistik"]
    topics = [names.audit, names.schemas, names.deadletter]
    topics += [names.out_xml(a) for a in projected] + [names.out_avro(a) for a in projected]
    out = drain(kafka_bootstrap, topics, until={
        names.audit: len(sends),
        **{names.out_avro(f"{c}.jugendamt"): 2 for c in cities},
        names.out_avro("wuppertal.statistik"): len(moves),
    }, timeout=180)
    assert out.count(names.audit) == len(sends), worker.log_text()[-3000:]
    assert out.count(names.deadletter) == 0

    schemas = {
        bytes.fromhex(r.key.decode()): fastavro.parse_schema(json.loads(r.value))  # type: ignore[attr-defined]
        for r in out.records[names.schemas]
    }
    # never the XML: the .xml topics of projected authorities stay empty
    assert {a: out.count(names.out_xml(a)) for a in projected} == dict.fromkeys(projected, 0)

    birth_secrets = set().union(*(
        texts(p, "name", "strasse", "aktenzeichen", "behoerdenname", "ort", "wohnort")
        for p in births
    ))
    move_secrets = set().union(*(
        texts(p, "name", "strasse", "wohnort", "seriennummer", "idNr") for p in moves
    ))
    assert len(birth_secrets) > 10 and len(move_secrets) > 10

    def check(authority: str, allow: Iterable[str], secrets: set[str], count: int) -> None:
        records = out.records[names.out_avro(authority)]
        assert len(records) == count
        for r in records:
            value: bytes = r.value  # type: ignore[attr-defined]
            record = decode(value, schemas)
            paths = set(paths_of(record))
            assert {p for p in paths if not allowed(p, allow)} == set(), authority
            assert [s for s in secrets if s.encode() in value] == [], authority
            assert record["envelope"]["message_id"].encode() == r.key  # type: ignore[attr-defined]

    jug = fields_of(region, "jugendamt", "XPersonenstand", "031010")
    for city in cities:
        check(f"{city}.jugendamt", jug, birth_secrets, 2)
    check("wuppertal.statistik", STATISTIK_FIELDS, move_secrets, len(moves))

    # the full event still reaches the Meldebehörde; the audit names projection and basis
    audits = [AUDIT_CODEC.decode(r.value) for r in out.records[names.audit]]  # type: ignore[attr-defined]
    births_audited = [a for a in audits if a["message_type_code"] == "031010"]
    assert len(births_audited) == len(births)
    for record in births_audited:
        (jugendamt,) = record["projected_recipients"]
        assert jugendamt.endswith(".jugendamt") and jugendamt in record["recipients"]
        assert [b["rule"] for b in record["legal_bases"]] == ["geburt-an-jugendamt"]
        assert "§ 52a Abs. 4 SGB VIII" in record["legal_bases"][0]["text"]
    deaths = [a for a in audits if a["message_type_code"] == "035010"]
    assert deaths and all(a["projected_recipients"] == [] for a in deaths)
    assert all(a["legal_bases"] == [] for a in deaths)
