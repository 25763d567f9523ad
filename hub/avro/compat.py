"""Avro schema resolution rules, checked over schema JSON.

``can_read(reader, writer)`` answers: can a consumer holding ``reader`` decode data
written with ``writer``? It follows the "Schema Resolution" section of the Avro
specification: named types match by unqualified name (so ``v25_05`` and ``v25_11a``
records can resolve), primitive promotions (int→long/float/double, long→float/
double, float→double, string⇄bytes), record fields by name or alias with defaults for
fields the writer lacks, enum symbols, arrays, maps, fixed sizes, and unions on
either side. It returns the list of problems (empty: compatible) with paths.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

PRIMITIVES = {"null", "boolean", "int", "long", "float", "double", "bytes", "string"}
PROMOTIONS = {
    ("int", "long"),
    ("int", "float"),
    ("int", "double"),
    ("long", "float"),
    ("long", "double"),
    ("float", "double"),
    ("string", "bytes"),
    ("bytes", "string"),
}


def _full(name: str, namespace: str | None) -> str:
    if "." in name or not namespace:
        return name
    return f"{namespace}.{name}"


def named_types(schema: Any) -> dict[str, dict[str, Any]]:
    """All named types defined in a schema, by full name."""
    found: dict[str, dict[str, Any]] = {}

    def walk(node: Any, namespace: str | None) -> None:
        if isinstance(node, list):
            for branch in node:
                walk(branch, namespace)
            return
        if not isinstance(node, dict):
            return
        kind = node.get("type")
        if kind in ("record", "error", "enum", "fixed"):
            full = _full(node["name"], node.get("namespace", namespace))
            found[full] = node
            inner = full.rsplit(".", 1)[0] if "." in full else None
            for field in node.get("fields", []):
                walk(field["type"], inner)
        elif kind == "array":
            walk(node["items"], namespace)
        elif kind == "map":
            walk(node["values"], namespace)
        elif isinstance(kind, dict | list):
            walk(kind, namespace)

    walk(schema, None)
    return found


@dataclass
class _Side:
    names: Mapping[str, dict[str, Any]]

    def resolve(self, node: Any) -> Any:
        if isinstance(node, str) and node not in PRIMITIVES:
            found = self.names.get(node)
            if found is None:  # a reference relative to the enclosing namespace
                short = node.rsplit(".", 1)[-1]
                found = next(
                    (v for k, v in self.names.items() if k.rsplit(".", 1)[-1] == short), None
                )
            return found if found is not None else node
        if isinstance(node, dict) and isinstance(node.get("type"), str | dict | list):
            kind = node["type"]
            if kind not in ("record", "error", "enum", "fixed", "array", "map"):
                return self.resolve(kind)  # {"type": "string", "logicalType": ...}
        return node


def _kind(node: Any) -> str:
    if isinstance(node, str):
        return node
    if isinstance(node, list):
        return "union"
    kind: str = node["type"]
    return "record" if kind == "error" else kind


def _short(node: dict[str, Any]) -> str:
    name: str = node["name"]
    return name.rsplit(".", 1)[-1]


def can_read(reader: Any, writer: Any) -> list[str]:
    """Problems that stop ``reader`` from reading data written with ``writer``."""
    readers = _Side(named_types(reader))
    writers = _Side(named_types(writer))
    problems: list[str] = []
    seen: set[tuple[int, int]] = set()

    def match(w: Any, r: Any, path: str) -> bool:
        w = writers.resolve(w)
        r = readers.resolve(r)
        wk, rk = _kind(w), _kind(r)
        if wk == "union":
            ok = True
            for index, branch in enumerate(w):
                ok = match(branch, r, f"{path}<{index}>") and ok
            return ok
        if rk == "union":
            for branch in r:
                if _quick(writers.resolve(w), readers.resolve(branch)):
                    return match(w, branch, path)
            problems.append(f"{path}: writer {_describe(w)} is in no branch of the reader union")
            return False
        if wk in PRIMITIVES or rk in PRIMITIVES:
            if wk == rk or (wk, rk) in PROMOTIONS:
                return True
            problems.append(f"{path}: writer {_describe(w)} cannot be read as {_describe(r)}")
            return False
        if wk != rk:
            problems.append(f"{path}: writer {wk} cannot be read as {rk}")
            return False
        if wk == "array":
            return match(w["items"], r["items"], f"{path}[]")
        if wk == "map":
            return match(w["values"], r["values"], f"{path}{{}}")
        if _short(w) != _short(r) and _short(w) not in r.get("aliases", []):
            problems.append(f"{path}: {wk} name {_short(w)} differs from {_short(r)}")
            return False
        if wk == "fixed":
            if w["size"] != r["size"]:
                problems.append(f"{path}: fixed size {w['size']} differs from {r['size']}")
                return False
            return True
        if wk == "enum":
            missing = [s for s in w["symbols"] if s not in r["symbols"]]
            if missing and "default" not in r:
                problems.append(f"{path}: enum symbols {missing} unknown to the reader")
                return False
            return True
        key = (id(w), id(r))
        if key in seen:
            return True
        seen.add(key)
        ok = True
        writer_fields = {f["name"]: f for f in w["fields"]}
        for field in r["fields"]:
            names = [field["name"], *field.get("aliases", [])]
            source = next((writer_fields[n] for n in names if n in writer_fields), None)
            here = f"{path}.{field['name']}"
            if source is None:
                if "default" not in field:
                    problems.append(f"{here}: reader field missing in writer and has no default")
                    ok = False
                continue
            ok = match(source["type"], field["type"], here) and ok
        return ok

    match(writer, reader, "")
    return problems


def _quick(w: Any, r: Any) -> bool:
    """Does a union branch ``r`` select writer type ``w`` (first match wins)?"""
    wk, rk = _kind(w), _kind(r)
    if wk in PRIMITIVES or rk in PRIMITIVES:
        return wk == rk or (wk, rk) in PROMOTIONS
    if wk != rk:
        return False
    if wk in ("record", "enum", "fixed"):
        return _short(w) == _short(r)
    return True


def _describe(node: Any) -> str:
    kind = _kind(node)
    if kind in ("record", "enum", "fixed"):
        return f"{kind} {_short(node)}"
    return kind


@dataclass(frozen=True)
class Compatibility:
    """Result for one message type present in both versions."""

    message: str
    backward: list[str]  # new reader reads old data: problems
    forward: list[str]  # old reader reads new data: problems

    @property
    def verdict(self) -> str:
        if not self.backward and not self.forward:
            return "FULL"
        if not self.backward:
            return "BACKWARD"
        if not self.forward:
            return "FORWARD"
        return "NONE"


def compare(message: str, old: Any, new: Any) -> Compatibility:
    """Both directions of compatibility between two versions of one event schema."""
    return Compatibility(message=message, backward=can_read(new, old), forward=can_read(old, new))
