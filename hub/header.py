"""The XÖV g2g message header (``nachrichtenkopf.g2g``).

Found by local names, so it works for every XÖV standard that embeds the
basisnachricht g2g header (XMeld, XPersonenstand, XAusländer, XWasser, ...)
whatever prefix or namespace the elements carry::

    nachrichtenkopf.g2g
    ├── identifikation.nachricht
    │   ├── nachrichtenUUID
    │   ├── nachrichtentyp/code
    │   └── erstellungszeitpunkt
    ├── leser/kennung        (one or more leser)
    └── autor/kennung

Older releases (e.g. XPersonenstand 25.05, XInneres ``Behoerde`` type) call the
header ``nachrichtenkopf`` and give the DVDV key as
``behoerdenkennung/praefix/code`` + ``behoerdenkennung/kennung/code``; the key
is then composed as ``praefix:kennung`` (``psw:11007007``).

Values are read as the XSD validator sees them: the string value of the element
(all its text, comments and processing instructions skipped, so
``<nachrichtenUUID>c4<!---->c3…</nachrichtenUUID>`` is one id), with whitespace
handled as the schema types do: ``code`` (``xs:token``) and
``erstellungszeitpunkt`` (``xs:dateTime``) collapse whitespace; ids and keys are
stripped (the UUID pattern allows no inner whitespace, a DVDV key with inner
whitespace matches no authority).

This module is the hub's only header reader: the worker's pipeline,
``validate``, ``convert``, the HTTP pre-check, ``send`` and ``dlq`` all use it.
"""

from __future__ import annotations

from dataclasses import dataclass

from lxml import etree

from hub.errors import HeaderError, MessageError
from hub.xmlsafe import Limits, parse_xml

__all__ = [
    "HEADER",
    "HEADER_NAMES",
    "Nachrichtenkopf",
    "message_id",
    "message_id_of",
    "read_header",
    "string_value",
]

HEADER = "nachrichtenkopf.g2g"
#: header element names, in order of preference
HEADER_NAMES = (HEADER, "nachrichtenkopf")


@dataclass(frozen=True)
class Nachrichtenkopf:
    """The routing-relevant content of the g2g header (ids, codes and keys only)."""

    message_id: str
    message_code: str
    created: str
    author_key: str
    reader_keys: tuple[str, ...]


def _local(element: etree._Element) -> str:
    tag = element.tag
    if not isinstance(tag, str):
        return ""
    return tag.rpartition("}")[2]


def _child(parent: etree._Element, name: str) -> etree._Element | None:
    for child in parent:
        if _local(child) == name:
            return child
    return None


def _children(parent: etree._Element, name: str) -> list[etree._Element]:
    return [child for child in parent if _local(child) == name]


def _required(parent: etree._Element, name: str, where: str) -> etree._Element:
    child = _child(parent, name)
    if child is None:
        raise HeaderError(
            f"header field {where}/{name} is missing", code="HEADER_INVALID", path=f"{where}/{name}"
        )
    return child


def string_value(element: etree._Element, *, collapse: bool = False) -> str:
    """The element's string value as an XSD validator sees it, stripped.

    All text of the element and its descendants; comments and processing
    instructions are skipped (lxml's ``itertext`` leaves them out). ``collapse``:
    runs of whitespace become one blank (``xs:token``, ``xs:dateTime``, ...).
    """
    # no child nodes at all (the common case): .text is all of it
    if len(element) == 0:
        value = element.text or ""
    else:  # lxml's itertext skips comments and processing instructions
        value = "".join(str(part) for part in element.itertext())
    return " ".join(value.split()) if collapse else value.strip()


def _text(parent: etree._Element, *names: str, where: str, collapse: bool = False) -> str:
    element: etree._Element | None = parent
    for name in names:
        element = _child(element, name) if element is not None else None
    value = string_value(element, collapse=collapse) if element is not None else ""
    if not value:
        path = "/".join((where, *names))
        raise HeaderError(
            f"header field {path} is missing or empty", code="HEADER_INVALID", path=path
        )
    return value


def _key(party: etree._Element, where: str) -> str:
    """The DVDV key of a leser/autor: ``kennung`` text, or praefix:kennung codes."""
    kennung = _child(party, "kennung")
    if kennung is not None:
        value = string_value(kennung)
        if value:
            return value
    authority = _child(party, "behoerdenkennung")
    if authority is not None:
        prefix = _text(authority, "praefix", "code", where=f"{where}/behoerdenkennung",
                       collapse=True)
        ident = _text(authority, "kennung", "code", where=f"{where}/behoerdenkennung",
                      collapse=True)
        return f"{prefix}:{ident}"
    return _text(party, "kennung", where=where)


def _head(root: etree._Element) -> etree._Element | None:
    for name in HEADER_NAMES:
        head = _child(root, name)
        if head is not None:
            return head
    return None


def read_header(root: etree._Element) -> Nachrichtenkopf:
    """Read the g2g header of a parsed message.

    Raises :class:`HeaderError` with code ``HEADER_MISSING`` (no
    ``nachrichtenkopf.g2g`` child of the root) or ``HEADER_INVALID`` (a required
    field is missing or empty).
    """
    head = _head(root)
    if head is None:
        raise HeaderError(
            f"the message has no {HEADER} header", code="HEADER_MISSING", path=f"/{_local(root)}"
        )
    where = f"/{_local(root)}/{_local(head)}"
    ident = _child(head, "identifikation.nachricht")
    if ident is None:
        raise HeaderError(
            "header lacks identifikation.nachricht",
            code="HEADER_INVALID",
            path=f"{where}/identifikation.nachricht",
        )
    ident_where = f"{where}/identifikation.nachricht"
    readers = _children(head, "leser")
    if not readers:
        raise HeaderError("header names no leser", code="HEADER_INVALID", path=f"{where}/leser")
    return Nachrichtenkopf(
        message_id=_text(ident, "nachrichtenUUID", where=ident_where),
        message_code=_text(ident, "nachrichtentyp", "code", where=ident_where, collapse=True),
        created=_text(ident, "erstellungszeitpunkt", where=ident_where, collapse=True),
        author_key=_key(_required(head, "autor", where), f"{where}/autor"),
        reader_keys=tuple(_key(r, f"{where}/leser") for r in readers),
    )


def message_id(root: etree._Element) -> str | None:
    """The nachrichtenUUID of a parsed message, or None; never raises.

    For tools that need the id of any message, valid or not (the Kafka key of
    ``send``, the pre-check's answer, a dead letter's id): the header's
    ``identifikation.nachricht/nachrichtenUUID`` when the message has a header,
    else the first ``nachrichtenUUID`` element in document order. Read like
    :func:`read_header` reads it (the same string value).
    """
    element: etree._Element | None = None
    head = _head(root)
    if head is not None:
        ident = _child(head, "identifikation.nachricht")
        element = _child(ident, "nachrichtenUUID") if ident is not None else None
    if element is None:
        element = next(
            (e for e in root.iter() if isinstance(e.tag, str) and _local(e) == "nachrichtenUUID"),
            None,
        )
    value = string_value(element) if element is not None else ""
    return value or None


def message_id_of(data: bytes, limits: Limits | None = None) -> str | None:
    """:func:`message_id` of raw bytes after the hardened parse; None if they do not parse."""
    try:
        root = parse_xml(data, limits or Limits())
    except MessageError:
        return None
    return message_id(root)
