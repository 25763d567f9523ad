"""The synchronous checks sources run before handing a message to the hub.

The worker is the authority on validity (it validates and dead-letters);
sources check early so that a sender gets an answer at once.

* :func:`default_checker` — hardened parsing (:func:`hub.xmlsafe.parse_xml`:
  no DTD, no entities, no network, bounded size and depth). Used by the
  directory inbound and by HTTP inbound without a schema registry.
* :func:`validating_checker` — the same parse, then :mod:`hub.validation`
  (identify the message, XSD-validate it) on the parsed tree. Used by HTTP
  inbound in the runtime, so that a sender gets the validation report as 422.

Both also read the nachrichtenUUID (for the Kafka key and idempotency).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from lxml import etree

from hub.errors import MessageError, UnknownMessageError
from hub.validation import Problem, ValidationReport, validate_root
from hub.xmlsafe import Limits, parse_xml

if TYPE_CHECKING:
    from hub.schemas import SchemaRegistry

__all__ = ["CheckResult", "Checker", "Problem", "default_checker", "precheck",
           "validating_checker"]


@dataclass(frozen=True)
class CheckResult:
    """The outcome of an early check: the report and the message id."""

    valid: bool
    report: ValidationReport
    message_id: str | None = None
    problems: tuple[Problem, ...] = field(default=())

    def as_json(self) -> dict[str, Any]:
        """The report as sent with HTTP 422 (``ValidationReport.as_dict``)."""
        return self.report.as_dict()

    @property
    def first_code(self) -> str:
        return self.report.code or "INVALID"


Checker = Callable[[bytes], CheckResult]


def _message_id(root: etree._Element) -> str | None:
    found = root.xpath("//*[local-name()='nachrichtenUUID'][1]/text()")
    if isinstance(found, list) and found:
        text = str(found[0]).strip()
        return text or None
    return None


def _invalid(report: ValidationReport, message_id: str | None = None) -> CheckResult:
    return CheckResult(False, report, message_id, report.problems)


def _from_error(exc: MessageError) -> ValidationReport:
    problem = Problem(exc.code, exc.detail, exc.line, exc.column, exc.path)
    return ValidationReport(False, None, None, None, (problem,))


def _parse(data: bytes, limits: Limits) -> tuple[etree._Element | None, CheckResult | None]:
    try:
        return parse_xml(data, limits), None
    except MessageError as exc:
        return None, _invalid(_from_error(exc))


def precheck(data: bytes, limits: Limits | None = None) -> CheckResult:
    """Hardened well-formedness (codes of :mod:`hub.xmlsafe`); never raises."""
    root, failed = _parse(data, limits or Limits())
    if failed is not None:
        return failed
    assert root is not None
    return CheckResult(True, ValidationReport(True, None, None, None), _message_id(root))


def default_checker(max_bytes: int, max_depth: int = 256) -> Checker:
    """The hardened parse as a ``Checker`` with these limits."""
    limits = Limits(max_bytes=max_bytes, max_depth=max_depth)

    def check(data: bytes) -> CheckResult:
        return precheck(data, limits)

    return check


def validating_checker(registry: SchemaRegistry, limits: Limits) -> Checker:
    """Hardened parse, identify, XSD-validate (one parse); never raises."""

    def check(data: bytes) -> CheckResult:
        root, failed = _parse(data, limits)
        if failed is not None:
            return failed
        assert root is not None
        message_id = _message_id(root)
        try:
            package, message = registry.identify(root)
        except UnknownMessageError as exc:
            return _invalid(_from_error(exc), message_id)
        report = validate_root(package, root, message)
        return CheckResult(report.valid, report, message_id, report.problems)

    return check
