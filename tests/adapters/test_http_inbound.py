"""HTTP inbound against a real aiohttp server on a free port."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp

from hub.adapters import AdapterContext, InboundMessage
from hub.adapters.http_inbound import HttpGateway, HttpInboundSource, token_digest
from hub.errors import MessageError, TransientError
from hub.testing import run, sample_payload

TOKENS = {"remscheid.standesamt": "token-standesamt-r", "remscheid.meldebehoerde": "token-mb-r"}
LIMIT = 4096


async def with_gateway(
    scenario: Callable[[str, list[InboundMessage]], Awaitable[Any]],
    emit_error: BaseException | None = None,
    body_timeout: float = 30.0,
) -> Any:
    gateway = HttpGateway(LIMIT, body_timeout=body_timeout)
    got: list[InboundMessage] = []

    async def emit(message: InboundMessage) -> None:
        if emit_error is not None:
            raise emit_error
        got.append(message)

    sources = []
    for authority, token in TOKENS.items():
        source = HttpInboundSource.create(
            {"token_sha256": [token_digest(token)], "recent_ids": 2},
            AdapterContext(authority, "http", LIMIT),
        )
        source.attach(gateway)
        await source.start(emit)
        sources.append(source)
    port = await gateway.serve("127.0.0.1", 0)
    try:
        return await scenario(f"http://127.0.0.1:{port}/v1/authorities", got)
    finally:
        for source in sources:
            await source.stop()
        await gateway.close()


async def post(url: str, body: bytes | Any, token: str | None = "token-standesamt-r",
               content_type: str = "application/xml") -> tuple[int, Any]:
    headers = {"Content-Type": content_type}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    async with aiohttp.ClientSession() as session, \
            session.post(url, data=body, headers=headers) as resp:
        try:
            payload = await resp.json()
        except aiohttp.ContentTypeError:
            payload = None
        return resp.status, payload


def test_accepts_checks_and_answers_202_with_the_message_id() -> None:
    mid = str(uuid.uuid4())
    body = sample_payload(1, mid)

    async def scenario(base: str, got: list[InboundMessage]) -> None:
        status, answer = await post(f"{base}/remscheid.standesamt/messages", body)
        assert (status, answer) == (202, {"message_id": mid, "duplicate": False})
        assert [(m.authority_id, m.payload, m.key) for m in got] == [
            ("remscheid.standesamt", body, mid)
        ]

    run(with_gateway(scenario))


def test_second_post_of_the_same_id_is_a_duplicate_and_produces_nothing() -> None:
    mid = str(uuid.uuid4())

    async def scenario(base: str, got: list[InboundMessage]) -> None:
        url = f"{base}/remscheid.standesamt/messages"
        assert (await post(url, sample_payload(1, mid)))[0] == 202
        status, answer = await post(url, sample_payload(1, mid))
        assert (status, answer) == (202, {"message_id": mid, "duplicate": True})
        assert len(got) == 1
        # the set is bounded (recent_ids=2): old ids are forgotten
        for n in range(2):
            await post(url, sample_payload(n))
        assert (await post(url, sample_payload(1, mid)))[1]["duplicate"] is False
        assert len(got) == 4

    run(with_gateway(scenario))


def test_authentication_and_authorisation() -> None:
    async def scenario(base: str, got: list[InboundMessage]) -> None:
        url = f"{base}/remscheid.standesamt/messages"
        body = sample_payload(0)
        assert (await post(url, body, token=None))[0] == 401
        assert (await post(url, body, token="wrong"))[0] == 401
        status, answer = await post(url, body, token="token-mb-r")
        assert status == 403 and answer["error"] == "FORBIDDEN"
        assert (await post(f"{base}/solingen.standesamt/messages", body))[0] == 404
        assert got == []

    run(with_gateway(scenario))


def test_invalid_xml_answers_422_with_the_report() -> None:
    async def scenario(base: str, got: list[InboundMessage]) -> None:
        url = f"{base}/remscheid.standesamt/messages"
        status, report = await post(url, b"<a><b></a>")
        assert status == 422 and report["valid"] is False
        assert report["problems"][0]["code"] == "XML_MALFORMED"
        assert report["problems"][0]["line"] == 1
        evil = b'<!DOCTYPE a [<!ENTITY x "y">]><a>&x;</a>'
        status, report = await post(url, evil)
        assert status == 422 and report["problems"][0]["code"] == "XML_ENTITY_FORBIDDEN"
        assert (await post(url, b"<a/>", content_type="text/plain"))[0] == 415
        assert got == []

    run(with_gateway(scenario))


def test_too_large_by_content_length_and_while_streaming() -> None:
    big = b"<a>" + b"x" * LIMIT + b"</a>"

    async def chunks() -> Any:
        for start in range(0, len(big), 512):
            yield big[start:start + 512]

    async def scenario(base: str, got: list[InboundMessage]) -> None:
        url = f"{base}/remscheid.standesamt/messages"
        assert (await post(url, big))[0] == 413
        status, answer = await post(url, chunks())  # chunked: no Content-Length
        assert status == 413 and answer["error"] == "XML_TOO_LARGE"
        assert got == []

    run(with_gateway(scenario))


def test_broker_unavailable_answers_503_and_refusal_422() -> None:
    async def unavailable(base: str, got: list[InboundMessage]) -> None:
        status, answer = await post(f"{base}/remscheid.standesamt/messages", sample_payload(0))
        assert status == 503 and answer["error"] == "UNAVAILABLE"

    run(with_gateway(unavailable, emit_error=TransientError("down")))

    async def refused(base: str, got: list[InboundMessage]) -> None:
        status, answer = await post(f"{base}/remscheid.standesamt/messages", sample_payload(0))
        assert status == 422 and answer["problems"][0]["code"] == "TOO_BIG_FOR_KAFKA"

    run(with_gateway(refused, emit_error=MessageError("no", code="TOO_BIG_FOR_KAFKA")))


def test_tokens_from_the_environment(monkeypatch: Any) -> None:
    monkeypatch.setenv("KIT_HTTP_TOKENS", "first, second")
    source = HttpInboundSource.create(
        {"token_env": "KIT_HTTP_TOKENS"}, AdapterContext("a.b", "http", LIMIT)
    )

    async def scenario() -> None:
        async def emit(message: InboundMessage) -> None:
            return None

        await source.start(emit)
        assert source.digests == (token_digest("first"), token_digest("second"))
        await source.stop()

    asyncio.run(scenario())


def test_mounted_on_another_aiohttp_application() -> None:
    """The worker's web server (with /metrics etc.) can carry the inbound route."""
    from aiohttp import web

    gateway = HttpGateway(LIMIT)
    source = HttpInboundSource.create({"token_sha256": [token_digest("t")]},
                                      AdapterContext("velbert.meldebehoerde", "http", LIMIT))
    source.attach(gateway)
    got: list[InboundMessage] = []

    async def emit(message: InboundMessage) -> None:
        got.append(message)

    async def healthz(_: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def scenario() -> None:
        host = web.Application()  # client_max_size of the host is irrelevant
        host.router.add_get("/healthz", healthz)
        gateway.add_routes(host)
        runner = web.AppRunner(host, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        await source.start(emit)
        try:
            base = f"http://127.0.0.1:{port}"
            status, answer = await post(f"{base}/v1/authorities/velbert.meldebehoerde/messages",
                                        sample_payload(0, "id-velbert"), token="t")
            assert (status, answer["message_id"]) == (202, "id-velbert")
            big = b"<a>" + b"x" * LIMIT + b"</a>"
            status, _ = await post(f"{base}/v1/authorities/velbert.meldebehoerde/messages",
                                   big, token="t")
            assert status == 413
        finally:
            await source.stop()
            await runner.cleanup()

    run(scenario())
    assert [m.key for m in got] == ["id-velbert"]


def test_a_known_id_with_another_body_is_a_409_conflict() -> None:
    mid = str(uuid.uuid4())

    async def scenario(base: str, got: list[InboundMessage]) -> None:
        url = f"{base}/remscheid.standesamt/messages"
        assert (await post(url, sample_payload(1, mid)))[0] == 202
        status, answer = await post(url, sample_payload(2, mid))
        assert status == 409, answer
        assert answer is not None and answer["error"] == "DUPLICATE_ID_CONFLICT"
        assert "\n" not in answer["detail"] and mid in answer["detail"]
        assert len(got) == 1  # nothing produced for the conflicting body
        status, answer = await post(url, sample_payload(1, mid))
        assert (status, answer) == (202, {"message_id": mid, "duplicate": True})

    run(with_gateway(scenario))


def test_a_body_that_stalls_gets_408_and_connection_close() -> None:
    async def scenario(base: str, got: list[InboundMessage]) -> None:
        port = int(base.split(":")[2].split("/")[0])
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(
            b"POST /v1/authorities/remscheid.standesamt/messages HTTP/1.1\r\n"
            b"Host: 127.0.0.1\r\nAuthorization: Bearer token-standesamt-r\r\n"
            b"Content-Type: application/xml\r\nContent-Length: 1000\r\n\r\n<a>"
        )
        await writer.drain()
        started = asyncio.get_running_loop().time()
        answer = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout=20)
        waited = asyncio.get_running_loop().time() - started
        writer.close()
        await writer.wait_closed()
        assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
        assert b"connection: close" in answer.lower()
        assert waited < 10  # bounded by body_timeout, not by the client
        assert got == []

    run(with_gateway(scenario, body_timeout=0.5))
