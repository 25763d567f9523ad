"""End to end on the real broker with the real worker (``python -m hub worker``):
adapters → xoev.in.<a> → worker (validate, author, dedupe, route) →
xoev.out.<b>.xml → adapters."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import aiohttp
import pytest
from aiokafka import AIOKafkaConsumer
from prometheus_client import CollectorRegistry

from hub.adapters import AdapterMetrics, AdapterRuntime
from hub.adapters.http_inbound import token_digest
from hub.errors import ConfigError
from hub.kafka.topics import TopicNames
from hub.settings import Settings
from hub.testing import wait_for
from hub.testing.builtin import WebhookReceiver, drop_file, free_port
from tests.adapters.conftest import region, sample, xoev_message

pytestmark = pytest.mark.kafka
SECRET = "remscheid-meldebehoerde-hook-secret"
TOKEN = "remscheid-standesamt-token"
FAST_RETRY = {"attempts": 30, "base_seconds": 0.1, "max_seconds": 0.5}


def metric(reg: CollectorRegistry, name: str, **labels: str) -> float:
    return reg.get_sample_value(name, labels) or 0.0


async def read_to_end(settings: Settings, topic: str, timeout: float = 60) -> list[Any]:
    """Every record in the topic now: read up to the end offsets taken at start."""
    from aiokafka import TopicPartition

    consumer = AIOKafkaConsumer(bootstrap_servers=settings.bootstrap, enable_auto_commit=False)
    await consumer.start()
    records: list[Any] = []
    try:
        await consumer._client.force_metadata_update()
        tps = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        assert tps, f"{topic} has no partitions"
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        deadline = time.monotonic() + timeout
        while [tp for tp in tps if await consumer.position(tp) < ends[tp]]:
            assert time.monotonic() < deadline, f"{topic} not read to its end in {timeout}s"
            batch = await consumer.getmany(timeout_ms=200)
            for recs in batch.values():
                records += recs
    finally:
        await consumer.stop()
    return records


async def read_all(settings: Settings, topic: str, expect: int, timeout: float = 60) -> list[Any]:
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=settings.bootstrap,
                                auto_offset_reset="earliest", enable_auto_commit=False)
    await consumer.start()
    records: list[Any] = []
    deadline = time.monotonic() + timeout
    try:
        while len(records) < expect and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=200)
            for recs in batch.values():
                records += recs
    finally:
        await consumer.stop()
    return records


def test_file_dropped_in_solingen_arrives_in_wuppertals_outbox(
    kafka_settings: Settings, hub_worker: Any, tmp_path: Path
) -> None:
    inbox, outbox = tmp_path / "solingen-in", tmp_path / "wuppertal-out"
    reg = CollectorRegistry()
    the_region = region({
        "solingen.meldebehoerde": [{"type": "directory-inbound",
                                    "config": {"path": str(inbox), "poll_seconds": 0.05}}],
        "wuppertal.meldebehoerde": [{"type": "directory-outbound", "name": "outbox",
                                     "config": {"path": str(outbox)}}],
    })
    runtime = AdapterRuntime(kafka_settings, the_region, metrics=AdapterMetrics(reg))
    messages = {f"m{n}.xml": sample("XMeld", "25.11a", "0201", "solingen.meldebehoerde",
                                    "wuppertal.meldebehoerde", seed=n) for n in range(5)}

    async def scenario() -> None:
        await runtime.start()
        try:
            for name, payload in messages.items():
                drop_file(inbox, name, payload)
            await wait_for(lambda: len(list(outbox.glob("*.xml"))) == 5, timeout=120)
        finally:
            await runtime.stop()

    asyncio.run(scenario())
    assert hub_worker.alive(), hub_worker.log_text()[-3000:]
    delivered = {p.read_bytes() for p in outbox.glob("*.xml")}
    assert delivered == set(messages.values())
    assert sorted(p.name for p in (inbox / "done").iterdir()) == sorted(messages)
    assert list(outbox.glob(".*")) == []  # no temporary files left
    src = {"adapter": "directory-inbound", "authority": "solingen.meldebehoerde",
           "direction": "source"}
    snk = {"adapter": "directory-outbound", "authority": "wuppertal.meldebehoerde",
           "direction": "sink"}
    assert metric(reg, "xoev_hub_adapter_messages_total", **src, outcome="produced") == 5
    assert metric(reg, "xoev_hub_adapter_messages_total", **snk, outcome="delivered") == 5


def test_http_post_by_remscheids_standesamt_reaches_the_meldebehoerde_webhook(
    kafka_settings: Settings, hub_worker: Any,
) -> None:
    """Also: the webhook is down for a while — delivery is delayed, nothing lost."""
    hook_port = free_port()
    http_port = free_port()
    reg = CollectorRegistry()
    the_region = region({
        "remscheid.standesamt": [{"type": "http-inbound",
                                  "config": {"token_sha256": [token_digest(TOKEN)]}}],
        "remscheid.meldebehoerde": [{
            "type": "webhook", "retry": FAST_RETRY,
            "config": {"url": f"http://127.0.0.1:{hook_port}/hook", "secret": SECRET,
                       "timeout_seconds": 2},
        }],
    })
    runtime = AdapterRuntime(kafka_settings, the_region, metrics=AdapterMetrics(reg),
                             http_listen=("127.0.0.1", http_port))
    bodies = [sample("XPersonenstand", "25.11", "031010", "remscheid.standesamt",
                     "remscheid.meldebehoerde", seed=n) for n in range(4)]
    url = f"http://127.0.0.1:{http_port}/v1/authorities/remscheid.standesamt/messages"
    answers: list[dict[str, Any]] = []

    async def scenario() -> WebhookReceiver:
        await runtime.start()
        try:
            async with aiohttp.ClientSession(
                    headers={"Authorization": f"Bearer {TOKEN}"}) as http:
                for body in bodies:
                    async with http.post(url, data=body,
                                         headers={"Content-Type": "application/xml"}) as r:
                        assert r.status == 202, await r.text()
                        answers.append(await r.json())
                invalid = bodies[0].replace(b"nachrichtenUUID>", b"nachrichtenUUIDx>")
                async with http.post(url, data=invalid,
                                     headers={"Content-Type": "application/xml"}) as r:
                    assert r.status == 422  # XSD-invalid: refused, counted, not produced
                    report = await r.json()
                    assert report["standard"] == "XPersonenstand"
                    assert report["problems"][0]["code"].startswith("SCHEMA")
            # the webhook is down (nothing listens): failed attempts pile up
            hook = {"adapter": "webhook", "authority": "remscheid.meldebehoerde",
                    "direction": "sink"}
            await wait_for(lambda: metric(reg, "xoev_hub_adapter_errors_total", **hook,
                                          code="TRANSIENT") >= 3, timeout=120)
            with WebhookReceiver(SECRET, port=hook_port) as receiver:
                await wait_for(lambda: len(receiver.received) == len(bodies), timeout=60)
                return receiver
        finally:
            await runtime.stop()

    receiver = asyncio.run(scenario())
    assert hub_worker.alive(), hub_worker.log_text()[-3000:]
    assert sorted(receiver.received.values()) == sorted(bodies)
    assert receiver.bad_signatures == 0
    assert {a["message_id"] for a in answers} == set(receiver.received)
    some = next(iter(receiver.headers.values()))
    assert some["xoev-author"] == "psw:05120000" and some["xoev-message-type"] == "031010"
    signature = some["callback-authentication"]  # v2 (decision 0007), checked by the receiver
    assert signature.startswith("v2=") and len(signature) == 3 + 128
    http = {"adapter": "http-inbound", "authority": "remscheid.standesamt",
            "direction": "source"}
    assert metric(reg, "xoev_hub_adapter_messages_total", **http, outcome="produced") == 4
    assert metric(reg, "xoev_hub_adapter_messages_total", **http, outcome="rejected") == 1
    assert metric(reg, "xoev_hub_adapter_messages_total", **http, outcome="rejected") == 1
    hook = {"adapter": "webhook", "authority": "remscheid.meldebehoerde", "direction": "sink"}
    assert metric(reg, "xoev_hub_adapter_messages_total", **hook, outcome="delivered") == 4
    assert metric(reg, "xoev_hub_adapter_messages_total", **hook, outcome="deadlettered") == 0
    dead = asyncio.run(read_to_end(kafka_settings,
                                   TopicNames(kafka_settings.topic_prefix).deadletter))
    assert dead == []  # neither the worker nor the webhook sink dead-lettered anything


def test_refused_delivery_is_dead_lettered_with_contract_headers_and_committed(
    kafka_settings: Settings,
) -> None:
    names = TopicNames(kafka_settings.topic_prefix)
    target = "wuppertal.standesamt"
    with WebhookReceiver(SECRET, status=400) as receiver:
        spec = {"type": "webhook", "retry": FAST_RETRY,
                "config": {"url": receiver.url, "secret": SECRET}}
        mid = "0c6c1d9e-0000-4000-8000-00000000dead"
        later = "0c6c1d9e-0000-4000-8000-00000000beef"
        payload = xoev_message("solingen.standesamt", target, mid)

        async def scenario() -> None:
            from aiokafka import AIOKafkaProducer

            producer = AIOKafkaProducer(bootstrap_servers=kafka_settings.bootstrap, acks="all")
            await producer.start()
            try:
                for run, message_id in enumerate((mid, later)):
                    # the same partition (no key hashing), so offsets are 0 and 1
                    await producer.send_and_wait(
                        names.out_xml(target), xoev_message("solingen.standesamt", target,
                                                            message_id),
                        key=message_id.encode(), partition=0,
                        headers=[("xoev-message-id", message_id.encode())])
                    runtime = AdapterRuntime(kafka_settings, region({target: [spec]}),
                                             metrics=AdapterMetrics(CollectorRegistry()))
                    await runtime.start()
                    # stop() lets the batch finish: dead-letter, then commit. The second
                    # run posts the later message, so it has read past the first one
                    await wait_for(lambda n=run + 1: len(receiver.posted_ids) >= n, timeout=60)
                    await runtime.stop()
            finally:
                await producer.stop()

        asyncio.run(scenario())
        # each refused once, dead-lettered and committed: the first is not posted again
        assert receiver.posted_ids == [mid, later]
    dead = asyncio.run(read_all(kafka_settings, names.deadletter, 2))
    assert len(dead) == 2
    record = next(r for r in dead if dict(r.headers)["xoev-message-id"] == mid.encode())
    headers = {k: v.decode() for k, v in record.headers}
    assert record.value == payload
    partition = headers["xoev-source-partition"]
    assert partition == "0"
    assert record.key == f"{names.out_xml(target)}:{partition}:0".encode()
    assert headers["xoev-error-stage"] == "deliver"
    assert headers["xoev-error-code"] == "WEBHOOK_REJECTED"
    assert "HTTP 400" in headers["xoev-error-detail"]
    assert headers["xoev-source-topic"] == names.out_xml(target)
    assert headers["xoev-source-offset"] == "0"
    assert headers["xoev-message-id"] == "0c6c1d9e-0000-4000-8000-00000000dead"


def test_a_start_that_fails_leaves_nothing_running(kafka_settings: Settings,
                                                  tmp_path: Path) -> None:
    runtime = AdapterRuntime(kafka_settings, region({
        "solingen.meldebehoerde": [{"type": "directory-inbound", "path": str(tmp_path / "in")}],
        "remscheid.standesamt": [{"type": "http-inbound", "token_env": "KIT_UNSET_TOKEN_VAR"}],
    }), metrics=AdapterMetrics(CollectorRegistry()), http_listen=("127.0.0.1", 0))

    async def scenario() -> None:
        with pytest.raises(ConfigError, match="KIT_UNSET_TOKEN_VAR is not set"):
            await runtime.start()
        assert runtime._producers == {}  # every producer stopped again
        inbox = runtime.sources[0].source
        assert getattr(inbox, "_task", None) is None  # the inbox poller was stopped

    asyncio.run(scenario())


def test_http_inbound_needs_a_place_to_be_served(kafka_settings: Settings) -> None:
    with pytest.raises(ConfigError, match="http_listen"):
        AdapterRuntime(kafka_settings, region({
            "remscheid.standesamt": [{"type": "http-inbound", "token_sha256": ["0" * 64]}],
        }))


def test_a_message_above_the_topics_limit_fails_instead_of_retrying_forever(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path
) -> None:
    from hub.settings import load_settings
    from tests.adapters.conftest import create_topics

    settings = load_settings(bootstrap_servers=kafka_bootstrap, topic_prefix=topic_prefix)
    topic = TopicNames(topic_prefix).inbound("velbert.meldebehoerde")
    asyncio.run(create_topics(kafka_bootstrap, [topic], {"max.message.bytes": "2000"}))
    inbox = tmp_path / "in"
    authorities = {"velbert.meldebehoerde": SimpleNamespace(
        id="velbert.meldebehoerde",
        adapters=[{"type": "directory-inbound", "path": str(inbox), "poll_seconds": 0.05}])}
    runtime = AdapterRuntime(settings, SimpleNamespace(authorities=authorities),
                             metrics=AdapterMetrics(CollectorRegistry()))
    small = xoev_message("velbert.meldebehoerde", "wuppertal.meldebehoerde")
    big = xoev_message("velbert.meldebehoerde", "wuppertal.meldebehoerde", filler=5000)

    async def scenario() -> None:
        await runtime.start()
        try:
            drop_file(inbox, "big.xml", big)
            drop_file(inbox, "small.xml", small)
            await wait_for(lambda: not list(inbox.glob("*.xml")), timeout=20)
        finally:
            await runtime.stop()

    asyncio.run(scenario())
    assert (inbox / "failed" / "big.xml.reason.txt").read_text().startswith("XML_TOO_LARGE\n")
    assert [p.name for p in (inbox / "done").iterdir()] == ["small.xml"]
    records = asyncio.run(read_all(settings, topic, 1))
    assert [r.value for r in records] == [small]


def test_an_unreachable_broker_at_start_is_one_clear_transient_error(tmp_path: Path) -> None:
    from hub.errors import TransientError
    from hub.settings import load_settings

    settings = load_settings(bootstrap_servers=f"127.0.0.1:{free_port()}")
    runtime = AdapterRuntime(settings, region({
        "solingen.meldebehoerde": [{"type": "directory-inbound", "path": str(tmp_path / "in")}],
    }), metrics=AdapterMetrics(CollectorRegistry()))
    with pytest.raises(TransientError, match="unreachable"):
        asyncio.run(runtime.start())
