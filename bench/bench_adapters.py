"""Adapter overheads, each against a baseline measured in the same run.

* HTTP inbound: POSTs over one keep-alive connection to the gateway (token check,
  hardened well-formedness check, emit into a no-op) vs a bare aiohttp handler
  that reads the body and answers 202.
* Directory outbound: atomic durable writes (tmp + fsync + rename + folder
  fsync) vs a plain ``write_bytes``; and without fsync.
* Webhook signing: HMAC-SHA512 of timestamp + body vs a bare SHA-512 digest.

Usage: python bench/bench_adapters.py [--n 400] (no Kafka needed; ~10 s).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
from aiohttp import web

# run as a script from anywhere: import the hub of this checkout
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hub.adapters import AdapterContext, InboundMessage
from hub.adapters.directory import DirectorySink
from hub.adapters.http_inbound import HttpGateway, HttpInboundSource, token_digest
from hub.adapters.webhook import sign
from hub.testing import outbound, sample_payload

TOKEN = "bench-token"


def payload_6k() -> bytes:
    base = sample_payload(0)
    filler = b"<!-- " + b"x" * (6000 - len(base)) + b" -->"
    return base.replace(b"</test.nachricht>", filler + b"</test.nachricht>")


async def post_many(port: int, path: str, body: bytes, n: int) -> float:
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/xml"}
    async with aiohttp.ClientSession() as session:
        for _ in range(20):  # warm-up
            async with session.post(f"http://127.0.0.1:{port}{path}", data=body,
                                    headers=headers) as resp:
                await resp.read()
        started = time.perf_counter()
        for _ in range(n):
            async with session.post(f"http://127.0.0.1:{port}{path}", data=body,
                                    headers=headers) as resp:
                assert resp.status == 202, resp.status
                await resp.read()
        return time.perf_counter() - started


async def bench_http(n: int) -> tuple[float, float]:
    body = payload_6k()

    async def bare(request: web.Request) -> web.Response:
        await request.read()
        return web.json_response({"message_id": "x"}, status=202)

    app = web.Application()
    app.router.add_post("/bare", bare)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    bare_port = runner.addresses[0][1]
    baseline = await post_many(bare_port, "/bare", body, n)
    await runner.cleanup()

    gateway = HttpGateway(4 * 1024 * 1024)
    source = HttpInboundSource.create(
        {"token_sha256": [token_digest(TOKEN)], "recent_ids": 0},
        AdapterContext("bench.behoerde", "http", 4 * 1024 * 1024),
    )
    source.attach(gateway)

    async def emit(message: InboundMessage) -> None:
        return None

    await source.start(emit)
    port = await gateway.serve("127.0.0.1", 0)
    measured = await post_many(port, "/v1/authorities/bench.behoerde/messages", body, n)
    await source.stop()
    await gateway.close()
    return baseline, measured


async def bench_directory(n: int, folder: Path) -> tuple[float, float, float]:
    messages = [outbound(i) for i in range(n)]
    started = time.perf_counter()
    plain = folder / "plain"
    plain.mkdir()
    for m in messages:
        (plain / f"{m.message_id}.xml").write_bytes(m.payload)
    baseline = time.perf_counter() - started
    results = []
    for fsync in (True, False):
        sink = DirectorySink.create({"path": str(folder / f"sink-{fsync}"), "fsync": fsync},
                                    AdapterContext("bench.behoerde", "dir"))
        await sink.start()
        started = time.perf_counter()
        for m in messages:
            await sink.deliver([m])
        results.append(time.perf_counter() - started)
        await sink.stop()
    return baseline, results[0], results[1]


def bench_sign(n: int) -> tuple[float, float]:
    body = payload_6k()
    started = time.perf_counter()
    for _ in range(n):
        hashlib.sha512(b"1700000000." + body).hexdigest()
    baseline = time.perf_counter() - started
    started = time.perf_counter()
    for _ in range(n):
        sign("secret", "1700000000", body)
    return baseline, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=400, help="requests / files per case")
    args = parser.parse_args()
    n = args.n

    base, gw = asyncio.run(bench_http(n))
    print(f"http-inbound   bare aiohttp {n / base:8.0f} req/s | gateway {n / gw:8.0f} req/s "
          f"| ratio {gw / base:5.2f}x time (6 KB body, sequential, keep-alive)")
    with tempfile.TemporaryDirectory() as tmp:
        plain, durable, nosync = asyncio.run(bench_directory(n, Path(tmp)))
    print(f"dir-outbound   plain write {n / plain:8.0f} files/s | atomic+fsync {n / durable:8.0f} "
          f"files/s ({durable / plain:5.1f}x) | atomic, no fsync {n / nosync:8.0f} files/s "
          f"({nosync / plain:4.1f}x)")
    k = n * 25
    sha, hm = bench_sign(k)
    print(f"webhook sign   sha512 {sha / k * 1e6:6.1f} µs | hmac-sha512 {hm / k * 1e6:6.1f} µs "
          f"per 6 KB message | ratio {hm / sha:4.2f}x")


if __name__ == "__main__":
    main()
