"""The compiled writer is byte-for-byte fastavro's."""

from __future__ import annotations

import io

import fastavro
import pytest
from lxml import etree

from hub.avro import ConversionPlan, OfficialSet
from hub.avro.binary import compile_writer
from tests.avro.conftest import DATA, ENVELOPE


def _fastavro_bytes(plan: ConversionPlan, record: dict[str, object]) -> bytes:
    out = io.BytesIO()
    fastavro.schemaless_writer(out, plan.parsed_schema, record)
    return out.getvalue()


def test_compiled_writer_matches_fastavro_on_features(features_plan: ConversionPlan) -> None:
    record = features_plan.to_record(etree.parse(str(DATA / "full.xml")).getroot(), ENVELOPE)
    body = features_plan.encode(record)[10:]
    assert body == _fastavro_bytes(features_plan, record)


@pytest.mark.official
def test_compiled_writer_matches_fastavro_on_official_samples(
    xmeld: OfficialSet, xmeld_plans: dict[str, ConversionPlan]
) -> None:
    for sample in xmeld.samples:
        if str(sample.get("lxml")).lower() != "valid":
            continue
        plan = xmeld_plans[sample["root"]]
        record = plan.to_record(etree.parse(str(xmeld.path / sample["file"])).getroot(), ENVELOPE)
        assert plan.encode(record)[10:] == _fastavro_bytes(plan, record), sample["file"]


def test_long_strings_and_big_arrays() -> None:
    schema = {
        "type": "record",
        "name": "R",
        "fields": [
            {"name": "s", "type": "string"},
            {"name": "a", "type": {"type": "array", "items": ["null", "string"]}},
            {"name": "m", "type": {"type": "map", "values": "string"}},
        ],
    }
    writer = compile_writer(schema)
    assert writer is not None
    record = {"s": "ä" * 5000, "a": ["x", None] * 100, "m": {"k": "v" * 70}}
    out = bytearray()
    writer(out, record)
    expected = io.BytesIO()
    fastavro.schemaless_writer(expected, fastavro.parse_schema(schema), record)
    assert bytes(out) == expected.getvalue()


def test_unsupported_schemas_fall_back() -> None:
    assert compile_writer({"type": "record", "name": "R", "fields": [{"name": "i", "type": "int"}]}) is None
    union = {"type": "record", "name": "R", "fields": [{"name": "u", "type": ["string", "null"]}]}
    assert compile_writer(union) is None
