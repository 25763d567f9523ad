"""The one path every entry point takes: parse → identify → validate → read header.

:func:`examine` is that path. The worker's pipeline (:mod:`hub.core.pipeline`),
``xoev-hub validate`` (:func:`check`), ``xoev-hub convert`` and the HTTP inbound
pre-check (:mod:`hub.adapters.precheck`) all call it, with the packages of
:meth:`hub.core.schemas.SchemaRegistry.from_settings` (an installed release wins over
the bundled one of the same namespace), so they cannot disagree on a verdict or
a message id.

:func:`check` never raises a :class:`hub.errors.MessageError`; it returns a
:class:`ValidationReport` whose problems carry a stable code, the position and
an XPath-like location, and a message that IT staff can act on. libxml2's
messages are rewritten by :mod:`hub.core.xsd_messages` (namespaces shortened to local
names, long expected-lists cut, a pattern failure names the offending character
as ``U+…`` and the allowed character set) and **values from the document are
never quoted**, whatever libxml2's message form: reports end up in dead-letter
headers and logs, which must not carry personal data (names, addresses, birth
dates).

Codes: the parse codes of :mod:`hub.core.xmlsafe`, ``UNKNOWN_NAMESPACE``,
``UNKNOWN_VERSION``, ``UNKNOWN_MESSAGE`` from the registry,
``SCHEMA_INVALID`` for every XSD violation (the message says which rule), and
``HEADER_MISSING``/``HEADER_INVALID`` from :mod:`hub.core.header` for a message of a
package with a g2g header (manifest ``header``) whose header cannot be read.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from time import perf_counter
from typing import TYPE_CHECKING, Any, cast

from lxml import etree

from hub.core.header import HEADER_NAMES, Nachrichtenkopf, message_id, read_header
from hub.core.xmlsafe import Limits, parse_xml
from hub.core.xsd_messages import Explainer, explain
from hub.errors import (
    HeaderError,
    MessageError,
    ParseError,
    SchemaValidationError,
    UnknownMessageError,
)

if TYPE_CHECKING:
    from hub.core.schemas import MessageType, SchemaPackage, SchemaRegistry

__all__ = [
    "MAX_PROBLEMS",
    "Examined",
    "Problem",
    "ValidationReport",
    "check",
    "examine",
    "explain",
    "validate_root",
]

#: at most this many problems per report (libxml2 may report hundreds)
MAX_PROBLEMS = 50


@dataclass(frozen=True)
class Problem:
    """One reason why a message is not acceptable."""

    code: str
    message: str
    line: int | None = None
    column: int | None = None
    path: str | None = None

    def as_dict(self) -> dict[str, object]:
        return {
            "code": self.code,
            "message": self.message,
            "line": self.line,
            "column": self.column,
            "path": self.path,
        }


@dataclass(frozen=True)
class ValidationReport:
    """The verdict on one message; ``problems`` is empty exactly when ``valid``."""

    valid: bool
    standard: str | None
    version: str | None
    message_code: str | None
    problems: tuple[Problem, ...] = field(default=())
    #: the nachrichtenUUID (:func:`hub.core.header.message_id`), None when unreadable
    message_id: str | None = None

    @property
    def code(self) -> str | None:
        """The code of the first problem (the dead-letter reason), None when valid."""
        return self.problems[0].code if self.problems else None

    def as_dict(self) -> dict[str, object]:
        return {
            "valid": self.valid,
            "standard": self.standard,
            "version": self.version,
            "message_code": self.message_code,
            "message_id": self.message_id,
            "problems": [p.as_dict() for p in self.problems],
        }

    def error(self) -> MessageError | None:
        """The first problem as the hub's exception type (None when valid)."""
        if self.valid or not self.problems:
            return None
        first = self.problems[0]
        cls: type[MessageError]
        if first.code.startswith("XML_"):
            cls = ParseError
        elif first.code.startswith("UNKNOWN_"):
            cls = UnknownMessageError
        elif first.code.startswith("HEADER_"):
            cls = HeaderError
        else:
            cls = SchemaValidationError
        extra = f" (and {len(self.problems) - 1} more)" if len(self.problems) > 1 else ""
        return cls(
            first.message + extra,
            code=first.code,
            line=first.line,
            column=first.column,
            path=first.path,
        )


def _from_error(exc: MessageError) -> Problem:
    return Problem(exc.code, exc.detail, exc.line, exc.column, exc.path)


