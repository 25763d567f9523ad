"""Conversion plans: lxml tree ⇄ Avro record ⇄ single-object encoded bytes.

A plan is compiled once per message type from the same model as its Avro schema:
per record, a dispatch table from child tag to (position, field, converter) and the
attribute lookups, so converting a message is one pass over the tree without any
schema lookups.

What is preserved: elements, attributes, text (exactly, whitespace included), the
root's ``xsi:schemaLocation``. Not preserved (and not significant): namespace
prefixes and declarations, the XML declaration, insignificant whitespace between
elements, and comments or processing instructions *outside* the root element.
Anything else that the schema cannot carry raises :class:`ConversionError`:
comments or processing instructions inside the message, unknown or misplaced
elements, unknown attributes (other ``xsi:*`` attributes included), text inside
element-only content, missing required elements or attributes.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import fastavro
from lxml import etree

from hub.avro.binary import compile_writer
from hub.avro.derive import (
    NO_NAMESPACE_SCHEMA_LOCATION,
    SCHEMA_LOCATION,
    MessageModel,
    event_schema,
)
from hub.avro.encoding import MAGIC, fingerprint_of, split_single_object
from hub.avro.model import (
    XSI_NAMESPACE,
    ElementField,
    GroupField,
    RecordNode,
    SimpleNode,
    WildcardField,
)
from hub.avro.naming import avro_name, local_name, namespace_of
from hub.errors import ConversionError

_Element = etree._Element


@dataclass(frozen=True)
class Envelope:
    """Hub metadata of one event (the ``de.xoev.hub.Envelope`` record)."""

    message_id: str
    standard: str
    version: str
    message_type_code: str
    message_type_name: str
    author_key: str
    reader_keys: tuple[str, ...]
    created: str
    received: str
    trace_id: str
    #: the file-plan unit (Kennzeichen) and its retention (years or "unbefristet")
    #: the regional mapping assigns to the message type; None: not mapped
    file_plan_unit: str | None = None
    retention_years: str | None = None

    def to_record(self) -> dict[str, Any]:
        return {
            "message_id": self.message_id,
            "standard": self.standard,
            "version": self.version,
            "message_type_code": self.message_type_code,
            "message_type_name": self.message_type_name,
            "author_key": self.author_key,
            "reader_keys": list(self.reader_keys),
            "created": self.created,
            "received": self.received,
            "trace_id": self.trace_id,
            "file_plan_unit": self.file_plan_unit,
            "retention_years": self.retention_years,
        }

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Envelope:
        return cls(
            message_id=record["message_id"],
            standard=record["standard"],
            version=record["version"],
            message_type_code=record["message_type_code"],
            message_type_name=record["message_type_name"],
            author_key=record["author_key"],
            reader_keys=tuple(record["reader_keys"]),
            created=record["created"],
            received=record["received"],
            trace_id=record["trace_id"],
            # absent in events written before decision 0015
            file_plan_unit=record.get("file_plan_unit"),
            retention_years=record.get("retention_years"),
        )


def _describe(node: _Element) -> str:
    """A path of local names (no values) for error messages: no personal data."""
    parts: list[str] = []
    current: _Element | None = node
    while current is not None:
        tag = current.tag
        parts.append(local_name(tag) if isinstance(tag, str) else "#comment-or-pi")
        current = current.getparent()
    return "/" + "/".join(reversed(parts))


def _fail(code: str, detail: str, node: _Element) -> ConversionError:
    return ConversionError(
        detail, code=code, path=_describe(node), line=getattr(node, "sourceline", None)
    )


def _unexpected_child(child: _Element) -> ConversionError:
    if not isinstance(child.tag, str):
        return _fail(
            "CONVERSION_COMMENT_OR_PI",
            "comments and processing instructions inside a message are not representable",
            child,
        )
    return _fail("CONVERSION_UNEXPECTED_ELEMENT", "element not allowed here", child)


def _check_text(text: str | None, node: _Element) -> None:
    if text is not None and not text.isspace():
        raise _fail("CONVERSION_UNEXPECTED_TEXT", "text inside element-only content", node)


def _serialize(node: _Element) -> str:
    return etree.tostring(node, encoding="unicode", with_tail=False)


def _leaf(child: _Element) -> str:
    if len(child) or child.attrib:
        if len(child):
            raise _unexpected_child(child[0])
        raise _fail("CONVERSION_UNEXPECTED_ATTRIBUTE", "attribute not allowed here", child)
    text = child.text
    return "" if text is None else text


_KIND_LEAF, _KIND_RECORD, _KIND_ANY, _KIND_GROUP = 0, 1, 2, 3
_DOCUMENT_ATTRIBUTES = frozenset((SCHEMA_LOCATION, NO_NAMESPACE_SCHEMA_LOCATION))


class _RecordConverter:
    """XML ⇄ Avro for one record node (compiled, recursive by reference)."""

    __slots__ = (
        "any_attributes",
        "attr_fields",
        "attr_names",
        "attrs",
        "children",
        "dispatch",
        "kind",
        "leaf_dispatch",
        "node",
        "post",
        "template",
        "text_field",
        "wildcard",
    )

    def __init__(self, node: RecordNode) -> None:
        self.node = node
        self.kind = node.kind
        self.attrs = tuple((a.field, a.xml, a.required) for a in node.attributes)
        self.attr_names = frozenset(a.xml for a in node.attributes)
        self.any_attributes = node.any_attributes
        self.text_field = node.text_field
        # filled by compile()
        self.dispatch: dict[str, tuple[int, str, bool, int, Any]] = {}
        self.post: tuple[tuple[str, int], ...] = ()
        self.wildcard: tuple[Any, ...] | None = None
        self.children: list[tuple[str, str, str, int, Any]] = []
        self.attr_fields = {a.xml: a.field for a in node.attributes}
        self.leaf_dispatch: dict[str, tuple[str, bool]] = {}
        self.template: dict[str, Any] = dict.fromkeys(a.field for a in node.attributes)

    def compile(self, converters: dict[str, _RecordConverter]) -> None:
        node = self.node

        def converter_for(child: SimpleNode | RecordNode | None) -> tuple[int, Any]:
            if child is None:
                return _KIND_ANY, None
            if isinstance(child, SimpleNode):
                return _KIND_LEAF, None
            return _KIND_RECORD, _converter(child, converters)

        if node.kind != "elements":
            return
        post: list[tuple[str, int]] = []
        for element in node.elements:
            requirement = {"one": 0, "optional": 1, "many": 2}[element.occurs]
            post.append((element.field, requirement))
            if isinstance(element, GroupField):
                self._compile_group(element, converter_for)
                continue
            many = element.occurs == "many"
            if isinstance(element, WildcardField):
                self.wildcard = (element.position, element.field, many, element.matches)
                self.children.append((element.field, "", element.occurs, _KIND_ANY, None))
                continue
            assert isinstance(element, ElementField)
            kind, conv = converter_for(element.node)
            self.dispatch[element.xml] = (element.position, element.field, many, kind, conv)
            self.children.append((element.field, element.xml, element.occurs, kind, conv))
        self.post = tuple(post)
        self.leaf_dispatch = {
            tag: (field, many)
            for tag, (_, field, many, kind, _) in self.dispatch.items()
            if kind == _KIND_LEAF
        }
        for field, requirement in post:
            self.template[field] = () if requirement == 2 else None

    def _compile_group(
        self, group: GroupField, converter_for: Callable[[Any], tuple[int, Any]]
    ) -> None:
        template = dict.fromkeys(a.field for a in group.alternatives)
        alternatives: list[tuple[str, str, int, Any]] = []
        for alternative in group.alternatives:
            kind, conv = converter_for(alternative.node)
            entry = (alternative.field, kind, conv, template)
            if alternative.xml is None:
                assert group.wildcard is not None
                self.wildcard = (group.position, group.field, True, group.wildcard, entry)
            else:
                self.dispatch[alternative.xml] = (
                    group.position,
                    group.field,
                    True,
                    _KIND_GROUP,
                    entry,
                )
            alternatives.append((alternative.field, alternative.xml or "", kind, conv))
        self.children.append((group.field, "", "many", _KIND_GROUP, tuple(alternatives)))

    # --- XML → Avro ----------------------------------------------------------
    def to_avro(self, elem: _Element, found: int = 0) -> dict[str, Any]:
        """The record of ``elem``; ``found`` counts attributes the caller consumed."""
        record: dict[str, Any] = {}
        get = elem.get
        for field, xml, required in self.attrs:
            value = get(xml)
            if value is None:
                if required:
                    raise _fail("CONVERSION_MISSING_ATTRIBUTE", f"missing attribute {xml}", elem)
            else:
                found += 1
            record[field] = value
        if len(elem.attrib) != found:
            self._other_attributes(elem, record)
        elif self.any_attributes is not None:
            record[self.any_attributes] = {}
        kind = self.kind
        if kind == "elements":
            _check_text(elem.text, elem)
            dispatch = self.dispatch
            last = -1
            for child in elem:
                entry = dispatch.get(child.tag)
                if entry is None:
                    entry = self._wildcard_entry(child)
                position, field, many, child_kind, conv = entry
                if position <= last and (position < last or not many):
                    raise _fail("CONVERSION_ELEMENT_ORDER", "element out of schema order", child)
                if child_kind == _KIND_LEAF:
                    converted: Any = _leaf(child)
                elif child_kind == _KIND_RECORD:
                    converted = conv.to_avro(child)
                elif child_kind == _KIND_GROUP:
                    item_field, item_kind, item_conv, template = conv
                    converted = template.copy()
                    if item_kind == _KIND_LEAF:
                        converted[item_field] = _leaf(child)
                    elif item_kind == _KIND_RECORD:
                        converted[item_field] = item_conv.to_avro(child)
                    else:
                        converted[item_field] = _serialize(child)
                else:
                    converted = _serialize(child)
                if many:
                    if position == last:
                        record[field].append(converted)
                    else:
                        record[field] = [converted]
                else:
                    record[field] = converted
                last = position
                tail = child.tail
                if tail is not None and not tail.isspace():
                    raise _fail(
                        "CONVERSION_UNEXPECTED_TEXT", "text inside element-only content", child
                    )
            for field, requirement in self.post:
                if field not in record:
                    if requirement == 0:
                        raise _fail(
                            "CONVERSION_MISSING_ELEMENT", f"missing element for field {field}", elem
                        )
                    record[field] = None if requirement == 1 else []
        elif kind == "simple":
            if len(elem):
                raise _unexpected_child(elem[0])
            text = elem.text
            record[self.text_field] = "" if text is None else text  # type: ignore[index]
        elif kind == "empty":
            if len(elem):
                raise _unexpected_child(elem[0])
            _check_text(elem.text, elem)
        elif kind == "mixed":
            record[self.text_field] = _inner_xml(elem)  # type: ignore[index]
        return record

    def to_avro_trusted(self, elem: _Element) -> dict[str, Any]:
        """The record of an element of an XSD-valid document (fewer checks).

        Validity guarantees known elements and attributes in schema order, no text
        in element-only content and every required part; the caller has checked
        for comments, processing instructions and ``xsi`` attributes.
        Unknown elements still raise ConversionError.
        """
        record = self.template.copy()
        if self.attr_fields:
            fields: dict[Any, str] = self.attr_fields
            for name, value in elem.items():
                field = fields.get(name)
                if field is not None:
                    record[field] = value
        if self.any_attributes is not None:
            record[self.any_attributes] = {
                k: v for k, v in elem.items() if k not in self.attr_names
            }
        kind = self.kind
        if kind == "elements":
            dispatch = self.dispatch
            leaves = self.leaf_dispatch
            for child in elem:
                tag = child.tag
                leaf = leaves.get(tag)
                if leaf is not None:
                    field, many = leaf
                    text = child.text
                    if many:
                        values = record[field]
                        if values:  # lists only; the template holds ()
                            values.append("" if text is None else text)
                        else:
                            record[field] = ["" if text is None else text]
                    else:
                        record[field] = "" if text is None else text
                    continue
                entry = dispatch.get(tag)
                if entry is None:
                    entry = self._wildcard_entry(child)
                _, field, many, child_kind, conv = entry
                if child_kind == _KIND_RECORD:
                    converted = conv.to_avro_trusted(child)
                elif child_kind == _KIND_GROUP:
                    item_field, item_kind, item_conv, template = conv
                    converted = template.copy()
                    if item_kind == _KIND_LEAF:
                        converted[item_field] = child.text or ""
                    elif item_kind == _KIND_RECORD:
                        converted[item_field] = item_conv.to_avro_trusted(child)
                    else:
                        converted[item_field] = _serialize(child)
                else:
                    converted = _serialize(child)
                if many:  # occurrences are contiguous in a valid document
                    values = record[field]
                    if values:
                        values.append(converted)
                    else:
                        record[field] = [converted]
                else:
                    record[field] = converted
        elif kind == "simple":
            text = elem.text
            record[self.text_field] = "" if text is None else text  # type: ignore[index]
        elif kind == "mixed":
            record[self.text_field] = _inner_xml(elem)  # type: ignore[index]
        return record

    def _wildcard_entry(self, child: _Element) -> tuple[int, str, bool, int, Any]:
        tag = child.tag
        wildcard = self.wildcard
        if wildcard is None or not isinstance(tag, str) or not wildcard[3](tag):
            raise _unexpected_child(child)
        if len(wildcard) == 5:  # inside an ordered group
            return (wildcard[0], wildcard[1], True, _KIND_GROUP, wildcard[4])
        return (wildcard[0], wildcard[1], wildcard[2], _KIND_ANY, None)

    def _other_attributes(self, elem: _Element, record: dict[str, Any]) -> None:
        extra = {
            k: v
            for k, v in elem.attrib.items()
            if k not in self.attr_names and k not in _DOCUMENT_ATTRIBUTES
        }
        if self.any_attributes is not None:
            record[self.any_attributes] = extra
            return
        name = str(next(iter(extra)))
        raise _fail(
            "CONVERSION_UNEXPECTED_ATTRIBUTE",
            f"attribute {local_name(name)} not allowed here",
            elem,
        )

    # --- Avro → XML ----------------------------------------------------------
    def to_xml(self, record: dict[str, Any], elem: _Element) -> None:
        for field, xml, _required in self.attrs:
            value = record.get(field)
            if value is not None:
                elem.set(xml, value)
        if self.any_attributes is not None:
            for name, value in (record.get(self.any_attributes) or {}).items():
                elem.set(name, value)
        kind = self.kind
        if kind == "simple":
            elem.text = record[self.text_field]  # type: ignore[index]
        elif kind == "mixed":
            _set_inner_xml(elem, record[self.text_field])  # type: ignore[index]
        elif kind == "elements":
            sub = etree.SubElement
            for field, xml, occurs, child_kind, conv in self.children:
                value = record.get(field)
                if value is None:
                    continue
                values = value if occurs == "many" else (value,)
                for item in values:
                    if child_kind == _KIND_GROUP:
                        _group_item_to_xml(conv, item, elem)
                        continue
                    if child_kind == _KIND_ANY:
                        elem.append(etree.fromstring(item))
                        continue
                    child = sub(elem, xml)
                    if child_kind == _KIND_LEAF:
                        child.text = item
                    else:
                        conv.to_xml(item, child)


def _group_item_to_xml(
    alternatives: tuple[tuple[str, str, int, Any], ...], item: dict[str, Any], elem: _Element
) -> None:
    for field, xml, child_kind, conv in alternatives:
        value = item.get(field)
        if value is None:
            continue
        if child_kind == _KIND_ANY:
            elem.append(etree.fromstring(value))
        else:
            child = etree.SubElement(elem, xml)
            if child_kind == _KIND_LEAF:
                child.text = value
            else:
                conv.to_xml(value, child)
        return
    raise ConversionError(
        "an item of an ordered group has no field set", code="CONVERSION_BAD_RECORD"
    )


def _inner_xml(elem: _Element) -> str:
    text = elem.text or ""
    parts = [_escape(text)]
    for child in elem:
        if not isinstance(child.tag, str):
            raise _unexpected_child(child)
        parts.append(etree.tostring(child, encoding="unicode", with_tail=True))
    return "".join(parts)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _set_inner_xml(elem: _Element, content: str) -> None:
    wrapper = etree.fromstring(f"<w>{content}</w>")
    elem.text = wrapper.text
    for child in list(wrapper):
        elem.append(child)


def _converter(node: RecordNode, converters: dict[str, _RecordConverter]) -> _RecordConverter:
    existing = converters.get(node.name)
    if existing is not None:
        return existing
    converter = _RecordConverter(node)
    converters[node.name] = converter
    converter.compile(converters)
    return converter


_PREFIX = re.compile(r"[^A-Za-z0-9]")

#: What XSD validity does not exclude but the mapping cannot carry: xsi attributes
#: (other than the root's schema locations), comments and processing instructions.
_XSI_ATTRIBUTES = etree.XPath(
    "boolean(.//*/@xsi:*"
    " | @xsi:*[local-name() != 'schemaLocation' and local-name() != 'noNamespaceSchemaLocation'])",
    namespaces={"xsi": XSI_NAMESPACE},
)


def _unrepresentable(root: _Element) -> bool:
    for _ in root.iter(etree.Comment, etree.ProcessingInstruction):
        return True
    return bool(_XSI_ATTRIBUTES(root))


class ConversionPlan:
    """XML ⇄ Avro for one message type, compiled once.

    ``schema`` is the Avro event schema (JSON object), ``full_name`` its record name,
    ``fingerprint`` the 8-byte CRC-64-AVRO fingerprint (little endian) of its
    Parsing Canonical Form.
    """

    def __init__(self, model: MessageModel, schema: dict[str, Any] | None = None) -> None:
        self.model = model
        self.root = model.root
        self.schema: dict[str, Any] = schema if schema is not None else event_schema(model)
        self.full_name: str = model.event_name
        self.parsed_schema = fastavro.parse_schema(self.schema)
        self.fingerprint: bytes = fingerprint_of(self.schema)
        parts = model.event_name.split(".")
        self._prefix = (_PREFIX.sub("", parts[2]) if len(parts) > 3 else "") or "ns"
        self._body = _converter(model.body, {})
        self._header = MAGIC + self.fingerprint
        self._writer = compile_writer(self.schema)

    def to_record(
        self, root: _Element, envelope: Envelope, *, validated: bool = False
    ) -> dict[str, Any]:
        """The Avro event record of a message. Raises ConversionError.

        ``validated=True``: the caller has validated ``root`` against the XSD, so
        the per-node structure checks are skipped; one XPath still rejects what
        validity does not rule out (comments, processing instructions, ``xsi``
        attributes other than the root's schema locations). Default: every node
        is checked, for input that was not validated.
        """
        if root.tag != self.root:
            raise _fail("CONVERSION_WRONG_ROOT", f"root is not {local_name(self.root)}", root)
        location = root.get(SCHEMA_LOCATION)
        no_namespace_location = root.get(NO_NAMESPACE_SCHEMA_LOCATION)
        consumed = (location is not None) + (no_namespace_location is not None)
        return {
            "envelope": envelope.to_record(),
            "schema_location": location,
            "no_namespace_schema_location": no_namespace_location,
            "body": (
                self._body.to_avro_trusted(root)
                if validated and not _unrepresentable(root)
                else self._body.to_avro(root, consumed)
            ),
        }

    def encode(self, record: dict[str, Any]) -> bytes:
        """Avro single-object encoding: ``C3 01`` + fingerprint + binary body."""
        writer = self._writer
        if writer is not None:
            buffer = bytearray(self._header)
            try:
                writer(buffer, record)
            except (KeyError, TypeError, AttributeError) as exc:
                raise ConversionError(
                    f"record does not match {self.full_name}: {type(exc).__name__}",
                    code="CONVERSION_ENCODE_FAILED",
                ) from exc
            return bytes(buffer)
        out = io.BytesIO()
        out.write(self._header)
        try:
            fastavro.schemaless_writer(out, self.parsed_schema, record)
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise ConversionError(
                f"record does not match {self.full_name}: {type(exc).__name__}",
                code="CONVERSION_ENCODE_FAILED",
            ) from exc
        return out.getvalue()

    def decode(self, data: bytes) -> dict[str, Any]:
        """The record of single-object encoded bytes written with this plan's schema."""
        fingerprint, body = split_single_object(data)
        if fingerprint != self.fingerprint:
            raise ConversionError(
                f"fingerprint {fingerprint.hex()} is not {self.full_name}'s",
                code="CONVERSION_WRONG_SCHEMA",
            )
        try:
            record: Any = fastavro.schemaless_reader(io.BytesIO(body), self.parsed_schema, None)
        except (ValueError, EOFError, StopIteration, IndexError) as exc:
            raise ConversionError(
                f"body is not a {self.full_name} record", code="CONVERSION_DECODE_FAILED"
            ) from exc
        if not isinstance(record, dict):
            raise ConversionError("body is not a record", code="CONVERSION_DECODE_FAILED")
        return record

    def to_element(self, record: dict[str, Any]) -> _Element:
        namespace = namespace_of(self.root)
        nsmap = {self._prefix: namespace} if namespace else {}
        root = etree.Element(self.root, nsmap=nsmap)
        location = record.get("schema_location")
        no_namespace_location = record.get("no_namespace_schema_location")
        if location is not None:
            root.set(SCHEMA_LOCATION, location)
        if no_namespace_location is not None:
            root.set(NO_NAMESPACE_SCHEMA_LOCATION, no_namespace_location)
        try:
            self._body.to_xml(record["body"], root)
        except (KeyError, TypeError, etree.XMLSyntaxError) as exc:
            raise ConversionError(
                f"record is not a {self.full_name} event: {type(exc).__name__}",
                code="CONVERSION_BAD_RECORD",
            ) from exc
        return root

    def to_xml(self, record: dict[str, Any]) -> bytes:
        """The XML message (UTF-8 bytes with declaration) of an event record."""
        return etree.tostring(self.to_element(record), xml_declaration=True, encoding="UTF-8")


__all__ = ["ConversionPlan", "Envelope", "avro_name"]
