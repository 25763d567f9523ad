"""Avro schemas derived from XÖV XSDs: one event record per message type.

The event record ``<namespace>.<root>`` (e.g. ``de.xoev.xmeld.v25_11a.
rueckmeldung_anmeldunginland_0201``) has the fields

* ``envelope``: the shared record ``de.xoev.hub.Envelope``;
* ``schema_location`` / ``no_namespace_schema_location``: the root's
  ``xsi:schemaLocation`` attributes (nullable), the only ``xsi`` attributes kept;
* ``body``: the record of the root element's type.

:func:`derive_event_schemas` takes an xmlschema schema and message roots, so the
registry integration is one call per package.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from hub.avro.model import (
    XSI_NAMESPACE,
    DerivationError,
    ElementField,
    GroupField,
    ModelBuilder,
    RecordNode,
    SimpleNode,
    WildcardField,
)
from hub.avro.naming import avro_name, avro_namespace, local_name, namespace_of

ENVELOPE_NAME = "de.xoev.hub.Envelope"

ENVELOPE_SCHEMA: dict[str, Any] = {
    "type": "record",
    "name": ENVELOPE_NAME,
    "doc": "Hub metadata shared by every XÖV event.",
    "fields": [
        {"name": "message_id", "type": "string", "doc": "nachrichtenUUID"},
        {"name": "standard", "type": "string", "doc": "e.g. XMeld"},
        {"name": "version", "type": "string", "doc": "e.g. 25.11a"},
        {"name": "message_type_code", "type": "string", "doc": "e.g. 0201"},
        {"name": "message_type_name", "type": "string", "doc": "e.g. rueckmeldung.anmeldunginland"},
        {"name": "author_key", "type": "string", "doc": "DVDV key of the author"},
        {
            "name": "reader_keys",
            "type": {"type": "array", "items": "string"},
            "doc": "DVDV keys of the readers",
        },
        {
            "name": "created",
            "type": "string",
            "doc": "erstellungszeitpunkt, lexical xs:dateTime as sent (time zone kept)",
        },
        {
            "name": "received",
            "type": "string",
            "doc": "when the hub received the message, RFC 3339 UTC",
        },
        {"name": "trace_id", "type": "string", "doc": "W3C trace id (32 hex digits)"},
        {
            "name": "file_plan_unit",
            "type": ["null", "string"],
            "default": None,
            "doc": "Kennzeichen of the regional file-plan unit the message type is filed "
            "under (hub/config/filing.toml); null: no mapping (decision 0015)",
        },
        {
            "name": "retention_years",
            "type": ["null", "string"],
            "default": None,
            "doc": "that unit's retention period: years as a decimal number, or "
            "'unbefristet'; null when file_plan_unit is null",
        },
    ],
}

SCHEMA_LOCATION = f"{{{XSI_NAMESPACE}}}schemaLocation"
NO_NAMESPACE_SCHEMA_LOCATION = f"{{{XSI_NAMESPACE}}}noNamespaceSchemaLocation"


@dataclass(frozen=True)
class MessageModel:
    """The model of one message type: what both schema and plan are made of."""

    root: str  # Clark name of the root element
    event_name: str  # full Avro name of the event record
    body: RecordNode


def build_models(schema: Any, roots: Iterable[str], namespace: str) -> dict[str, MessageModel]:
    """Models for the given root elements (Clark names) of one xmlschema schema."""
    builder = ModelBuilder(namespace)
    models: dict[str, MessageModel] = {}
    ordered = sorted(set(roots))
    # event names first, so a type can never take a message's name
    event_names = {root: builder.full_name(local_name(root)) for root in ordered}
    for root in ordered:
        element = _global_element(schema, root)
        node = builder.element_node(element, f"{local_name(root)}.body")
        if not isinstance(node, RecordNode):
            raise DerivationError(f"message root {root} has a simple type")
        models[root] = MessageModel(root=root, event_name=event_names[root], body=node)
    return models


def _global_element(schema: Any, root: str) -> Any:
    maps = getattr(schema, "maps", None)
    element = None
    if maps is not None:
        element = maps.elements.get(root)
    if element is None:
        element = schema.elements.get(local_name(root))
        if element is not None and element.name != root:
            element = None
    if element is None:
        raise DerivationError(f"no global element {root} in the schema")
    return element


def event_schema(model: MessageModel, doc: str | None = None) -> dict[str, Any]:
    """The self-contained Avro schema (JSON object) of one message type's event."""
    defined: set[str] = set()
    body = _record_schema(model.body, defined)
    event: dict[str, Any] = {
        "type": "record",
        "name": model.event_name,
        "xml": local_name(model.root),
        "xmlns": namespace_of(model.root),
        "fields": [
            {"name": "envelope", "type": ENVELOPE_SCHEMA},
            {
                "name": "schema_location",
                "type": ["null", "string"],
                "default": None,
                "xml": "schemaLocation",
                "xmlns": XSI_NAMESPACE,
                "xmlKind": "attribute",
            },
            {
                "name": "no_namespace_schema_location",
                "type": ["null", "string"],
                "default": None,
                "xml": "noNamespaceSchemaLocation",
                "xmlns": XSI_NAMESPACE,
                "xmlKind": "attribute",
            },
            {"name": "body", "type": body},
        ],
    }
    if doc:
        event["doc"] = doc
    return event


