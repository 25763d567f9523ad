"""Filing (hub.core.filing, issue 14 item 4): the regional mapping message type → file-plan
unit, its checks against the Aktenplan, the one-dict-hit lookup, and the optional
envelope and audit fields it fills (compatible both ways with the old schemas)."""

from __future__ import annotations

import copy
import tomllib
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import generate_latest

from hub.avro import ENVELOPE_SCHEMA, Envelope, can_read
from hub.avro.audit import AUDIT_CODEC, AUDIT_SCHEMA
from hub.core.aktenplan import Aktenplan
from hub.core.filing import FilingPlan
from hub.core.schemas import MessageType, SchemaRegistry
from hub.errors import ConfigError
from hub.kafka.headers import H_FILE_PLAN_UNIT, H_RETENTION_YEARS, filing_headers
from hub.ops.metrics import HubMetrics
from hub.settings import BUNDLED_SCHEMA_DIR, DEFAULT_CONFIG_DIR, load_settings

FILING = DEFAULT_CONFIG_DIR / "filing.toml"
PLAN = """
name = "Plan"
version = "1"
sender = "wuppertal.archiv"

[[unit]]
kennzeichen = "1"
title = "Verwaltung"
retention_years = 10
assessment = "B"

[[unit]]
kennzeichen = "1.1"
title = "Alt"
retention_years = 3
assessment = "V"
retired = true

[[unit]]
kennzeichen = "1.2"
title = "Dauerhaft"
retention_years = "unbefristet"
assessment = "A"
"""


@pytest.fixture(scope="module")
def aktenplan() -> Aktenplan:
    return Aktenplan.from_mapping(tomllib.loads(PLAN), "plan.toml")


@pytest.fixture(scope="module")
def bundled() -> SchemaRegistry:
    registry = SchemaRegistry.load([BUNDLED_SCHEMA_DIR])
    assert {p.standard for p in registry.packages} >= {"XMeld", "XPersonenstand", "XAuslaender"}
    return registry


def _plan(rules: str, aktenplan: Aktenplan) -> FilingPlan:
    return FilingPlan.parse(tomllib.loads(rules), aktenplan, source="filing.toml")


def _rules(*rules: dict[str, Any]) -> str:
    lines: list[str] = []
    for rule in rules:
        lines.append("[[rule]]")
        for key, value in rule.items():
            text = f'"{value}"' if isinstance(value, str) else str(value).replace("'", '"')
            lines.append(f"{key} = {text}")
    return "\n".join(lines)


# -- the bundled mapping -----------------------------------------------------------

def test_bundled_mapping_loads_against_the_bundled_aktenplan_and_files_every_bundled_type(
    bundled: SchemaRegistry,
) -> None:
    plan = FilingPlan.from_settings(load_settings())
    raw = tomllib.loads(FILING.read_text(encoding="utf-8"))
    assert [r.name for r in plan.rules] == [r["name"] for r in raw["rule"]]
    assert plan.prime(bundled.packages) == []  # every bundled message type is filed
    aktenplan = Aktenplan.default()
    for package in bundled.packages:
        for message in package.messages.values():
            filing = plan.lookup(package, message)
            assert filing is not None
            rule = next(r for r in raw["rule"] if r["name"] == filing.rule)
            assert filing.unit == rule["unit"]
            assert filing.retention_years == aktenplan[rule["unit"]].retention
            assert filing_headers(filing) == (
                (H_FILE_PLAN_UNIT, filing.unit.encode()),
                (H_RETENTION_YEARS, filing.retention_years.encode()),
            )


@pytest.mark.parametrize(
    ("standard", "code", "unit"),
    [
        ("XMeld", "0201", "3.2.1"),  # a Rückmeldung: the registration unit
        ("XMeld", "0090", "3.2.1"),
        ("XPersonenstand", "031010", "3.3.1"),  # a birth: civil status, births
        ("XPersonenstand", "033010", "3.3.2"),
        ("XAuslaender", "030104", "3.4.1"),
        ("xdomea", "0401", "1.1"),  # a hand-over: records management
        ("xdomea", "0503", "1.2"),  # an archive transfer
        ("xdomea", "0601", None),  # FVDaten: not mapped on purpose
    ],
)
def test_bundled_mapping_by_standard_and_code(standard: str, code: str, unit: str | None) -> None:
    plan = FilingPlan.from_settings(load_settings())
    filing = plan.match(standard, "3.0.0", code)
    if unit is None:
        assert filing is None
        return
    assert filing is not None and filing.unit == unit
    assert filing.retention_years == Aktenplan.default()[unit].retention


# -- checks at load ----------------------------------------------------------------

