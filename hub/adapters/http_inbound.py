"""HTTP inbound (``http-inbound``): ``POST /v1/authorities/<id>/messages``.

The body is the XÖV XML message. Answers:

* ``202 {"message_id": ..., "duplicate": false}`` — produced to
  ``xoev.in.<id>`` with ``acks=all`` before answering;
* ``202 {"message_id": ..., "duplicate": true}`` — this authority sent this
  nachrichtenUUID with the same body recently; nothing produced (best-effort,
  bounded memory: the worker's dedupe is the authoritative one);
* ``409`` this authority sent this nachrichtenUUID recently with another body
  (``DUPLICATE_ID_CONFLICT``); nothing produced;
* ``401`` missing or unknown bearer token; ``403`` a valid token of another
  authority; ``404`` no such authority here; ``413`` body above
  ``max_message_bytes`` (refused from ``Content-Length`` and while streaming);
  ``408`` the body did not arrive within the gateway's ``body_timeout``
  (30 s); ``415`` not an XML content type; ``422`` the check failed, the body is the
  validation report as JSON; ``503`` the broker is unavailable, retry later.

Tokens are configured per authority as SHA-256 hex digests (``token_sha256``)
or read from an environment variable (``token_env``); presented tokens are
hashed and compared in constant time against every configured digest.

Several authorities share one :class:`HttpGateway` (one aiohttp application);
``gateway.add_routes(app)`` mounts it on an existing aiohttp application (the
worker's web port), or ``serve`` runs it on a port of its own. A source
without a shared gateway serves one itself on ``listen_host``/``listen_port``.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import os
import ssl
import uuid
from collections import OrderedDict
from pathlib import Path
from typing import Any

from aiohttp import web
from pydantic import Field, field_validator

from hub.adapters.base import AdapterConfig, AdapterContext, Emit, InboundMessage, Source
from hub.adapters.precheck import Checker, CheckResult, default_checker
from hub.errors import ConfigError, MessageError, TransientError
from hub.logging import register_secret
from hub.xdomea.containers import ZIP_TYPES, looks_like_zip

log = logging.getLogger(__name__)

ROUTE = "/v1/authorities/{authority}/messages"
XML_TYPES = {"application/xml", "text/xml", "application/octet-stream", ""}


def token_digest(token: str) -> str:
    """The SHA-256 hex digest to put into ``token_sha256`` for a bearer token."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class HttpInboundConfig(AdapterConfig):
    token_sha256: list[str] = Field(
        default_factory=list, description="SHA-256 hex digests of accepted bearer tokens."
    )
    token_env: str | None = Field(
        default=None, description="Environment variable holding bearer token(s), comma-separated."
    )
    listen_host: str = Field(default="127.0.0.1", description="Own server (no shared gateway).")
    listen_port: int = Field(default=0, ge=0, le=65535, description="0: any free port.")
    recent_ids: int = Field(default=10_000, ge=0, description="Remembered ids for idempotency.")

    @field_validator("token_sha256")
    @classmethod
    def _hex(cls, value: list[str]) -> list[str]:
        for item in value:
            if len(item) != 64 or any(c not in "0123456789abcdef" for c in item.lower()):
                raise ValueError("each entry must be a SHA-256 hex digest (64 hex digits)")
        return [v.lower() for v in value]


