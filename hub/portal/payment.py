"""Payment status notifications of the ePayment provider, and what they decide.

The provider notifies ``POST /v1/payments/notifications`` in the JSON shape of
XBezahldienste's payment status (docs/serviceportal.md)::

    {"transaction_id": "TX-8842", "reference": "PAY-0815",
     "amount": "10.00", "currency": "EUR", "status": "PAYED"}

``amount`` is the amount in euro as XBezahldienste writes it: a decimal with at
most two places, as a JSON string or number (read exactly, never as a float),
compared in cents with the service's ``fee_cents``. ``currency`` is optional
and must be ``EUR`` when present. :func:`decide` is the pure decision: PAYED with
the fee releases the application, PAYED with another amount rejects it
(``PAYMENT_AMOUNT_MISMATCH``), FAILED/CANCELED/TIMEOUT reject it, INITIAL/OPEN/
PENDING change nothing; a notification for an application that no longer waits
is answered from its state (a repeated PAYED is idempotent).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

__all__ = [
    "PENDING_STATUSES",
    "REJECTING_STATUSES",
    "Decision",
    "Notification",
    "NotificationError",
    "decide",
    "parse_notification",
]

#: provider statuses that close the payment without money
REJECTING_STATUSES = {"FAILED": "PAYMENT_FAILED", "CANCELED": "PAYMENT_CANCELED",
                      "TIMEOUT": "PAYMENT_TIMEOUT"}
#: provider statuses that say nothing yet
PENDING_STATUSES = frozenset({"INITIAL", "OPEN", "PENDING"})
KNOWN_STATUSES = frozenset({"PAYED", *REJECTING_STATUSES, *PENDING_STATUSES})
ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")
AMOUNT_RE = re.compile(r"^\d{1,9}(\.\d{1,2})?$")
FIELDS = frozenset({"transaction_id", "reference", "amount", "currency", "status"})


class NotificationError(ValueError):
    """A notification the hub cannot read (HTTP 422), with the member at fault."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(reason)
        self.path = path
        self.reason = reason


@dataclass(frozen=True)
class Notification:
    transaction_id: str
    reference: str
    amount_cents: int
    status: str


def _amount_cents(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
        raise NotificationError("/amount", "amount must be a decimal in euro, e.g. \"10.00\"")
    text = str(value)
    if not AMOUNT_RE.match(text):
        raise NotificationError("/amount", "amount must be a decimal in euro with at most "
                                "two places, e.g. \"10.00\"")
    try:
        return int(Decimal(text) * 100)
    except InvalidOperation:  # pragma: no cover - the pattern admits decimals only
        raise NotificationError("/amount", "amount is not a decimal") from None


def parse_notification(data: Any) -> Notification:
    """The notification in ``data`` (JSON read with ``parse_float=Decimal``)."""
    if not isinstance(data, dict):
        raise NotificationError("/", "the notification must be a JSON object")
    unknown = sorted(set(data) - FIELDS)
    if unknown:
        raise NotificationError("/" + str(unknown[0])[:40], "unknown member")
    for name in ("transaction_id", "reference"):
        value = data.get(name)
        if not isinstance(value, str) or not ID_RE.match(value):
            raise NotificationError(f"/{name}", f"{name} must be 1-128 of A-Z a-z 0-9 . _ : -")
    status = data.get("status")
    if not isinstance(status, str) or status not in KNOWN_STATUSES:
        raise NotificationError("/status", "status must be one of "
                                + ", ".join(sorted(KNOWN_STATUSES)))
    currency = data.get("currency", "EUR")
    if currency != "EUR":
        raise NotificationError("/currency", "currency must be EUR")
    return Notification(data["transaction_id"], data["reference"],
                        _amount_cents(data.get("amount")), status)


@dataclass(frozen=True)
class Decision:
    """What a notification does to a waiting application.

    ``action``: ``release`` (forward it), ``reject`` (with ``reason``), ``none``
    (nothing changes: a pending status, or the application is past waiting)."""

    action: str
    reason: str | None = None
    outcome: str = ""


def decide(notification: Notification, fee_cents: int | None, status: str,
           paid: bool = False) -> Decision:
    """The decision for an application in ``status`` with fee ``fee_cents``; ``paid``:
    it was released by an earlier PAYED (then another PAYED is a duplicate)."""
    if status not in ("received", "awaiting_payment"):
        if paid and notification.status == "PAYED":
            return Decision("none", outcome="duplicate")
        return Decision("none", outcome="late")
    if notification.status in PENDING_STATUSES:
        return Decision("none", outcome="pending")
    if notification.status in REJECTING_STATUSES:
        reason = REJECTING_STATUSES[notification.status]
        return Decision("reject", reason, outcome=notification.status.lower())
    if fee_cents is None or notification.amount_cents != fee_cents:
        return Decision("reject", "PAYMENT_AMOUNT_MISMATCH", outcome="wrong_amount")
    return Decision("release", outcome="paid")
