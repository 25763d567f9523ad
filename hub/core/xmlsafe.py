"""Hardened XML parsing for untrusted XÖV messages.

``parse_xml`` is the only way the hub turns inbound bytes into an element tree.
The parser never processes a DTD, never expands or loads an entity, never opens
a file or a network connection, and refuses documents that are empty, too
large, too deep, wrongly encoded, not XML at all or malformed. Every refusal is
a :class:`hub.errors.ParseError` with a stable code:

=====================  =====================================================
``XML_EMPTY``          no bytes, or only whitespace / a byte-order mark
``XML_TOO_LARGE``      more than ``Limits.max_bytes`` (checked before parsing)
``XML_TOO_DEEP``       element nesting deeper than ``Limits.max_depth``
``XML_DTD_FORBIDDEN``  a ``<!DOCTYPE`` declaration (internal or external DTD)
``XML_ENTITY_FORBIDDEN``  an ``<!ENTITY`` declaration (general or parameter)
``XML_PI_FORBIDDEN``   a processing instruction before or after the root element
``XML_ENCODING``       bytes that are not valid in the declared/detected encoding
``XML_NOT_XML``        the input does not start like an XML document
``XML_MALFORMED``      not well-formed; ``line``/``column`` say where
=====================  =====================================================

Hot-path cost: one ``bytes.find`` for ``<!DOCTYPE`` before libxml2 sees the
bytes, one libxml2 parse, a look at ``docinfo``. libxml2 itself refuses nesting
beyond 256 levels (we never set ``huge_tree``), so with the default
``max_depth=256`` there is no extra depth check; a stricter ``max_depth`` costs
a C-speed ``bytes.count`` and, only when there are more tags than the limit, one
precompiled XPath. The effective maximum depth is ``min(max_depth, 256)``.
"""

from __future__ import annotations

import codecs
import re
import threading
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from lxml import etree

from hub.errors import ParseError

__all__ = ["LIBXML2_MAX_DEPTH", "Limits", "hardened_parser", "parse_xml"]

#: libxml2 refuses deeper documents unless XML_PARSE_HUGE is set (we never set it).
LIBXML2_MAX_DEPTH = 256


@dataclass(frozen=True)
class Limits:
    """Resource limits for one inbound message."""

    max_bytes: int = 4 * 1024 * 1024
    max_depth: int = 256

    @classmethod
    def from_settings(cls, settings: Any) -> Limits:
        """Limits from :class:`hub.settings.Settings` (``HUB_MAX_MESSAGE_BYTES``, ...)."""
        return cls(max_bytes=settings.max_message_bytes, max_depth=settings.max_xml_depth)


class _RefuseAll(etree.Resolver):
    """Resolver that refuses every external resource (DTDs, entities, XIncludes)."""

    # lxml-stubs 0.5 omit the context argument that lxml passes
    def resolve(  # type: ignore[override]
        self, system_url: str | None, public_id: str | None, context: Any
    ) -> Any:
        raise ParseError("external resource refused", code="XML_ENTITY_FORBIDDEN")


def hardened_parser() -> etree.XMLParser:
    """A new parser: no DTD, no entities, no network, no files, no huge trees."""
    parser = etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=False,
        collect_ids=False,
    )
    parser.resolvers.add(_RefuseAll())
    return parser


# lxml parsers are reusable but not thread-safe: one per thread.
_THREAD = threading.local()


def _parser() -> etree.XMLParser:
    parser: etree.XMLParser | None = getattr(_THREAD, "parser", None)
    if parser is None:
        parser = _THREAD.parser = hardened_parser()
    return parser


@lru_cache(maxsize=16)
def _depth_probe(max_depth: int) -> etree.XPath:
    # true when some element sits at nesting level max_depth + 1
    return etree.XPath("boolean(/" + "/".join(["*"] * (max_depth + 1)) + ")")


