"""Payment notifications and notices: the pure parts (hub.portal.payment, hub.portal.notices)."""

from __future__ import annotations

import base64
import json
from decimal import Decimal

import pytest

from hub.adapters.webhook import sign_v2
from hub.portal.notices import NoticeError, PostfachNotice, parse_notice
from hub.portal.payment import NotificationError, decide, parse_notification


def note(**change: object) -> dict[str, object]:
    return {"transaction_id": "TX-1", "reference": "PAY-1", "amount": "10.00",
            "currency": "EUR", "status": "PAYED", **change}


@pytest.mark.parametrize(("amount", "cents"), [
    ("10.00", 1000), ("10", 1000), ("0.5", 50), (Decimal("93.00"), 9300), (12, 1200),
])
def test_amount_is_read_exactly_in_euro(amount: object, cents: int) -> None:
    assert parse_notification(note(amount=amount)).amount_cents == cents


@pytest.mark.parametrize(("change", "path"), [
    ({"amount": "10.001"}, "/amount"), ({"amount": 10.5}, "/amount"),
    ({"amount": True}, "/amount"), ({"amount": "-1"}, "/amount"),
    ({"status": "PAID"}, "/status"), ({"currency": "USD"}, "/currency"),
    ({"reference": "a b"}, "/reference"), ({"card": "4111"}, "/card"),
])
def test_malformed_notifications_name_the_member(change: dict[str, object], path: str) -> None:
    with pytest.raises(NotificationError) as caught:
        parse_notification(note(**change))
    assert caught.value.path == path
    assert "4111" not in caught.value.reason


def test_decisions() -> None:
    paid = parse_notification(note())
    assert decide(paid, 1000, "awaiting_payment").action == "release"
    wrong = decide(parse_notification(note(amount="9.99")), 1000, "awaiting_payment")
    assert (wrong.action, wrong.reason) == ("reject", "PAYMENT_AMOUNT_MISMATCH")
    for status, reason in (("FAILED", "PAYMENT_FAILED"), ("CANCELED", "PAYMENT_CANCELED")):
        got = decide(parse_notification(note(status=status)), 1000, "awaiting_payment")
        assert (got.action, got.reason) == ("reject", reason)
    assert decide(parse_notification(note(status="INITIAL")), 1000,
                  "awaiting_payment").action == "none"
    assert decide(paid, 1000, "forwarded", paid=True).outcome == "duplicate"
    assert decide(paid, 1000, "notice_delivered", paid=False).outcome == "late"


def test_notices_are_checked() -> None:
    pdf = base64.b64encode(b"%PDF-1.7 x").decode()
    notice = parse_notice(json.dumps({"application_id": "A-1", "pdf_base64": pdf}).encode())
    assert (notice.notice_id, notice.text) == ("A-1:notice", None)
    for bad in (b"{", b"[]", json.dumps({"application_id": "A-1"}).encode(),
                json.dumps({"application_id": "A-1", "pdf_base64": "aGVsbG8="}).encode(),
                json.dumps({"application_id": "A 1", "text": "x"}).encode(),
                json.dumps({"application_id": "A-1", "text": "x", "extra": 1}).encode()):
        with pytest.raises(NoticeError) as caught:
            parse_notice(bad)
        assert caught.value.code == "NOTICE_INVALID"


def test_rejection_notice_body_and_signature_input() -> None:
    notice = PostfachNotice.rejection("SG-1", "bund-id:1", "meldebescheinigung",
                                      "solingen.meldebehoerde", "PAYMENT_TIMEOUT")
    body = json.loads(notice.body())
    assert (body["kind"], body["reason"], body["recipient"]) == (
        "rejection", "PAYMENT_TIMEOUT", "bund-id:1")
    assert "SG-1" in body["text"] and notice.author == "hub"
    signature = sign_v2("s", notice.notice_id, notice.author, "1700000000", notice.body())
    assert signature.startswith("v2=") and len(signature) == 3 + 128
