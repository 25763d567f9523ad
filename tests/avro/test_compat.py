"""Compatibility rules, checked against fastavro's actual schema resolution."""

from __future__ import annotations

import io
from typing import Any

import fastavro
import pytest

from hub.avro import can_read, compare

BASE: dict[str, Any] = {
    "type": "record",
    "name": "de.xoev.test.v1.Event",
    "fields": [
        {"name": "id", "type": "string"},
        {"name": "n", "type": "int"},
        {"name": "opt", "type": ["null", "string"], "default": None},
        {
            "name": "child",
            "type": {
                "type": "record",
                "name": "Child",
                "fields": [{"name": "code", "type": "string"}],
            },
        },
        {"name": "items", "type": {"type": "array", "items": "Child"}, "default": []},
    ],
}


def variant(change: str) -> dict[str, Any]:
    import copy

    schema = copy.deepcopy(BASE)
    fields = schema["fields"]
    if change == "add_optional":
        fields.append({"name": "neu", "type": ["null", "string"], "default": None})
    elif change == "add_required":
        fields.append({"name": "neu", "type": "string"})
    elif change == "remove_optional":
        del fields[2]
    elif change == "int_to_long":
        fields[1]["type"] = "long"
    elif change == "string_to_int":
        fields[0]["type"] = "int"
    elif change == "required_to_optional":
        fields[0]["type"] = ["null", "string"]
        fields[0]["default"] = None
    elif change == "child_renamed":
        fields[3]["type"]["name"] = "Kind"
        fields[4]["type"]["items"] = "Kind"
    elif change == "child_field_added":
        fields[3]["type"]["fields"].append({"name": "name", "type": "string"})
    return schema


def sample(node: Any, names: dict[str, Any], first_branch: bool) -> Any:
    """A value of an Avro type: unions take their first or last branch."""
    if isinstance(node, str) and node in names:
        node = names[node]
    if isinstance(node, list):
        return sample(node[0] if first_branch else node[-1], names, first_branch)
    if isinstance(node, dict):
        kind = node["type"]
        if kind == "record":
            names[node["name"].rsplit(".", 1)[-1]] = node
            return {f["name"]: sample(f["type"], names, first_branch) for f in node["fields"]}
        if kind == "array":
            return [sample(node["items"], names, first_branch)]
        return sample(kind, names, first_branch)
    return {"string": "s", "int": 1, "long": 2, "null": None}[node]


def fastavro_can_read(reader: dict[str, Any], writer: dict[str, Any]) -> bool:
    """Empirically: write records with ``writer`` (both union branches), read with ``reader``."""
    parsed_writer = fastavro.parse_schema(writer, named_schemas={})
    parsed_reader = fastavro.parse_schema(reader, named_schemas={})
    for first_branch in (True, False):
        buffer = io.BytesIO()
        fastavro.schemaless_writer(buffer, parsed_writer, sample(writer, {}, first_branch))
        buffer.seek(0)
        try:
            fastavro.schemaless_reader(buffer, parsed_writer, parsed_reader)
        except Exception:
            return False
    return True


CHANGES = [
    "add_optional",
    "add_required",
    "remove_optional",
    "int_to_long",
    "string_to_int",
    "required_to_optional",
    "child_renamed",
    "child_field_added",
]


@pytest.mark.parametrize("change", CHANGES)
def test_rules_agree_with_fastavro(change: str) -> None:
    new = variant(change)
    assert (not can_read(new, BASE)) == fastavro_can_read(new, BASE), "new reads old"
    assert (not can_read(BASE, new)) == fastavro_can_read(BASE, new), "old reads new"


def test_verdicts() -> None:
    assert compare("m", BASE, variant("add_optional")).verdict == "FULL"
    assert compare("m", BASE, variant("int_to_long")).verdict == "BACKWARD"
    assert compare("m", BASE, variant("add_required")).verdict == "FORWARD"
    assert compare("m", BASE, variant("string_to_int")).verdict == "NONE"
    problems = compare("m", BASE, variant("add_required")).backward
    assert problems == [".neu: reader field missing in writer and has no default"]


def test_named_types_match_by_unqualified_name_across_releases() -> None:
    other = variant("add_optional")
    other["name"] = "de.xoev.test.v2.Event"
    assert can_read(other, BASE) == []
