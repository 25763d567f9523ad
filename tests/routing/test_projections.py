"""Projections (data minimisation): schema derivation, values, rules, release switch.

Pure logic, no broker: tests/worker/test_projection_kafka.py proves the same
through the real broker.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest

from hub.avro import EventCatalog
from hub.core.header import read_header
from hub.core.pipeline import Pipeline
from hub.core.projection import Projections
from hub.core.region import Region
from hub.core.routing import Router
from hub.core.schemas import MessageType, SchemaPackage, SchemaRegistry
from hub.core.xmlsafe import Limits, parse_xml
from hub.errors import ConfigError, MisaddressedError
from hub.settings import load_settings
from hub.tools.samples import generate

REPO = Path(__file__).resolve().parents[2]
REGION = REPO / "hub" / "config" / "region.toml"
ROUTES = REPO / "hub" / "config" / "routes.toml"

#: the projection a test defines: XMeld 0201 for a statistics office
STATISTIK_FIELDS = [
    "envelope.message_id",
    "envelope.message_type_code",
    "body.umzugsverband.betroffener.zuzugsperson.geschlecht.code",
    "body.umzugsverband.betroffener.zuzugsperson.wohnung.einzugsdatum",
]
STATISTIK_KIND = """
[kinds.statistik]
name = "Statistikstelle"
[[kinds.statistik.projection]]
standard = "XMeld"
message_code = ["0201"]
fields = [{fields}]
"""
STATISTIK_AUTHORITY = """
[[authority]]
id = "wuppertal.statistik"
municipality = "Wuppertal"
ags = "05124000"
kind = "statistik"
dvdv_key = "sta:05124000"
"""
STATISTIK_RULE = """
[[rule]]
name = "zuzug-an-statistik"
standard = "XMeld"
message_code = "0201"
recipient = "*.meldebehoerde"
copy_to_kind = ["statistik"]
legal_basis = "test: § 5 BStatG"
"""


def statistik_region(fields: Iterable[str] = STATISTIK_FIELDS) -> str:
    """The bundled region plus a test kind 'statistik' limited to a projection."""
    text = REGION.read_text(encoding="utf-8")
    # files the region names relative to itself stay where they are
    text = re.sub(
        r'^(\w+) = "([^"/]+\.toml)"$',
        lambda m: f'{m[1]} = "{(REGION.parent / m[2]).as_posix()}"', text, flags=re.M,
    )
    kind = STATISTIK_KIND.format(fields=", ".join(f'"{f}"' for f in fields))
    text = text.replace("[kinds.meldebehoerde]", kind + "\n[kinds.meldebehoerde]", 1)
    text = text.replace("[dvdv.prefixes]\n", '[dvdv.prefixes]\nsta = "Statistikstelle"\n', 1)
    return text + STATISTIK_AUTHORITY


def paths_of(value: Any, prefix: str = "") -> Iterator[str]:
    """Every field path of a decoded record (arrays and maps are passed through)."""
    if isinstance(value, dict):
        for key, item in value.items():
            path = f"{prefix}.{key}" if prefix else key
            yield path
            yield from paths_of(item, path)
    elif isinstance(value, list):
        for item in value:
            yield from paths_of(item, prefix)


def allowed(path: str, fields: Iterable[str]) -> bool:
    """On the way to an allowed field, or inside one."""
    return any(
        path == f or path.startswith(f + ".") or f.startswith(path + ".") for f in fields
    )


def schema_names(schema: Any) -> Iterator[str]:
    """Every field name declared anywhere in an Avro schema."""
    if isinstance(schema, list):
        for branch in schema:
            yield from schema_names(branch)
    elif isinstance(schema, dict):
        for field in schema.get("fields", ()):
            yield field["name"]
            yield from schema_names(field["type"])
        for key in ("items", "values"):
            if key in schema:
                yield from schema_names(schema[key])


def find(registry: SchemaRegistry, standard: str, code: str) -> tuple[SchemaPackage, MessageType]:
    # the newest release; of two packages for one namespace the installed one wins
    ranked = sorted(registry.packages, key=lambda p: (p.version, p.origin == "installed"))
    for package in reversed(ranked):
        if package.standard == standard:
            for message in package.messages.values():
                if message.code == code:
                    return package, message
    raise LookupError(f"{standard} {code}")


@pytest.fixture(scope="module")
def registry() -> SchemaRegistry:
    return SchemaRegistry.from_settings(load_settings())


def pipeline_of(registry: SchemaRegistry, region: Region, routes: str) -> Pipeline:
    catalog = EventCatalog(registry)
    projections = Projections(region)
    projections.check(registry.packages, catalog)
    return Pipeline(
        registry, catalog, region, Router.from_toml(routes, region), Limits(),
        projections=projections,
    )


def birth(registry: SchemaRegistry, seed: int, author: str, reader: str) -> bytes:
    package, message = find(registry, "XPersonenstand", "031010")
    return generate(package, message, seed=seed, author_key=author, reader_key=reader)


def texts(payload: bytes, *locals_: str) -> set[str]:
    """Text of every element with one of these local names (document values)."""
    from lxml import etree

    root = etree.fromstring(payload)
    return {
        e.text.strip() for e in root.iter()
        if isinstance(e.tag, str) and etree.QName(e).localname in locals_
        and e.text and len(e.text.strip()) >= 3
    }


# -- the Jugendamt -----------------------------------------------------------------

def test_bundled_region_has_a_jugendamt_per_city_with_placeholder_keys() -> None:
    region = Region.load(REGION)
    jugendaemter = [a for a in region if a.kind == "jugendamt"]
    assert sorted(a.id for a in jugendaemter) == [
        "remscheid.jugendamt", "solingen.jugendamt", "wuppertal.jugendamt"
    ]
    assert all(a.placeholder_key and a.dvdv_key == f"jug:{a.ags}" for a in jugendaemter)
    assert region.kinds["jugendamt"].projected
    assert region.kinds["jugendamt"].projection_for("XPersonenstand", "031010") is not None
    assert region.kinds["jugendamt"].projection_for("XPersonenstand", "035010") is None


def test_birth_reaches_the_jugendamt_only_as_its_projection(registry: SchemaRegistry) -> None:
    region = Region.load(REGION)
    pipeline = pipeline_of(registry, region, ROUTES.read_text(encoding="utf-8"))
    payload = birth(registry, 5, "psw:05122000", "ags:05124000")
    accepted = pipeline.process(payload, "solingen.standesamt", trace_id="t")
    assert accepted.route.recipients == ("wuppertal.meldebehoerde", "wuppertal.jugendamt")
    assert accepted.route.projected == ("wuppertal.jugendamt",)
    assert [name for name, _ in accepted.route.legal_bases] == ["geburt-an-jugendamt"]
    assert "§ 52a Abs. 4 SGB VIII" in accepted.route.legal_bases[0][1]
    ((recipient, projection, data),) = accepted.projections
    assert recipient == "wuppertal.jugendamt"
    fields = region.kinds["jugendamt"].projection_for("XPersonenstand", "031010").fields  # type: ignore[union-attr]
    record = projection.decode(data)
    paths = set(paths_of(record))
    assert paths, "the projection carries the allowed fields"
    assert {p for p in paths if not allowed(p, fields)} == set()
    assert "body.kind.geburtsangaben.tagDerGeburt" in paths
    assert record["envelope"]["message_id"] == read_header(parse_xml(payload)).message_id
    # the projection schema declares no name, address or register field at all
    declared = set(schema_names(projection.schema))
    assert not declared & {"namen", "familienname", "vornamen", "anschrift", "elternteil1",
                           "elternteil2", "geburtseintragKind", "aktenzeichen", "strasse"}
    # document values of the message that the Jugendamt must not receive
    secrets = texts(payload, "name", "strasse", "aktenzeichen", "behoerdenname", "ort")
    assert secrets
    assert [s for s in secrets if s.encode() in data] == []
    # the full event (Meldebehörde) carries them; the projection is smaller
    assert any(s.encode() in accepted.event for s in secrets)
    assert len(data) < len(accepted.event)


def test_no_projection_is_computed_without_a_projected_recipient(
    registry: SchemaRegistry,
) -> None:
    region = Region.load(REGION)
    pipeline = pipeline_of(registry, region, ROUTES.read_text(encoding="utf-8"))
    package, message = find(registry, "XPersonenstand", "035010")
    payload = generate(package, message, seed=3, author_key="psw:05124000",
                       reader_key="ags:05124000")
    accepted = pipeline.process(payload, "wuppertal.standesamt")
    assert accepted.route.projected == () and accepted.projections == ()


def test_jugendamt_addressed_directly_gets_its_projection_or_nothing(
    registry: SchemaRegistry,
) -> None:
    region = Region.load(REGION)
    pipeline = pipeline_of(registry, region, ROUTES.read_text(encoding="utf-8"))
    accepted = pipeline.process(
        birth(registry, 9, "psw:05124000", "jug:05124000"), "wuppertal.standesamt"
    )
    assert accepted.route.projected == ("wuppertal.jugendamt",)
    assert len(accepted.projections) == 1
    package, message = find(registry, "XPersonenstand", "035010")
    death = generate(package, message, seed=4, author_key="psw:05124000",
                     reader_key="jug:05124000")
    with pytest.raises(MisaddressedError) as caught:
        pipeline.process(death, "wuppertal.standesamt")
    assert caught.value.code == "READER_PROJECTION_MISSING"


# -- a projection a test defines -----------------------------------------------------

def test_test_defined_projection_passes_arrays_and_optionals(registry: SchemaRegistry) -> None:
    region = Region.from_toml(statistik_region(), "statistik-region.toml")
    routes = ROUTES.read_text(encoding="utf-8") + STATISTIK_RULE
    pipeline = pipeline_of(registry, region, routes)
    package, message = find(registry, "XMeld", "0201")
    seen: set[str] = set()
    for seed in range(1, 9):
        payload = generate(package, message, seed=seed, author_key="ags:05122000",
                           reader_key="ags:05124000")
        accepted = pipeline.process(payload, "solingen.meldebehoerde")
        assert accepted.route.projected == ("wuppertal.statistik",)
        ((_, projection, data),) = accepted.projections
        paths = set(paths_of(projection.decode(data)))
        assert {p for p in paths if not allowed(p, STATISTIK_FIELDS)} == set()
        seen |= paths
        secrets = texts(payload, "name", "strasse", "wohnort", "seriennummer", "idNr")
        assert [s for s in secrets if s.encode() in data] == []
    assert "body.umzugsverband.betroffener.zuzugsperson.geschlecht.code" in seen


def test_unknown_path_is_a_clear_error_at_load(registry: SchemaRegistry) -> None:
    region = Region.from_toml(
        statistik_region(["envelope", "body.umzugsverband.betroffener.zuzugsperson.haarfarbe"]),
        "statistik-region.toml",
    )
    with pytest.raises(ConfigError) as caught:
        Projections(region).check(registry.packages, EventCatalog(registry))
    text = str(caught.value)
    assert "statistik-region.toml: kinds.statistik.projection[0] (XMeld" in text
    assert "zuzugsperson has no field 'haarfarbe'" in text


def test_path_below_a_value_is_refused(registry: SchemaRegistry) -> None:
    region = Region.from_toml(
        statistik_region(["envelope.message_id.zeichen"]), "statistik-region.toml"
    )
    with pytest.raises(ConfigError, match=r"message_id has no fields"):
        Projections(region).check(registry.packages, EventCatalog(registry))


# -- rules that would send the XML ---------------------------------------------------

@pytest.mark.parametrize(
    ("rule", "message"),
    [
        (  # a message type without a projection of the kind
            'name = "r"\nstandard = "XMeld"\nmessage_code = "0201"\n'
            'copy_to = ["wuppertal.jugendamt"]\nlegal_basis = "x"',
            "copy_to wuppertal.jugendamt: kind 'jugendamt' receives projections only; the rule "
            "would send the XML to it for XMeld 0201",
        ),
        (  # globs could select message types without a projection
            'name = "r"\nstandard = "XPersonenstand"\nmessage_code = "031*"\n'
            'copy_to_kind = ["jugendamt"]\nlegal_basis = "x"',
            "unless it selects exact standards and message codes",
        ),
        (  # no standard at all
            'name = "r"\nreader = "ags:05124000"\nredirect_to = ["wuppertal.jugendamt"]\n'
            'legal_basis = "x"',
            "redirect_to wuppertal.jugendamt: kind 'jugendamt' receives projections only",
        ),
        (  # covered, but without its legal basis
            'name = "r"\nstandard = "XPersonenstand"\nmessage_code = "031010"\n'
            'copy_to_kind = ["jugendamt"]',
            "must name its legal_basis",
        ),
        (
            'name = "r"\nstandard = "XPersonenstand"\ncopy_to_kind = ["jugendamt2"]',
            "copy_to_kind: unknown kind 'jugendamt2'",
        ),
    ],
)
def test_rules_that_would_send_the_xml_to_a_projected_kind_are_refused(
    rule: str, message: str
) -> None:
    region = Region.load(REGION)
    with pytest.raises(ConfigError) as caught:
        Router.from_toml(f"[[rule]]\n{rule}\n", region, "bad-routes.toml")
    assert "bad-routes.toml: rule[0] (r)" in str(caught.value)
    assert message in str(caught.value)


def test_routes_check_refuses_such_a_rule(tmp_path: Path) -> None:
    routes = tmp_path / "routes.toml"
    routes.write_text(
        '[[rule]]\nname = "sterbefall-an-jugendamt"\nstandard = "XPersonenstand"\n'
        'message_code = "035010"\ncopy_to_kind = ["jugendamt"]\nlegal_basis = "x"\n',
        encoding="utf-8",
    )
    result = subprocess.run(
        [sys.executable, "-m", "hub", "routes", "check", "--routes", str(routes)],
        capture_output=True, text=True, timeout=120, cwd=REPO,
    )
    assert result.returncode != 0
    assert "sterbefall-an-jugendamt" in result.stderr
    assert "would send the XML to it for XPersonenstand 035010" in result.stderr
    ok = subprocess.run(
        [sys.executable, "-m", "hub", "routes", "check"],
        capture_output=True, text=True, timeout=120, cwd=REPO,
    )
    assert ok.returncode == 0, ok.stderr
    assert "projections: " in ok.stdout and "jugendamt" in ok.stdout


def test_rule_is_off_without_the_routes_file(registry: SchemaRegistry) -> None:
    """The code has no rule of its own: an empty routes file sends births to the
    Meldebehörde only."""
    region = Region.load(REGION)
    pipeline = pipeline_of(registry, region, "")
    accepted = pipeline.process(
        birth(registry, 5, "psw:05122000", "ags:05124000"), "solingen.standesamt"
    )
    assert accepted.route.recipients == ("wuppertal.meldebehoerde",)
    assert accepted.projections == ()


# -- release switch --------------------------------------------------------------------

@pytest.fixture(scope="module")
def official_registry(tmp_path_factory: pytest.TempPathFactory) -> SchemaRegistry:
    """The official XPersonenstand 25.11 installed with `schemas add` (it wins over the
    bundled modelling of the same namespace: a release switch of the package)."""
    from tests.conftest import official_or_skip

    official = official_or_skip()
    target = tmp_path_factory.mktemp("official-xpersonenstand")
    import os

    subprocess.run(
        [sys.executable, "-m", "hub", "schemas", "add", str(official / "xpersonenstand-25.11")],
        env={**os.environ, "HUB_SCHEMA_DIR": str(target)}, check=True, capture_output=True,
        timeout=600, cwd=REPO,
    )
    return SchemaRegistry.from_settings(load_settings(schema_dir=target))


def test_projection_survives_the_release_switch(
    registry: SchemaRegistry, official_registry: SchemaRegistry
) -> None:
    region = Region.load(REGION)
    routes = ROUTES.read_text(encoding="utf-8")
    package, _ = find(official_registry, "XPersonenstand", "031010")
    assert package.origin == "installed"
    fingerprints = []
    for reg in (registry, official_registry):
        pipeline = pipeline_of(reg, region, routes)  # paths resolve in both (else ConfigError)
        payload = birth(reg, 21, "psw:05120000", "ags:05122000")
        accepted = pipeline.process(payload, "remscheid.standesamt")
        ((recipient, projection, data),) = accepted.projections
        assert recipient == "solingen.jugendamt"
        fields = region.kinds["jugendamt"].projection_for("XPersonenstand", "031010").fields  # type: ignore[union-attr]
        paths = set(paths_of(projection.decode(data)))
        assert {p for p in paths if not allowed(p, fields)} == set()
        assert "body.kind.geburtsangaben.tagDerGeburt" in paths
        secrets = texts(payload, "name", "strasse", "aktenzeichen", "ort")
        assert [s for s in secrets if s.encode() in data] == []
        fingerprints.append(projection.fingerprint)
    # two releases, two projection schemas (both published, told apart by fingerprint)
    assert fingerprints[0] != fingerprints[1]


def test_path_of_one_release_only_is_refused_at_load_of_the_other(
    registry: SchemaRegistry, official_registry: SchemaRegistry
) -> None:
    text = REGION.read_text(encoding="utf-8").replace(
        '"body.kind.geschlecht",',
        '"body.kind.geschlecht",\n  "body.kind.geburtsangaben.geburtsort.gemeindeschluessel",',
    )
    region = Region.from_toml(text, "switched-region.toml")
    Projections(region).check(registry.packages, EventCatalog(registry))  # bundled: fine
    with pytest.raises(ConfigError) as caught:
        Projections(region).check(official_registry.packages, EventCatalog(official_registry))
    text = str(caught.value)
    where = "switched-region.toml: kinds.jugendamt.projection[0] (XPersonenstand 25.11 031010)"
    assert where in text
    assert "body.kind.geburtsangaben.geburtsort.gemeindeschluessel" in text
    assert "has no field 'gemeindeschluessel'" in text
