"""docs/security.md: with SASL_SSL every hub client checks the broker certificate
against HUB_SSL_CAFILE *and its host name*.

The secured test broker's certificate names 127.0.0.1 and localhost. A TCP relay on
all loopback addresses forwards to it, so the same broker and the same CA-signed
certificate are reached once as 127.0.0.1 (named in the certificate: works) and once
as 127.0.0.2 (not named: the TLS handshake must fail, although the CA is trusted).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import socket
import ssl
import threading
import warnings
from collections.abc import Iterator

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaConnectionError
from kafka import KafkaAdminClient
from kafka.errors import KafkaTimeoutError
from security_fixtures import ADMIN, SecuredBroker

from hub.kafka.config import admin_config, faust_credentials, producer_config

pytestmark = pytest.mark.kafka


def _pump(source: socket.socket, target: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            target.sendall(data)
    except OSError:
        pass
    finally:
        for s in (source, target):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)


@pytest.fixture
def relay_port(secured_broker: SecuredBroker) -> Iterator[int]:
    """A plain TCP relay on 0.0.0.0:<free port> to the secured broker's client port."""
    host, port = secured_broker.bootstrap.rsplit(":", 1)
    listener = socket.create_server(("0.0.0.0", 0))
    listener.settimeout(0.2)
    stop = threading.Event()
    opened: list[socket.socket] = []

    def serve() -> None:
        while not stop.is_set():
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            upstream = socket.create_connection((host, int(port)))
            opened.extend((client, upstream))
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=_pump, args=(a, b), daemon=True).start()

    server = threading.Thread(target=serve, daemon=True)
    server.start()
    try:
        yield int(listener.getsockname()[1])
    finally:
        stop.set()
        server.join(timeout=5)
        listener.close()
        for s in opened:
            s.close()


def _via(secured_broker: SecuredBroker, address: str) -> object:
    return secured_broker.settings(ADMIN, secured_broker.admin_password,
                                   bootstrap_servers=address)


def test_kafka_python_refuses_a_broker_reached_under_a_name_its_certificate_lacks(
    secured_broker: SecuredBroker, relay_port: int, caplog: pytest.LogCaptureFixture
) -> None:
    # control: through the same relay, under a name the certificate carries
    named = KafkaAdminClient(**admin_config(_via(secured_broker, f"127.0.0.1:{relay_port}")),
                             bootstrap_timeout_ms=15000)
    try:
        assert named.describe_cluster()["brokers"]
    finally:
        named.close()
    caplog.set_level(logging.ERROR, logger="kafka")
    with pytest.raises(KafkaTimeoutError, match="Unable to bootstrap"):
        KafkaAdminClient(**admin_config(_via(secured_broker, f"127.0.0.2:{relay_port}")),
                         bootstrap_timeout_ms=4000).close()
    assert "CERTIFICATE_VERIFY_FAILED" in caplog.text
    assert "127.0.0.2" in caplog.text  # the host name check, not an unknown CA


def test_aiokafka_refuses_a_broker_reached_under_a_name_its_certificate_lacks(
    secured_broker: SecuredBroker, relay_port: int, caplog: pytest.LogCaptureFixture
) -> None:
    async def start(address: str) -> None:
        producer = AIOKafkaProducer(
            **producer_config(_via(secured_broker, address), client="aiokafka"),
            request_timeout_ms=5000,
        )
        try:
            await producer.start()
        finally:
            await producer.stop()

    asyncio.run(start(f"127.0.0.1:{relay_port}"))  # control: the named address works
    caplog.set_level(logging.ERROR, logger="aiokafka")
    # aiokafka does not close the transport of a failed TLS handshake; collect it
    # here so its ResourceWarning does not surface in a later test
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        with pytest.raises(KafkaConnectionError, match="Unable to bootstrap"):
            asyncio.run(start(f"127.0.0.2:{relay_port}"))
        gc.collect()
    assert "not valid for '127.0.0.2'" in caplog.text


def test_faust_and_aiokafka_contexts_check_host_names(secured_broker: SecuredBroker) -> None:
    """The worker's Faust app takes its context from faust_credentials: the same rule."""
    settings = secured_broker.admin_settings()
    contexts = [faust_credentials(settings).ssl_context,
                producer_config(settings, client="aiokafka")["ssl_context"]]
    for context in contexts:
        assert isinstance(context, ssl.SSLContext)
        assert context.check_hostname is True
        assert context.verify_mode == ssl.CERT_REQUIRED
    assert "ssl_check_hostname" not in admin_config(settings)  # kafka-python: on by default
