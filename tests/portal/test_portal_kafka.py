"""The service portal end to end: a real worker, the real broker, a real HTTP client,
identity keys generated here.

A Solingen citizen's Meldebescheinigung (configured free here) is identified and
forwarded to solingen.meldebehoerde's application topic, once, however often it
is sent; forged, expired and missing assertions are 401, a too-weak identity 403,
a bad form 422 without its value, another body under a known id 409 — and none
of them produces anything. The state survives a worker restart. No form value and
no token reaches a log line, a metric or an audit record.
"""

from __future__ import annotations

import json
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from joserfc.jwk import ECKey

from hub.avro.audit import AUDIT_CODEC
from hub.core.region import Region
from hub.kafka.topics import TopicNames
from hub.portal.catalog import Catalogue
from hub.portal.forms import FormSchema
from hub.portal.status import ApplicationState
from tests.worker.harness import WorkerProcess, drain, hub_env

from .helpers import Client, PortalSetup, free_port

pytestmark = pytest.mark.kafka

FORM = {"art": "erweitert", "familienname": "Grünewald-Öztürk", "vornamen": "Maëlle Jördis",
        "geburtsdatum": "1979-11-23", "zweck": "Eheschließung in Solingen",
        "anzahl": 2, "zustellung": "postfach"}
PERSONAL = ("Grünewald-Öztürk", "Maëlle Jördis", "1979-11-23", "Eheschließung")