_BOMS = (codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
_DOCTYPE = re.compile(rb"<!\s*DOCTYPE", re.IGNORECASE)
_ENTITY = re.compile(rb"<!\s*ENTITY", re.IGNORECASE)


def _ascii_view(data: bytes, limit: int = 65536) -> bytes:
    """The start of the document as ASCII-compatible bytes (UTF-16 decoded)."""
    head = data[:limit]
    for bom, codec in ((codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be")):
        if head.startswith(bom):
            return head[len(bom) :].decode(codec, "replace").encode("utf-8", "replace")
    if head.startswith(b"<\x00"):
        return head.decode("utf-16-le", "replace").encode("utf-8", "replace")
    if head.startswith(b"\x00<"):
        return head.decode("utf-16-be", "replace").encode("utf-8", "replace")
    return head


def _first_meaningful(view: bytes) -> bytes:
    for bom in _BOMS:
        if view.startswith(bom):
            view = view[len(bom) :]
            break
    return view.lstrip(b" \t\r\n")


_UTF16_STARTS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE, b"<\x00", b"\x00<")
_PROLOG_NOISE = re.compile(rb"<\?.*?\?>|<!--.*?-->|\s+", re.DOTALL)


def _prolog_declaration(view: bytes) -> str | None:
    """XML_DTD_FORBIDDEN / XML_ENTITY_FORBIDDEN when a DOCTYPE precedes the root.

    One ``bytes.find`` on the hot path; the prolog is only examined when the
    marker occurs at all (it may legitimately occur inside CDATA or comments).
    """
    idx = view.find(b"<!DOCTYPE")
    if idx < 0:
        return None
    prefix = view[:idx]
    for bom in _BOMS:
        if prefix.startswith(bom):
            prefix = prefix[len(bom) :]
    if _PROLOG_NOISE.sub(b"", prefix):
        return None  # inside the document: the parser decides
    return "XML_ENTITY_FORBIDDEN" if _ENTITY.search(view, idx) else "XML_DTD_FORBIDDEN"


def _declarations(view: bytes) -> str | None:
    if _ENTITY.search(view):
        return "XML_ENTITY_FORBIDDEN"
    if _DOCTYPE.search(view):
        return "XML_DTD_FORBIDDEN"
    return None


_DECL_TEXT = {
    "XML_ENTITY_FORBIDDEN": "entity declarations are not accepted (no DTD, no entities)",
    "XML_DTD_FORBIDDEN": "a DOCTYPE/DTD is not accepted in XÖV messages",
}


def parse_xml(data: bytes, limits: Limits = Limits()) -> etree._Element:
    """Parse untrusted bytes into the root element, or raise :class:`ParseError`."""
    if len(data) > limits.max_bytes:
        raise ParseError(
            f"message has {len(data)} bytes, the limit is {limits.max_bytes}",
            code="XML_TOO_LARGE",
        )
    view = _ascii_view(data) if data[:2] in _UTF16_STARTS else data
    code = _prolog_declaration(view)
    if code is not None:
        raise ParseError(_DECL_TEXT[code], code=code, line=1)
    try:
        root = etree.fromstring(data, _parser())
    except etree.XMLSyntaxError as exc:
        raise _classify(data, exc) from None
    except ParseError as exc:  # raised by _RefuseAll: something asked for a resource
        decl = _declarations(_ascii_view(data)) or exc.code
        raise ParseError(_DECL_TEXT.get(decl, exc.detail), code=decl) from None
    except (ValueError, TypeError) as exc:
        raise ParseError(f"cannot parse input: {exc}", code="XML_NOT_XML") from None
    if root is None:  # pragma: no cover - lxml raises for empty documents
        raise ParseError("no root element", code="XML_EMPTY")
    docinfo: Any = root.getroottree().docinfo  # lxml-stubs 0.5 lack doctype
    if docinfo.doctype or docinfo.internalDTD is not None or docinfo.externalDTD is not None:
        code = _declarations(_ascii_view(data)) or "XML_DTD_FORBIDDEN"
        raise ParseError(_DECL_TEXT[code], code=code, line=1)
    for sibling in (*root.itersiblings(preceding=True), *root.itersiblings()):
        if isinstance(sibling, etree._ProcessingInstruction):
            # e.g. <?xml-stylesheet href="http://…"?>: recipients would render or
            # fetch it; an XÖV message has no use for one
            raise ParseError(
                "a processing instruction outside the root element is not accepted",
                code="XML_PI_FORBIDDEN",
            )
    max_depth = limits.max_depth
    # libxml2 already refuses more than 256 levels; a stricter limit costs one
    # bytes.count, and the XPath probe only runs when there are enough tags
    if (
        max_depth < LIBXML2_MAX_DEPTH
        and data.count(b"<") > max_depth
        and _depth_probe(max_depth)(root)
    ):
        raise ParseError(
            f"elements are nested deeper than {max_depth} levels", code="XML_TOO_DEEP"
        )
    return root


_POSITION_SUFFIX = re.compile(r",? line \d+, column \d+$")

_ERROR_NAMES: dict[int, str] = {
    value: name
    for name, value in vars(etree.ErrorTypes).items()
    if isinstance(value, int) and name.isupper()
}

_ENCODING_TYPES = {
    "ERR_INVALID_ENCODING",
    "ERR_UNSUPPORTED_ENCODING",
    "ERR_UNKNOWN_ENCODING",
    "ERR_INVALID_CHAR",
}


#: Sentences for libxml2's common well-formedness errors. libxml2's own text quotes
#: names, entity references and raw bytes of the document, so it never reaches a
#: detail (dead letters and logs carry details); other types get their name spelled out.
_SYNTAX_TEXT: dict[str, str] = {
    "ERR_TAG_NAME_MISMATCH": "an end tag does not match its start tag (tag name mismatch)",
    "ERR_TAG_NOT_FINISHED": "an element is not closed before the document ends",
    "ERR_DOCUMENT_END": "there is content after the root element",
    "ERR_DOCUMENT_EMPTY": "the document has no root element",
    "ERR_UNDECLARED_ENTITY": "an entity reference names an entity that is not declared",
    "WAR_UNDECLARED_ENTITY": "an entity reference names an entity that is not declared",
    "ERR_ENTITYREF_SEMICOL_MISSING": "an entity reference is not terminated by ';'",
    "ERR_NAME_REQUIRED": "a name is expected ('&' or '<' that starts nothing)",
    "ERR_LT_IN_ATTRIBUTE": "an attribute value contains '<'",
    "ERR_ATTRIBUTE_NOT_STARTED": "an attribute value is not quoted",
    "ERR_ATTRIBUTE_WITHOUT_VALUE": "an attribute has no value",
    "ERR_ATTRIBUTE_REDEFINED": "an element has the same attribute twice",
    "ERR_GT_REQUIRED": "a tag is not closed with '>'",
    "ERR_LTSLASH_REQUIRED": "an end tag is expected",
    "ERR_SPACE_REQUIRED": "white space is missing between attributes",
    "ERR_INVALID_CHAR": "the document contains a character that XML does not allow",
    "ERR_INVALID_CHARREF": "a character reference names a character that XML does not allow",
    "NS_ERR_UNDEFINED_NAMESPACE": "a namespace prefix is used that is not declared",
    "NS_ERR_QNAME": "a name has more than one namespace prefix separator",
}


def _syntax_text(type_name: str) -> str:
    """A sentence for libxml2 error type ``type_name`` that quotes nothing of the document."""
    known = _SYNTAX_TEXT.get(type_name)
    if known:
        return known
    if type_name:
        words = type_name.split("_", 1)[-1].lower().replace("_", " ")
        return f"{words} (libxml2 {type_name})"
    return "libxml2 rejected the document (no error type given)"


def _classify(data: bytes, exc: etree.XMLSyntaxError) -> ParseError:
    """Turn libxml2's syntax error into a ParseError with the hub's code."""
    view = _ascii_view(data)
    start = _first_meaningful(view)
    line, column = exc.position if exc.position else (None, None)
    text = _POSITION_SUFFIX.sub("", (exc.msg or str(exc)).strip())
    type_name = _ERROR_NAMES.get(getattr(exc, "code", -1), "")
    if not start or start == b"\x00" * len(start):
        return ParseError("the message is empty", code="XML_EMPTY")
    decl = _declarations(view)
    if decl:
        return ParseError(_DECL_TEXT[decl], code=decl, line=line, column=column)
    if "Excessive depth" in text or "MaxDepth" in text or "maximum depth" in text.lower():
        return ParseError(
            f"elements are nested deeper than {LIBXML2_MAX_DEPTH} levels",
            code="XML_TOO_DEEP",
            line=line,
            column=column,
        )
    if (
        type_name in _ENCODING_TYPES
        or "encoding" in text.lower()
        or "not proper UTF" in text
        or "invalid character" in text.lower()
        or "Char 0x" in text
    ):
        return ParseError(
            "invalid byte sequence for the document's encoding"
            + (f" (libxml2 {type_name})" if type_name else ""),
            code="XML_ENCODING",
            line=line,
            column=column,
        )
    if not start.startswith(b"<"):
        return ParseError(
            "the input is not XML (it does not start with '<')",
            code="XML_NOT_XML",
            line=line,
            column=column,
        )
    return ParseError(
        f"not well-formed XML: {_syntax_text(type_name)}",
        code="XML_MALFORMED",
        line=line,
        column=column,
    )