class _Recent:
    """Recently accepted ids of one authority with their payloads' SHA-256
    (bounded, oldest forgotten first)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._ids: OrderedDict[str, str] = OrderedDict()

    def get(self, key: str) -> str | None:
        return self._ids.get(key)

    def add(self, key: str, sha256: str) -> None:
        if self.size <= 0:
            return
        self._ids[key] = sha256
        self._ids.move_to_end(key)
        while len(self._ids) > self.size:
            self._ids.popitem(last=False)


class HttpGateway:
    """One aiohttp application serving the HTTP inbound of several authorities."""

    def __init__(
        self,
        max_message_bytes: int,
        checker: Checker | None = None,
        *,
        body_timeout: float = 30.0,
    ) -> None:
        self.max_bytes = max_message_bytes
        #: seconds a client may take to send its body (a stalled one holds a
        #: connection and a buffer): 408 after that
        self.body_timeout = body_timeout
        self.check: Checker = checker or default_checker(max_message_bytes)
        self._sources: dict[str, HttpInboundSource] = {}
        self.app = web.Application(client_max_size=max_message_bytes + 1)
        self.app.router.add_post(ROUTE, self._handle)
        self._runner: web.AppRunner | None = None
        self.port: int | None = None

    def add_routes(self, app: web.Application) -> None:
        """Mount the inbound route on another aiohttp application (the worker's
        web server, before it starts). Bodies are streamed and limited here, so
        the host application's ``client_max_size`` does not matter."""
        app.router.add_post(ROUTE, self._handle)

    def attach(self, source: HttpInboundSource) -> None:
        authority = source.context.authority_id
        known = self._sources.get(authority)
        if known is not None and known is not source:
            raise ConfigError(f"authority {authority} has two http-inbound adapters")
        self._sources[authority] = source

    def detach(self, source: HttpInboundSource) -> None:
        if self._sources.get(source.context.authority_id) is source:
            del self._sources[source.context.authority_id]

    async def serve(
        self, host: str, port: int, ssl_context: ssl.SSLContext | None = None
    ) -> int:
        """Listen on ``host:port`` (0: any free port); returns the bound port."""
        if self._runner is not None:
            assert self.port is not None
            return self.port
        runner = web.AppRunner(self.app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, host, port, ssl_context=ssl_context)
        await site.start()
        self._runner = runner
        addresses = runner.addresses
        self.port = int(addresses[0][1]) if addresses else port
        return self.port

    async def close(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()
        self.port = None

    def _token_owner(self, request: web.Request) -> str | None:
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None
        presented = token_digest(token.strip())
        owner: str | None = None
        for authority, source in self._sources.items():
            for digest in source.digests:
                # compare every digest, no early exit: timing reveals nothing
                if hmac.compare_digest(presented, digest) and owner is None:
                    owner = authority
        return owner

    async def _read_limited(self, request: web.Request) -> bytes | None:
        chunks: list[bytes] = []
        size = 0
        async for chunk in request.content.iter_chunked(64 * 1024):
            size += len(chunk)
            if size > self.max_bytes:
                return None
            chunks.append(chunk)
        return b"".join(chunks)

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        authority = request.match_info["authority"]
        owner = self._token_owner(request)
        if owner is None:
            return _error(401, "UNAUTHORIZED", "missing or invalid bearer token",
                          headers={"WWW-Authenticate": 'Bearer realm="xoev-hub"'})
        source = self._sources.get(authority)
        if source is None:
            return _error(404, "UNKNOWN_AUTHORITY", "no HTTP inbound for this authority")
        if owner != authority:
            return _error(403, "FORBIDDEN", "the token belongs to another authority")
        context = source.context
        if context.containers is not None and request.content_type in ZIP_TYPES:
            return await self._container(request, source)
        if request.content_length is not None and request.content_length > self.max_bytes:
            context.rejected("XML_TOO_LARGE")
            return _error(413, "XML_TOO_LARGE", f"limit is {self.max_bytes} bytes")
        if request.content_type not in XML_TYPES:
            context.rejected("UNSUPPORTED_MEDIA_TYPE")
            return _error(415, "UNSUPPORTED_MEDIA_TYPE", "send application/xml")
        try:
            body = await asyncio.wait_for(self._read_limited(request), self.body_timeout)
        except TimeoutError:
            context.rejected("REQUEST_TIMEOUT")
            return _error(408, "REQUEST_TIMEOUT",
                          f"the body did not arrive within {self.body_timeout:g} s",
                          headers={"Connection": "close"})
        if body is None:
            context.rejected("XML_TOO_LARGE")
            return _error(413, "XML_TOO_LARGE", f"limit is {self.max_bytes} bytes")
        if (context.containers is not None and request.content_type == "application/octet-stream"
                and looks_like_zip(body)):
            return await self._container(request, source, body)  # a small untyped ZIP
        result: CheckResult = self.check(body)
        if not result.valid:
            context.rejected(result.first_code)
            return web.json_response(result.as_json(), status=422)
        return await source.accept(body, result.message_id)


    async def _container(
        self, request: web.Request, source: HttpInboundSource, body: bytes | None = None
    ) -> web.StreamResponse:
        """A hand-over container (hub.adapters.intake): streamed into a spool file of
        the blob store (or ``body``, already read), checked, its message validated,
        stored, then emitted."""
        context = source.context
        intake = context.containers
        assert intake is not None
        limit = intake.limits.max_bytes
        if request.content_length is not None and request.content_length > limit:
            context.rejected("CONTAINER_TOO_LARGE")
            return _error(413, "CONTAINER_TOO_LARGE", f"limit is {limit} bytes")
        with intake.store.spool() as spooled:
            try:
                if body is not None:
                    spooled.write_bytes(body)
                    size: int | None = len(body)
                else:
                    size = await asyncio.wait_for(
                        _spool_body(request, spooled, limit), self.body_timeout
                    )
            except TimeoutError:
                context.rejected("REQUEST_TIMEOUT")
                return _error(408, "REQUEST_TIMEOUT",
                              f"the body did not arrive within {self.body_timeout:g} s",
                              headers={"Connection": "close"})
            if size is None:
                context.rejected("CONTAINER_TOO_LARGE")
                return _error(413, "CONTAINER_TOO_LARGE", f"limit is {limit} bytes")
            try:
                taken = await asyncio.to_thread(intake.take, spooled, context.authority_id)
            except MessageError as exc:
                context.rejected(exc.code)
                return _problem(exc)
            except OSError:
                return _error(503, "UNAVAILABLE", "the blob store cannot take containers now",
                              headers={"Retry-After": "5"})
        if taken.stored is None:
            context.rejected(taken.check.first_code)
            return web.json_response(taken.check.as_json(), status=422)
        return await source.accept(
            taken.container.message, taken.check.message_id,
            headers=taken.headers, digest=taken.stored.sha256,
            extra={"container": {"sha256": taken.stored.sha256, "bytes": taken.stored.size}},
        )


async def _spool_body(request: web.Request, target: Path, limit: int) -> int | None:
    """Write the body to ``target`` in chunks; None (and stop reading) past ``limit``."""
    size = 0
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with open(fd, "wb") as out:
        async for chunk in request.content.iter_chunked(1024 * 1024):
            size += len(chunk)
            if size > limit:
                return None
            out.write(chunk)
    return size


def _problem(exc: MessageError) -> web.Response:
    """422 with the shape of a validation report: one problem, its code and detail."""
    payload: dict[str, Any] = {
        "valid": False,
        "problems": [{"code": exc.code, "message": exc.detail, "line": exc.line,
                      "column": exc.column, "path": exc.path}],
    }
    return web.Response(status=422, text=json.dumps(payload), content_type="application/json")


def _error(
    status: int, code: str, detail: str, headers: dict[str, str] | None = None
) -> web.Response:
    return web.json_response({"error": code, "detail": detail}, status=status, headers=headers)


class HttpInboundSource(Source):
    """An authority's HTTP inbound; see the module docstring."""

    Config = HttpInboundConfig
    config: HttpInboundConfig

    def __init__(self, config: HttpInboundConfig, context: AdapterContext) -> None:
        super().__init__(config, context)
        self.gateway: HttpGateway | None = None
        self._own_gateway = False
        self._emit: Emit | None = None
        self._recent = _Recent(config.recent_ids)
        self.digests: tuple[str, ...] = ()

    def attach(self, gateway: HttpGateway) -> None:
        """Serve through a shared gateway instead of an own server (before ``start``)."""
        self.gateway = gateway
        self._own_gateway = False

    @property
    def port(self) -> int | None:
        return self.gateway.port if self.gateway else None

    def _load_digests(self) -> tuple[str, ...]:
        digests = list(self.config.token_sha256)
        if self.config.token_env:
            raw = os.environ.get(self.config.token_env)
            if not raw:
                raise ConfigError(
                    f"http-inbound of {self.context.authority_id}: "
                    f"environment variable {self.config.token_env} is not set"
                )
            tokens = [t.strip() for t in raw.split(",") if t.strip()]
            for token in tokens:
                register_secret(token)  # never in a log line, whatever logs it
            digests += [token_digest(t) for t in tokens]
        if not digests:
            raise ConfigError(
                f"http-inbound of {self.context.authority_id}: no token configured "
                "(token_sha256 or token_env)"
            )
        return tuple(digests)

    async def start(self, emit: Emit) -> None:
        if self._emit is not None:
            return
        self.digests = self._load_digests()
        if self.gateway is None or self._own_gateway:
            self.gateway = HttpGateway(self.context.max_message_bytes)
            self._own_gateway = True
        self.gateway.attach(self)
        if self._own_gateway:
            await self.gateway.serve(self.config.listen_host, self.config.listen_port)
        self._emit = emit

    async def stop(self) -> None:
        if self._emit is None:
            return
        self._emit = None
        if self.gateway is not None:
            self.gateway.detach(self)
            if self._own_gateway:
                await self.gateway.close()

    async def accept(
        self, body: bytes, message_id: str | None, *,
        headers: dict[str, str] | None = None, digest: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> web.Response:
        """Emit one checked message and answer the sender. A container's message
        comes with its claim-check ``headers``, the container's SHA-256 as ``digest``
        (what makes a resend a duplicate) and ``extra`` fields for the answer."""
        emit = self._emit
        if emit is None:
            return _error(503, "UNAVAILABLE", "adapter stopped", headers={"Retry-After": "5"})
        sha256 = digest or hashlib.sha256(body).hexdigest()
        known = self._recent.get(message_id) if message_id is not None else None
        if known == sha256:
            return web.json_response({"message_id": message_id, "duplicate": True}, status=202)
        if known is not None:
            return _error(409, "DUPLICATE_ID_CONFLICT", f"nachrichtenUUID {message_id} was "
                          "accepted before with another body; a new message needs a new id")
        request_id = uuid.uuid4().hex
        try:
            await emit(InboundMessage(
                self.context.authority_id, body, message_id, {"request_id": request_id},
                headers or {},
            ))
        except TransientError:
            return _error(503, "UNAVAILABLE", "the hub cannot take messages now",
                          headers={"Retry-After": "5"})
        except MessageError as exc:
            return _problem(exc)
        if message_id is not None:
            self._recent.add(message_id, sha256)
        return web.json_response(
            {"message_id": message_id or request_id, "duplicate": False, **(extra or {})},
            status=202,
        )
