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
"""

from __future__ import annotations

from dataclasses import dataclass

from lxml import etree

from hub.errors import MessageError

__all__ = ["HEADER", "Nachrichtenkopf", "read_header"]

HEADER = "nachrichtenkopf.g2g"


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


def _text(parent: etree._Element, *names: str, where: str) -> str:
    element: etree._Element | None = parent
    for name in names:
        element = _child(element, name) if element is not None else None
    value = (element.text or "").strip() if element is not None else ""
    if not value:
        path = "/".join((where, *names))
        raise MessageError(
            f"header field {path} is missing or empty", code="HEADER_INVALID", path=path
        )
    return value


def read_header(root: etree._Element) -> Nachrichtenkopf:
    """Read the g2g header of a parsed message.

    Raises :class:`MessageError` with code ``HEADER_MISSING`` (no
    ``nachrichtenkopf.g2g`` child of the root) or ``HEADER_INVALID`` (a required
    field is missing or empty).
    """
    head = _child(root, HEADER)
    if head is None:
        raise MessageError(
            f"the message has no {HEADER} header", code="HEADER_MISSING", path=f"/{_local(root)}"
        )
    where = f"/{_local(root)}/{HEADER}"
    ident = _child(head, "identifikation.nachricht")
    if ident is None:
        raise MessageError(
            "header lacks identifikation.nachricht",
            code="HEADER_INVALID",
            path=f"{where}/identifikation.nachricht",
        )
    ident_where = f"{where}/identifikation.nachricht"
    readers = _children(head, "leser")
    if not readers:
        raise MessageError("header names no leser", code="HEADER_INVALID", path=f"{where}/leser")
    return Nachrichtenkopf(
        message_id=_text(ident, "nachrichtenUUID", where=ident_where),
        message_code=_text(ident, "nachrichtentyp", "code", where=ident_where),
        created=_text(ident, "erstellungszeitpunkt", where=ident_where),
        author_key=_text(head, "autor", "kennung", where=where),
        reader_keys=tuple(_text(r, "kennung", where=f"{where}/leser") for r in readers),
    )
