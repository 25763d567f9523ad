"""No secret reaches the log, whatever the logger and the level (issue 12, item 3).

A worker at DEBUG against the SASL_SSL broker: kafka-python's admin client logs
its whole configuration at DEBUG, SASL password included; the log guard redacts
it. Registered secrets (HTTP inbound tokens, webhook secrets, the SASL password)
and anything shaped like ``password=…`` are replaced in every line.
"""

from __future__ import annotations

import io
import logging
import secrets
import sys
import time
import uuid
from pathlib import Path

import pytest
from security_fixtures import ADMIN, SecuredBroker

from hub.logging import configure_logging, register_secret

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
from tests.worker.harness import WorkerProcess, hub_env  # noqa: E402


@pytest.mark.kafka
@pytest.mark.timeout(300)
def test_a_debug_worker_on_the_sasl_broker_logs_no_password(
    secured_broker: SecuredBroker, tmp_path: Path
) -> None:
    prefix = f"sec{uuid.uuid4().hex[:8]}."
    env = hub_env(
        secured_broker.bootstrap, prefix,
        HUB_SECURITY_PROTOCOL="SASL_SSL",
        HUB_SASL_MECHANISM="SCRAM-SHA-512",
        HUB_SASL_USERNAME=ADMIN,
        HUB_SASL_PASSWORD=secured_broker.admin_password,
        HUB_SSL_CAFILE=str(secured_broker.pki.ca_cert),
        HUB_LOG_LEVEL="DEBUG",
        HUB_STATE_DIR=str(tmp_path / "state"),
    )
    worker = WorkerProcess(env, tmp_path / "worker.log").start()
    try:
        deadline = time.monotonic() + 120
        while '"event":"worker_started"' not in worker.log_text():
            assert worker.alive(), worker.log_text()[-3000:]
            assert time.monotonic() < deadline, worker.log_text()[-3000:]
            time.sleep(0.5)
        time.sleep(3)  # consumer group join, fetches and commits at DEBUG
    finally:
        worker.stop()
    log = worker.log_text()
    assert "sasl" in log.lower() and len(log) > 10_000  # the DEBUG lines are there
    assert secured_broker.admin_password not in log


def test_registered_secrets_and_password_shapes_are_redacted() -> None:
    token = secrets.token_urlsafe(24)
    webhook = secrets.token_hex(20)
    unregistered = secrets.token_urlsafe(12)
    register_secret(token)
    register_secret(webhook)
    out = io.StringIO()
    configure_logging("DEBUG", out)
    try:
        third_party = logging.getLogger("kafka.admin.client")
        third_party.debug("config %r", {"sasl_plain_password": unregistered, "x": 1})
        third_party.debug("Authorization: Bearer %s; secret=%s", token, webhook)
        logging.getLogger("aiohttp.access").info("password=%s token: %s", unregistered, token)
        try:
            raise ValueError(f"bad token {token}")
        except ValueError:
            logging.getLogger("faust").exception("failed")
    finally:
        configure_logging("INFO")
    text = out.getvalue()
    assert text.count("\n") == 4
    for value in (token, webhook, unregistered):
        assert value not in text, text
    assert "***" in text
