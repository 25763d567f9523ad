"""HTTP outbound (``webhook``): POST each message to the authority's endpoint.

Signed in the manner of FIT-Connect callbacks (docs/decisions/0007):

* ``callback-timestamp``: Unix time in seconds (decimal string);
* ``callback-authentication``: ``v2=`` and the lowercase hex of
  HMAC-SHA512(key = shared secret (UTF-8), message =
  ``"v2\n" + xoev-message-id + "\n" + xoev-author + "\n" + timestamp + "\n" + body``)
  (:func:`signing_input_v2`; an absent ``xoev-author`` counts as empty). Header
  values never contain a line feed, so the fields cannot be shifted into each other.
* ``signature_version = 1`` (for receivers not yet migrated; warned at start)
  sends the plain hex of HMAC-SHA512 over ``timestamp + "." + body`` instead
  (:func:`sign`), which covers neither the message id nor the author.

Receivers check with :func:`verify_request` (v2 only, constant-time comparison,
a maximum age against replays). Also sent: ``Content-Type: application/xml``,
``xoev-message-id`` and the other contract headers of the message.

Answers: 2xx delivered; 408, 425, 429 and 5xx (and connection errors or
timeouts) are transient — the framework retries with backoff and dead-letters
after the configured attempts; a redirect is never followed (``WEBHOOK_REDIRECT``:
it would re-send body and signature elsewhere); any other status is a permanent
refusal (``WEBHOOK_REJECTED``); both dead-letter at once. The endpoint must be
``https://`` unless it is on this host (loopback) or ``allow_http`` is set.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import os
import time
from collections.abc import Mapping, Sequence
from typing import IO, ClassVar, Literal
from urllib.parse import urlsplit

import aiohttp
from pydantic import Field, SecretStr, model_validator

from hub.adapters.base import AdapterConfig, OutboundMessage, Sink
from hub.errors import ConfigError, MessageError, TransientError
from hub.logging import register_secret
from hub.xdomea.containers import H_CONTAINER_REF, H_CONTAINER_SHA256

log = logging.getLogger(__name__)

H_AUTHENTICATION = "callback-authentication"
H_TIMESTAMP = "callback-timestamp"
H_MESSAGE_ID = "xoev-message-id"
H_AUTHOR = "xoev-author"
#: Prefix of a version-2 signature in ``callback-authentication``.
V2_PREFIX = "v2="
TRANSIENT_STATUS = frozenset({408, 425, 429})
#: Message headers passed on to the endpoint (contract headers only).
FORWARDED_PREFIXES = ("xoev-", "traceparent")


def _safe_header_value(value: str) -> bool:
    return value.isascii() and value.isprintable()


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """Version 1: hex HMAC-SHA512 of ``timestamp + "." + body`` keyed with ``secret``."""
    message = timestamp.encode("ascii") + b"." + body
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha512).hexdigest()


def signing_input_v2(message_id: str, author: str, timestamp: str, body: bytes) -> bytes:
    """What version 2 signs: ``v2``, message id, author, timestamp, one per line, then
    the body (UTF-8)."""
    head = "\n".join(("v2", message_id, author, timestamp)) + "\n"
    return head.encode("utf-8") + body


def sign_v2(secret: str, message_id: str, author: str, timestamp: str, body: bytes) -> str:
    """The ``callback-authentication`` value of version 2: ``v2=<hex HMAC-SHA512>``."""
    digest = hmac.new(
        secret.encode("utf-8"), signing_input_v2(message_id, author, timestamp, body),
        hashlib.sha512,
    ).hexdigest()
    return V2_PREFIX + digest


def _fresh(timestamp: str, max_age: float, now: float | None) -> bool:
    try:
        stamp = int(timestamp)
    except ValueError:
        return False
    current = time.time() if now is None else now
    return abs(current - stamp) <= max_age


def verify_request(
    secret: str,
    headers: Mapping[str, str],
    body: bytes,
    max_age: float = 120.0,
    *,
    now: float | None = None,
) -> bool:
    """True if a received POST carries a valid version-2 signature over its
    ``xoev-message-id``, ``xoev-author``, ``callback-timestamp`` and body, not older
    (nor newer) than ``max_age`` seconds. Header names are matched case-insensitively;
    a version-1 signature is refused."""
    lower = {k.lower(): v for k, v in headers.items()}
    signature = lower.get(H_AUTHENTICATION, "").strip()
    timestamp = lower.get(H_TIMESTAMP, "")
    if not signature.startswith(V2_PREFIX) or not _fresh(timestamp, max_age, now):
        return False
    expected = sign_v2(secret, lower.get(H_MESSAGE_ID, ""), lower.get(H_AUTHOR, ""),
                       timestamp, body)
    return hmac.compare_digest(expected, V2_PREFIX + signature[len(V2_PREFIX):].lower())


def verify_signature(
    secret: str,
    timestamp: str,
    body: bytes,
    signature: str,
    max_age: float = 120.0,
    *,
    now: float | None = None,
) -> bool:
    """Version 1: True if ``signature`` is valid for ``timestamp``/``body`` and not
    older than ``max_age`` seconds (nor more than ``max_age`` in the future)."""
    if not _fresh(timestamp, max_age, now):
        return False
    expected = sign(secret, timestamp, body)
    return hmac.compare_digest(expected, signature.strip().lower())


class WebhookConfig(AdapterConfig):
    url: str = Field(description="The endpoint: https://, or http:// on this host (loopback).")
    secret: SecretStr | None = Field(default=None, description="Shared HMAC secret.")
    secret_env: str | None = Field(default=None, description="Env variable with the secret.")
    timeout_seconds: float = Field(default=10.0, gt=0)
    allow_http: bool = Field(
        default=False,
        description="Allow http:// to another host (messages travel unencrypted; "
        "warned at start).",
    )
    signature_version: Literal[1, 2] = Field(
        default=2,
        description="2: the signature covers message id, author, timestamp and body. "
        "1: timestamp and body only, for receivers not yet migrated (warned at start).",
    )

    @model_validator(mode="after")
    def _check(self) -> WebhookConfig:
        if not self.url.startswith(("http://", "https://")):
            raise ValueError("url must start with http:// or https://")
        if self.url.startswith("http://") and not self.allow_http and not _loopback(self.url):
            raise ValueError(
                "url must use https:// for another host (or set allow_http: the messages "
                "would travel unencrypted)"
            )
        if (self.secret is None) == (self.secret_env is None):
            raise ValueError("give exactly one of secret and secret_env")
        return self


def _loopback(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    return host == "localhost" or host == "::1" or host.startswith("127.")


class WebhookSink(Sink):
    """Signed POSTs to an authority's endpoint; see the module docstring."""

    Config = WebhookConfig
    config: WebhookConfig
    #: one POST per message: a failure mid-batch must not re-send what arrived
    per_message: ClassVar[bool] = True

    _session: aiohttp.ClientSession | None = None

    def _secret(self) -> str:
        value = self._read_secret()
        register_secret(value)  # never in a log line, whatever logs it
        return value

    def _read_secret(self) -> str:
        if self.config.secret is not None:
            return self.config.secret.get_secret_value()
        assert self.config.secret_env is not None
        value = os.environ.get(self.config.secret_env)
        if not value:
            raise ConfigError(
                f"webhook of {self.context.authority_id}: "
                f"environment variable {self.config.secret_env} is not set"
            )
        return value

    async def start(self) -> None:
        self._key = self._secret()
        if self.config.url.startswith("http://") and not _loopback(self.config.url):
            log.warning(
                "webhook without TLS (allow_http)",
                extra={"event": "webhook_insecure", "authority": self.context.authority_id},
            )
        if self.config.signature_version == 1:
            log.warning(
                "webhook signature version 1 covers neither message id nor author",
                extra={"event": "webhook_signature_v1", "authority": self.context.authority_id},
            )
        if self._session is None:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.config.timeout_seconds)
            )

    async def stop(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    async def deliver(self, batch: Sequence[OutboundMessage]) -> None:
        if not batch:
            return
        if self._session is None:
            raise TransientError("webhook sink is not started")
        for message in batch:
            await self._post(self._session, message)

    async def _post(self, session: aiohttp.ClientSession, message: OutboundMessage) -> None:
        timestamp = str(int(time.time()))
        headers = {
            k: v for k, v in message.headers.items()
            if k.startswith(FORWARDED_PREFIXES) and _safe_header_value(v)
        }
        headers.update({
            "Content-Type": "application/xml",
            H_MESSAGE_ID: message.message_id,
            H_TIMESTAMP: timestamp,
        })
        ref = message.headers.get(H_CONTAINER_REF)
        if ref is not None:
            # a hand-over container: the body is the whole ZIP (the message inside),
            # streamed from the blob store and signed like any body
            headers["Content-Type"] = "application/zip"
            signature = await asyncio.to_thread(
                self._sign_blob, ref, message.headers.get(H_CONTAINER_SHA256, ""),
                message.message_id, headers.get(H_AUTHOR, ""), timestamp,
            )
        elif self.config.signature_version == 2:
            # the author that is signed is the one sent (a dropped header is signed as "")
            signature = sign_v2(self._key, message.message_id, headers.get(H_AUTHOR, ""),
                                timestamp, message.payload)
        else:
            signature = sign(self._key, timestamp, message.payload)
        headers[H_AUTHENTICATION] = signature
        try:
            # never follow a redirect: a 307/308 would re-send body and signature
            # to wherever the answer points
            body = self._open_blob(ref) if ref is not None else message.payload
            try:
                async with session.post(
                    self.config.url, data=body, headers=headers, allow_redirects=False
                ) as resp:
                    status = resp.status
                    await resp.read()
            finally:
                if not isinstance(body, bytes):
                    body.close()
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise TransientError(f"webhook unreachable: {type(exc).__name__}") from exc
        if 200 <= status < 300:
            return
        if 300 <= status < 400:
            raise MessageError(
                f"webhook answered HTTP {status}; redirects are not followed "
                "(configure the final URL)",
                code="WEBHOOK_REDIRECT",
            )
        if status >= 500 or status in TRANSIENT_STATUS:
            raise TransientError(f"webhook answered {status}")
        raise MessageError(f"webhook refused the message with HTTP {status}",
                           code="WEBHOOK_REJECTED")

    def _open_blob(self, ref: str) -> IO[bytes]:
        if self.context.blobs is None:
            raise MessageError("the message carries a container and this sink has no "
                               "blob store", code="CONTAINER_UNAVAILABLE")
        try:
            return self.context.blobs.open(ref)
        except FileNotFoundError as exc:
            raise MessageError("the message's container is not in the blob store",
                               code="CONTAINER_UNAVAILABLE") from exc
        except (OSError, ValueError) as exc:
            raise TransientError(f"blob store: {type(exc).__name__}") from exc

    def _sign_blob(self, ref: str, sha256: str, message_id: str, author: str,
                   timestamp: str) -> str:
        """The signature over the container as body (one pass over the blob, which
        must have the SHA-256 the message names)."""
        if self.config.signature_version == 2:
            head = signing_input_v2(message_id, author, timestamp, b"")
            prefix = V2_PREFIX
        else:
            head, prefix = timestamp.encode("ascii") + b".", ""
        mac = hmac.new(self._key.encode("utf-8"), head, hashlib.sha512)
        digest = hashlib.sha256()
        with self._open_blob(ref) as blob:
            while chunk := blob.read(1024 * 1024):
                mac.update(chunk)
                digest.update(chunk)
        if digest.hexdigest() != sha256:
            raise MessageError("the stored container does not match its SHA-256",
                               code="CONTAINER_CORRUPT")
        return prefix + mac.hexdigest()
