"""Kafka record headers: the contract's header names and the builders of the hub's
output and dead-letter headers (one place for both; see docs/contracts.md).

Every dead letter, whether the worker's ingest flow or an outbound adapter writes it,
carries the same six headers in the same order (:func:`dead_letter_headers`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hub.core.filing import Filing

#: One Kafka record header as the clients take it.
Header = tuple[str, bytes]

#: Header names on hub output (contract).
H_MESSAGE_ID = "xoev-message-id"
H_STANDARD = "xoev-standard"
H_VERSION = "xoev-version"
H_MESSAGE_TYPE = "xoev-message-type"
H_AUTHOR = "xoev-author"
H_READER = "xoev-reader"
H_TRACEPARENT = "traceparent"
H_ERROR_STAGE = "xoev-error-stage"
H_ERROR_CODE = "xoev-error-code"
H_ERROR_DETAIL = "xoev-error-detail"
H_SOURCE_TOPIC = "xoev-source-topic"
H_SOURCE_PARTITION = "xoev-source-partition"
H_SOURCE_OFFSET = "xoev-source-offset"
H_REPLAY = "xoev-replay"
#: filing (hub.core.filing, decision 0015): the file-plan unit's Kennzeichen and its
#: retention (years or "unbefristet"); on every output of a filed message type
H_FILE_PLAN_UNIT = "xoev-file-plan-unit"
H_RETENTION_YEARS = "xoev-retention-years"

#: The longest ``xoev-error-detail`` (characters), whoever writes the dead letter.
DETAIL_MAX = 1000


def dead_letter_headers(
    stage: str,
    code: str,
    detail: str,
    topic: str,
    partition: int | None = None,
    offset: int | None = None,
    *,
    carried: Mapping[str, bytes] | Iterable[Header] = (),
    message_id: str | None = None,
) -> list[Header]:
    """The headers of a dead letter for the record at ``topic:partition:offset``.

    ``topic`` is the source: a topic, or the name of a source that is none (the
    portal's HTTP intake), which has no partition or offset. ``carried`` are headers
    of the failed record passed on in front (an outbound adapter keeps the output's
    headers); error and source headers of an earlier dead letter among them are
    dropped, so a replayed message fails with its own. ``message_id`` names the
    message when the record's key does not (the portal's application id).
    """
    pairs = carried.items() if isinstance(carried, Mapping) else carried
    headers = [
        (k, v) for k, v in pairs
        if not k.startswith("xoev-error-") and not k.startswith("xoev-source-")
    ]
    headers += [
        (H_ERROR_STAGE, stage.encode()),
        (H_ERROR_CODE, code.encode()),
        (H_ERROR_DETAIL, detail[:DETAIL_MAX].encode("utf-8", "replace")),
        (H_SOURCE_TOPIC, topic.encode()),
    ]
    if partition is not None and offset is not None:
        headers += [
            (H_SOURCE_PARTITION, str(partition).encode()),
            (H_SOURCE_OFFSET, str(offset).encode()),
        ]
    if message_id is not None:
        headers.append((H_MESSAGE_ID, message_id.encode()))
    return headers


def dead_letter_key(topic: str, partition: int, offset: int) -> bytes:
    """The key of a dead letter: the source record's ``topic:partition:offset``."""
    return f"{topic}:{partition}:{offset}".encode()


@lru_cache(maxsize=1024)
def filing_headers(filing: Filing) -> tuple[Header, ...]:
    """The file-plan unit and retention of a filed message type, encoded once per type."""
    return (
        (H_FILE_PLAN_UNIT, filing.unit.encode()),
        (H_RETENTION_YEARS, filing.retention_years.encode()),
    )
