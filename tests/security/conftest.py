"""A real Kafka broker with a SASL_SSL client listener, SCRAM users and ACLs.

The broker has a throw-away CA (``hub.broker.tls``), the administrator's SCRAM
credentials from format time (``StorageTool format -S``) and the
StandardAuthorizer with the administrator as super user. Ports: from
``XOEV_SECURE_BROKER_PORT`` (three consecutive ports) if set, otherwise free ones.
"""

from __future__ import annotations

import os
import random
import secrets
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from pydantic import SecretStr

from hub.broker.embedded import (
    BrokerNode,
    EmbeddedBroker,
    ListenerSecurity,
    cluster_id_for,
    fetch_jars,
    print_progress,
)
from hub.broker.tls import LocalPki, make_local_pki
from hub.settings import Settings

ADMIN = "admin"


def _free_range(count: int) -> int:
    for _ in range(200):
        base = random.randrange(20000, 29000, 10)
        try:
            for port in range(base, base + count):
                with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
                    sock.bind(("127.0.0.1", port))
        except OSError:
            continue
        return base
    raise RuntimeError("no free port range for the secured broker")


@dataclass(frozen=True)
class SecuredBroker:
    bootstrap: str
    pki: LocalPki
    admin_password: str
    broker: EmbeddedBroker

    def settings(self, user: str, password: str, **overrides: object) -> Settings:
        """Hub settings of a client that authenticates as ``user``."""
        values: dict[str, object] = {
            "bootstrap_servers": self.bootstrap,
            "security_protocol": "SASL_SSL",
            "sasl_mechanism": "SCRAM-SHA-512",
            "sasl_username": user,
            "sasl_password": SecretStr(password),
            "ssl_cafile": self.pki.ca_cert,
        }
        values.update(overrides)
        return Settings(**values)  # type: ignore[arg-type]

    def admin_settings(self) -> Settings:
        return self.settings(ADMIN, self.admin_password)


@pytest.fixture(scope="session")
def secured_broker(
    settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SecuredBroker]:
    lib = fetch_jars(settings.kafka_version, settings.kafka_cache_dir, print_progress)
    base = int(os.environ.get("XOEV_SECURE_BROKER_PORT") or _free_range(3))
    root: Path = tmp_path_factory.mktemp("secured")
    pki = make_local_pki(root / "pki")
    admin_password = secrets.token_urlsafe(16)
    node = BrokerNode(
        node_id=1,
        port=base,
        controller_port=base + 1,
        directory=root / "broker",
        security=ListenerSecurity(
            protocol="SASL_SSL",
            internal_port=base + 2,
            super_users=(f"User:{ADMIN}",),
            keystore=pki.keystore,
            keystore_password=pki.keystore_password,
        ),
    )
    broker = EmbeddedBroker(node, lib)
    broker.start(
        cluster_id_for(root),
        scram_users=[f"SCRAM-SHA-512=[name={ADMIN},password={admin_password}]"],
    )
    try:
        broker.wait_ready(120)
        yield SecuredBroker(broker.bootstrap, pki, admin_password, broker)
    finally:
        broker.stop()
