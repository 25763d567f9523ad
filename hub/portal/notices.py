"""Notices to the applicant's Postfach: the authorities' decisions and the hub's
rejections, and the Postfach sink that delivers them.

**Inbound** (an authority on ``xoev.notices.<authority>``, key: application id):
a JSON object (docs/serviceportal.md)::

    {"application_id": "SG-2026-000123", "notice_id": "SG-BESCHEID-77",
     "text": "Ihre Meldebescheinigung ...", "pdf_base64": "JVBERi0...",
     "filename": "bescheid.pdf"}

``notice_id`` is optional (default ``<application id>:notice``); at least one
of ``text`` and ``pdf_base64`` is required. :func:`parse_notice` checks it.

**Outbound** (:class:`PostfachSink`): one ``POST`` per notice to the configured
Postfach URL with a JSON body (:meth:`PostfachNotice.body`) signed exactly as the
webhook sink's version 2 (:func:`hub.adapters.webhook.sign_v2`: message id =
notice id, author = the authority id, or ``hub`` for the hub's own rejection
notices); a redirect is never followed; 408/425/429/5xx and connection errors
are retried ``attempts`` times with doubling backoff; any other status is final.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
import os
import re
import time
from dataclasses import dataclass

import aiohttp

from hub.adapters.webhook import (
    H_AUTHENTICATION,
    H_AUTHOR,
    H_MESSAGE_ID,
    H_TIMESTAMP,
    TRANSIENT_STATUS,
    sign_v2,
)
from hub.errors import ConfigError
from hub.logging import register_secret
from hub.portal.catalog import PostfachConfig

__all__ = [
    "HUB_AUTHOR",
    "REJECTION_TEXT",
    "DeliveryFailed",
    "NoticeError",
    "PostfachNotice",
    "PostfachSink",
    "parse_notice",
]

log = logging.getLogger("hub.portal")

HUB_AUTHOR = "hub"
ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")
FILENAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
FIELDS = frozenset({"application_id", "notice_id", "text", "pdf_base64", "filename"})
MAX_TEXT_CHARS = 64 * 1024

#: the hub's rejection notices, per reason (German: they go to the citizen)
REJECTION_TEXT = {
    "PAYMENT_TIMEOUT": "Ihr Antrag {id} wurde nicht weitergeleitet: die Gebühr ist nicht "
                       "innerhalb der Frist bezahlt worden.",
    "PAYMENT_FAILED": "Ihr Antrag {id} wurde nicht weitergeleitet: die Zahlung ist "
                      "fehlgeschlagen.",
    "PAYMENT_CANCELED": "Ihr Antrag {id} wurde nicht weitergeleitet: die Zahlung wurde "
                        "abgebrochen.",
    "PAYMENT_AMOUNT_MISMATCH": "Ihr Antrag {id} wurde nicht weitergeleitet: der gezahlte "
                               "Betrag entspricht nicht der Gebühr. Zu viel Gezahltes wird "
                               "erstattet.",
    "APPLICATION_DELIVERY_FAILED": "Ihr Antrag {id} konnte nicht an die Behörde übermittelt "
                                   "werden. Bitte stellen Sie ihn erneut.",
}


class NoticeError(ValueError):
    """An inbound notice the hub cannot use (dead-lettered with ``code``)."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


