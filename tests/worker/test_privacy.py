"""Personal data stays out of logs, metrics and audit records.

Simulated regional traffic (names from the full DIN 91379 repertoire, birth
dates, addresses) runs through a real worker; then no generated person's name,
street, place or date of birth may appear in the worker's log, its /metrics
text or any audit record — while the messages themselves were delivered.
"""

from __future__ import annotations

import json
import socket
import time
import urllib.request
from typing import Any

import pytest
from lxml import etree

from hub.avro.audit import AUDIT_CODEC
from hub.core.region import Region
from hub.core.schemas import SchemaRegistry
from hub.kafka.topics import TopicNames
from hub.settings import Settings
from hub.tools.simulate import Simulator, load_flows

from .harness import drain, produce

pytestmark = pytest.mark.kafka

PERSONAL = {
    "name",
    "vorname",
    "rufname",
    "familienname",
    "geburtsname",
    "kuenstlername",
    "ordensname",
    "strasse",
    "geburtsort",
    "hausnummer",
}


def personal_values(payload: bytes) -> set[str]:
    """Names, streets, places and dates of birth in a message body (not its header)."""
    values: set[str] = set()
    root = etree.fromstring(payload)
    for element in root.iter():
        if not isinstance(element.tag, str) or len(element) or not (element.text or "").strip():
            continue
        ancestors = [etree.QName(a).localname for a in element.iterancestors()]
        if "nachrichtenkopf.g2g" in ancestors:
            continue
        local = etree.QName(element).localname
        text = element.text.strip()  # type: ignore[union-attr]
        in_birth = any("geburt" in a.lower() for a in ancestors)
        # a bare year or number ("1962") also occurs as an offset or a duration:
        # look for names, streets, places and full or partial dates of birth
        if text.isdigit() or len(text) < 4:
            continue
        if local in PERSONAL or (in_birth and local.startswith(("jahr", "datum"))):
            values.add(text)
    return values


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_no_personal_data_in_logs_metrics_or_audit(
    kafka_bootstrap: str, worker_settings: Settings, start_worker: Any
) -> None:
    names = TopicNames(worker_settings.topic_prefix)
    region = Region.load(worker_settings.region_file)
    simulator = Simulator(
        region, SchemaRegistry.from_settings(worker_settings), load_flows(), seed=11
    )
    messages = list(simulator.messages(150))
    secrets: set[str] = set()
    for message in messages:
        secrets |= personal_values(message.payload)
    assert len(secrets) > 100, "the simulated traffic must carry personal data to look for"

    port = free_port()
    worker = start_worker(HUB_WEB_PORT=str(port), HUB_LOG_LEVEL="DEBUG")
    produce(
        kafka_bootstrap,
        [(names.inbound(m.author.id), m.message_id.encode(), m.payload) for m in messages],
    )
    out = drain(kafka_bootstrap, [names.audit, names.deadletter], total=len(messages), timeout=180)
    assert out.count(names.audit) == len(messages), worker.log_text()[-2000:]

    metrics_text = ""
    deadline = time.monotonic() + 30
    while "xoev_hub_messages_delivered_total" not in metrics_text and time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
                metrics_text = resp.read().decode()
        except OSError:
            time.sleep(1)
    assert "xoev_hub_messages_delivered_total" in metrics_text
    audit_text = "\n".join(
        json.dumps(AUDIT_CODEC.decode(r.value), ensure_ascii=False)  # type: ignore[attr-defined]
        for r in out.records[names.audit]
    )
    log_text = worker.log_text()
    assert '"event":"delivered"' in log_text
    for where, text in (("log", log_text), ("metrics", metrics_text), ("audit", audit_text)):
        leaked = sorted(value for value in secrets if value in text)
        assert not leaked, f"personal data in the {where}: {leaked[:5]}"


def test_no_form_data_token_or_subject_in_logs_metrics_or_audit_of_a_portal_flow(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Any
) -> None:
    """A portal flow (applied, paid, forwarded, answered, notice delivered; a wrong
    amount rejected with its notice): no form value, no token or secret and no subject
    id in the worker's log, its metrics or the audit records."""
    from tests.portal.helpers import Client, PortalSetup, Postfach
    from tests.worker.harness import WorkerProcess, hub_env

    form = {"art": "erweitert", "familienname": "Şahin-Lindqvist", "vornamen": "Ånneliese",
            "geburtsdatum": "1971-07-14", "zweck": "Rentenantrag bei der Kasse",
            "anzahl": 2, "zustellung": "postfach"}
    subject = "bund-id:c0ffee-4711"
    names = TopicNames(topic_prefix)
    with Postfach(secret="") as postfach:
        setup = PortalSetup(tmp_path / "portal", free=(), postfach_url=postfach.url)
        postfach.secret = setup.postfach_secret
        setup.write()
        port = free_port()
        env = hub_env(kafka_bootstrap, topic_prefix, HUB_REGION_FILE=str(setup.region_file),
                      HUB_WEB_PORT=str(port), HUB_LOG_LEVEL="DEBUG",
                      HUB_STATE_DIR=str(tmp_path / "state"), **setup.env())
        worker = WorkerProcess(env, tmp_path / "worker.log").start()
        client, provider = Client(port, setup.token), Client(port, setup.payment_token)
        assertion = setup.assertion(subject=subject)
        try:
            client.wait_ready(worker)
            for app_id in ("P-1", "P-2"):
                status, _ = client.call("POST", "/v1/applications", {
                    "service": "meldebescheinigung", "ags": "05122000",
                    "application_id": app_id, "identity": assertion, "form": form})
                assert status == 202
            for app_id, amount in (("P-1", "10.00"), ("P-2", "1.00")):
                status, _ = provider.call("POST", "/v1/payments/notifications", {
                    "transaction_id": f"TX-{app_id}", "reference": app_id,
                    "amount": amount, "status": "PAYED"})
                assert status == 200
            produce(kafka_bootstrap, [(names.notices("solingen.meldebehoerde"), b"P-1",
                                       json.dumps({"application_id": "P-1",
                                                   "text": "Bescheid für Şahin-Lindqvist"})
                                       .encode())])
            assert postfach.wait_for("P-1")["recipient"] == subject  # the Postfach's address
            assert postfach.wait_for("P-2")["kind"] == "rejection"
            metrics_text = client.metrics()
            assert "xoev_hub_portal_notices_total" in metrics_text
            out = drain(kafka_bootstrap, [names.audit], until={names.audit: 1}, timeout=30)
            audit_text = "\n".join(
                json.dumps(AUDIT_CODEC.decode(r.value), ensure_ascii=False)  # type: ignore[attr-defined]
                for r in out.records[names.audit])
            assert '"P-1"' in audit_text
        finally:
            worker.stop()
        log_text = worker.log_text()
    assert '"event":"notice_delivered"' in log_text
    secrets_ = [*(str(v) for k, v in form.items() if k != "anzahl"), subject, assertion,
                assertion.split(".")[1], setup.token, setup.payment_token,
                setup.postfach_secret, "Bescheid für"]
    for where, text in (("log", log_text), ("metrics", metrics_text), ("audit", audit_text)):
        leaked = [s for s in secrets_ if s in text]
        assert not leaked, f"{where} carries {leaked}"