def test_unknown_kennzeichen_is_an_error_naming_the_rule(aktenplan: Aktenplan) -> None:
    rules = _rules(
        {"name": "ok", "standard": "XMeld", "message_code": "02*", "unit": "1"},
        {"name": "tippfehler", "standard": "XMeld", "message_code": "00*", "unit": "3.2.9"},
    )
    with pytest.raises(ConfigError) as info:
        _plan(rules, aktenplan)
    assert str(info.value) == (
        "filing.toml: filing rule 'tippfehler': unit '3.2.9' is not a unit of the "
        "Aktenplan plan.toml"
    )


def test_retired_unit_is_an_error(aktenplan: Aktenplan) -> None:
    rules = _rules({"name": "alt", "standard": "XMeld", "message_code": "*", "unit": "1.1"})
    with pytest.raises(ConfigError, match=r"rule 'alt': unit '1.1' is retired"):
        _plan(rules, aktenplan)


@pytest.mark.parametrize(
    ("rules", "message"),
    [
        ('[[rule]]\nstandard = "XMeld"\nmessage_code = "0201"\nunit = "1"',
         r"filing rule #1 has no name"),
        ('[[rule]]\nname = "a"\nstandard = "XMeld"\nunit = "1"', r"'a': message_code is missing"),
        ('[[rule]]\nname = "a"\nstandard = "XMeld"\nmessage_code = "0201"',
         r"'a': unit is missing"),
        ('[[rule]]\nname = "a"\nstandard = "XMeld"\nmessage_code = "1"\nunit = "1"\nakte = 1',
         r"'a': unknown key\(s\) akte"),
        ('[[rule]]\nname = "a"\nstandard = "XMeld"\nmessage_code = []\nunit = "1"',
         r"'a': message_code must be a non-empty string or list"),
        ('[[rule]]\nname = "a"\nstandard = "XMeld"\nmessage_code = "1"\nunit = 1',
         r"'a': unit must be a Kennzeichen"),
        ('rule = 1', r"'rule' must be an array of tables"),
        ('[rules]\nx = 1', r"unknown top-level key\(s\) rules"),
        (_rules({"name": "a", "standard": "X", "message_code": "1", "unit": "1"},
                {"name": "a", "standard": "Y", "message_code": "2", "unit": "1"}),
         r"filing rule 'a' is defined twice"),
    ],
)
def test_malformed_rules_are_refused(rules: str, message: str, aktenplan: Aktenplan) -> None:
    with pytest.raises(ConfigError, match=message):
        _plan(rules, aktenplan)


