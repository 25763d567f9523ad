"""docs/security.md: what the worker says at start about an unprotected transport, and
that the settings never print the SASL password.

The worker is started as the README starts it (``python -m hub worker``) against a
remote bootstrap address without TLS and with its web port on all interfaces; its
first lines must name both problems, once each, before it tries to reach the broker.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from pydantic import SecretStr

from hub.settings import Settings


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_the_worker_warns_once_at_start_about_plaintext_kafka_and_plain_http(
    tmp_path: Path,
) -> None:
    password = secrets.token_urlsafe(12)
    env = {
        **os.environ,
        "HUB_BOOTSTRAP_SERVERS": "kafka-1.example.invalid:9092",
        "HUB_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
        "HUB_SASL_USERNAME": "xoev-hub",
        "HUB_SASL_PASSWORD": password,
        "HUB_WEB_HOST": "0.0.0.0",
        "HUB_WEB_PORT": str(_free_port()),
        "HUB_STATE_DIR": str(tmp_path / "state"),
    }
    worker = subprocess.Popen(
        [sys.executable, "-m", "hub", "worker"], env=env, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, start_new_session=True, text=True,
    )
    lines: list[str] = []

    def read() -> None:
        assert worker.stdout is not None
        for line in worker.stdout:
            lines.append(line)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and sum("warning:" in x for x in lines) < 2:
            time.sleep(0.2)
        time.sleep(1.0)  # anything printed right after the warnings
    finally:
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(timeout=30)
        reader.join(timeout=10)
        assert worker.stdout is not None
        worker.stdout.close()
    text = "".join(lines)
    warnings = [x for x in lines if "warning:" in x]
    transport = [x for x in warnings if "HUB_SECURITY_PROTOCOL=SASL_PLAINTEXT" in x]
    web = [x for x in warnings if "plain HTTP" in x]
    assert len(transport) == 1, text
    assert "kafka-1.example.invalid:9092 without TLS" in transport[0]
    assert "SASL password" in transport[0]
    assert len(web) == 1 and "HUB_HTTP_TLS_CERT" in web[0], text
    assert password not in text


def test_the_settings_never_print_the_sasl_password() -> None:
    password = secrets.token_urlsafe(12)
    settings = Settings(security_protocol="SASL_SSL", sasl_username="xoev-hub",
                        sasl_password=SecretStr(password))
    for shown in (repr(settings), str(settings), settings.model_dump_json(),
                  str(settings.model_dump())):
        assert password not in shown
    assert settings.sasl_password is not None
    assert settings.sasl_password.get_secret_value() == password
