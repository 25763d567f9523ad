"""TLS on the client listener: the CA decides whom a client trusts."""

from __future__ import annotations

import logging
import ssl
import uuid
from pathlib import Path

import pytest
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.errors import KafkaTimeoutError
from security_fixtures import SecuredBroker

from hub.broker.embedded import BrokerNode, ListenerSecurity
from hub.errors import ConfigError
from hub.kafka.config import admin_config, consumer_config, producer_config
from hub.testing.tls import make_local_pki


def test_local_pki_signs_a_broker_certificate_for_loopback(tmp_path: Path) -> None:
    pki = make_local_pki(tmp_path)
    context = ssl.create_default_context(cafile=str(pki.ca_cert))
    cert = ssl._ssl._test_decode_cert(str(pki.broker_cert))  # type: ignore[attr-defined]
    sans = {value for _, value in cert["subjectAltName"]}
    assert {"127.0.0.1", "localhost"} <= sans
    assert context.get_ca_certs()[0]["subject"] == ((("commonName", "xoev-hub local test CA"),),)
    assert pki.keystore.stat().st_mode & 0o077 == 0
    assert pki.keystore_password not in pki.keystore.read_bytes().decode("latin-1")


def test_secured_listener_properties() -> None:
    node = BrokerNode(
        node_id=1, port=9300, controller_port=9301, directory=Path("/tmp/x"),
        security=ListenerSecurity("SASL_PLAINTEXT", internal_port=9302,
                                  super_users=("User:admin",)),
    )
    props = node.properties()
    assert props["listener.security.protocol.map"] == (
        "CLIENT:SASL_PLAINTEXT,INTERNAL:PLAINTEXT,CONTROLLER:PLAINTEXT"
    )
    assert props["advertised.listeners"] == "CLIENT://127.0.0.1:9300,INTERNAL://127.0.0.1:9302"
    assert props["listener.name.client.sasl.enabled.mechanisms"] == "SCRAM-SHA-512"
    assert props["super.users"] == "User:ANONYMOUS;User:admin"
    assert node.probe_bootstrap == "127.0.0.1:9302"
    with pytest.raises(ConfigError, match="keystore"):
        BrokerNode(1, 9300, 9301, Path("/tmp/x"),
                   security=ListenerSecurity("SASL_SSL", internal_port=9302)).properties()
    plain = BrokerNode(1, 9300, 9301, Path("/tmp/x"))
    assert "authorizer.class.name" not in plain.properties()
    assert plain.probe_bootstrap == "127.0.0.1:9300"


@pytest.mark.kafka
def test_client_trusting_the_ca_round_trips(secured_broker: SecuredBroker) -> None:
    settings = secured_broker.admin_settings()
    topic = f"tls-{uuid.uuid4().hex[:8]}"
    admin = KafkaAdminClient(**admin_config(settings))
    try:
        admin.create_topics({topic: {"num_partitions": 1, "replication_factor": 1}})
    finally:
        admin.close()
    producer = KafkaProducer(**producer_config(settings), acks="all")
    producer.send(topic, key=b"id", value="<nachricht>Grüße</nachricht>".encode()).get(15)
    producer.close()
    consumer = KafkaConsumer(topic, **consumer_config(settings), group_id=None,
                             auto_offset_reset="earliest", consumer_timeout_ms=10000)
    try:
        record = next(iter(consumer))
    finally:
        consumer.close()
    assert (record.key, record.value) == (b"id", "<nachricht>Grüße</nachricht>".encode())


@pytest.mark.kafka
def test_client_without_the_ca_fails_verification(
    secured_broker: SecuredBroker, caplog: pytest.LogCaptureFixture
) -> None:
    untrusting = secured_broker.settings("admin", secured_broker.admin_password,
                                         ssl_cafile=None)
    caplog.set_level(logging.ERROR, logger="kafka")
    with pytest.raises(KafkaTimeoutError, match="Unable to bootstrap"):
        KafkaAdminClient(**admin_config(untrusting), bootstrap_timeout_ms=4000).close()
    assert "CERTIFICATE_VERIFY_FAILED" in caplog.text


@pytest.mark.kafka
def test_plaintext_client_on_the_tls_port_gets_nowhere(secured_broker: SecuredBroker) -> None:
    with pytest.raises(KafkaTimeoutError, match="Unable to bootstrap"):
        KafkaAdminClient(bootstrap_servers=secured_broker.bootstrap,
                         bootstrap_timeout_ms=4000).close()
