"""The worker warns once at start when it would talk to a remote broker without TLS."""

from __future__ import annotations

from hub.kafka.config import transport_warning
from hub.settings import load_settings


def test_no_warning_for_tls_or_a_local_broker() -> None:
    assert transport_warning(load_settings()) is None  # the embedded broker
    local = load_settings(bootstrap_servers="127.0.0.1:9092,localhost:9093")
    assert transport_warning(local) is None
    assert transport_warning(load_settings(
        bootstrap_servers="kafka-1.example:9093", security_protocol="SASL_SSL")) is None


def test_a_remote_broker_without_tls_is_named() -> None:
    plain = transport_warning(load_settings(bootstrap_servers="kafka-1.example:9092"))
    assert plain and "PLAINTEXT" in plain and "kafka-1.example:9092" in plain
    sasl = transport_warning(load_settings(
        bootstrap_servers="kafka-2.example:9092", security_protocol="SASL_PLAINTEXT"))
    assert sasl and "SASL password" in sasl
