"""The synchronous checks sources run before handing a message to the hub.

The worker is the authority on validity (it validates and dead-letters);
sources check early so that a sender gets an answer at once.

* :func:`default_checker` — hardened parsing (:func:`hub.core.xmlsafe.parse_xml`:
  no DTD, no entities, no network, bounded size and depth). Used by the
  directory inbound and by HTTP inbound without a schema registry.
* :func:`validating_checker` — :func:`hub.core.validation.examine`, the path the
  worker takes (hardened parse, identify, XSD-validate, read the g2g header).
  Used by HTTP inbound in the runtime, so that a sender gets the validation
  report as 422.

Both also read the nachrichtenUUID (for the Kafka key and idempotency) with
:func:`hub.core.header.message_id`, the reader ``send`` and ``dlq`` use too.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from hub.core.header import message_id
from hub.core.validation import Problem, ValidationReport, examine
from hub.core.xmlsafe import Limits, parse_xml
from hub.errors import MessageError

if TYPE_CHECKING:
    from hub.core.schemas import SchemaRegistry

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


def precheck(data: bytes, limits: Limits | None = None) -> CheckResult:
    """Hardened well-formedness (codes of :mod:`hub.core.xmlsafe`); never raises."""
    try:
        root = parse_xml(data, limits or Limits())
    except MessageError as exc:
        problem = Problem(exc.code, exc.detail, exc.line, exc.column, exc.path)
        report = ValidationReport(False, None, None, None, (problem,))
        return CheckResult(False, report, None, report.problems)
    found = message_id(root)
    report = ValidationReport(True, None, None, None, message_id=found)
    return CheckResult(True, report, found)


def default_checker(max_bytes: int, max_depth: int = 256) -> Checker:
    """The hardened parse as a ``Checker`` with these limits."""
    limits = Limits(max_bytes=max_bytes, max_depth=max_depth)

    def check(data: bytes) -> CheckResult:
        return precheck(data, limits)

    return check


def validating_checker(registry: SchemaRegistry, limits: Limits) -> Checker:
    """The worker's parse → identify → validate → header path (one parse); never raises."""

    def check(data: bytes) -> CheckResult:
        report = examine(data, registry, limits).report
        return CheckResult(report.valid, report, report.message_id, report.problems)

    return check
