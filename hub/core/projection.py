"""Projections: a recipient kind that may receive only an allow-list of fields.

Data minimisation (GDPR Art. 5(1)(c)) by construction: a kind of authority in the
region file can carry projections (``[[kinds.<kind>.projection]]``), each naming a
standard, message codes and the **fields** its authorities may receive, as paths
of field names in the Avro event record (``envelope``,
``body.kind.geburtsangaben.tagDerGeburt``; arrays and optional values are passed
through). An authority of such a kind receives, for a message with a projection,
only an Avro event of its own *projection schema*, derived from the event schema
by keeping the allowed fields (with everything below them) and the records on the
way to them; never the original XML and never the full event. See
docs/routing.md ("Projections").

Paths are resolved against the event schema of each installed release of the
standard (:meth:`Projections.check`, run when the worker starts and by
``xoev-hub routes check``): a path that does not resolve is a ConfigError naming
the kind, the package and the path.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import fastavro

from hub.avro.binary import compile_writer
from hub.avro.encoding import MAGIC, fingerprint_of, split_single_object
from hub.avro.naming import avro_name
from hub.core.region import ProjectionSpec
from hub.errors import ConfigError, ConversionError

if TYPE_CHECKING:
    from hub.avro.plan import ConversionPlan
    from hub.core.region import Region

__all__ = ["ProjectionPlan", "ProjectionSpec", "Projections", "project_schema"]

_PRIMITIVES = frozenset(
    ("null", "boolean", "int", "long", "float", "double", "bytes", "string")
)


# -- the schema ---------------------------------------------------------------------

Tree = dict[str, "Tree | None"]  # field -> sub-tree (None: the whole field)


def _tree(paths: Iterable[str]) -> Tree:
    tree: Tree = {}
    for path in paths:
        node = tree
        parts = path.split(".")
        for i, part in enumerate(parts):
            if part in node and node[part] is None:
                break  # an ancestor is allowed whole
            if i == len(parts) - 1:
                node[part] = None
            else:
                child = node.get(part)
                if child is None:
                    child = {}
                    node[part] = child
                node = child
    return tree


def _fullname(name: str, namespace: str | None) -> str:
    if "." in name or not namespace:
        return name
    return f"{namespace}.{name}"


def _collect(schema: Any, namespace: str | None, names: dict[str, dict[str, Any]]) -> None:
    """Every named type of a schema by full name."""
    if isinstance(schema, list):
        for branch in schema:
            _collect(branch, namespace, names)
    elif isinstance(schema, dict):
        kind = schema.get("type")
        if kind in ("record", "error", "enum", "fixed"):
            full = _fullname(schema["name"], schema.get("namespace", namespace))
            names[full] = schema
            inner = full.rpartition(".")[0] or None
            for field in schema.get("fields", ()):
                _collect(field["type"], inner, names)
        elif kind == "array":
            _collect(schema["items"], namespace, names)
        elif kind == "map":
            _collect(schema["values"], namespace, names)
        elif isinstance(kind, dict | list):
            _collect(kind, namespace, names)


class _Deriver:
    """Writes the projection schema: full names everywhere, types defined at first use."""

    def __init__(self, schema: dict[str, Any], base: str, where: str) -> None:
        self.names: dict[str, dict[str, Any]] = {}
        _collect(schema, None, self.names)
        self.defined: set[str] = set()
        self.base = base  # full name of the projection's top record
        self.where = where

    def resolve(self, schema: Any, namespace: str | None) -> tuple[Any, str | None]:
        """A named reference replaced by its definition (and that definition's namespace)."""
        if isinstance(schema, str) and schema not in _PRIMITIVES:
            full = _fullname(schema, namespace)
            if full not in self.names and schema in self.names:
                full = schema
            definition = self.names[full]
            return definition, full.rpartition(".")[0] or None
        if isinstance(schema, dict) and schema.get("type") in ("record", "error", "enum", "fixed"):
            full = _fullname(schema["name"], schema.get("namespace", namespace))
            return schema, full.rpartition(".")[0] or None
        return schema, namespace

    def whole(self, schema: Any, namespace: str | None) -> Any:
        """A copy of a type with every named type fully named, defined once."""
        if isinstance(schema, str):
            if schema in _PRIMITIVES:
                return schema
            definition, inner = self.resolve(schema, namespace)
            return self.whole(definition, inner)
        if isinstance(schema, list):
            return [self.whole(branch, namespace) for branch in schema]
        kind = schema.get("type")
        if kind in ("record", "error", "enum", "fixed"):
            full = _fullname(schema["name"], schema.get("namespace", namespace))
            if full in self.defined:
                return full
            self.defined.add(full)
            inner = full.rpartition(".")[0] or None
            copy = {k: v for k, v in schema.items() if k not in ("namespace", "name", "fields")}
            copy["name"] = full
            if "fields" in schema:
                copy["fields"] = [
                    {**field, "type": self.whole(field["type"], inner)}
                    for field in schema["fields"]
                ]
            return copy
        if kind == "array":
            return {**schema, "items": self.whole(schema["items"], namespace)}
        if kind == "map":
            return {**schema, "values": self.whole(schema["values"], namespace)}
        if isinstance(kind, dict | list):
            return {**schema, "type": self.whole(kind, namespace)}
        return schema

    def partial(
        self, schema: Any, namespace: str | None, tree: Tree, name: str, path: str
    ) -> tuple[Any, Any]:
        """(projected type, value projector) of a type some of whose fields are allowed."""
        schema, namespace = self.resolve(schema, namespace)
        if isinstance(schema, list):
            branches = [b for b in schema if b != "null"]
            if len(branches) != 1:
                raise ConfigError(
                    f"{self.where}: {path} is a union of several types; name a field "
                    "inside it only when it is optional (null or one type)"
                )
            inner, projector = self.partial(branches[0], namespace, tree, name, path)
            return ["null", inner] if "null" in schema else [inner], ("?", projector)
        if isinstance(schema, dict) and schema.get("type") == "array":
            inner, projector = self.partial(schema["items"], namespace, tree, name, path)
            return {"type": "array", "items": inner}, ("[]", projector)
        if isinstance(schema, dict) and schema.get("type") == "map":
            inner, projector = self.partial(schema["values"], namespace, tree, name, path)
            return {"type": "map", "values": inner}, ("{}", projector)
        if not (isinstance(schema, dict) and schema.get("type") in ("record", "error")):
            field = next(iter(tree))
            raise ConfigError(
                f"{self.where}: {path}.{field}: {path or 'the event'} has no fields "
                "(it is a value, not a record)"
            )
        record_name = _fullname(schema["name"], schema.get("namespace", namespace))
        inner_ns = record_name.rpartition(".")[0] or None
        by_name = {field["name"]: field for field in schema["fields"]}
        fields: list[dict[str, Any]] = []
        projectors: list[tuple[str, Any]] = []
        for field_name in tree:
            if field_name not in by_name:
                where = path or "the event record"
                raise ConfigError(
                    f"{self.where}: {'.'.join(p for p in (path, field_name) if p)}: "
                    f"{where} has no field {field_name!r} "
                    f"(fields: {', '.join(by_name)})"
                )
        for field in schema["fields"]:  # schema order, not the order of the paths
            field_name = field["name"]
            if field_name not in tree:
                continue
            sub = tree[field_name]
            child_path = f"{path}.{field_name}" if path else field_name
            copy = {k: v for k, v in field.items() if k != "type"}
            if sub is None:
                copy["type"] = self.whole(field["type"], inner_ns)
                projectors.append((field_name, None))
            else:
                child_name = f"{name}_{avro_name(field_name)}"
                copy["type"], projector = self.partial(
                    field["type"], inner_ns, sub, child_name, child_path
                )
                projectors.append((field_name, projector))
            fields.append(copy)
        record = {
            k: v for k, v in schema.items() if k not in ("namespace", "name", "fields", "doc")
        }
        record["name"] = name
        record["doc"] = f"projection of {path or 'the event'}"
        record["fields"] = fields
        return record, ("r", tuple(projectors))


def project_schema(
    schema: dict[str, Any], paths: Sequence[str], kind: str, where: str = "<projection>"
) -> tuple[dict[str, Any], Any]:
    """(projection schema, value projector) of an event schema for an allow-list."""
    full = _fullname(schema["name"], schema.get("namespace"))
    base = f"{full}_projection_{avro_name(kind)}"
    deriver = _Deriver(schema, base, where)
    projected, projector = deriver.partial(schema, None, _tree(paths), base, "")
    projected["doc"] = (
        f"Projection of {full} for authorities of kind {kind}: only the fields "
        f"{', '.join(paths)} (xoev-hub projections, docs/routing.md)."
    )
    return projected, projector


def _apply(value: Any, projector: Any) -> Any:
    if projector is None:
        return value
    mode, inner = projector
    if mode == "r":
        return {name: _apply(value[name], sub) for name, sub in inner}
    if mode == "?":
        return None if value is None else _apply(value, inner)
    if mode == "[]":
        return [_apply(item, inner) for item in value]
    return {key: _apply(item, inner) for key, item in value.items()}


class ProjectionPlan:
    """The projection of one event schema for one kind: schema, fingerprint, encoder."""

    def __init__(self, plan: ConversionPlan, kind: str, paths: Sequence[str], where: str) -> None:
        self.kind = kind
        self.paths = tuple(paths)
        self.source_fingerprint = plan.fingerprint
        self.schema, self._projector = project_schema(plan.schema, paths, kind, where)
        self.full_name: str = self.schema["name"]
        self.fingerprint = fingerprint_of(self.schema)
        self.parsed_schema = fastavro.parse_schema(self.schema)
        self._header = MAGIC + self.fingerprint
        self._writer = compile_writer(self.schema)

    def project(self, record: Mapping[str, Any]) -> dict[str, Any]:
        """The allowed part of a full event record."""
        result: dict[str, Any] = _apply(record, self._projector)
        return result

    def encode(self, record: Mapping[str, Any]) -> bytes:
        """Single-object encoding of the projection of a full event record."""
        projected = self.project(record)
        if self._writer is not None:
            buffer = bytearray(self._header)
            self._writer(buffer, projected)
            return bytes(buffer)
        out = io.BytesIO()
        out.write(self._header)
        fastavro.schemaless_writer(out, self.parsed_schema, projected)
        return out.getvalue()

    def decode(self, data: bytes) -> dict[str, Any]:
        fingerprint, body = split_single_object(data)
        if fingerprint != self.fingerprint:
            raise ConversionError(
                f"fingerprint {fingerprint.hex()} is not {self.full_name}'s",
                code="CONVERSION_WRONG_SCHEMA",
            )
        record: Any = fastavro.schemaless_reader(io.BytesIO(body), self.parsed_schema, None)
        if not isinstance(record, dict):
            raise ConversionError("body is not a record", code="CONVERSION_DECODE_FAILED")
        return record


class Projections:
    """The projections of a region's kinds, compiled per event schema on first use."""

    def __init__(self, region: Region) -> None:
        self.region = region
        self._specs: dict[tuple[str, str, str], tuple[int, ProjectionSpec]] = {}
        for kind_id, kind in region.kinds.items():
            for index, spec in enumerate(kind.projection):
                for code in spec.message_code:
                    self._specs[(kind_id, spec.standard, code)] = (index, spec)
        self._plans: dict[tuple[str, bytes], ProjectionPlan] = {}

    def __bool__(self) -> bool:
        return bool(self._specs)

    def spec(self, kind: str, standard: str, code: str) -> ProjectionSpec | None:
        found = self._specs.get((kind, standard, code))
        return None if found is None else found[1]

    def _where(self, kind: str, standard: str, code: str, version: str) -> str:
        index, _ = self._specs[(kind, standard, code)]
        return (
            f"{self.region.source}: kinds.{kind}.projection[{index}] "
            f"({standard} {version} {code})"
        )

    def plan(self, kind: str, standard: str, version: str, code: str,
             event: ConversionPlan) -> ProjectionPlan:
        """The projection plan of a kind for one event plan (compiled once)."""
        key = (kind, event.fingerprint)
        found = self._plans.get(key)
        if found is None:
            spec = self.spec(kind, standard, code)
            if spec is None:
                raise ConfigError(f"kind {kind!r} has no projection for {standard} {code}")
            found = ProjectionPlan(
                event, kind, spec.fields, self._where(kind, standard, code, version)
            )
            self._plans[key] = found
        return found

    def check(self, packages: Iterable[Any], catalog: Any) -> list[ProjectionPlan]:
        """Resolve every projection against every installed release of its standard.

        ConfigError (naming the region file, kind, package and path) for a path that
        does not resolve. A message code the package does not define is skipped.
        """
        plans: list[ProjectionPlan] = []
        for package in packages:
            for (kind, standard, code), _ in sorted(self._specs.items()):
                if package.standard != standard:
                    continue
                for message in package.messages.values():
                    if message.code == code:
                        event = catalog.plan(package, message)
                        plans.append(self.plan(kind, standard, package.version, code, event))
        return plans
