"""Early checks sources run before handing a message to the hub.

The worker is the authority on validity (it validates against the XSD and
dead-letters); sources check early so that a sender gets an answer at once.
``precheck`` is the hardened well-formedness check (no DTD, no entities, no
network, bounded size and depth) that also reads the nachrichtenUUID.

Adding the full XSD check is one line where the gateway is built::

    checker = with_validation(default_checker(max_bytes),
                              lambda data: hub.validation.check(data, registry, limits))

``with_validation`` accepts any report with ``valid`` and ``problems`` (the
shape of ``hub.validation.ValidationReport``) and answers with it as JSON.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from lxml import etree

XML_EMPTY = "XML_EMPTY"
XML_TOO_LARGE = "XML_TOO_LARGE"
XML_TOO_DEEP = "XML_TOO_DEEP"
XML_DTD_FORBIDDEN = "XML_DTD_FORBIDDEN"
XML_MALFORMED = "XML_MALFORMED"


@dataclass(frozen=True)
class Problem:
    """Same fields as ``hub.validation.Problem``."""

    code: str
    message: str
    line: int | None = None
    column: int | None = None
    path: str | None = None


@dataclass(frozen=True)
class CheckResult:
    """The outcome of an early check: a report (JSON-able) and the message id."""

    valid: bool
    problems: tuple[Problem, ...] = ()
    message_id: str | None = None
    report: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        if self.report:
            return self.report
        return {
            "valid": self.valid,
            "standard": None,
            "version": None,
            "message_code": None,
            "problems": [dataclasses.asdict(p) for p in self.problems],
        }

    @property
    def first_code(self) -> str:
        return self.problems[0].code if self.problems else "INVALID"


Checker = Callable[[bytes], CheckResult]

_PARSER_OPTIONS: dict[str, Any] = {
    "resolve_entities": False,
    "no_network": True,
    "load_dtd": False,
    "dtd_validation": False,
    "huge_tree": False,
    "remove_comments": False,
}


def _message_id(root: etree._Element) -> str | None:
    found = root.xpath("//*[local-name()='nachrichtenUUID']")
    if isinstance(found, list) and found:
        el = found[0]
        if isinstance(el, etree._Element) and el.text and el.text.strip():
            return el.text.strip()
    return None


def _depth(root: etree._Element, limit: int) -> bool:
    stack = [(root, 1)]
    while stack:
        el, depth = stack.pop()
        if depth > limit:
            return False
        stack.extend((child, depth + 1) for child in el)
    return True


def precheck(data: bytes, *, max_bytes: int = 4 * 1024 * 1024, max_depth: int = 256) -> CheckResult:
    """Hardened well-formedness: codes as in ``hub.xmlsafe``; never raises."""

    def bad(
        code: str, message: str, line: int | None = None, col: int | None = None
    ) -> CheckResult:
        return CheckResult(False, (Problem(code, message, line, col),))

    if not data.strip():
        return bad(XML_EMPTY, "the message is empty")
    if len(data) > max_bytes:
        return bad(XML_TOO_LARGE, f"{len(data)} bytes exceed the limit of {max_bytes}")
    parser = etree.XMLParser(**_PARSER_OPTIONS)
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        line, col = exc.position if exc.position else (None, None)
        return bad(XML_MALFORMED, f"not well-formed XML: {exc.msg}", line, col)
    tree = root.getroottree()
    docinfo = tree.docinfo
    if getattr(docinfo, "doctype", "") or docinfo.internalDTD is not None:
        return bad(XML_DTD_FORBIDDEN, "document type declarations are not accepted")
    if not _depth(root, max_depth):
        return bad(XML_TOO_DEEP, f"elements nested deeper than {max_depth}")
    return CheckResult(True, (), _message_id(root))


def default_checker(max_bytes: int, max_depth: int = 256) -> Checker:
    """The check sources run (until ``hub.validation`` is wired in, well-formedness)."""

    def check(data: bytes) -> CheckResult:
        return precheck(data, max_bytes=max_bytes, max_depth=max_depth)

    return check


class ReportLike(Protocol):
    """What ``hub.validation.check`` returns (a dataclass ``ValidationReport``)."""

    @property
    def valid(self) -> bool: ...


def with_validation(base: Checker, validate: Callable[[bytes], ReportLike]) -> Checker:
    """``base`` first (hardened parse, message id), then ``validate`` (e.g. XSD)."""

    def check(data: bytes) -> CheckResult:
        first = base(data)
        if not first.valid:
            return first
        report = validate(data)
        if report.valid:
            return first
        as_dict: dict[str, Any] = {"valid": False, "problems": []}
        if dataclasses.is_dataclass(report) and not isinstance(report, type):
            as_dict = dataclasses.asdict(report)
        problems = tuple(
            Problem(p.get("code", "INVALID"), p.get("message", ""), p.get("line"),
                    p.get("column"), p.get("path"))
            for p in as_dict.get("problems", ())
        )
        return CheckResult(False, problems, first.message_id, as_dict)

    return check
