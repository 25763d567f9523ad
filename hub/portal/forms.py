"""Form data: validation against the service's JSON Schema, and its Avro schema.

Validation uses ``fastjsonschema`` (draft-07). A refusal names the field path
(``/titel/gueltig_bis``) and the schema keyword that failed (``pattern``), never
the value: form data is personal data.

The application event's Avro schema is derived from the JSON Schema: an object
is a record, its properties fields in the schema's order (a property not in
``required`` is a union with null, default null), ``string`` (also with
``format``/``enum``) a string, ``integer`` a long, ``number`` a double,
``boolean`` a boolean, ``array`` an array of its ``items``. Anything else (a
property without ``type``, ``oneOf``, ``$ref``, an object without
``additionalProperties: false``) is refused when the catalogue loads, so a form
that validates always encodes.
"""

from __future__ import annotations

import io
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import fastavro
import fastjsonschema

from hub.avro.encoding import MAGIC, fingerprint_of

if TYPE_CHECKING:
    from hub.portal.catalog import Service

__all__ = ["FormError", "FormSchema", "application_schema"]

AVRO_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
NAMESPACE = "de.xoev.hub.portal"
SCALARS = {"string": "string", "integer": "long", "number": "double", "boolean": "boolean"}


@dataclass(frozen=True)
class FormError:
    """Why form data failed its schema: a JSON pointer and the failed keyword."""

    path: str
    rule: str

    def as_dict(self) -> dict[str, str]:
        return {"path": self.path, "rule": self.rule}


def _record_name(text: str) -> str:
    cleaned = "".join(part[:1].upper() + part[1:] for part in re.split(r"[^A-Za-z0-9]+", text))
    if not cleaned or not AVRO_NAME_RE.match(cleaned):
        cleaned = "F" + cleaned
    return cleaned


def _avro_type(schema: Mapping[str, Any], name: str, where: str) -> Any:
    kind = schema.get("type")
    if kind == "object":
        if schema.get("additionalProperties") is not False:
            raise ValueError(f"{where or '/'}: objects need additionalProperties: false")
        required = set(schema.get("required", ()))
        properties = schema.get("properties", {})
        unknown = required - set(properties)
        if unknown:
            raise ValueError(
                f"{where or '/'}: required names undefined properties {sorted(unknown)}"
            )
        fields = []
        for prop, sub in properties.items():
            if not AVRO_NAME_RE.match(prop):
                raise ValueError(f"{where}/{prop}: not a valid Avro field name")
            inner = _avro_type(sub, f"{name}_{prop}", f"{where}/{prop}")
            if prop in required:
                fields.append({"name": prop, "type": inner})
            else:
                fields.append({"name": prop, "type": ["null", inner], "default": None})
        return {"type": "record", "name": name, "fields": fields}
    if kind == "array":
        items = schema.get("items")
        if not isinstance(items, Mapping):
            raise ValueError(f"{where}: arrays need one items schema")
        return {"type": "array", "items": _avro_type(items, f"{name}_item", f"{where}/items")}
    if isinstance(kind, str) and kind in SCALARS:
        return SCALARS[kind]
    raise ValueError(f"{where or '/'}: type {kind!r} cannot be carried (use a single JSON type)")


def application_schema(service: Service) -> dict[str, Any]:
    """The Avro schema of the application event of ``service``."""
    base = _record_name(str(service.schema.get("title") or service.key))
    form = _avro_type(service.schema, f"{base}Form", "")
    optional_string = ["null", "string"]
    return {
        "type": "record",
        "name": f"{base}Application",
        "namespace": NAMESPACE,
        "doc": f"An application for {service.name} ({service.key}) from the service portal.",
        "fields": [
            {"name": "application_id", "type": "string"},
            {"name": "service_key", "type": "string"},
            {"name": "ags", "type": "string"},
            {"name": "authority", "type": "string", "doc": "the responsible authority's id"},
            {"name": "applicant_id", "type": "string",
             "doc": "the identity provider's pseudonymous subject id"},
            {"name": "trust_level", "type": "string", "doc": "eIDAS: substantiell or hoch"},
            {"name": "payment_reference", "type": optional_string, "default": None},
            {"name": "fee_cents", "type": ["null", "long"], "default": None},
            {"name": "received", "type": "string", "doc": "ISO 8601, UTC"},
            {"name": "form", "type": form},
        ],
    }


class FormSchema:
    """A service's compiled form validator and its event codec."""

    _cache: dict[str, FormSchema] = {}  # noqa: RUF012  (per service schema file)

    def __init__(self, service: Service) -> None:
        self.service = service
        try:
            self._validate = fastjsonschema.compile(dict(service.schema))
        except fastjsonschema.JsonSchemaDefinitionException as exc:
            raise ValueError(f"JSON Schema does not compile: {exc}") from exc
        self.avro_schema = application_schema(service)
        self.parsed = fastavro.parse_schema(self.avro_schema)
        self.fingerprint = fingerprint_of(self.avro_schema)

    @classmethod
    def of(cls, service: Service) -> FormSchema:
        key = f"{service.key}:{service.schema_path}"
        known = cls._cache.get(key)
        if known is None or known.service.schema != service.schema:
            known = cls._cache[key] = FormSchema(service)
        return known

    def check(self, form: Any) -> FormError | None:
        """None when ``form`` is valid, else where and which keyword failed."""
        try:
            self._validate(form)
        except fastjsonschema.JsonSchemaValueException as exc:
            parts = [str(p) for p in (exc.path or [])][1:]  # drop fastjsonschema's "data"
            rule = str(exc.rule or "invalid")
            if rule == "required" and isinstance(exc.rule_definition, list):
                node: Any = form
                for part in parts:
                    node = node[int(part)] if isinstance(node, list) else node.get(part)
                missing = [n for n in exc.rule_definition
                           if not isinstance(node, dict) or n not in node]
                if missing:
                    parts.append(str(missing[0]))
            return FormError("/" + "/".join(parts), rule)
        return None

    def encode(self, record: Mapping[str, Any]) -> bytes:
        """The application event in single-object encoding (``C3 01`` + fingerprint)."""
        buffer = io.BytesIO()
        buffer.write(MAGIC + self.fingerprint)
        fastavro.schemaless_writer(buffer, self.parsed, dict(record))
        return buffer.getvalue()

    def decode(self, data: bytes) -> Any:
        from hub.avro.encoding import split_single_object

        fingerprint, body = split_single_object(data)
        if fingerprint != self.fingerprint:
            raise ValueError("single-object encoding of another schema")
        return fastavro.schemaless_reader(io.BytesIO(body), self.parsed, None)
