"""Client keyword arguments come from the settings in one place (security included)."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest

from hub.kafka.config import admin_config, consumer_config, max_request_bytes, producer_config
from hub.settings import load_settings


def test_plaintext_defaults() -> None:
    settings = load_settings(bootstrap_servers="k1:9092,k2:9092")
    assert admin_config(settings) == {
        "bootstrap_servers": "k1:9092,k2:9092", "client_id": "xoev-hub-admin",
        "security_protocol": "PLAINTEXT",
    }
    producer = producer_config(settings)
    assert producer["max_request_size"] == max_request_bytes(settings)
    assert max_request_bytes(settings) == settings.max_message_bytes + 64 * 1024
    assert consumer_config(settings)["max_partition_fetch_bytes"] == max_request_bytes(settings)


@pytest.mark.parametrize("client", ["kafka-python", "aiokafka"])
def test_sasl_plaintext(client: str) -> None:
    settings = load_settings(
        bootstrap_servers="k:9094", security_protocol="SASL_PLAINTEXT",
        sasl_mechanism="SCRAM-SHA-512", sasl_username="hub", sasl_password="s3cret",
    )
    config = producer_config(settings, client=client)  # type: ignore[arg-type]
    assert config["security_protocol"] == "SASL_PLAINTEXT"
    assert config["sasl_mechanism"] == "SCRAM-SHA-512"
    assert config["sasl_plain_username"] == "hub"
    assert config["sasl_plain_password"] == "s3cret"
    assert "ssl_context" not in config and "ssl_cafile" not in config


def test_ssl_cafile_per_client() -> None:
    cafile = ssl.get_default_verify_paths().cafile or ssl.get_default_verify_paths().openssl_cafile
    if not cafile or not Path(cafile).exists():
        pytest.skip("no system CA bundle to point at")
    settings = load_settings(bootstrap_servers="k:9093", security_protocol="SSL",
                             ssl_cafile=cafile)
    assert admin_config(settings)["ssl_cafile"] == cafile
    context = consumer_config(settings, client="aiokafka")["ssl_context"]
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_REQUIRED


def test_the_schema_topic_and_the_worker_take_the_largest_schema_at_any_message_limit() -> None:
    from hub.core.region import Region
    from hub.kafka.config import schema_topic_bytes
    from hub.kafka.topic_admin import contract_topics
    from hub.kafka.topics import TopicNames
    from hub.settings import AVRO_SCHEMA_DIR
    from hub.streams.app import build_app

    largest = max(p.stat().st_size for p in AVRO_SCHEMA_DIR.rglob("*.avsc"))
    assert largest > 16 * 1024  # large enough to matter at a small message limit
    settings = load_settings(max_message_bytes=1024)
    (schemas,) = [
        t for t in contract_topics(settings, Region.load(settings.region_file))
        if t.name == TopicNames(settings.topic_prefix).schemas
    ]
    # the record (key, value, headers, batch overhead) fits with room to spare
    assert int(schemas.configs["max.message.bytes"]) == schema_topic_bytes(settings)
    assert schema_topic_bytes(settings) >= 4 * largest
    app, _ = build_app(settings)
    assert app.conf.producer_max_request_size == schema_topic_bytes(settings)
    # batches still fit the other topics' limit
    assert app.conf.producer_max_batch_size <= max_request_bytes(settings)