def test_load_names_the_file_and_the_setting(tmp_path: Path, aktenplan: Aktenplan) -> None:
    with pytest.raises(ConfigError, match=r"filing file not found \(setting HUB_FILING_FILE\)"):
        FilingPlan.load(tmp_path / "missing.toml", aktenplan)
    bad = tmp_path / "filing.toml"
    bad.write_text("[[rule]\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"filing.toml: invalid TOML"):
        FilingPlan.load(bad, aktenplan)


# -- matching and the lookup -------------------------------------------------------

def test_first_matching_rule_wins_and_version_narrows(aktenplan: Aktenplan) -> None:
    plan = _plan(
        _rules(
            {"name": "neu", "standard": "xdomea", "version": "3.*", "message_code": "05*",
             "unit": "1.2"},
            {"name": "rest", "standard": ["xdomea", "XMeld"], "message_code": ["0[2-5]*"],
             "unit": "1"},
        ),
        aktenplan,
    )
    new, old = plan.match("xdomea", "3.0.0", "0501"), plan.match("xdomea", "2.4.0", "0501")
    assert new is not None and (new.rule, new.unit, new.retention_years) == (
        "neu", "1.2", "unbefristet"
    )
    assert old is not None and (old.rule, old.unit, old.retention_years) == ("rest", "1", "10")
    assert plan.match("XMeld", "25.11a", "0201") is old
    assert plan.match("XMeld", "25.11a", "0090") is None
    assert plan.match("XPersonenstand", "25.11", "0201") is None


def test_lookup_matches_a_type_once_then_is_a_dict_hit(
    aktenplan: Aktenplan, bundled: SchemaRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    plan = _plan(_rules({"name": "rm", "standard": "XMeld", "message_code": "02*", "unit": "1"}),
                 aktenplan)
    package = bundled.get("XMeld", "25.11a")
    by_code = {m.code: m for m in package.messages.values()}
    unfiled = plan.prime([package])
    assert unfiled == sorted(("XMeld", "25.11a", c) for c in by_code if not c.startswith("02"))
    assert unfiled  # the plan leaves the Fortschreibungen unfiled

    def no_more_matching(*args: object) -> None:
        raise AssertionError("matched again")

    monkeypatch.setattr(plan, "match", no_more_matching)
    filed = plan.lookup(package, by_code["0201"])
    assert filed is not None and filed.unit == "1"
    assert plan.lookup(package, by_code["0090"]) is None
    # the key is the message type's (namespace, code): another release is matched anew
    other = MessageType(namespace="urn:other", root="r", code="0201", name="r")
    with pytest.raises(AssertionError, match="matched again"):
        plan.lookup(package, other)


# -- the contract fields: optional, null by default, compatible both ways ----------

def _without(schema: dict[str, Any], names: set[str]) -> dict[str, Any]:
    old = copy.deepcopy(schema)
    old["fields"] = [f for f in old["fields"] if f["name"] not in names]
    return old


FIELDS = {"file_plan_unit", "retention_years"}


def test_envelope_and_audit_fields_are_optional_and_compatible_both_ways() -> None:
    for schema in (ENVELOPE_SCHEMA, AUDIT_SCHEMA):
        added = [f for f in schema["fields"] if f["name"] in FIELDS]
        assert [(f["type"], f["default"]) for f in added] == [(["null", "string"], None)] * 2
        old = _without(schema, FIELDS)
        assert can_read(schema, old) == []  # new readers read events written before
        assert can_read(old, schema) == []  # old readers read new events
    envelope = Envelope.from_record({
        "message_id": "m", "standard": "XMeld", "version": "25.11a",
        "message_type_code": "0201", "message_type_name": "n", "author_key": "ags:1",
        "reader_keys": ["ags:2"], "created": "c", "received": "r", "trace_id": "t",
    })  # a record of an event written before decision 0015
    assert (envelope.file_plan_unit, envelope.retention_years) == (None, None)
    assert envelope.to_record()["file_plan_unit"] is None


def test_audit_record_carries_the_filing_or_null() -> None:
    record = {
        "message_id": "m", "standard": "xdomea", "version": "3.0.0", "message_type_code": "0401",
        "source_authority": "solingen.registratur", "author_key": "reg:05122000",
        "reader_keys": ["reg:05124000"], "recipients": ["wuppertal.registratur"],
        "external": False, "created": "c", "received": "r", "payload_sha256": "0" * 64,
        "payload_bytes": 1, "source_topic": "t", "source_partition": 0, "source_offset": 0,
        "trace_id": "t", "file_plan_unit": "1.1", "retention_years": "30",
    }
    decoded = AUDIT_CODEC.decode(AUDIT_CODEC.encode(record))
    assert (decoded["file_plan_unit"], decoded["retention_years"]) == ("1.1", "30")
    del record["file_plan_unit"], record["retention_years"]
    decoded = AUDIT_CODEC.decode(AUDIT_CODEC.encode(record))
    assert (decoded["file_plan_unit"], decoded["retention_years"]) == (None, None)


def test_unfiled_metric_labels_codes_including_xdomea() -> None:
    metrics = HubMetrics()
    metrics.observe_unfiled(standard="xdomea", message_type="0601")
    metrics.observe_unfiled(standard="xdomea", message_type="0601")
    metrics.observe_unfiled(standard="Erika Mustermann", message_type="0601")
    text = generate_latest(metrics.registry).decode()
    assert 'xoev_hub_unfiled_messages_total{message_type="0601",standard="xdomea"} 2.0' in text
    assert 'xoev_hub_unfiled_messages_total{message_type="0601",standard="invalid"} 1.0' in text
    assert "Mustermann" not in text


def test_pipeline_puts_the_filing_into_the_avro_event(bundled: SchemaRegistry) -> None:
    from hub.core.pipeline import Pipeline
    from hub.core.region import Region
    from hub.tools.samples import generate

    settings = load_settings()
    pipeline = Pipeline.from_settings(settings)
    region = Region.load(settings.region_file)
    author, reader = region.authorities["wuppertal.meldebehoerde"], region.authorities[
        "solingen.meldebehoerde"]
    package = bundled.get("XMeld", "25.11a")
    raw = generate(package, "0201", seed=3, author_key=author.dvdv_key,
                   reader_key=reader.dvdv_key)
    accepted = pipeline.process(raw, author.id)
    expected = FilingPlan.from_settings(settings).match("XMeld", "25.11a", "0201")
    assert expected is not None and accepted.filing == expected
    envelope = accepted.plan.decode(accepted.event)["envelope"]
    assert (envelope["file_plan_unit"], envelope["retention_years"]) == (
        expected.unit, expected.retention_years
    )
    # without a filing plan (tools) the fields stay null
    bare = Pipeline(pipeline.registry, pipeline.catalog, pipeline.region, pipeline.router,
                    pipeline.limits)
    unfiled = bare.process(raw, author.id)
    assert unfiled.filing is None
    envelope = unfiled.plan.decode(unfiled.event)["envelope"]
    assert (envelope["file_plan_unit"], envelope["retention_years"]) == (None, None)
