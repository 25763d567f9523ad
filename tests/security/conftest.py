"""A real Kafka broker with a SASL_SSL client listener, SCRAM users and ACLs.

The broker has a throw-away CA (``hub.testing.tls``), the administrator's SCRAM
credentials from format time (``StorageTool format -S``) and the
StandardAuthorizer with the administrator as super user. Ports: from
``XOEV_SECURE_BROKER_PORT`` (three consecutive ports) if set, otherwise free ones.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from security_fixtures import ADMIN, SecuredBroker

from hub.broker.embedded import (
    BrokerNode,
    EmbeddedBroker,
    ListenerSecurity,
    cluster_id_for,
    fetch_jars,
    free_port_range,
    print_progress,
)
from hub.settings import Settings
from hub.testing.tls import make_local_pki


@pytest.fixture(scope="package")
def secured_broker(
    settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SecuredBroker]:
    lib = fetch_jars(settings.kafka_version, settings.kafka_cache_dir, print_progress)
    base = int(os.environ.get("XOEV_SECURE_BROKER_PORT") or free_port_range(3))
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
