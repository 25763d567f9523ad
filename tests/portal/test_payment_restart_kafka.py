"""Applications waiting for their payment survive a worker's kill -9: after the
restart each PAYED releases its application to its authority, once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from hub.core.region import Region
from hub.kafka.topics import TopicNames
from hub.portal.catalog import Catalogue
from tests.worker.harness import WorkerProcess, drain, hub_env

from .helpers import Client, PortalSetup, free_port

pytestmark = pytest.mark.kafka

MELDUNG = {"art": "einfach", "familienname": "Nowak", "vornamen": "Jan",
           "geburtsdatum": "1990-01-01", "anzahl": 1, "zustellung": "postfach"}
URKUNDE = {"familienname": "Nowak", "vornamen": "Ida", "geburtsdatum": "2020-05-05",
           "geburtsort": "Remscheid", "anzahl": 2}
#: application id -> (service, AGS, form, amount, authority)
WAITING: dict[str, tuple[str, str, dict[str, Any], str, str]] = {
    "SG-K9-1": ("meldebescheinigung", "05122000", MELDUNG, "10.00", "solingen.meldebehoerde"),
    "W-K9-2": ("meldebescheinigung", "05124000", MELDUNG, "10.00", "wuppertal.meldebehoerde"),
    "RS-K9-3": ("geburtsurkunde", "05120000", URKUNDE, "12.00", "remscheid.standesamt"),
}


def test_waiting_applications_survive_kill_9(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path
) -> None:
    setup = PortalSetup(tmp_path / "portal", free=()).write()
    catalogue = Catalogue.of_region(Region.load(setup.region_file))
    assert catalogue is not None
    names = TopicNames(topic_prefix)
    port = free_port()
    env = hub_env(kafka_bootstrap, topic_prefix, HUB_REGION_FILE=str(setup.region_file),
                  HUB_WEB_PORT=str(port), HUB_PORTAL_PAYMENT_TIMEOUT="1h",
                  HUB_STATE_DIR=str(tmp_path / "state"), **setup.env())
    worker = WorkerProcess(env, tmp_path / "worker.log").start()
    client = Client(port, setup.token)
    provider = Client(port, setup.payment_token)
    try:
        client.wait_ready(worker)
        for app_id, (service, ags, form, _amount, _authority) in WAITING.items():
            status, answer = client.call("POST", "/v1/applications", {
                "service": service, "ags": ags, "application_id": app_id,
                "identity": setup.assertion(), "form": form})
            assert (status, answer["status"]) == (202, "awaiting_payment"), answer
        worker.kill()
        assert not worker.alive()

        worker = WorkerProcess(env, tmp_path / "worker.log").start()
        client.wait_ready(worker)
        for app_id, (_service, _ags, _form, amount, _authority) in WAITING.items():
            status, state = client.call("GET", f"/v1/applications/{app_id}")
            assert (status, state["status"]) == (200, "awaiting_payment"), state
            # no payment reference sent: the application id is the reference
            status, answer = provider.call("POST", "/v1/payments/notifications", {
                "transaction_id": f"TX-{app_id}", "reference": app_id, "amount": amount,
                "status": "PAYED"})
            assert (status, answer["status"]) == (200, "forwarded"), answer
        topics = {names.applications(a) for *_, a in WAITING.values()}
        deciding = [names.applications(a.id) for a in catalogue.deciding_authorities()]
        out = drain(kafka_bootstrap, deciding, until={t: 1 for t in topics}, timeout=30,
                    settle=2)
        got = {t: out.keys(t) for t in deciding if out.count(t)}
        assert got == {names.applications(a): [app_id.encode()]
                       for app_id, (*_, a) in WAITING.items()}
    finally:
        worker.stop()
