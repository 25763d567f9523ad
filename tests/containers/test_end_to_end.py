"""Hand-over containers end to end on the real broker with the real worker
(issue 14, item 6): a 0401 ZIP from Solingen's registratur to Wuppertal's through
directory inbound → xoev.in → worker → xoev.out → directory outbound (the outbox gets
the container with the same SHA-256) and through HTTP inbound → webhook (the ZIP as
signed body); hostile ZIPs are refused at the adapter and never reach Kafka."""

from __future__ import annotations

import asyncio
import hashlib
import os
import stat
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from prometheus_client import CollectorRegistry

from hub.adapters import AdapterMetrics, AdapterRuntime
from hub.adapters.http_inbound import token_digest
from hub.core.region import Region
from hub.kafka.topic_admin import apply_topics
from hub.kafka.topics import TopicNames
from hub.settings import Settings, load_settings
from hub.testing import wait_for
from hub.testing.builtin import WebhookReceiver, drop_file, free_port
from hub.xdomea.containers import H_CONTAINER_REF, H_CONTAINER_SHA256
from tests.adapters.conftest import region
from tests.adapters.test_end_to_end import read_to_end
from tests.conftest import official_or_skip
from tests.worker.harness import WorkerProcess, hub_env

from .build import container, message, xdomea_package

pytestmark = pytest.mark.kafka
TOKEN = "solingen-registratur-token"
SECRET = "wuppertal-registratur-hook-secret"
SOLINGEN, WUPPERTAL = "solingen.registratur", "wuppertal.registratur"


@pytest.fixture(scope="module")
def xdomea(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any]:
    target = tmp_path_factory.mktemp("xdomea-schemas")
    return target, xdomea_package(official_or_skip(), target)


@pytest.fixture
def hub(kafka_bootstrap: str, topic_prefix: str, tmp_path: Path,
             xdomea: tuple[Path, Any]) -> Settings:
    s = load_settings(bootstrap_servers=kafka_bootstrap, topic_prefix=topic_prefix,
                      consumer_group=f"{topic_prefix}hub", schema_dir=xdomea[0],
                      blob_dir=tmp_path / "blobs")
    apply_topics(s, Region.load(s.region_file))
    return s


@pytest.fixture
def worker(hub: Settings, tmp_path: Path) -> Iterator[WorkerProcess]:
    env = hub_env(hub.bootstrap, hub.topic_prefix, HUB_SCHEMA_DIR=str(hub.schema_dir))
    process = WorkerProcess(env, tmp_path / "worker.log").start()
    yield process
    if process.alive():
        process.stop()


