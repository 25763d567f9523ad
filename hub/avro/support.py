"""Glue for commands and tools: the registry's packages, official sets, envelopes.

Uses ``hub.schemas.SchemaRegistry`` and ``hub.header.read_header`` when they are
installed (they are built in parallel); until then a minimal header reader by local
names stands in.
"""

from __future__ import annotations

import datetime as dt
import importlib
import secrets
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from lxml import etree

from hub.avro.catalog import EventCatalog, OfficialSet, qname
from hub.avro.plan import Envelope
from hub.errors import ConversionError, HeaderError, MessageError, ParseError, UnknownMessageError
from hub.schemas.protocols import PackageLike


class _Packages:
    def __init__(self, packages: Sequence[PackageLike]) -> None:
        self.packages = list(packages)


def registry_packages() -> list[PackageLike]:
    """Packages of ``hub.schemas.SchemaRegistry.from_settings`` (empty if absent)."""
    try:
        schemas = importlib.import_module("hub.schemas")
    except ImportError:
        return []
    from hub.settings import load_settings

    registry = schemas.SchemaRegistry.from_settings(load_settings())
    return list(registry.packages)


def load_catalog(official: Sequence[Path] = (), *, registry: bool = True) -> EventCatalog:
    """A catalog over the registry's packages plus official set folders."""
    packages: list[PackageLike] = registry_packages() if registry else []
    packages.extend(OfficialSet(path) for path in official)
    return EventCatalog(_Packages(packages))


def parse(data: bytes) -> etree._Element:
    """Hardened parse (``hub.xmlsafe.parse_xml`` when available)."""
    try:
        xmlsafe = importlib.import_module("hub.xmlsafe")
    except ImportError:
        parser = etree.XMLParser(
            resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False
        )
        try:
            return etree.fromstring(data, parser)
        except etree.XMLSyntaxError as exc:
            raise ParseError(f"not well-formed XML: {exc.msg}") from exc
    root: etree._Element = xmlsafe.parse_xml(data)
    return root


def find_message(catalog: EventCatalog, root: etree._Element) -> tuple[PackageLike, Any]:
    """(package, message type) whose root element is ``root``'s tag."""
    tag = root.tag
    for package in catalog.packages():
        for message in package.messages.values():
            if qname(message) == tag:
                return package, message
    raise UnknownMessageError(
        f"no known package has the message root {tag!s}", code="UNKNOWN_MESSAGE"
    )


def _first(root: etree._Element, *path: str) -> etree._Element | None:
    current: etree._Element | None = root
    for name in path:
        if current is None:
            return None
        current = next(
            (c for c in current if isinstance(c.tag, str) and etree.QName(c).localname == name),
            None,
        )
    return current


def _text(node: etree._Element | None) -> str:
    return (node.text or "").strip() if node is not None else ""


def read_envelope_fields(root: etree._Element) -> tuple[str, str, str, tuple[str, ...]]:
    """(message_id, created, author_key, reader_keys) from the g2g header."""
    try:
        header_module = importlib.import_module("hub.header")
    except ImportError:
        header_module = None
    if header_module is not None:
        header = header_module.read_header(root)
        return header.message_id, header.created, header.author_key, tuple(header.reader_keys)
    head = _first(root, "nachrichtenkopf.g2g")
    if head is None:
        raise HeaderError("g2g header missing", code="HEADER_MISSING")
    ident = _first(head, "identifikation.nachricht")
    message_id = _text(_first(ident, "nachrichtenUUID") if ident is not None else None)
    created = _text(_first(ident, "erstellungszeitpunkt") if ident is not None else None)
    author = _text(_first(head, "autor", "kennung"))
    readers = tuple(
        _text(_first(leser, "kennung"))
        for leser in head
        if isinstance(leser.tag, str) and etree.QName(leser).localname == "leser"
    )
    return message_id, created, author, readers


def envelope_for(
    root: etree._Element,
    package: PackageLike,
    message: Any,
    *,
    received: str | None = None,
    trace_id: str | None = None,
) -> Envelope:
    """The envelope of a message: header fields plus receive time and trace id."""
    try:
        message_id, created, author, readers = read_envelope_fields(root)
    except MessageError:
        raise
    except Exception as exc:  # a header reader of another module failing oddly
        raise ConversionError(f"header unreadable: {type(exc).__name__}") from exc
    return Envelope(
        message_id=message_id,
        standard=package.standard,
        version=package.version,
        message_type_code=message.code,
        message_type_name=message.name,
        author_key=author,
        reader_keys=readers,
        created=created,
        received=received or utc_now(),
        trace_id=trace_id or secrets.token_hex(16),
    )


def utc_now() -> str:
    """RFC 3339 UTC with milliseconds, e.g. ``2026-11-25T21:00:00.123Z``."""
    now = dt.datetime.now(dt.UTC)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"