@dataclass(frozen=True)
class Examined:
    """What :func:`examine` found: the report, and what it got to before a problem.

    ``error`` is None exactly when the message passed every step; it is the
    first problem as the hub's exception (its stage and code are what the worker
    dead-letters). ``header`` is None when the message failed or its package
    has no g2g header and none was required.
    """

    report: ValidationReport
    error: MessageError | None = None
    root: etree._Element | None = None
    package: SchemaPackage | None = None
    message: MessageType | None = None
    header: Nachrichtenkopf | None = None

    def accepted(self) -> tuple[etree._Element, SchemaPackage, MessageType, Nachrichtenkopf]:
        """(root, package, message type, header) of a message that passed; else raises
        :attr:`error`."""
        if self.error is not None:
            raise self.error
        if self.root is None or self.package is None or self.message is None or (
            self.header is None
        ):
            raise HeaderError("the message has no g2g header", code="HEADER_MISSING")
        return self.root, self.package, self.message, self.header


def _has_g2g_header(package: SchemaPackage) -> bool:
    return getattr(package, "header", None) in HEADER_NAMES


def examine(
    data: bytes,
    registry: SchemaRegistry,
    limits: Limits = Limits(),  # noqa: B008
    *,
    require_header: bool = True,
    timings: dict[str, float] | None = None,
) -> Examined:
    """Parse (hardened), identify, XSD-validate and read the g2g header of one message.

    Never raises a MessageError: problems are in the result (``ConfigError`` of a
    package that does not compile does propagate). The header is read when
    ``require_header`` (the worker: it routes by the header) or when the package
    declares a g2g header; a message of a package without one (xdomea, say) is
    otherwise judged by its XSD alone. ``timings`` receives ``parse`` and
    ``validate`` in seconds.
    """
    start = perf_counter()
    try:
        root = parse_xml(data, limits)
    except ParseError as exc:
        return Examined(ValidationReport(False, None, None, None, (_from_error(exc),)), exc)
    parsed = perf_counter()
    try:
        package, message = registry.identify(root)
    except UnknownMessageError as exc:
        report = ValidationReport(
            False, None, None, None, (_from_error(exc),), message_id=message_id(root)
        )
        return Examined(report, exc, root)
    report = validate_root(package, root, message, data)
    if timings is not None:
        timings["parse"] = parsed - start
        timings["validate"] = perf_counter() - parsed
    if not report.valid:
        first = report.problems[0]
        more = f" (+{len(report.problems) - 1} more)" if len(report.problems) > 1 else ""
        error = SchemaValidationError(
            first.message + more,
            code=first.code or "SCHEMA_INVALID",
            line=first.line,
            column=first.column,
            path=first.path,
        )
        return Examined(replace(report, message_id=message_id(root)), error, root, package, message)
    if not (require_header or _has_g2g_header(package)):
        return Examined(replace(report, message_id=message_id(root)), None, root, package, message)
    try:
        header = read_header(root)
    except HeaderError as exc:
        report = ValidationReport(
            False, package.standard, package.version, message.code, (_from_error(exc),),
            message_id=message_id(root),
        )
        return Examined(report, exc, root, package, message)
    report = replace(report, message_id=header.message_id)
    return Examined(report, None, root, package, message, header)


def check(data: bytes, registry: SchemaRegistry, limits: Limits = Limits()) -> ValidationReport:  # noqa: B008
    """:func:`examine` as a report: results as data, never raises a MessageError."""
    return examine(data, registry, limits, require_header=False).report


def validate_root(
    package: SchemaPackage,
    root: etree._Element,
    message: MessageType | None = None,
    source: bytes | None = None,
) -> ValidationReport:
    """Validate a parsed root element against ``package``.

    Problems are rewritten by :class:`hub.core.xsd_messages.Explainer` (no document
    value in any message); with the message's bytes as ``source`` they also get
    the column of the element's start tag, or of the offending character of a
    pattern failure.
    """
    if message is None:
        message = package.messages.get(root.tag) if isinstance(root.tag, str) else None
    if message is None:
        local = etree.QName(root).localname if isinstance(root.tag, str) else "?"
        problem = Problem(
            "UNKNOWN_MESSAGE", f"'{local}' is not a message of {package.label}", path=f"/{local}"
        )
        return ValidationReport(False, package.standard, package.version, None, (problem,))
    schema = package.lxml_schema()
    if schema.validate(root):
        return ValidationReport(True, package.standard, package.version, message.code)
    entries = list(cast(Iterable[Any], schema.error_log))[:MAX_PROBLEMS]
    explainer = Explainer(package, root, source)
    explainer.expect(entry.line for entry in entries)
    problems = []
    for entry in entries:
        text, line, column = explainer.explain(
            entry.message, entry.type_name, entry.line or None, entry.path or None
        )
        problems.append(Problem("SCHEMA_INVALID", text, line, column, entry.path or None))
    if not problems:  # pragma: no cover - libxml2 always logs why
        problems = [Problem("SCHEMA_INVALID", "the message violates its XSD")]
    return ValidationReport(
        False, package.standard, package.version, message.code, tuple(problems)
    )