def _status_kib(field: str) -> int:
    """A field of /proc/self/status in KiB (VmRSS: now, VmHWM: the peak)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise AssertionError(f"{field} not in /proc/self/status")


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_handover_zip_from_solingen_to_wuppertal(
    hub: Settings, worker: WorkerProcess, tmp_path: Path, xdomea: tuple[Path, Any],
) -> None:
    package = xdomea[1]
    inbox, outbox = tmp_path / "inbox", tmp_path / "outbox"
    http_port = free_port()
    names = TopicNames(hub.topic_prefix)
    by_dir = message(package, "0401", seed=2)
    by_http = message(package, "0401", seed=9)
    good_dir, good_http = container(by_dir), container(by_http)
    bomb = container(by_dir, [("z.bin", b"\0" * (3 * 1024 * 1024))])
    traversal = container(by_dir, [("../../evil.sh", b"#!/bin/sh\n")])
    undeclared = container(by_http, [("extra.exe", b"MZ")])
    reg = CollectorRegistry()

    with WebhookReceiver(SECRET) as hook:
        the_region = region({
            SOLINGEN: [
                {"type": "directory-inbound", "config": {"path": str(inbox),
                                                         "poll_seconds": 0.05}},
                {"type": "http-inbound", "config": {"token_sha256": [token_digest(TOKEN)]}},
            ],
            WUPPERTAL: [
                {"type": "directory-outbound", "name": "outbox",
                 "config": {"path": str(outbox)}},
                {"type": "webhook", "name": "dms",
                 "config": {"url": hook.url, "secret": SECRET, "timeout_seconds": 5}},
            ],
        })
        runtime = AdapterRuntime(hub, the_region, metrics=AdapterMetrics(reg),
                                 http_listen=("127.0.0.1", http_port))
        url = f"http://127.0.0.1:{http_port}/v1/authorities/{SOLINGEN}/messages"
        answers: list[tuple[int, Any]] = []

        async def scenario() -> None:
            await runtime.start()
            try:
                drop_file(inbox, "bomb.zip", bomb)
                drop_file(inbox, "traversal.zip", traversal)
                drop_file(inbox, "handover.zip", good_dir)
                async with aiohttp.ClientSession(
                        headers={"Authorization": f"Bearer {TOKEN}"}) as http:
                    for body in (undeclared, good_http):
                        async with http.post(url, data=body, headers={
                                "Content-Type": "application/zip"}) as r:
                            answers.append((r.status, await r.json()))
                try:
                    await wait_for(lambda: len(list(outbox.glob("*.zip"))) == 2
                                   and len(hook.received) == 2, timeout=120)
                except AssertionError:
                    print("DEBUG", answers, list(outbox.iterdir()) if outbox.exists() else None,
                          list(hook.received), hook.posts, list(inbox.rglob("*")))
                    print(worker.log_text()[-4000:])
                    raise
            finally:
                await runtime.stop()

        asyncio.run(scenario())
    assert worker.alive(), worker.log_text()[-3000:]

    # HTTP: the hostile ZIP 422 with its code, the good one 202 with the container's digest
    assert answers[0][0] == 422 and answers[0][1]["problems"][0]["code"] == (
        "CONTAINER_UNDECLARED_FILE")
    assert answers[1][0] == 202
    assert answers[1][1]["container"] == {"sha256": sha256(good_http), "bytes": len(good_http)}
    assert answers[1][1]["message_id"] == by_http.process_id

    # directory: hostile ZIPs in failed/ with their codes, the good one in done/
    failed = inbox / "failed"
    assert (failed / "bomb.zip.reason.txt").read_text().split("\n")[0] == "CONTAINER_BOMB"
    assert (failed / "traversal.zip.reason.txt").read_text().split("\n")[0] == "CONTAINER_PATH"
    assert [p.name for p in (inbox / "done").iterdir()] == ["handover.zip"]

    # the outbox has each whole container, byte for byte, named by the ProzessID
    delivered = {p.name: p.read_bytes() for p in outbox.glob("*.zip")}
    assert delivered == {f"{by_dir.process_id}.zip": good_dir,
                         f"{by_http.process_id}.zip": good_http}
    assert {stat.S_IMODE(p.stat().st_mode) for p in outbox.glob("*.zip")} == {0o640}
    assert list(outbox.glob(".*")) == []

    # the webhook got the ZIP as its (signed: the receiver checks) body
    assert hook.bad_signatures == 0
    assert {k: sha256(v) for k, v in hook.received.items()} == {
        by_dir.process_id: sha256(good_dir), by_http.process_id: sha256(good_http)}
    for mid, headers in hook.headers.items():
        assert headers["Content-Type"] == "application/zip"
        assert headers[H_CONTAINER_SHA256] == sha256(hook.received[mid])
        assert headers[H_CONTAINER_REF] == f"{SOLINGEN}/{sha256(hook.received[mid])}"

    # Kafka carried only the two messages (the XML, not the ZIP), with the claim check
    inbound = asyncio.run(read_to_end(hub, names.inbound(SOLINGEN)))
    assert sorted(r.value for r in inbound) == sorted([by_dir.xml, by_http.xml])
    out = asyncio.run(read_to_end(hub, names.out_xml(WUPPERTAL)))
    assert len(out) == 2
    for record in out:
        headers = dict(record.headers)
        digest = headers[H_CONTAINER_SHA256].decode()
        assert digest in {sha256(good_dir), sha256(good_http)}
        assert headers[H_CONTAINER_REF] == f"{SOLINGEN}/{digest}".encode()
    # the blob store holds exactly the two good containers, mode 0640
    blobs = sorted(p for p in (hub.blob_dir / SOLINGEN).rglob("*") if p.is_file())
    assert sorted(p.name for p in blobs) == sorted([sha256(good_dir), sha256(good_http)])
    assert {stat.S_IMODE(p.stat().st_mode) for p in blobs} == {0o640}


def test_a_claim_of_another_authoritys_container_is_dead_lettered(
    hub: Settings, worker: WorkerProcess, xdomea: tuple[Path, Any],
) -> None:
    """A city system writing to Kafka itself cannot point at Wuppertal's blobs."""
    from kafka import KafkaProducer

    from tests.worker.harness import drain

    names = TopicNames(hub.topic_prefix)
    msg = message(xdomea[1], "0401", seed=3)
    digest = "c" * 64
    producer = KafkaProducer(bootstrap_servers=hub.bootstrap, acks="all")
    producer.send(names.inbound(SOLINGEN), value=msg.xml, headers=[
        (H_CONTAINER_REF, f"{WUPPERTAL}/{digest}".encode()),
        (H_CONTAINER_SHA256, digest.encode()), ("xoev-container-bytes", b"10"),
    ]).get(timeout=30)
    producer.close()
    got = drain(hub.bootstrap, [names.deadletter, names.out_xml(WUPPERTAL)],
                until={names.deadletter: 1}, timeout=120)
    assert got.count(names.out_xml(WUPPERTAL)) == 0
    (dead,) = got.headers(names.deadletter)
    assert dead["xoev-error-code"] == b"CONTAINER_REF_INVALID"
    assert dead["xoev-error-stage"] == b"container"


