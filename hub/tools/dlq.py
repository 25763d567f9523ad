"""Dead-letter tooling: list, show and replay entries of ``xoev.deadletter``.

An entry's id is its key, the source coordinates ``<topic>:<partition>:<offset>``
of the message that failed. ``replay`` re-submits the original bytes, unchanged,
to the inbound topic they came from, with the header ``xoev-replay`` naming the
entry. An entry whose replay is already on its inbound topic is not sent again,
and an entry that did not come from an inbound topic is skipped and reported
while the others are replayed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cached_property

from hub.errors import ConfigError
from hub.kafka.config import producer_config
from hub.kafka.headers import (
    H_ERROR_CODE,
    H_ERROR_DETAIL,
    H_ERROR_STAGE,
    H_REPLAY,
    H_SOURCE_OFFSET,
    H_SOURCE_PARTITION,
    H_SOURCE_TOPIC,
)
from hub.kafka.reading import read_to_end
from hub.kafka.topics import TopicNames
from hub.settings import Settings


@dataclass(frozen=True)
class DeadLetterEntry:
    """One record of the dead-letter topic as read back: where it failed and why."""

    id: str
    timestamp: datetime
    partition: int
    offset: int
    stage: str
    code: str
    detail: str
    source_topic: str
    source_partition: int | None
    source_offset: int | None
    replay_of: str | None
    headers: dict[str, bytes]
    payload: bytes

    @cached_property
    def message_id(self) -> str:
        """The payload's nachrichtenUUID as ``send`` keys it (:func:`hub.tools.sender.message_key`,
        the hub's one header reader), ``-`` when it has none."""
        from hub.tools.sender import message_key

        return message_key(self.payload) or "-"


def _text(headers: dict[str, bytes], name: str) -> str:
    return headers.get(name, b"").decode("utf-8", "replace")


def _int(headers: dict[str, bytes], name: str) -> int | None:
    value = _text(headers, name)
    return int(value) if value.isdigit() else None


def read_dead_letters(
    settings: Settings,
    *,
    since: datetime | None = None,
    code: str | None = None,
    timeout: float = 5.0,
) -> Iterator[DeadLetterEntry]:
    """Every entry of the dead-letter topic from the beginning (optionally filtered)."""
    topic = TopicNames(settings.topic_prefix).deadletter
    since_ms = int(since.timestamp() * 1000) if since is not None else None
    for record in read_to_end(settings, [topic], since_ms, timeout, missing_is_error=True):
        entry = _entry(record)
        if code is None or entry.code == code:
            yield entry


def _entry(record: object) -> DeadLetterEntry:
    headers = {k: bytes(v or b"") for k, v in record.headers}  # type: ignore[attr-defined]
    key = record.key.decode("utf-8", "replace") if record.key else ""  # type: ignore[attr-defined]
    return DeadLetterEntry(
        id=key,
        timestamp=datetime.fromtimestamp(record.timestamp / 1000, UTC),  # type: ignore[attr-defined]
        partition=record.partition,  # type: ignore[attr-defined]
        offset=record.offset,  # type: ignore[attr-defined]
        stage=_text(headers, H_ERROR_STAGE),
        code=_text(headers, H_ERROR_CODE),
        detail=_text(headers, H_ERROR_DETAIL),
        source_topic=_text(headers, H_SOURCE_TOPIC),
        source_partition=_int(headers, H_SOURCE_PARTITION),
        source_offset=_int(headers, H_SOURCE_OFFSET),
        replay_of=_text(headers, H_REPLAY) or None,
        headers=headers,
        payload=record.value or b"",  # type: ignore[attr-defined]
    )


def replay(
    settings: Settings,
    entries: list[DeadLetterEntry],
    *,
    progress: Callable[[DeadLetterEntry, str], None] | None = None,
) -> int:
    """Re-submit entries to their source inbound topics. Returns how many were sent.

    ``progress(entry, outcome)`` hears of every entry: ``replayed to <topic>``, or
    ``skipped: …`` for an entry that did not come from an inbound topic (the others
    are still replayed) and for one whose replay is already on its inbound topic
    (a replay carries ``xoev-replay: <entry id>``): replaying a selection twice
    sends nothing twice.
    """
    from kafka import KafkaProducer

    names = TopicNames(settings.topic_prefix)
    inbound = [e for e in entries if names.authority_of_inbound(e.source_topic) is not None]
    done = replayed_before(settings, inbound)
    producer = KafkaProducer(**producer_config(settings), acks="all")
    sent = 0
    try:
        for entry in entries:
            if names.authority_of_inbound(entry.source_topic) is None:
                outcome = f"skipped: came from {entry.source_topic or '?'!r}, not an inbound topic"
            elif entry.id in done:
                outcome = "skipped: replayed before"
            else:
                headers = [(H_REPLAY, entry.id.encode())]
                key = entry.message_id.encode() if entry.message_id != "-" else None
                producer.send(
                    entry.source_topic, key=key, value=entry.payload, headers=headers
                ).get(timeout=30)
                done.add(entry.id)
                sent += 1
                outcome = f"replayed to {entry.source_topic}"
            if progress:
                progress(entry, outcome)
    finally:
        producer.close()
    return sent


def replayed_before(
    settings: Settings,
    entries: list[DeadLetterEntry],
    *,
    timeout: float = 30.0,
) -> set[str]:
    """Ids of ``entries`` whose replay is already on their inbound topic (read from
    the oldest entry's time on: a replay is always younger than its dead letter)."""
    if not entries:
        return set()
    wanted = {e.id for e in entries}
    since_ms = int(min(e.timestamp for e in entries).timestamp() * 1000)
    topics = sorted({e.source_topic for e in entries})
    found: set[str] = set()
    for record in read_to_end(settings, topics, since_ms, timeout):
        for name, value in record.headers or ():
            if name == H_REPLAY and value:
                replayed = bytes(value).decode("utf-8", "replace")
                if replayed in wanted:
                    found.add(replayed)
    return found


def parse_since(text: str) -> datetime:
    """``--since``: ISO 8601 (``2026-11-25T10:00``) or a duration (``90m``, ``2h``, ``7d``)."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    if text and text[-1] in units and text[:-1].isdigit():
        return datetime.now(UTC).replace(microsecond=0) - timedelta(
            seconds=int(text[:-1]) * units[text[-1]]
        )
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise ConfigError(f"--since {text!r}: use ISO 8601 or a duration like 90m, 2h, 7d") from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
