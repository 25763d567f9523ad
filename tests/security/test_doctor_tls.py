"""``xoev-hub doctor`` on the SASL_SSL broker: every check OK with TLS on after
``topics apply``; a wrong password is a FAIL line for the broker, quickly."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from security_fixtures import ADMIN, SecuredBroker

pytestmark = [pytest.mark.kafka, pytest.mark.timeout(600)]
REPO = Path(__file__).resolve().parents[2]


def hub(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "hub", *args], env=env, cwd=REPO,
                          capture_output=True, text=True, timeout=180)


def test_doctor_checks_the_secured_broker_with_the_security_settings(
    secured_broker: SecuredBroker,
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    env.update(
        HUB_BOOTSTRAP_SERVERS=secured_broker.bootstrap,
        HUB_SECURITY_PROTOCOL="SASL_SSL",
        HUB_SASL_MECHANISM="SCRAM-SHA-512",
        HUB_SASL_USERNAME=ADMIN,
        HUB_SASL_PASSWORD=secured_broker.admin_password,
        HUB_SSL_CAFILE=str(secured_broker.pki.ca_cert),
        HUB_TOPIC_PREFIX=f"doc{uuid.uuid4().hex[:8]}.",
    )
    applied = hub(env, "topics", "apply")
    assert applied.returncode == 0, applied.stderr
    done = hub(env, "doctor")
    lines = done.stdout.splitlines()
    assert done.returncode == 0, done.stdout + done.stderr
    assert all(line.startswith("OK   ") for line in lines) and len(lines) == 8, lines
    security = next(line for line in lines if line.startswith("OK   security"))
    assert f"TLS on (SASL_SSL, SCRAM-SHA-512, trusting CA file {secured_broker.pki.ca_cert})" \
        in security
    assert secured_broker.admin_password not in done.stdout + done.stderr

    wrong = dict(env, HUB_SASL_PASSWORD="not-" + secured_broker.admin_password)
    started = time.monotonic()
    done = hub(wrong, "doctor", "--timeout", "3")
    took = time.monotonic() - started
    broker = next(line for line in done.stdout.splitlines() if line[5:].startswith("broker"))
    assert done.returncode == 1 and broker.startswith(f"FAIL broker at {secured_broker.bootstrap}")
    assert "HUB_SASL_" in broker  # what to check
    assert wrong["HUB_SASL_PASSWORD"] not in done.stdout + done.stderr
    assert took < 20, took