@pytest.mark.slow
def test_a_100_mb_container_streams_through(
    hub: Settings, worker: WorkerProcess, tmp_path: Path, xdomea: tuple[Path, Any],
) -> None:
    """100 MB of incompressible primary document; the message stays small. Measured:
    time from drop to the outbox and the peak RSS of this process (adapters run here)."""
    import zipfile

    msg = message(xdomea[1], "0401", seed=4)
    inbox, outbox = tmp_path / "inbox", tmp_path / "outbox"
    inbox.mkdir()
    big = tmp_path / "big.zip"
    digest = hashlib.sha256()
    with zipfile.ZipFile(big, "w") as archive:
        archive.writestr(msg.name, msg.xml, zipfile.ZIP_DEFLATED)
        with archive.open(msg.declared[0], "w", force_zip64=True) as member:
            for _ in range(100):  # 100 MiB, random: it does not compress
                member.write(os.urandom(1024 * 1024))
        for name in msg.declared[1:]:
            archive.writestr(name, b"%PDF-1.7\n")
    with open(big, "rb") as fh:
        while chunk := fh.read(1024 * 1024):
            digest.update(chunk)
    size = big.stat().st_size
    assert size > 100 * 1024 * 1024
    the_region = region({
        SOLINGEN: [{"type": "directory-inbound",
                    "config": {"path": str(inbox), "poll_seconds": 0.05}}],
        WUPPERTAL: [{"type": "directory-outbound", "name": "outbox",
                     "config": {"path": str(outbox)}}],
    })
    runtime = AdapterRuntime(hub, the_region, metrics=AdapterMetrics(CollectorRegistry()))
    rss_before = _status_kib("VmRSS")
    Path("/proc/self/clear_refs").write_text("5")  # resets the peak (VmHWM) to now

    async def scenario() -> float:
        await runtime.start()
        try:
            # warm up the validating checker (schema loading is not what is measured)
            runtime.containers.checker(msg.xml)
            started = time.monotonic()
            os.replace(big, inbox / "big.zip")
            await wait_for(lambda: len(list(outbox.glob("*.zip"))) == 1, timeout=60)
            return time.monotonic() - started
        finally:
            await runtime.stop()

    seconds = asyncio.run(scenario())
    peak = _status_kib("VmHWM")
    (delivered,) = outbox.glob("*.zip")
    check = hashlib.sha256()
    with open(delivered, "rb") as fh:
        while chunk := fh.read(1024 * 1024):
            check.update(chunk)
    assert check.hexdigest() == digest.hexdigest()
    grown_mib = (peak - rss_before) / 1024
    print(f"\n100 MB container: {size} bytes, drop → outbox {seconds:.2f} s, "
          f"peak RSS {peak / 1024:.0f} MiB ({grown_mib:.0f} MiB above the RSS before)")
    assert seconds < 60
    assert grown_mib < 50, "the blob copy must stream, never hold the container in memory"
