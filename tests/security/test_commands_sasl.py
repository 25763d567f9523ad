"""Every command that talks to Kafka honours the security settings (issue 12, item 2):
against the SASL_SSL broker, as its administrator, with only HUB_* variables."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from security_fixtures import ADMIN, SecuredBroker

pytestmark = [pytest.mark.kafka, pytest.mark.timeout(600)]
REPO = Path(__file__).resolve().parents[2]


def test_topics_simulate_send_and_dlq_work_on_the_sasl_ssl_broker(
    secured_broker: SecuredBroker, tmp_path: Path
) -> None:
    prefix = f"cmd{uuid.uuid4().hex[:8]}."
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    env.update(
        HUB_BOOTSTRAP_SERVERS=secured_broker.bootstrap,
        HUB_SECURITY_PROTOCOL="SASL_SSL",
        HUB_SASL_MECHANISM="SCRAM-SHA-512",
        HUB_SASL_USERNAME=ADMIN,
        HUB_SASL_PASSWORD=secured_broker.admin_password,
        HUB_SSL_CAFILE=str(secured_broker.pki.ca_cert),
        HUB_TOPIC_PREFIX=prefix,
    )

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [sys.executable, "-m", "hub", *args], env=env, cwd=REPO,
            capture_output=True, text=True, timeout=180,
        )
        assert done.returncode == 0, (args, done.stdout[-2000:], done.stderr[-2000:])
        return done

    cli("topics", "apply")
    simulated = cli("simulate", "--count", "5", "--rate", "50")
    assert "5" in simulated.stdout + simulated.stderr
    bad = tmp_path / "bad.xml"
    bad.write_bytes(b"<not-xoev/>")
    cli("send", "--from", "wuppertal.meldebehoerde", str(bad))
    listed = cli("dlq", "list")
    assert "0 dead letter(s)" in listed.stderr  # no worker ran: nothing dead-lettered yet
    replayed = cli("dlq", "replay")
    assert "0 dead letter(s) replayed" in replayed.stdout
