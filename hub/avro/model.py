"""The content model of a message type, read from xmlschema's component model.

One model drives both the Avro schema (:mod:`hub.avro.derive`) and the conversion
plan (:mod:`hub.avro.plan`), so the two can never disagree. Mapping rules (see
docs/avro.md for the full list):

* an element or attribute of simple type (atomic, restriction, list, union) is an
  Avro ``string`` holding the lexical value exactly as written; the nearest
  built-in XSD type is kept in the field property ``"xsd"``;
* a complex type is a named Avro record: attributes first, then content;
* element-only content whose order the schema fixes (sequences and choices that do
  not repeat, every element name once) is flattened into one field per element:
  required, optional (``["null", T]``) or repeated (``{"type": "array"}``); the XML
  order is the field order;
* a nested group whose order the schema does not fix (repeating sequence or
  choice, ``xs:all``) becomes one field at its position holding an ordered array
  of item records with one nullable field per alternative, exactly one of which is
  set per item; when names are not unique across the content (a name used twice,
  a wildcard that could match declared elements) the whole content becomes one
  such ordered array;
* simple content becomes a ``value`` field; mixed content a ``content`` string with
  the serialized inner XML; wildcards (``xs:any``) strings with the serialized
  element; attribute wildcards a ``map<string>`` keyed by the Clark name;
* recursive types are named records referenced by name.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from hub.avro.naming import NameScope, avro_name, local_name, namespace_of
from hub.errors import HubError

XSD_NAMESPACE = "http://www.w3.org/2001/XMLSchema"
XSI_NAMESPACE = "http://www.w3.org/2001/XMLSchema-instance"

Occurs = Literal["one", "optional", "many"]


class DerivationError(HubError):
    """The XSD uses a construct the Avro mapping does not support."""


@dataclass(frozen=True)
class SimpleNode:
    """A simple-typed value: always an Avro string with the lexical form."""

    xsd: str


@dataclass(eq=False)
class AttributeField:
    field: str
    xml: str  # attribute name as lxml spells it (Clark name when qualified)
    required: bool
    xsd: str


@dataclass(eq=False)
class ElementField:
    field: str
    xml: str  # element tag as lxml spells it
    occurs: Occurs
    node: SimpleNode | RecordNode
    position: int


@dataclass(eq=False)
class WildcardField:
    """``xs:any``: serialized elements (strings)."""

    field: str
    occurs: Occurs
    matches: Callable[[str], bool]
    position: int
    namespace: str  # the namespace constraint as written, for documentation


@dataclass(eq=False)
class Alternative:
    """One alternative of an ordered (sequence-array) content field."""

    field: str
    xml: str | None  # None: the wildcard alternative
    node: SimpleNode | RecordNode | None  # None: wildcard (serialized XML string)


@dataclass(eq=False)
class GroupField:
    """A group whose order the schema does not fix: an ordered array of items."""

    field: str
    item_name: str  # full Avro name of the item record
    alternatives: list[Alternative]
    wildcard: Callable[[str], bool] | None
    position: int
    occurs: Occurs = "many"


@dataclass(eq=False)
class RecordNode:
    """A complex type mapped to a named Avro record."""

    name: str  # full Avro name
    xml_type: str  # Clark name of the XSD type, or "" when anonymous
    attributes: list[AttributeField] = field(default_factory=list)
    any_attributes: str | None = None  # field name of the attribute wildcard map
    kind: Literal["empty", "simple", "mixed", "elements"] = "empty"
    text_field: str | None = None  # simple content / mixed content
    text_xsd: str = "string"
    elements: list[ElementField | WildcardField | GroupField] = field(default_factory=list)


def _builtin_name(simple_type: Any) -> str:
    """The nearest built-in XSD type name of a simple type ("list"/"union" for those)."""
    current = simple_type
    for _ in range(64):
        if current is None:
            break
        if current.is_list():
            return "list"
        if current.is_union():
            return "union"
        name = current.name
        if name and namespace_of(name) == XSD_NAMESPACE:
            return local_name(name)
        current = getattr(current, "base_type", None)
    return "string"


def _occurs(min_occurs: int, max_occurs: int | None) -> Occurs:
    if max_occurs is None or max_occurs > 1:
        return "many"
    return "one" if min_occurs >= 1 else "optional"


class ModelBuilder:
    """Builds :class:`RecordNode` trees for the messages of one package.

    Names are allocated package-wide in the order types are first reached (messages
    in sorted order, fields in schema order), so the same XSD type has the same Avro
    name in every message of the package.
    """

    def __init__(self, namespace: str) -> None:
        self.namespace = namespace
        self._records: dict[int, RecordNode] = {}
        self._keep: list[Any] = []  # keep XSD objects alive: ids stay unique
        self._names = NameScope(reserved=("Envelope",))

    def full_name(self, base: str) -> str:
        return f"{self.namespace}.{self._names.claim(avro_name(base))}"

    def element_node(self, element: Any, context: str) -> SimpleNode | RecordNode:
        xsd_type = element.type
        if getattr(element, "abstract", False):
            raise DerivationError(f"abstract element {element.name} is not supported")
        if xsd_type.is_simple():
            return SimpleNode(_builtin_name(xsd_type))
        if xsd_type.has_simple_content() and not _attribute_items(xsd_type):
            return SimpleNode(_builtin_name(xsd_type.content))
        return self.record(xsd_type, context)

    def record(self, xsd_type: Any, context: str) -> RecordNode:
        key = id(xsd_type)
        existing = self._records.get(key)
        if existing is not None:
            return existing
        xml_type = xsd_type.name or ""
        base = local_name(xml_type) if xml_type else context
        node = RecordNode(name=self.full_name(base), xml_type=xml_type)
        self._records[key] = node
        self._keep.append(xsd_type)
        self._fill(node, xsd_type)
        return node

    # --- filling a record ---------------------------------------------------
    def _fill(self, node: RecordNode, xsd_type: Any) -> None:
        fields = NameScope()
        short = node.name.rsplit(".", 1)[-1]
        for name, attribute in _attribute_items(xsd_type):
            if attribute.use == "prohibited":
                continue
            node.attributes.append(
                AttributeField(
                    field=fields.claim(avro_name(local_name(name))),
                    xml=name,
                    required=attribute.use == "required",
                    xsd=_builtin_name(attribute.type),
                )
            )
        if xsd_type.attributes.get(None) is not None:
            node.any_attributes = fields.claim("any_attributes")

        if xsd_type.has_simple_content():
            node.kind = "simple"
            node.text_field = fields.claim("value")
            node.text_xsd = _builtin_name(xsd_type.content)
            return
        if xsd_type.is_empty():
            node.kind = "empty"
            return
        if xsd_type.mixed:
            node.kind = "mixed"
            node.text_field = fields.claim("content")
            return
        group = xsd_type.content
        node.kind = "elements"
        particles: list[tuple[Any, int, int | None]] = []
        self._flatten(group, False, particles)
        if not self._distinct(particles):
            particles = [(group, 0, None)]  # whole content as one ordered array
        for position, (particle, min_occurs, max_occurs) in enumerate(particles):
            occurs = _occurs(min_occurs, max_occurs)
            if _is_group(particle):
                node.elements.append(self._group(short, particle, fields, position))
            elif _is_wildcard(particle):
                node.elements.append(
                    WildcardField(
                        field=fields.claim("any"),
                        occurs=occurs,
                        matches=_matcher(particle),
                        position=position,
                        namespace=" ".join(_namespace_list(particle)),
                    )
                )
            else:
                name = particle.name
                field_name = fields.claim(avro_name(local_name(name)))
                child = self.element_node(particle, f"{short}.{local_name(name)}")
                node.elements.append(
                    ElementField(
                        field=field_name,
                        xml=name,
                        occurs=occurs,
                        node=child,
                        position=position,
                    )
                )

    def _flatten(self, group: Any, optional: bool, out: list[tuple[Any, int, int | None]]) -> None:
        """Collect the particles of a group whose document order is fixed.

        A nested group whose order is not fixed (repeating, ``xs:all``) becomes one
        particle of its own: an ordered array.
        """
        items = list(group)
        if group.max_occurs != 1 or (group.model == "all" and len(items) > 1):
            out.append((group, 0, None))
            return
        inner_optional = optional or group.min_occurs == 0
        if group.model == "choice" and len(items) > 1:
            inner_optional = True
        for item in items:
            if item.max_occurs == 0:
                continue
            if _is_group(item):
                self._flatten(item, inner_optional, out)
                continue
            min_occurs = 0 if inner_optional else item.min_occurs
            out.append((item, min_occurs, item.max_occurs))

    @staticmethod
    def _distinct(particles: list[tuple[Any, int, int | None]]) -> bool:
        """Can every child be told apart by name alone (so order is recoverable)?"""
        names: list[str] = []
        wildcards = [p for p, _, _ in particles if _is_wildcard(p)]
        for particle, _, _ in particles:
            if _is_group(particle):
                inner = {e.name for e in particle.iter_elements() if not _is_wildcard(e)}
                names.extend(inner)
                wildcards.extend(e for e in particle.iter_elements() if _is_wildcard(e))
            elif not _is_wildcard(particle):
                names.append(particle.name)
        if len(names) != len(set(names)):
            return False
        if len(wildcards) > 1:
            return False
        return not any(_matcher(w)(name) for w in wildcards for name in names)

    def _group(self, short: str, group: Any, fields: NameScope, position: int) -> GroupField:
        item_name = self.full_name(f"{short}.item")
        item_fields = NameScope()
        alternatives: list[Alternative] = []
        seen: set[str] = set()
        wildcard_particles: list[Any] = []
        for particle in group.iter_elements():
            if _is_wildcard(particle):
                wildcard_particles.append(particle)
                continue
            if particle.name in seen:
                continue
            seen.add(particle.name)
            alternatives.append(
                Alternative(
                    field=item_fields.claim(avro_name(local_name(particle.name))),
                    xml=particle.name,
                    node=self.element_node(particle, f"{short}.{local_name(particle.name)}"),
                )
            )
        matcher: Callable[[str], bool] | None = None
        if wildcard_particles:
            matchers = [_matcher(w) for w in wildcard_particles]

            def matcher(name: str) -> bool:
                return any(m(name) for m in matchers)

            alternatives.append(Alternative(field=item_fields.claim("any"), xml=None, node=None))
        return GroupField(
            field=fields.claim("sequence"),
            item_name=item_name,
            alternatives=alternatives,
            wildcard=matcher,
            position=position,
        )


def _attribute_items(xsd_type: Any) -> list[tuple[str, Any]]:
    attributes = getattr(xsd_type, "attributes", None)
    if not attributes:
        return []
    return sorted(
        ((name, attr) for name, attr in attributes.items() if name is not None),
        key=lambda pair: pair[0],
    )


def _is_group(item: Any) -> bool:
    return hasattr(item, "model")


def _is_wildcard(item: Any) -> bool:
    return type(item).__name__ == "XsdAnyElement"


def _namespace_list(wildcard: Any) -> list[str]:
    namespace = getattr(wildcard, "namespace", ["##any"])
    return [str(n) for n in namespace]


def _matcher(wildcard: Any) -> Callable[[str], bool]:
    def matches(name: str) -> bool:
        return bool(wildcard.is_namespace_allowed(namespace_of(name)))

    return matches
