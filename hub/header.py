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
"""

from __future__ import annotations

from dataclasses import dataclass

from lxml import etree

from hub.errors import HeaderError

__all__ = ["HEADER", "HEADER_NAMES", "Nachrichtenkopf", "read_header"]

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


def _text(parent: etree._Element, *names: str, where: str) -> str:
    element: etree._Element | None = parent
    for name in names:
        element = _child(element, name) if element is not None else None
    value = (element.text or "").strip() if element is not None else ""
    if not value:
        path = "/".join((where, *names))
        raise HeaderError(
            f"header field {path} is missing or empty", code="HEADER_INVALID", path=path
        )
    return value


def _key(party: etree._Element, where: str) -> str:
    """The DVDV key of a leser/autor: ``kennung`` text, or praefix:kennung codes."""
    kennung = _child(party, "kennung")
    if kennung is not None and (kennung.text or "").strip():
        return (kennung.text or "").strip()
    authority = _child(party, "behoerdenkennung")
    if authority is not None:
        prefix = _text(authority, "praefix", "code", where=f"{where}/behoerdenkennung")
        ident = _text(authority, "kennung", "code", where=f"{where}/behoerdenkennung")
        return f"{prefix}:{ident}"
    return _text(party, "kennung", where=where)


def read_header(root: etree._Element) -> Nachrichtenkopf:
    """Read the g2g header of a parsed message.

    Raises :class:`HeaderError` with code ``HEADER_MISSING`` (no
    ``nachrichtenkopf.g2g`` child of the root) or ``HEADER_INVALID`` (a required
    field is missing or empty).
    """
    head = None
    for name in HEADER_NAMES:
        head = _child(root, name)
        if head is not None:
            break
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
        message_code=_text(ident, "nachrichtentyp", "code", where=ident_where),
        created=_text(ident, "erstellungszeitpunkt", where=ident_where),
        author_key=_key(_required(head, "autor", where), f"{where}/autor"),
        reader_keys=tuple(_key(r, f"{where}/leser") for r in readers),
    )
