"""A throw-away certificate authority for local TLS brokers (tests and demos).

``make_local_pki`` calls the ``openssl`` command line to create a CA and a broker
certificate for 127.0.0.1/localhost, signed by that CA, and packs the broker key
and chain into a PKCS12 keystore that Kafka reads (``ssl.keystore.type=PKCS12``).
Clients trust the CA through ``ssl_cafile`` (``HUB_SSL_CAFILE``).

This is not how production certificates are made: there the operator's PKI
issues them and rotates them (see docs/security.md).
"""

from __future__ import annotations

import os
import secrets
import subprocess
from dataclasses import dataclass
from pathlib import Path

from hub.broker.embedded import require_tool
from hub.errors import ConfigError


@dataclass(frozen=True)
class LocalPki:
    """Files of a local CA and one broker identity."""

    ca_cert: Path  # PEM; what clients trust
    broker_cert: Path  # PEM
    keystore: Path  # PKCS12 with the broker key and chain
    keystore_password: str


def _openssl(*args: str, cwd: Path, env: dict[str, str] | None = None) -> None:
    openssl = require_tool("openssl", "install OpenSSL (Debian: apt-get install openssl)")
    result = subprocess.run(
        [openssl, *args], cwd=cwd, capture_output=True, text=True,
        env={**os.environ, **(env or {})},
    )
    if result.returncode != 0:
        raise ConfigError(f"openssl {args[0]} failed: {result.stderr.strip()[-300:]}")


def make_local_pki(
    directory: Path,
    hosts: tuple[str, ...] = ("127.0.0.1", "localhost"),
    days: int = 2,
) -> LocalPki:
    """Create ``ca.pem``, ``broker.pem`` and ``broker.p12`` in ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    sans = ",".join(
        f"IP:{h}" if h.replace(".", "").isdigit() or ":" in h else f"DNS:{h}" for h in hosts
    )
    password = secrets.token_urlsafe(18)
    (directory / "broker.ext").write_text(
        f"subjectAltName={sans}\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n"
    )
    _openssl(
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", str(days),
        "-subj", "/CN=xoev-hub local test CA", "-keyout", "ca.key", "-out", "ca.pem",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        cwd=directory,
    )
    _openssl(
        "req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={hosts[0]}",
        "-keyout", "broker.key", "-out", "broker.csr",
        cwd=directory,
    )
    _openssl(
        "x509", "-req", "-in", "broker.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
        "-CAcreateserial", "-days", str(days), "-extfile", "broker.ext", "-out", "broker.pem",
        cwd=directory,
    )
    _openssl(
        "pkcs12", "-export", "-in", "broker.pem", "-inkey", "broker.key",
        "-certfile", "ca.pem", "-name", "broker", "-out", "broker.p12",
        "-passout", "env:XOEV_KEYSTORE_PASSWORD",  # not on the command line
        cwd=directory, env={"XOEV_KEYSTORE_PASSWORD": password},
    )
    for secret in ("ca.key", "broker.key"):
        (directory / secret).chmod(0o600)
    (directory / "broker.p12").chmod(0o600)
    return LocalPki(
        ca_cert=directory / "ca.pem",
        broker_cert=directory / "broker.pem",
        keystore=directory / "broker.p12",
        keystore_password=password,
    )
