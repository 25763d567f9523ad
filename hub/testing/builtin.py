"""Contract harnesses of the built-in adapters (fixtures for the kit's suites).

They are also worked examples: a harness provides the fixtures a suite names.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Awaitable, Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from hub.adapters.base import AdapterContext, Sink, Source
from hub.adapters.directory import DirectorySink, DirectorySource
from hub.adapters.http_inbound import HttpInboundSource, token_digest
from hub.adapters.webhook import (
    H_AUTHENTICATION,
    H_TIMESTAMP,
    V2_PREFIX,
    WebhookSink,
    verify_request,
    verify_signature,
)
from hub.testing.contracts import AUTHORITY, SinkContract, SourceContract

CONTEXT = AdapterContext(AUTHORITY, "kit", 1024 * 1024)


def free_port() -> int:
    """A TCP port nothing listens on (bound and released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def drop_file(inbox: Path, name: str, payload: bytes) -> Path:
    """Put a file into an inbox the way writers must: temporary name, then rename."""
    tmp = inbox / f".{name}.tmp"
    tmp.write_bytes(payload)
    target = inbox / name
    tmp.rename(target)
    return target


class DirectorySourceHarness(SourceContract):
    @pytest.fixture
    def valid_config(self, tmp_path: Path) -> dict[str, Any]:
        return {"path": str(tmp_path / "inbox"), "poll_seconds": 0.05,
                "max_backoff_seconds": 0.2}

    @pytest.fixture
    def adapter_factory(self, valid_config: dict[str, Any]) -> Callable[[], Source]:
        return lambda: DirectorySource.create(valid_config, CONTEXT)

    @pytest.fixture
    def inject(self) -> Callable[[Source, bytes], Awaitable[None]]:
        counter = iter(range(1_000_000))

        async def inject(source: Source, payload: bytes) -> None:
            assert isinstance(source, DirectorySource)
            drop_file(source.inbox, f"m{next(counter):06d}.xml", payload)

        return inject


class DirectorySinkHarness(SinkContract):
    @pytest.fixture
    def valid_config(self, tmp_path: Path) -> dict[str, Any]:
        return {"path": str(tmp_path / "outbox")}

    @pytest.fixture
    def adapter_factory(self, valid_config: dict[str, Any]) -> Callable[[], Sink]:
        return lambda: DirectorySink.create(valid_config, CONTEXT)

    @pytest.fixture
    def read_back(self, valid_config: dict[str, Any]) -> Callable[[], Mapping[str, bytes]]:
        folder = Path(valid_config["path"])

        def read() -> dict[str, bytes]:
            if not folder.is_dir():
                return {}
            return {p.name[:-4]: p.read_bytes() for p in folder.glob("*.xml")}

        return read

    @pytest.fixture
    def make_unreachable(self, tmp_path: Path) -> Callable[[], Sink]:
        blocker = tmp_path / "not-a-folder"
        blocker.write_text("a file where the outbox folder should be")
        return lambda: DirectorySink.create(
            {"path": str(blocker / "outbox")}, CONTEXT
        )


KIT_TOKEN = "kit-token-" + "0" * 22


class HttpInboundHarness(SourceContract):
    @pytest.fixture
    def valid_config(self) -> dict[str, Any]:
        return {"token_sha256": [token_digest(KIT_TOKEN)], "listen_port": 0}

    @pytest.fixture
    def adapter_factory(self, valid_config: dict[str, Any]) -> Callable[[], Source]:
        return lambda: HttpInboundSource.create(valid_config, CONTEXT)

    @pytest.fixture
    def inject(self) -> Callable[[Source, bytes], Awaitable[None]]:
        async def inject(source: Source, payload: bytes) -> None:
            assert isinstance(source, HttpInboundSource) and source.port
            url = f"http://127.0.0.1:{source.port}/v1/authorities/{AUTHORITY}/messages"
            headers = {"Authorization": f"Bearer {KIT_TOKEN}",
                       "Content-Type": "application/xml"}
            async with aiohttp.ClientSession() as session:
                for _ in range(100):
                    async with session.post(url, data=payload, headers=headers) as resp:
                        if resp.status == 202:
                            return
                        assert resp.status == 503, await resp.text()
                    await asyncio.sleep(0.05)  # a well-behaved client retries on 503
            raise AssertionError("the source kept answering 503")

        return inject


class WebhookReceiver:
    """A real local HTTP endpoint in a thread of its own that checks signatures
    (version 2 as docs/adapters.md describes; version 1 only with ``accept_v1``).

    ``fail_first[message id] = n`` answers that message's first ``n`` correctly
    signed posts with 503; ``delay_seconds`` holds every answer that long.
    """

    def __init__(self, secret: str, status: int = 200, port: int | None = None, *,
                 accept_v1: bool = False, delay_seconds: float = 0.0,
                 fail_first: Mapping[str, int] | None = None) -> None:
        self.secret = secret
        self.status = status
        self.accept_v1 = accept_v1
        self.delay_seconds = delay_seconds
        self.fail_first = dict(fail_first or {})
        self.received: dict[str, bytes] = {}
        self.headers: dict[str, dict[str, str]] = {}
        self.posts = 0
        #: the xoev-message-id of every correctly signed post, in order, refused ones too
        self.posted_ids: list[str] = []
        #: the xoev-message-id of every post answered 2xx, in order (repeats included)
        self.accepted_ids: list[str] = []
        self.bad_signatures = 0
        self.port = port or free_port()
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._runner: web.AppRunner | None = None

    def _verified(self, headers: Mapping[str, str], body: bytes) -> bool:
        if headers.get(H_AUTHENTICATION, "").startswith(V2_PREFIX):
            return verify_request(self.secret, headers, body, max_age=120)
        return self.accept_v1 and verify_signature(
            self.secret, headers.get(H_TIMESTAMP, ""), body,
            headers.get(H_AUTHENTICATION, ""), max_age=120,
        )

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.posts += 1
        if self.delay_seconds:
            await asyncio.sleep(self.delay_seconds)
        if not self._verified(request.headers, body):
            self.bad_signatures += 1
            return web.Response(status=401)
        message_id = request.headers.get("xoev-message-id", "")
        self.posted_ids.append(message_id)
        if self.status >= 300:
            return web.Response(status=self.status)
        if self.fail_first.get(message_id, 0) > 0:
            self.fail_first[message_id] -= 1
            return web.Response(status=503)
        self.accepted_ids.append(message_id)
        self.received[message_id] = body
        self.headers[message_id] = dict(request.headers)
        return web.Response(status=204)

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        app = web.Application()
        app.router.add_post("/hook", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        self._loop.run_until_complete(self._runner.setup())
        site = web.TCPSite(self._runner, "127.0.0.1", self.port)
        self._loop.run_until_complete(site.start())
        self._ready.set()
        self._loop.run_forever()
        self._loop.run_until_complete(self._runner.cleanup())
        self._loop.close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def __enter__(self) -> WebhookReceiver:
        self._thread.start()
        self._ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)


KIT_SECRET = "kit-shared-secret"


class WebhookHarness(SinkContract):
    @pytest.fixture
    def receiver(self) -> Iterator[WebhookReceiver]:
        with WebhookReceiver(KIT_SECRET) as receiver:
            yield receiver

    @pytest.fixture
    def valid_config(self, receiver: WebhookReceiver) -> dict[str, Any]:
        return {"url": receiver.url, "secret": KIT_SECRET, "timeout_seconds": 5}

    @pytest.fixture
    def adapter_factory(self, valid_config: dict[str, Any]) -> Callable[[], Sink]:
        return lambda: WebhookSink.create(valid_config, CONTEXT)

    @pytest.fixture
    def read_back(self, receiver: WebhookReceiver) -> Callable[[], Mapping[str, bytes]]:
        def read() -> dict[str, bytes]:
            assert receiver.bad_signatures == 0
            return dict(receiver.received)

        return read

    @pytest.fixture
    def make_unreachable(self) -> Callable[[], Sink]:
        url = f"http://127.0.0.1:{free_port()}/hook"
        return lambda: WebhookSink.create(
            {"url": url, "secret": KIT_SECRET, "timeout_seconds": 2}, CONTEXT
        )
