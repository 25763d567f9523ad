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

**Header profiles.** How a message is addressed is a *header profile*, named by
its schema package's manifest (``header_profile``, docs/xdomea.md):

* ``g2g`` (the default): the ``nachrichtenkopf.g2g`` above, read by walking
  children (the hot path of XMeld, XPersonenstand, XAusländer);
* ``xdomea``: the xdomea ``Kopf`` (``ProzessID``, ``Nachrichtentyp/code``,
  ``Erstellungszeitpunkt``, ``Absender`` and ``Empfaenger`` by their
  ``Behoerdenkennung``: ``Praefix/code`` + ``Behoerdenschluessel/code`` in
  3.0.0, ``Praefix/code`` + ``Kennung/code`` in 2.4.0), bound to the message's
  own xdomea namespace;
* a profile of XPath expressions in the manifest (:class:`XPathProfile`), for a
  standard nobody built in.

:func:`read_header` picks the profile by the root's namespace: the profile the
schema registry registered for it (:func:`register_profile`, called by
:class:`hub.core.schemas.SchemaRegistry` for the package that wins the namespace),
else ``xdomea`` for a namespace ``urn:xoev-de:xdomea:schema:*``, else ``g2g``.
XPath expressions are compiled once per profile (lxml ``etree.XPath``).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from lxml import etree

from hub.core.xmlsafe import Limits, parse_xml
from hub.errors import ConfigError, HeaderError, MessageError