class DeliveryFailed(Exception):
    """The Postfach did not take a notice (after the retries, or refused at once)."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


@dataclass(frozen=True)
class Notice:
    application_id: str
    notice_id: str
    text: str | None
    pdf_base64: str | None
    filename: str | None


def parse_notice(value: bytes | None) -> Notice:
    """The notice in a record value; NoticeError (NOTICE_INVALID) otherwise."""
    try:
        data = json.loads(value or b"")
    except (ValueError, UnicodeDecodeError):
        raise NoticeError("NOTICE_INVALID", "the notice is not JSON") from None
    if not isinstance(data, dict):
        raise NoticeError("NOTICE_INVALID", "the notice must be a JSON object")
    unknown = sorted(set(data) - FIELDS)
    if unknown:
        raise NoticeError("NOTICE_INVALID", f"unknown member /{str(unknown[0])[:40]}")
    application_id = data.get("application_id")
    if not isinstance(application_id, str) or not ID_RE.match(application_id):
        raise NoticeError("NOTICE_INVALID", "application_id is missing or malformed")
    notice_id = data.get("notice_id", f"{application_id}:notice")
    if not isinstance(notice_id, str) or not ID_RE.match(notice_id):
        raise NoticeError("NOTICE_INVALID", "notice_id is malformed")
    text, pdf, filename = data.get("text"), data.get("pdf_base64"), data.get("filename")
    if text is None and pdf is None:
        raise NoticeError("NOTICE_INVALID", "the notice has neither text nor pdf_base64")
    if text is not None and (not isinstance(text, str) or len(text) > MAX_TEXT_CHARS):
        raise NoticeError("NOTICE_INVALID", f"text must be a string of at most "
                          f"{MAX_TEXT_CHARS} characters")
    if pdf is not None:
        try:
            raw = base64.b64decode(pdf, validate=True) if isinstance(pdf, str) else b""
        except (binascii.Error, ValueError):
            raw = b""
        if not raw.startswith(b"%PDF-"):
            raise NoticeError("NOTICE_INVALID", "pdf_base64 is not a base64-encoded PDF")
    if filename is not None and (not isinstance(filename, str)
                                 or not FILENAME_RE.match(filename)):
        raise NoticeError("NOTICE_INVALID", "filename is malformed")
    return Notice(application_id, notice_id, text, pdf, filename)


@dataclass(frozen=True)
class PostfachNotice:
    """One notice for one applicant's Postfach."""

    notice_id: str
    application_id: str
    recipient: str
    service: str
    authority: str | None
    author: str
    kind: str  # "decision" or "rejection"
    reason: str | None = None
    text: str | None = None
    pdf_base64: str | None = None
    filename: str | None = None

    @classmethod
    def rejection(cls, application_id: str, recipient: str, service: str,
                  authority: str | None, reason: str) -> PostfachNotice:
        template = REJECTION_TEXT.get(reason, "Ihr Antrag {id} wurde abgelehnt ({reason}).")
        return cls(
            notice_id=f"{application_id}:rejection", application_id=application_id,
            recipient=recipient, service=service, authority=authority, author=HUB_AUTHOR,
            kind="rejection", reason=reason,
            text=template.format(id=application_id, reason=reason),
        )

    def body(self) -> bytes:
        return json.dumps({
            "notice_id": self.notice_id, "application_id": self.application_id,
            "recipient": self.recipient, "service": self.service,
            "authority": self.authority, "kind": self.kind, "reason": self.reason,
            "text": self.text, "pdf_base64": self.pdf_base64, "filename": self.filename,
        }, ensure_ascii=False).encode("utf-8")


class PostfachSink:
    """Signed POSTs of notices to the Postfach; see the module docstring."""

    def __init__(self, config: PostfachConfig) -> None:
        self.config = config
        secret = os.environ.get(config.secret_env)
        if not secret:
            raise ConfigError(f"portal postfach: environment variable {config.secret_env} "
                              "is not set")
        register_secret(secret)
        self._key = secret
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.config.timeout_seconds))

    async def stop(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    async def deliver(self, notice: PostfachNotice) -> int:
        """POST ``notice`` until it is taken; the number of attempts used.
        DeliveryFailed when refused or after the last attempt."""
        await self.start()
        delay = self.config.backoff_seconds
        reason = ""
        for attempt in range(1, self.config.attempts + 1):
            transient, reason = await self._post(notice)
            if not transient:
                return attempt
            log.info("postfach attempt failed", extra={
                "event": "postfach_retry", "message_id": notice.application_id,
                "attempt": attempt, "reason": reason})
            if attempt < self.config.attempts:
                await asyncio.sleep(delay)
                delay = min(delay * 2, 300.0)
        raise DeliveryFailed("POSTFACH_UNREACHABLE",
                             f"the Postfach did not take the notice in "
                             f"{self.config.attempts} attempts ({reason})")

    async def _post(self, notice: PostfachNotice) -> tuple[bool, str]:
        """(transient failure?, reason); DeliveryFailed for a final refusal."""
        assert self._session is not None
        body = notice.body()
        timestamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json", H_MESSAGE_ID: notice.notice_id,
            H_AUTHOR: notice.author, H_TIMESTAMP: timestamp,
            H_AUTHENTICATION: sign_v2(self._key, notice.notice_id, notice.author, timestamp,
                                      body),
        }
        try:
            async with self._session.post(self.config.url, data=body, headers=headers,
                                          allow_redirects=False) as response:
                status = response.status
                await response.read()
        except (aiohttp.ClientError, TimeoutError) as exc:
            return True, type(exc).__name__
        if 200 <= status < 300:
            return False, ""
        if 300 <= status < 400:
            raise DeliveryFailed("POSTFACH_REDIRECT", f"the Postfach answered HTTP {status}; "
                                 "redirects are not followed")
        if status >= 500 or status in TRANSIENT_STATUS:
            return True, f"HTTP {status}"
        raise DeliveryFailed("POSTFACH_REJECTED", f"the Postfach refused the notice with "
                             f"HTTP {status}")