def _xml_props(clark: str) -> dict[str, str]:
    props = {"xml": local_name(clark)}
    namespace = namespace_of(clark)
    if namespace:
        props["xmlns"] = namespace
    return props


def _node_type(node: SimpleNode | RecordNode, defined: set[str]) -> Any:
    if isinstance(node, SimpleNode):
        return "string"
    return _record_schema(node, defined)


def _with_occurs(avro_type: Any, occurs: str) -> tuple[Any, dict[str, Any]]:
    if occurs == "one":
        return avro_type, {}
    if occurs == "optional":
        return ["null", avro_type], {"default": None}
    return {"type": "array", "items": avro_type}, {"default": []}


def _record_schema(node: RecordNode, defined: set[str]) -> Any:
    if node.name in defined:
        return node.name
    defined.add(node.name)
    fields: list[dict[str, Any]] = []
    for attribute in node.attributes:
        avro_type, extra = _with_occurs("string", "one" if attribute.required else "optional")
        fields.append(
            {
                "name": attribute.field,
                "type": avro_type,
                **extra,
                **_xml_props(attribute.xml),
                "xmlKind": "attribute",
                "xsd": attribute.xsd,
            }
        )
    if node.any_attributes:
        fields.append(
            {
                "name": node.any_attributes,
                "type": {"type": "map", "values": "string"},
                "default": {},
                "xmlKind": "anyAttribute",
                "doc": "attributes matched by xs:anyAttribute, keyed by Clark name",
            }
        )
    if node.kind in ("simple", "mixed"):
        assert node.text_field is not None
        prop: dict[str, Any] = {"xmlKind": "text", "xsd": node.text_xsd}
        if node.kind == "mixed":
            prop = {"xmlKind": "mixed", "doc": "serialized mixed content (text and elements)"}
        fields.append({"name": node.text_field, "type": "string", **prop})
    elif node.kind == "elements":
        for element in node.elements:
            if isinstance(element, GroupField):
                fields.append(_group_field(element, defined))
                continue
            if isinstance(element, WildcardField):
                avro_type, extra = _with_occurs("string", element.occurs)
                fields.append(
                    {
                        "name": element.field,
                        "type": avro_type,
                        **extra,
                        "xmlKind": "any",
                        "xmlAnyNamespace": element.namespace,
                        "doc": "elements matched by xs:any, each serialized as XML",
                    }
                )
                continue
            fields.append(_element_field(element, defined))
    record: dict[str, Any] = {"type": "record", "name": node.name, "fields": fields}
    if node.xml_type:
        record["xmlType"] = node.xml_type
    return record


def _group_field(group: GroupField, defined: set[str]) -> dict[str, Any]:
    item_fields: list[dict[str, Any]] = []
    for alternative in group.alternatives:
        if alternative.node is None:
            item_fields.append(
                {
                    "name": alternative.field,
                    "type": ["null", "string"],
                    "default": None,
                    "xmlKind": "any",
                    "doc": "an element matched by xs:any, serialized as XML",
                }
            )
            continue
        assert alternative.xml is not None
        props: dict[str, Any] = {**_xml_props(alternative.xml), "xmlKind": "element"}
        if isinstance(alternative.node, SimpleNode):
            props["xsd"] = alternative.node.xsd
        item_fields.append(
            {
                "name": alternative.field,
                "type": ["null", _node_type(alternative.node, defined)],
                "default": None,
                **props,
            }
        )
    defined.add(group.item_name)
    return {
        "name": group.field,
        "type": {
            "type": "array",
            "items": {
                "type": "record",
                "name": group.item_name,
                "doc": "one child element; exactly one field is set",
                "fields": item_fields,
            },
        },
        "default": [],
        "xmlKind": "sequence",
        "doc": "child elements of a group without fixed order, in document order",
    }


def _element_field(element: ElementField, defined: set[str]) -> dict[str, Any]:
    avro_type, extra = _with_occurs(_node_type(element.node, defined), element.occurs)
    result: dict[str, Any] = {
        "name": element.field,
        "type": avro_type,
        **extra,
        **_xml_props(element.xml),
        "xmlKind": "element",
    }
    if isinstance(element.node, SimpleNode):
        result["xsd"] = element.node.xsd
    return result


def derive_event_schemas(
    schema: Any, roots: Sequence[str], standard: str, version: str
) -> dict[str, dict[str, Any]]:
    """Avro event schemas (JSON objects) by root Clark name for one package."""
    models = build_models(schema, roots, avro_namespace(standard, version))
    return {root: event_schema(model) for root, model in models.items()}


def dumps_schema(schema: dict[str, Any]) -> str:
    """Stable text of an .avsc file: sorted keys, two-space indent, final newline."""
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def file_name(root: str) -> str:
    """``{ns}rueckmeldung.anmeldunginland.0201`` → ``rueckmeldung.anmeldunginland.0201.avsc``."""
    return f"{local_name(root)}.avsc"


__all__ = [
    "ENVELOPE_NAME",
    "ENVELOPE_SCHEMA",
    "MessageModel",
    "avro_name",
    "build_models",
    "derive_event_schemas",
    "dumps_schema",
    "event_schema",
    "file_name",
]
