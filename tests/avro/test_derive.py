"""Schema derivation: names, mapping rules, determinism."""

from __future__ import annotations

import json
from typing import Any

import fastavro
import pytest
import xmlschema

from hub.avro import (
    ENVELOPE_NAME,
    OfficialSet,
    avro_name,
    avro_namespace,
    build_models,
    derive_event_schemas,
    dumps_schema,
    package_schemas,
)
from hub.avro.derive import event_schema
from hub.avro.naming import NameScope
from tests.avro.conftest import FEATURES_ROOT


def test_avro_names() -> None:
    assert avro_name("anschrift.inland") == "anschrift_inland"
    assert avro_name("name-familienname") == "name_familienname"
    assert avro_name("0201") == "_0201"
    assert avro_name("Straße.Größe") == "Strasse_Grosse"
    assert avro_namespace("XMeld", "25.11a") == "de.xoev.xmeld.v25_11a"
    scope = NameScope()
    assert [scope.claim("a_b"), scope.claim("a_b"), scope.claim("a_b")] == ["a_b", "a_b_2", "a_b_3"]


def _fields(record: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f["name"]: f for f in record["fields"]}


def test_feature_schema_shape(features_schema: xmlschema.XMLSchema) -> None:
    schema = derive_event_schemas(features_schema, [FEATURES_ROOT], "XTest", "1")[FEATURES_ROOT]
    fastavro.parse_schema(schema)
    assert schema["name"] == "de.xoev.xtest.v1.probe_nachricht_9999"
    event = _fields(schema)
    assert event["envelope"]["type"]["name"] == ENVELOPE_NAME
    body = _fields(event["body"]["type"])
    assert body["version"]["xmlKind"] == "attribute"
    assert body["staat"]["type"]["name"] == "de.xoev.xtest.v1.Code_Staat"
    staat = _fields(body["staat"]["type"])
    assert staat["listVersionID"]["type"] == "string"  # required in the restriction
    assert staat["listURI"]["type"] == ["null", "string"]
    assert body["betrag"]["type"]["type"] == "array"
    assert _fields(body["betrag"]["type"]["items"])["value"]["xsd"] == "decimal"
    assert body["zeitpunkt"]["xsd"] == "dateTime"
    assert body["liste"]["xsd"] == "list" and body["datumOderJahr"]["xsd"] == "union"
    assert body["anschrift_inland"]["xml"] == "anschrift.inland"
    assert body["anschrift_inland_2"]["xml"] == "anschrift_inland"
    # choice alternatives are optional fields
    assert body["person"]["type"][0] == "null" and body["unbekannt"]["type"] == ["null", "string"]
    # the repeating sequence is an ordered array at its position
    names = [f["name"] for f in event["body"]["type"]["fields"]]
    assert names.index("sequence") == names.index("unbekannt") + 1
    assert body["sequence"]["xmlKind"] == "sequence"
    # recursion: Person refers to itself by name
    person = body["person"]["type"][1]
    assert _fields(person)["elternteil"]["type"]["items"] == person["name"]
    assert body["qualifiziert"]["xmlns"] == "urn:test:features:1"
    assert _fields(body["freitext"]["type"][1])["content"]["xmlKind"] == "mixed"
    erweiterung = _fields(body["erweiterung"]["type"][1])
    assert erweiterung["any"]["xmlKind"] == "any"
    assert erweiterung["any_attributes"]["type"] == {"type": "map", "values": "string"}


def test_derivation_is_deterministic(features_schema: xmlschema.XMLSchema) -> None:
    first = dumps_schema(
        derive_event_schemas(features_schema, [FEATURES_ROOT], "XTest", "1")[FEATURES_ROOT]
    )
    again = xmlschema.XMLSchema(features_schema.url)
    second = dumps_schema(derive_event_schemas(again, [FEATURES_ROOT], "XTest", "1")[FEATURES_ROOT])
    assert first == second
    assert json.loads(first) == json.loads(second)
    assert first.endswith("\n") and '"fields"' in first


def test_event_schema_is_self_contained(features_schema: xmlschema.XMLSchema) -> None:
    models = build_models(features_schema, [FEATURES_ROOT], "de.xoev.xtest.v1")
    schema = event_schema(models[FEATURES_ROOT])
    # parses on its own, without named types from elsewhere
    fastavro.parse_schema(json.loads(json.dumps(schema)), named_schemas={})


@pytest.mark.official
def test_every_official_xmeld_message_derives(xmeld: OfficialSet) -> None:
    files = package_schemas(xmeld)
    assert len(files) == len(xmeld.messages) >= 100
    for text in files.values():
        fastavro.parse_schema(json.loads(text), named_schemas={})
    again = package_schemas(xmeld)
    assert again == files
