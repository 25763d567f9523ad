"""Payment and notices end to end: a real worker, the real broker, a real HTTP client,
a Postfach server here, identity keys generated here.

A Solingen citizen's Meldebescheinigung with its fee: identified, waiting, paid
(a repeated PAYED changes nothing), forwarded once to solingen.meldebehoerde,
answered by the Meldebehörde with a notice (text and PDF) that arrives signed in
the Postfach; a wrong amount and an unpaid application past the timeout are
rejected with a rejection notice; a payment for an unknown reference is 404; a
notice from an authority that did not get the application is dead-lettered.
"""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path
from typing import Any

import pytest

from hub.core.region import Region
from hub.kafka.headers import H_ERROR_CODE
from hub.kafka.topics import TopicNames
from hub.portal.catalog import Catalogue
from hub.portal.forms import FormSchema
from tests.worker.harness import WorkerProcess, drain, hub_env, produce

from .helpers import Client, PortalSetup, Postfach, free_port

pytestmark = pytest.mark.kafka

FORM = {"art": "einfach", "familienname": "Kowalczyk-Ünal", "vornamen": "Zoë",
        "geburtsdatum": "1988-02-29", "anzahl": 1, "zustellung": "postfach"}
PDF = b"%PDF-1.4\n% Bescheid\n%%EOF\n"