__all__ = [
    "BUILTIN_PROFILES",
    "G2G",
    "HEADER",
    "HEADER_NAMES",
    "XDOMEA_NAMESPACE_PREFIX",
    "HeaderProfile",
    "Nachrichtenkopf",
    "ProcessHeader",
    "XPathProfile",
    "message_id",
    "message_id_of",
    "profile_for",
    "profile_from_spec",
    "read_header",
    "register_profile",
    "string_value",
    "xdomea_profile",
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
    #: "message": the id names one message (g2g nachrichtenUUID); "process": the id
    #: names an exchange of several messages (xdomea ProzessID: 0501, 0503 of one
    #: Aussonderung share it), so a message is the id plus its message type
    #: (:class:`ProcessHeader`; :attr:`hub.core.pipeline.Inspected.dedupe_id`). A class
    #: attribute: the g2g hot path sets no extra field.
    id_scope: ClassVar[str] = "message"


@dataclass(frozen=True)
class ProcessHeader(Nachrichtenkopf):
    """A header whose id names a process (exchange), not one message (xdomea)."""

    id_scope: ClassVar[str] = "process"


def _local(element: etree._Element) -> str:
    tag = element.tag
    if not isinstance(tag, str):
        return ""
    return tag.rpartition("}")[2]


def _child(parent: etree._Element, name: str) -> etree._Element | None:
    for child in parent:  # _local inlined: this loop is the g2g hot path
        tag = child.tag
        if isinstance(tag, str) and tag.rpartition("}")[2] == name:
            return child
    return None


def _children(parent: etree._Element, name: str) -> list[etree._Element]:
    return [
        child for child in parent
        if isinstance(child.tag, str) and child.tag.rpartition("}")[2] == name
    ]


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


def _read_g2g(root: etree._Element) -> Nachrichtenkopf:
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


def _g2g_message_id(root: etree._Element) -> str | None:
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


# --- header profiles -------------------------------------------------------------

XDOMEA_NAMESPACE_PREFIX = "urn:xoev-de:xdomea:schema:"


class HeaderProfile:
    """How the messages of a standard are addressed: reads a :class:`Nachrichtenkopf`."""

    name: str = ""

    def read(self, root: etree._Element) -> Nachrichtenkopf:
        raise NotImplementedError

    def message_id(self, root: etree._Element) -> str | None:
        """The message id, or None; never raises (tools read it from invalid messages)."""
        raise NotImplementedError

    def describe(self) -> str:
        return self.name


class _G2G(HeaderProfile):
    """``nachrichtenkopf.g2g`` (and the older ``nachrichtenkopf``), by local names."""

    name = "g2g"

    def read(self, root: etree._Element) -> Nachrichtenkopf:
        return _read_g2g(root)

    def message_id(self, root: etree._Element) -> str | None:
        return _g2g_message_id(root)


G2G: HeaderProfile = _G2G()

#: the fields of an XPath profile (manifest ``header_profile`` object)
_SPEC_FIELDS = ("id", "type", "created", "sender", "recipients", "key")
_SPEC_KEYS = frozenset(
    (*_SPEC_FIELDS, "name", "namespaces", "header", "id_scope", "description")
)


_PROBE = etree.Element("probe")


class XPathProfile(HeaderProfile):
    """A header profile of XPath expressions, compiled once.

    ``header`` (optional) selects the header element: when it selects nothing the
    message is ``HEADER_MISSING``. ``id``, ``type`` and ``created`` select the
    element (or compute the string) of the message id, type code and creation
    time. ``sender`` and ``recipients`` select party elements; ``key`` is
    evaluated relative to each party: an expression whose string value is the
    DVDV key, or ``{"prefix": expr, "id": expr}`` composed as ``prefix:id`` (a
    trailing ``:`` of the prefix is dropped, so ``ags:`` and ``ags`` both give
    ``ags:05124000``). Values are string values as :func:`string_value` reads
    them (codes and times whitespace-collapsed, ids and keys stripped).
    """

    def __init__(self, spec: Mapping[str, Any], *, where: str = "header_profile") -> None:
        unknown = sorted(set(spec) - _SPEC_KEYS)
        if unknown:
            raise ConfigError(f"{where}: unknown key(s) {', '.join(unknown)}")
        missing = [f for f in _SPEC_FIELDS if not spec.get(f)]
        if missing:
            raise ConfigError(f"{where}: missing {', '.join(missing)}")
        scope = spec.get("id_scope", "message")
        if scope not in ("message", "process"):
            raise ConfigError(f"{where}: id_scope must be 'message' or 'process', got {scope!r}")
        namespaces = spec.get("namespaces") or {}
        if not isinstance(namespaces, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in namespaces.items()
        ):
            raise ConfigError(f"{where}: namespaces must map prefixes to namespace URIs")
        self.name = str(spec.get("name") or "xpath")
        self.id_scope: str = scope
        self.spec: Mapping[str, Any] = dict(spec)
        self._where = where
        self._ns = dict(namespaces)
        header = spec.get("header")
        self._header = self._compile("header", header) if header else None
        self._id = self._compile("id", spec["id"])
        self._type = self._compile("type", spec["type"])
        self._created = self._compile("created", spec["created"])
        self._sender = self._compile("sender", spec["sender"])
        self._recipients = self._compile("recipients", spec["recipients"])
        key = spec["key"]
        self._key: etree.XPath | None = None
        self._key_parts: tuple[etree.XPath, etree.XPath] | None = None
        if isinstance(key, str):
            self._key = self._compile("key", key)
        elif isinstance(key, Mapping) and set(key) == {"prefix", "id"}:
            self._key_parts = (
                self._compile("key.prefix", key["prefix"]),
                self._compile("key.id", key["id"]),
            )
        else:
            raise ConfigError(f"{where}: key must be an expression or {{prefix, id}}")

    def _compile(self, field: str, expression: Any) -> etree.XPath:
        if not isinstance(expression, str) or not expression.strip():
            raise ConfigError(f"{self._where}: {field} must be an XPath expression")
        try:
            xpath = etree.XPath(expression, namespaces=self._ns, smart_strings=False)
            xpath(_PROBE)  # undeclared prefixes and unknown functions fail only when run
            return xpath
        except etree.XPathError as exc:
            raise ConfigError(
                f"{self._where}: {field}: invalid XPath {expression!r}: {exc}"
            ) from exc

    def describe(self) -> str:
        return f"{self.name} (xpath)"

    # --- evaluation ---------------------------------------------------------------
    @staticmethod
    def _value(found: Any, collapse: bool) -> str:
        if isinstance(found, list):
            found = found[0] if found else ""
        if isinstance(found, etree._Element):
            return string_value(found, collapse=collapse)
        if isinstance(found, (bytes, str)):
            text = found.decode() if isinstance(found, bytes) else found
            return " ".join(text.split()) if collapse else text.strip()
        if isinstance(found, float) and found.is_integer():  # number(): 12.0 -> "12"
            return str(int(found))
        return "" if isinstance(found, bool) or found is None else str(found)

    def _field(self, xpath: etree.XPath, node: etree._Element, field: str, where: str,
               collapse: bool = False) -> str:
        try:
            value = self._value(xpath(node), collapse)
        except etree.XPathEvalError as exc:
            raise HeaderError(f"header field {field} cannot be read: {exc}",
                              code="HEADER_INVALID", path=f"{where}/{xpath.path}") from None
        if not value:
            raise HeaderError(f"header field {field} ({xpath.path}) is missing or empty",
                              code="HEADER_INVALID", path=f"{where}/{xpath.path}")
        return value

    def _party_key(self, party: Any, role: str, where: str) -> str:
        if not isinstance(party, etree._Element):  # an expression that computes the key
            value = self._value(party, False)
            if not value:
                raise HeaderError(f"header names no {role} key", code="HEADER_INVALID",
                                  path=f"{where}/{role}")
            return value
        if self._key is not None:
            return self._field(self._key, party, f"{role} key", where)
        assert self._key_parts is not None
        prefix_xpath, id_xpath = self._key_parts
        prefix = self._field(prefix_xpath, party, f"{role} key prefix", where, collapse=True)
        ident = self._field(id_xpath, party, f"{role} key id", where, collapse=True)
        return f"{prefix.removesuffix(':')}:{ident}"

    def _parties(self, xpath: etree.XPath, root: etree._Element) -> list[Any]:
        found = xpath(root)
        return list(found) if isinstance(found, list) else [found] if found else []

    def read(self, root: etree._Element) -> Nachrichtenkopf:
        where = f"/{_local(root)}"
        if self._header is not None and not self._header(root):
            raise HeaderError(
                f"the message has no header ({self.name}: {self._header.path})",
                code="HEADER_MISSING", path=where,
            )
        senders = self._parties(self._sender, root)
        if not senders:
            raise HeaderError(f"header names no sender ({self._sender.path})",
                              code="HEADER_INVALID", path=f"{where}/{self._sender.path}")
        if len(senders) > 1:
            raise HeaderError(f"header names {len(senders)} senders ({self._sender.path})",
                              code="HEADER_INVALID", path=f"{where}/{self._sender.path}")
        recipients = self._parties(self._recipients, root)
        if not recipients:
            raise HeaderError(f"header names no recipient ({self._recipients.path})",
                              code="HEADER_INVALID", path=f"{where}/{self._recipients.path}")
        kind = ProcessHeader if self.id_scope == "process" else Nachrichtenkopf
        return kind(
            message_id=self._field(self._id, root, "id", where),
            message_code=self._field(self._type, root, "type", where, collapse=True),
            created=self._field(self._created, root, "created", where, collapse=True),
            author_key=self._party_key(senders[0], "sender", where),
            reader_keys=tuple(self._party_key(r, "recipient", where) for r in recipients),
        )

    def message_id(self, root: etree._Element) -> str | None:
        try:
            return self._value(self._id(root), False) or None
        except etree.XPathEvalError:
            return None


def xdomea_profile(namespace: str) -> XPathProfile:
    """The built-in ``xdomea`` profile bound to one xdomea release's namespace.

    ``Kopf`` with ``ProzessID`` (the id of the exchange: requests and answers of
    one process share it, so ``id_scope`` is ``process``), ``Nachrichtentyp/code``,
    ``Erstellungszeitpunkt``, one ``Absender`` and the ``Empfaenger``, each
    addressed by its ``Behoerdenkennung``: ``Praefix/code`` plus
    ``Behoerdenschluessel/code`` (3.0.0) or ``Kennung/code`` (2.4.0). The
    ``code`` children are unqualified (xoev-code), everything else is in the
    release's namespace.
    """
    with _LOCK:
        profile = _XDOMEA.get(namespace)
        if profile is None:
            profile = _XDOMEA[namespace] = XPathProfile(
                {
                    "name": "xdomea",
                    "namespaces": {"x": namespace},
                    "header": "x:Kopf",
                    "id": "x:Kopf/x:ProzessID",
                    "type": "x:Kopf/x:Nachrichtentyp/code",
                    "created": "x:Kopf/x:Erstellungszeitpunkt",
                    "sender": "x:Kopf/x:Absender",
                    "recipients": "x:Kopf/x:Empfaenger",
                    "key": {
                        "prefix": "x:Behoerdenkennung/x:Praefix/code",
                        "id": "x:Behoerdenkennung/x:Behoerdenschluessel/code"
                        " | x:Behoerdenkennung/x:Kennung/code",
                    },
                    "id_scope": "process",
                },
                where=f"built-in xdomea profile ({namespace})",
            )
        return profile


#: names a manifest may give as ``header_profile``
BUILTIN_PROFILES = ("g2g", "xdomea")

_LOCK = threading.Lock()
_XDOMEA: dict[str, XPathProfile] = {}
#: namespace -> profile of the package that wins the namespace (the registry's)
_BY_NAMESPACE: dict[str, HeaderProfile] = {}
#: root tag -> profile, a memo of profile_for (bounded: roots are message names)
_BY_TAG: dict[Any, HeaderProfile] = {}
_BY_TAG_MAX = 4096


def profile_from_spec(spec: Any, namespace: str, *, where: str = "header_profile"
                      ) -> HeaderProfile:
    """The profile a manifest names for ``namespace``: ``"g2g"``, ``"xdomea"`` or an
    XPath profile object. ``ConfigError`` for anything else."""
    if spec is None or spec == "g2g":
        return G2G
    if spec == "xdomea":
        return xdomea_profile(namespace)
    if isinstance(spec, Mapping):
        return XPathProfile(spec, where=where)
    raise ConfigError(
        f"{where}: unknown header profile {spec!r} (built in: {', '.join(BUILTIN_PROFILES)}; "
        "or an object of XPath expressions)"
    )


def register_profile(namespace: str, profile: HeaderProfile) -> None:
    """Read messages of ``namespace`` with ``profile`` (the schema registry calls this
    for the package that wins each namespace; the latest registration wins)."""
    _BY_NAMESPACE[namespace] = profile
    _BY_TAG.clear()


def _profile_of_namespace(namespace: str) -> HeaderProfile:
    profile = _BY_NAMESPACE.get(namespace)
    if profile is not None:
        return profile
    if namespace.startswith(XDOMEA_NAMESPACE_PREFIX):
        return xdomea_profile(namespace)
    return G2G


def profile_for(root: etree._Element) -> HeaderProfile:
    """The header profile of a parsed message, by its root's namespace."""
    tag = root.tag
    profile = _BY_TAG.get(tag)  # the hot path: one lookup per message
    if profile is None:
        if not isinstance(tag, str):
            return G2G
        namespace = tag[1:tag.find("}")] if tag[:1] == "{" else ""
        profile = _profile_of_namespace(namespace)
        if len(_BY_TAG) >= _BY_TAG_MAX:
            _BY_TAG.clear()
        _BY_TAG[tag] = profile
    return profile


def read_header(root: etree._Element, profile: HeaderProfile | None = None) -> Nachrichtenkopf:
    """Read the header of a parsed message with its profile (:func:`profile_for`).

    Raises :class:`HeaderError` with code ``HEADER_MISSING`` (no header element)
    or ``HEADER_INVALID`` (a required field is missing or empty).
    """
    if profile is None:
        profile = profile_for(root)
    if profile is G2G:
        return _read_g2g(root)
    return profile.read(root)


def message_id(root: etree._Element) -> str | None:
    """The message id of a parsed message (g2g: nachrichtenUUID, xdomea: ProzessID),
    or None; never raises. See :func:`_g2g_message_id` for the g2g fallback."""
    return profile_for(root).message_id(root)


def message_id_of(data: bytes, limits: Limits | None = None) -> str | None:
    """:func:`message_id` of raw bytes after the hardened parse; None if they do not parse."""
    try:
        root = parse_xml(data, limits or Limits())
    except MessageError:
        return None
    return message_id(root)
