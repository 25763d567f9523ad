"""The web port over HTTPS (HUB_HTTP_TLS_CERT/KEY), as the worker serves it: an
HTTPS POST to HTTP inbound is accepted and produced to Kafka (real broker); plain
HTTP to the same port fails; without the settings the worker warns once."""

from __future__ import annotations

import asyncio
import shutil
import ssl
import time
from pathlib import Path
from types import SimpleNamespace

import aiohttp
import pytest
from aiohttp import web
from aiokafka import AIOKafkaConsumer
from prometheus_client import CollectorRegistry

from hub.adapters import AdapterMetrics, AdapterRuntime
from hub.adapters.http_inbound import HttpGateway, token_digest
from hub.errors import ConfigError
from hub.kafka.topics import TopicNames
from hub.ops.health import Health
from hub.ops.metrics import HubMetrics
from hub.ops.web import bound_port, plain_http_warning, server_ssl_context, start_web
from hub.settings import load_settings
from hub.testing.tls import make_local_pki
from tests.adapters.conftest import create_topics, xoev_message

pytestmark = [pytest.mark.kafka,
              pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl missing")]
AUTHORITY = "remscheid.standesamt"
TOKEN = "remscheid-standesamt-tls-token"


def test_https_post_is_produced_and_plain_http_fails(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path
) -> None:
    pki = make_local_pki(tmp_path / "pki")
    settings = load_settings(bootstrap_servers=kafka_bootstrap, topic_prefix=topic_prefix,
                             http_tls_cert=pki.broker_cert,
                             http_tls_key=pki.broker_cert.with_name("broker.key"))
    topic = TopicNames(topic_prefix).inbound(AUTHORITY)
    asyncio.run(create_topics(kafka_bootstrap, [topic]))
    authorities = {AUTHORITY: SimpleNamespace(id=AUTHORITY, adapters=[{
        "type": "http-inbound", "config": {"token_sha256": [token_digest(TOKEN)]}}])}
    payload = xoev_message(AUTHORITY, "remscheid.meldebehoerde")
    client_ctx = ssl.create_default_context(cafile=str(pki.ca_cert))

    async def scenario() -> tuple[int, list[bytes]]:
        # what the worker does: the gateway on the web app, served by start_web
        app = web.Application()
        gateway = HttpGateway(settings.max_message_bytes)
        gateway.add_routes(app)
        runtime = AdapterRuntime(settings, SimpleNamespace(authorities=authorities),
                                 metrics=AdapterMetrics(CollectorRegistry()), gateway=gateway)
        runner = await start_web(settings, HubMetrics(CollectorRegistry()), Health(),
                                 app=app, host="127.0.0.1", port=0)
        await runtime.start()
        try:
            port = bound_port(runner)
            path = f"127.0.0.1:{port}/v1/authorities/{AUTHORITY}/messages"
            headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/xml"}
            async with aiohttp.ClientSession() as session:
                with pytest.raises(aiohttp.ClientError):
                    async with session.post(f"http://{path}", data=payload,
                                            headers=headers) as plain:
                        await plain.read()
                async with session.post(f"https://{path}", data=payload, headers=headers,
                                        ssl=client_ctx) as resp:
                    status = resp.status
                    await resp.read()
        finally:
            await runtime.stop()
            await runner.cleanup()
        consumer = AIOKafkaConsumer(topic, bootstrap_servers=kafka_bootstrap,
                                    auto_offset_reset="earliest", enable_auto_commit=False)
        await consumer.start()
        values: list[bytes] = []
        deadline = time.monotonic() + 20
        try:
            while not values and time.monotonic() < deadline:
                for records in (await consumer.getmany(timeout_ms=200)).values():
                    values += [r.value for r in records]
        finally:
            await consumer.stop()
        return status, values

    status, values = asyncio.run(scenario())
    assert status == 202
    assert values == [payload]  # produced once, by the HTTPS request only


def test_tls_settings_come_in_pairs_and_plain_http_is_warned(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="HUB_HTTP_TLS_KEY"):
        load_settings(http_tls_cert=tmp_path / "cert.pem")
    with pytest.raises(ConfigError, match="unusable"):
        server_ssl_context(load_settings(http_tls_cert=tmp_path / "no.pem",
                                         http_tls_key=tmp_path / "no.key"))
    assert server_ssl_context(load_settings()) is None
    exposed = load_settings(web_host="0.0.0.0")
    warning = plain_http_warning(exposed)
    assert warning is not None and "plain HTTP" in warning and "HUB_HTTP_TLS_CERT" in warning
    assert plain_http_warning(load_settings(web_host="127.0.0.1")) is None
    tls = load_settings(web_host="0.0.0.0", http_tls_cert=tmp_path / "c.pem",
                        http_tls_key=tmp_path / "c.key")
    assert plain_http_warning(tls) is None
