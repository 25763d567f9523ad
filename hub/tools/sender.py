"""Sending XÖV files to an authority's inbound topic (``xoev-hub send``).

The bytes are produced unchanged to ``xoev.in.<authority>`` with ``acks=all``
and an idempotent producer. The record key is the message's nachrichtenUUID
when the file is well-formed XML and carries one (read with the hub's header
reader after the hardened parse: no DTD, no entity expansion, no network);
otherwise the record
has no key and the hub dead-letters or routes it on its own merits. Each record
carries a fresh W3C ``traceparent`` header so the message's trace starts here.
"""

from __future__ import annotations

import re
import secrets
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from hub.core.header import message_id_of
from hub.core.xmlsafe import Limits
from hub.errors import ConfigError, TransientError
from hub.kafka.config import admin_config, producer_config
from hub.kafka.headers import H_TRACEPARENT
from hub.kafka.topics import TopicNames

if TYPE_CHECKING:
    from hub.core.region import Region
    from hub.settings import Settings

__all__ = ["Input", "SendResult", "message_key", "new_traceparent", "read_inputs", "send"]

UUID_RE = re.compile(
    r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
)
STDIN = "-"


@dataclass(frozen=True)
class Input:
    """One message to send: where it came from and its bytes."""

    name: str
    data: bytes


@dataclass(frozen=True)
class SendResult:
    """Where one message landed (or why it did not)."""

    name: str
    topic: str
    size: int
    key: str | None
    partition: int | None = None
    offset: int | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def message_key(data: bytes, limits: Limits | None = None) -> str | None:
    """The nachrichtenUUID of a well-formed XÖV message, or None.

    Read by :func:`hub.core.header.message_id_of`, the reader the worker, the
    pre-check and ``dlq`` use (hardened parse; the g2g header's
    ``identifikation.nachricht/nachrichtenUUID``, else the first
    ``nachrichtenUUID`` element; its whole string value, comments skipped). The
    value must look like a UUID. XML that does not parse within ``limits``
    (default :class:`hub.core.xmlsafe.Limits`) yields None.
    """
    found = message_id_of(data, limits)
    return found if found is not None and UUID_RE.match(found) else None


def new_traceparent() -> str:
    """A fresh W3C trace context header value (sampled)."""
    return f"00-{secrets.token_hex(16)}-{secrets.token_hex(8)}-01"


def read_inputs(paths: Sequence[str], stdin: BinaryIO | None = None) -> list[Input]:
    """Read every file first, so a missing one stops the command before anything is sent."""
    if not paths:
        raise ConfigError("no files given (use '-' to read standard input)")
    inputs: list[Input] = []
    for name in paths:
        if name == STDIN:
            if any(i.name == "<stdin>" for i in inputs):
                raise ConfigError("'-' (standard input) may be given only once")
            stream = stdin if stdin is not None else sys.stdin.buffer
            inputs.append(Input("<stdin>", stream.read()))
            continue
        path = Path(name)
        try:
            inputs.append(Input(name, path.read_bytes()))
        except FileNotFoundError:
            raise ConfigError(f"file not found: {name}") from None
        except IsADirectoryError:
            raise ConfigError(f"is a directory, not a file: {name}") from None
        except OSError as exc:
            raise ConfigError(f"cannot read {name}: {exc.strerror or exc}") from exc
    return inputs


def send(
    settings: Settings,
    region: Region,
    authority_id: str,
    inputs: Sequence[Input],
    *,
    on_result: Callable[[SendResult], None] | None = None,
) -> list[SendResult]:
    """Produce each input to the authority's inbound topic; one result per input.

    Raises ConfigError for an unknown authority or a topic that does not exist
    (``topics apply`` creates it; nothing is auto-created here) and
    TransientError when the cluster is unreachable. A record the broker
    refuses (e.g. too large) becomes a result with ``error`` set.
    """
    from kafka import KafkaAdminClient, KafkaProducer
    from kafka.errors import KafkaError

    authority = region.get(authority_id)
    topic = TopicNames(settings.topic_prefix).inbound(authority.id)
    try:
        admin = KafkaAdminClient(**admin_config(settings), bootstrap_timeout_ms=15000)
        try:
            exists = topic in admin.list_topics()
        finally:
            admin.close()
    except KafkaError as exc:
        raise TransientError(f"cannot reach Kafka at {settings.bootstrap}: {exc}") from exc
    if not exists:
        raise ConfigError(
            f"topic {topic} does not exist at {settings.bootstrap}; run 'xoev-hub topics apply'"
        )
    try:
        producer = KafkaProducer(
            **producer_config(settings), acks="all", enable_idempotence=True, linger_ms=5
        )
    except KafkaError as exc:
        raise TransientError(f"cannot reach Kafka at {settings.bootstrap}: {exc}") from exc
    results: list[SendResult] = []
    limits = Limits.from_settings(settings)
    try:
        pending = []
        for item in inputs:
            key = message_key(item.data, limits)
            headers = [(H_TRACEPARENT, new_traceparent().encode())]
            try:
                future = producer.send(
                    topic, value=item.data, key=key.encode() if key else None, headers=headers
                )
            except KafkaError as exc:
                future = exc
            pending.append((item, key, future))
        for item, key, future in pending:
            base = SendResult(item.name, topic, len(item.data), key)
            if isinstance(future, Exception):
                result = _failed(base, future)
            else:
                try:
                    meta = future.get(timeout=60)
                    result = SendResult(base.name, topic, base.size, key, meta.partition,
                                        meta.offset)
                except KafkaError as exc:
                    result = _failed(base, exc)
            results.append(result)
            if on_result is not None:
                on_result(result)
    finally:
        producer.close(timeout=10)
    return results


def _failed(base: SendResult, exc: Exception) -> SendResult:
    return SendResult(base.name, base.topic, base.size, base.key,
                      error=f"{type(exc).__name__}: {exc}")
