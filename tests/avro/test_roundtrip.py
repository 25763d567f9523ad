"""XML → Avro → XML is lossless (after C14N 2.0 with prefixes rewritten)."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from hub.avro import ConversionPlan, OfficialSet, canonical_xml
from hub.avro.catalog import compile_plans
from tests.avro.conftest import DATA, ENVELOPE


def roundtrip(plan: ConversionPlan, root: etree._Element) -> bytes:
    data = plan.encode(plan.to_record(root, ENVELOPE))
    assert data[:2] == b"\xc3\x01"
    assert data[2:10] == plan.fingerprint
    return plan.to_xml(plan.decode(data))


def test_features_roundtrip(features_plan: ConversionPlan) -> None:
    root = etree.parse(str(DATA / "full.xml")).getroot()
    back = roundtrip(features_plan, root)
    assert canonical_xml(back) == canonical_xml(root)
    record = features_plan.decode(features_plan.encode(features_plan.to_record(root, ENVELOPE)))
    body = record["body"]
    # lexical values kept exactly, time zones and leading zeros included
    assert body["betrag"][0] == {"waehrung": "EUR", "value": "0012.50"}
    assert body["zeit"] == "23:59:59.5-14:00"
    assert body["datumOderJahr"] == "2024-02-29+01:00"
    # dotted and hyphenated names map to distinct fields
    assert body["anschrift_inland"] == "Am Wall  1 "
    assert body["anschrift_inland_2"] == "Zweite"
    # the repeating sequence keeps its order as an ordered array
    assert [next(v for v in item.values() if v) for item in body["sequence"]] == [
        "k1",
        "k2",
        "v2",
        "k3",
    ]
    # xs:all keeps document order
    assert body["zusatz"]["sequence"] == [{"x": None, "y": "2"}, {"x": "1", "y": None}]
    # recursion through named records
    assert body["person"]["elternteil"][0]["elternteil"][0]["name_familienname"] == "B & <C>"
    assert body["erweiterung"]["any_attributes"] == {"{urn:other}a": "1"}
    assert record["envelope"]["reader_keys"] == ["ags:05122000"]


def test_minimal_instance_roundtrip(features_plan: ConversionPlan) -> None:
    xml = (
        b'<f:probe.nachricht.9999 xmlns:f="urn:test:features:1" version="1.0">'
        b'<staat listVersionID="1"><code>x</code></staat><betrag waehrung="EUR">1</betrag>'
        b"<plz>42103</plz><leer/><unbekannt>true</unbekannt></f:probe.nachricht.9999>"
    )
    root = etree.fromstring(xml)
    assert canonical_xml(roundtrip(features_plan, root)) == canonical_xml(root)


def _valid_samples(official: OfficialSet) -> list[tuple[Path, str]]:
    return [
        (official.path / s["file"], s["root"])
        for s in official.samples
        if str(s.get("lxml", "")).lower() == "valid"
    ]


@pytest.mark.official
def test_official_xmeld_samples_roundtrip(
    xmeld: OfficialSet, xmeld_plans: dict[str, ConversionPlan]
) -> None:
    samples = _valid_samples(xmeld)
    assert len(samples) >= 10
    for path, root_name in samples:
        root = etree.parse(str(path)).getroot()
        plan = xmeld_plans[root_name]
        assert canonical_xml(roundtrip(plan, root)) == canonical_xml(root), path.name


@pytest.mark.official
def test_official_xwasser_samples_roundtrip(xwasser: OfficialSet) -> None:
    plans = compile_plans(xwasser)
    samples = _valid_samples(xwasser)
    assert len(samples) >= 10
    for path, root_name in samples:
        root = etree.parse(str(path)).getroot()
        assert canonical_xml(roundtrip(plans[root_name], root)) == canonical_xml(root), path.name


@pytest.mark.official
def test_xpersonenstand_plans_compile(xpersonenstand: OfficialSet) -> None:
    plans = compile_plans(xpersonenstand)
    assert "{http://xpsw.domap.de/xpsw2511}stA2MB.Geburt.031010" in plans
    # the only sample is of release 25.05: no plan claims it
    sample = etree.parse(str(xpersonenstand.path / xpersonenstand.samples[0]["file"])).getroot()
    assert sample.tag not in plans


# --- generated instances: mutate leaf text values within their lexical type ------
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T")
_NUMBER = re.compile(r"^-?\d+(\.\d+)?$")
_XML_TEXT = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\ufffe\uffff"),
    min_size=1,
    max_size=30,
).filter(lambda s: s.strip() != "")
_ZONES = st.sampled_from(["", "Z", "+01:00", "-14:00", "+05:30"])


@st.composite
def _value_like(draw: st.DrawFn, text: str) -> str:
    if _DATETIME.match(text):
        moment = draw(
            st.datetimes(min_value=dt.datetime(1, 1, 1), max_value=dt.datetime(9999, 1, 1))
        )
        return moment.isoformat(timespec=draw(st.sampled_from(["seconds", "milliseconds"]))) + draw(
            _ZONES
        )
    if _DATE.match(text):
        return draw(st.dates()).isoformat() + draw(_ZONES)
    if text in ("true", "false", "0", "1"):
        return draw(st.sampled_from(["true", "false", "0", "1"]))
    if _NUMBER.match(text):
        return str(draw(st.decimals(allow_nan=False, allow_infinity=False, places=3)))
    return draw(_XML_TEXT)


@pytest.mark.official
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_generated_xmeld_instances_roundtrip(
    xmeld: OfficialSet, xmeld_plans: dict[str, ConversionPlan], data: st.DataObject
) -> None:
    path, root_name = data.draw(st.sampled_from(_valid_samples(xmeld)))
    root = etree.parse(str(path)).getroot()
    leaves = [e for e in root.iter() if isinstance(e.tag, str) and len(e) == 0 and e.text]
    for leaf in data.draw(st.lists(st.sampled_from(leaves), min_size=1, max_size=12)):
        leaf.text = data.draw(_value_like(leaf.text or ""))
    for element in data.draw(st.lists(st.sampled_from(list(root.iter())), max_size=3)):
        for name in list(element.attrib):
            if not name.startswith("{"):
                element.set(name, data.draw(_XML_TEXT))
    assert canonical_xml(roundtrip(xmeld_plans[root_name], root)) == canonical_xml(root)
