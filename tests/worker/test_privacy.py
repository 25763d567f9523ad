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

from hub.audit import AUDIT_CODEC
from hub.region import Region
from hub.schemas import SchemaRegistry
from hub.settings import Settings
from hub.simulate import Simulator, load_flows
from hub.topics import TopicNames

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