def wait_status(client: Client, application_id: str, status: str,
                timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    state: dict[str, Any] = {}
    while time.monotonic() < deadline:
        code, state = client.call("GET", f"/v1/applications/{application_id}")
        if code == 200 and state["status"] == status:
            return state
        time.sleep(0.3)
    raise AssertionError(f"{application_id}: {state}")


def test_payment_and_notices_end_to_end(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path
) -> None:
    with Postfach(secret="") as postfach:
        setup = PortalSetup(tmp_path / "portal", free=(), postfach_url=postfach.url)
        postfach.secret = setup.postfach_secret
        setup.write()
        catalogue = Catalogue.of_region(Region.load(setup.region_file))
        assert catalogue is not None
        names = TopicNames(topic_prefix)
        port = free_port()
        env = hub_env(kafka_bootstrap, topic_prefix, HUB_REGION_FILE=str(setup.region_file),
                      HUB_WEB_PORT=str(port), HUB_LOG_LEVEL="DEBUG",
                      HUB_PORTAL_PAYMENT_TIMEOUT="8s",
                      HUB_STATE_DIR=str(tmp_path / "state"), **setup.env())
        worker = WorkerProcess(env, tmp_path / "worker.log").start()
        client = Client(port, setup.token)
        provider = Client(port, setup.payment_token)
        try:
            client.wait_ready(worker)

            def apply(app_id: str, reference: str) -> tuple[int, dict[str, Any]]:
                body = {"service": "meldebescheinigung", "ags": "05122000",
                        "application_id": app_id, "payment_reference": reference,
                        "identity": setup.assertion(subject=f"bund-id:{app_id}"),
                        "form": FORM}
                return client.call("POST", "/v1/applications", body)

            def pay(reference: str, amount: Any, status: str = "PAYED",
                    token: str | None = None) -> tuple[int, dict[str, Any]]:
                return provider.call("POST", "/v1/payments/notifications", {
                    "transaction_id": f"TX-{reference}", "reference": reference,
                    "amount": amount, "currency": "EUR", "status": status}, token=token)

            for app_id, reference in (("SG-PAID", "PAY-1"), ("SG-WRONG", "PAY-2"),
                                      ("SG-UNPAID", "PAY-3"), ("SG-FAILED", "PAY-4")):
                status, answer = apply(app_id, reference)
                assert (status, answer["status"]) == (202, "awaiting_payment"), answer
            waiting_since = time.monotonic()

            # only the provider may notify; the portal's token is not the provider's
            assert pay("PAY-1", "10.00", token=setup.token)[0] == 401
            assert pay("PAY-1", 10.001)[0] == 422
            status, answer = pay("PAY-UNKNOWN", "10.00")
            assert (status, answer["error"]) == (404, "UNKNOWN_REFERENCE")
            assert "\n" not in answer["detail"]
            status, answer = pay("PAY-1", "10.00")
            assert (status, answer["status"], answer["outcome"]) == (200, "forwarded", "paid")
            status, answer = pay("PAY-1", "10.00")  # the provider repeats itself
            assert (status, answer["status"], answer["outcome"]) == (200, "forwarded",
                                                                     "duplicate")
            status, answer = pay("PAY-2", 5)
            assert (status, answer["status"], answer["reason"]) == (
                200, "rejected", "PAYMENT_AMOUNT_MISMATCH")
            status, answer = pay("PAY-4", "10.00", status="FAILED")
            assert (status, answer["reason"]) == (200, "PAYMENT_FAILED")
            status, answer = pay("PAY-2", "10.00")  # paid after the rejection: too late
            assert (status, answer["error"]) == (409, "APPLICATION_NOT_AWAITING_PAYMENT")

            # the Meldebehörde answers SG-PAID; Wuppertal's answers it too (not its own)
            notice = {"application_id": "SG-PAID", "notice_id": "SG-BESCHEID-1",
                      "text": "Ihre Meldebescheinigung liegt bei.",
                      "pdf_base64": base64.b64encode(PDF).decode(), "filename": "bescheid.pdf"}
            solingen = names.notices("solingen.meldebehoerde")
            wuppertal = names.notices("wuppertal.meldebehoerde")
            produce(kafka_bootstrap, [
                (wuppertal, b"SG-PAID", json.dumps({**notice, "notice_id": "W-1"}).encode()),
                (solingen, b"SG-PAID", json.dumps(notice).encode()),
                (solingen, b"SG-NONE", json.dumps({**notice, "application_id": "SG-NONE"})
                 .encode()),
            ])
            delivered = postfach.wait_for("SG-PAID")
            assert delivered["kind"] == "decision" and delivered["_author"] == \
                "solingen.meldebehoerde"
            assert (delivered["notice_id"], delivered["recipient"]) == (
                "SG-BESCHEID-1", "bund-id:SG-PAID")
            assert base64.b64decode(delivered["pdf_base64"]) == PDF
            state = wait_status(client, "SG-PAID", "notice_delivered")
            assert [s["status"] for s in state["history"]] == [
                "received", "awaiting_payment", "paid", "forwarded", "decided",
                "notice_delivered"]

            for app_id, reason in (("SG-WRONG", "PAYMENT_AMOUNT_MISMATCH"),
                                   ("SG-FAILED", "PAYMENT_FAILED")):
                rejection = postfach.wait_for(app_id)
                assert (rejection["kind"], rejection["reason"], rejection["_author"]) == (
                    "rejection", reason, "hub")
                wait_status(client, app_id, "notice_delivered")
            # unpaid: rejected once the timeout has passed, not before
            state = client.call("GET", "/v1/applications/SG-UNPAID")[1]
            assert state["status"] == "awaiting_payment" or \
                time.monotonic() - waiting_since >= 8
            rejection = postfach.wait_for("SG-UNPAID", timeout=40)
            assert rejection["reason"] == "PAYMENT_TIMEOUT"
            assert time.monotonic() - waiting_since >= 7.5
            state = wait_status(client, "SG-UNPAID", "notice_delivered")
            assert [(s["status"], s["reason"]) for s in state["history"]][-2:] == [
                ("rejected", "PAYMENT_TIMEOUT"), ("notice_delivered", None)]
            assert postfach.bad_signatures == 0
            assert len(postfach.notices) == 4  # one each, the wrong authority's none

            deciding = [names.applications(a.id) for a in catalogue.deciding_authorities()]
            topic = names.applications("solingen.meldebehoerde")
            out = drain(kafka_bootstrap, [*deciding, names.deadletter],
                        until={topic: 1, names.deadletter: 2}, timeout=30, settle=2)
            assert out.count(topic) == 1 and sum(out.count(t) for t in deciding) == 1
            meldung = catalogue.get("meldebescheinigung")
            assert meldung is not None
            event = FormSchema.of(meldung).decode(out.records[topic][0].value)  # type: ignore[attr-defined]
            assert (event["application_id"], event["fee_cents"], event["form"]) == (
                "SG-PAID", 1000, {**FORM, "zweck": None})
            codes = sorted(h[H_ERROR_CODE].decode() for h in out.headers(names.deadletter))
            assert codes == ["NOTICE_UNKNOWN_APPLICATION", "NOTICE_WRONG_AUTHORITY"]

            metrics = client.metrics()
            assert 'xoev_hub_payment_notifications_total{outcome="unknown_reference",' \
                   'status="PAYED"} 1.0' in metrics
            assert 'xoev_hub_payment_notifications_total{outcome="duplicate",' \
                   'status="PAYED"} 1.0' in metrics
            assert 'xoev_hub_portal_notices_total{kind="rejection",outcome="delivered"} 3.0' \
                in metrics
        finally:
            worker.stop()