def test_portal_applications_end_to_end(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path
) -> None:
    setup = PortalSetup(tmp_path / "portal").write()
    region = Region.load(setup.region_file)
    catalogue = Catalogue.of_region(region)
    assert catalogue is not None
    names = TopicNames(topic_prefix)
    port = free_port()
    env = hub_env(kafka_bootstrap, topic_prefix, HUB_REGION_FILE=str(setup.region_file),
                  HUB_WEB_PORT=str(port), HUB_LOG_LEVEL="DEBUG",
                  HUB_STATE_DIR=str(tmp_path / "state"), **setup.env())
    worker = WorkerProcess(env, tmp_path / "worker.log").start()
    client = Client(port, setup.token)
    try:
        client.wait_ready(worker)

        def apply(app_id: str, token: str, service: str = "meldebescheinigung",
                  form: Any = FORM, **extra: Any) -> tuple[int, dict[str, Any]]:
            body = {"service": service, "ags": "05122000", "application_id": app_id,
                    "identity": token, "form": form, **extra}
            return client.call("POST", "/v1/applications", body)

        # the portal itself must authenticate
        status, answer = client.call("POST", "/v1/applications",
                                     {"identity": setup.assertion()}, token="wrong")
        assert (status, answer["error"]) == (401, "UNAUTHORIZED")
        # forged, expired, missing: 401 whatever the body holds
        forger = ECKey.generate_key("P-256", parameters={"kid": "idp-1"})
        now = int(time.time())
        refused = {
            "R-forged": (apply("R-forged", setup.assertion(key=forger)), 401,
                         "IDENTITY_SIGNATURE"),
            "R-expired": (apply("R-expired", setup.assertion(exp=now - 100, iat=now - 900)),
                          401, "IDENTITY_EXPIRED"),
            "R-missing": (apply("R-missing", ""), 401, "IDENTITY_MISSING"),
            "R-weak": (apply("R-weak", setup.assertion(level="substantiell"),
                             service="aufenthaltstitel-verlaengerung",
                             form={"nonsense": True}), 403, "TRUST_LEVEL_TOO_LOW"),
            "R-form": (apply("R-form", setup.assertion(),
                             form={**FORM, "geburtsdatum": "23.11.1979"}), 422, "FORM_INVALID"),
        }
        for app_id, ((status, answer), want_status, want_code) in refused.items():
            assert (status, answer["error"]) == (want_status, want_code), (app_id, answer)
            assert "\n" not in answer["detail"]
        bad_form = refused["R-form"][0][1]
        assert (bad_form["path"], bad_form["rule"]) == ("/form/geburtsdatum", "pattern")
        assert "23.11.1979" not in json.dumps(bad_form)

        # a Solingen citizen's Meldebescheinigung: identified and forwarded
        status, answer = apply("SG-2026-000123", setup.assertion(subject="bund-id:7f3a"))
        assert (status, answer) == (202, {"application_id": "SG-2026-000123",
                                          "status": "forwarded", "duplicate": False})
        # the same application again (a fresh assertion of the same applicant): one application
        status, answer = apply("SG-2026-000123", setup.assertion(subject="bund-id:7f3a"))
        assert (status, answer["status"], answer["duplicate"]) == (202, "forwarded", True)
        # another body under the same id
        status, answer = apply("SG-2026-000123", setup.assertion(subject="bund-id:7f3a"),
                               form={**FORM, "anzahl": 3})
        assert (status, answer["error"]) == (409, "APPLICATION_ID_CONFLICT")
        # a service with a fee waits for its payment
        status, answer = apply("SG-2026-000124", setup.assertion(), service="geburtsurkunde",
                               form={"familienname": "Grünewald-Öztürk", "vornamen": "Maëlle",
                                     "geburtsdatum": "1979-11-23", "geburtsort": "Solingen",
                                     "anzahl": 1}, payment_reference="PAY-0815")
        assert (status, answer["status"]) == (202, "awaiting_payment"), answer

        status, state = client.call("GET", "/v1/applications/SG-2026-000123")
        assert status == 200 and state["status"] == "forwarded"
        assert state["authority"] == "solingen.meldebehoerde"
        assert [s["status"] for s in state["history"]] == ["received", "forwarded"]
        assert client.call("GET", "/v1/applications/SG-2026-000123", token="x")[0] == 401

        deciding = [names.applications(a.id) for a in catalogue.deciding_authorities()]
        topic = names.applications("solingen.meldebehoerde")
        out = drain(kafka_bootstrap, [*deciding, names.status_applications, names.audit,
                                      names.schemas, names.deadletter],
                    until={topic: 1, names.status_applications: 4, names.audit: 1}, timeout=60)
        assert out.count(topic) == 1 and sum(out.count(t) for t in deciding) == 1
        record = out.records[topic][0]
        assert record.key == b"SG-2026-000123"  # type: ignore[attr-defined]
        meldung = catalogue.get("meldebescheinigung")
        assert meldung is not None
        schema = FormSchema.of(meldung)
        event = schema.decode(record.value)  # type: ignore[attr-defined]
        assert event["form"] == FORM and event["authority"] == "solingen.meldebehoerde"
        assert (event["applicant_id"], event["trust_level"]) == ("bund-id:7f3a", "substantiell")
        assert b"eyJ" not in record.value  # type: ignore[attr-defined]  # no JWT travels
        assert schema.fingerprint.hex().encode() in out.keys(names.schemas)
        steps = {}
        for raw in out.records[names.status_applications]:
            state_record = ApplicationState.decode(raw.value)  # type: ignore[attr-defined]
            steps.setdefault(state_record.application_id, []).append(state_record.status)
        assert steps == {"SG-2026-000123": ["received", "forwarded"],
                         "SG-2026-000124": ["received", "awaiting_payment"]}
        audits = [AUDIT_CODEC.decode(r.value) for r in out.records[names.audit]]  # type: ignore[attr-defined]
        assert [(a["message_id"], a["recipients"]) for a in audits] == [
            ("SG-2026-000123", ["solingen.meldebehoerde"])]
        assert out.count(names.deadletter) == 0

        with urllib.request.urlopen(f"{client.base}/metrics", timeout=10) as response:
            metrics = response.read().decode()
        assert ('xoev_hub_applications_total{authority="solingen.meldebehoerde",'
                'outcome="forwarded",service="meldebescheinigung"} 1.0') in metrics
        assert ('xoev_hub_application_refusals_total{code="FORM_INVALID",status="422"} 1.0'
                in metrics)

        # the state survives a restart; a resend after it is still one application
        assert worker.stop() == 0
        worker = WorkerProcess(env, tmp_path / "worker.log").start()
        client.wait_ready(worker)
        status, state = client.call("GET", "/v1/applications/SG-2026-000124")
        assert (status, state["status"]) == (200, "awaiting_payment")
        status, answer = apply("SG-2026-000123", setup.assertion(subject="bund-id:7f3a"))
        assert (status, answer["duplicate"]) == (202, True)
        again = drain(kafka_bootstrap, [topic], until={topic: 1}, timeout=30, settle=2)
        assert again.count(topic) == 1

        # no form value and no token in a log line, a metric or an audit record
        audit_text = json.dumps(audits, ensure_ascii=False)
        log_text = worker.log_text()
        assert '"event":"application_forwarded"' in log_text
        secrets_ = (*PERSONAL, setup.token, "eyJ", "bund-id:7f3a")
        for where, text in (("log", log_text), ("metrics", metrics), ("audit", audit_text)):
            leaked = [s for s in secrets_ if s in text]
            assert not leaked, f"{where} carries {leaked}"
    finally:
        worker.stop()
