"""Which messages the hub has delivered: per author, by nachrichtenUUID, for a while.

A message is identified by its author's DVDV key and its nachrichtenUUID: the
author is already proven to be the sending authority (the author check runs
before this), so one authority's ids cannot shadow another's. For each id the
hub remembers the payload's SHA-256, where it first saw it (inbound topic,
partition, offset) and when. A later message with the same key is

* a **replay** when it is the very record first seen (same topic, partition and
  offset): processed before a crash or a rebalance but not committed, so it is
  delivered again — its outputs may be lost even though the entry survived;
* a **duplicate** when its payload is the same: counted, not delivered;
* a **conflict** when its payload differs: dead-lettered as
  ``DUPLICATE_ID_CONFLICT`` (two different messages under one id must not
  silently become one);
* **new** when the entry is older than the retention window: ids are remembered
  for ``HUB_DEDUPE_RETENTION`` (decision 0006) and then forgotten.

The store is any mutable mapping of bytes to bytes — the worker passes its Faust
table, tests a dict. The worker writes an entry (:meth:`Dedupe.entry`) to its
table and the table's changelog itself, on the source event's partition, so the
changelog write settles together with the message's outputs.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, MutableMapping
from dataclasses import dataclass

__all__ = ["Dedupe", "Entry", "Verdict", "dedupe_key"]

SEPARATOR = "|"


class Verdict(enum.Enum):
    NEW = "new"
    REPLAY = "replay"
    DUPLICATE = "duplicate"
    CONFLICT = "conflict"


def dedupe_key(author_key: str, message_id: str) -> bytes:
    """The table key: ``<author DVDV key>|<nachrichtenUUID>``."""
    return f"{author_key}{SEPARATOR}{message_id}".encode()


@dataclass(frozen=True)
class Entry:
    """What the table keeps per id (no personal data: a hash, an offset, a time)."""

    sha256: str
    where: str  # topic:partition:offset of the first delivery
    at: float  # epoch seconds of the first delivery

    def encode(self) -> bytes:
        return f"{self.sha256}{SEPARATOR}{self.where}{SEPARATOR}{self.at:.3f}".encode()

    @classmethod
    def decode(cls, raw: bytes | None) -> Entry | None:
        """The entry, or None for a missing or unreadable value (an older format)."""
        if not raw:
            return None
        parts = raw.decode("ascii", "replace").split(SEPARATOR)
        if len(parts) != 3 or len(parts[0]) != 64:
            return None
        try:
            return cls(parts[0], parts[1], float(parts[2]))
        except ValueError:
            return None


class Dedupe:
    """Decide new / replay / duplicate / conflict against a bytes→bytes store."""

    def __init__(
        self,
        store: MutableMapping[bytes, bytes],
        retention_seconds: float,
        clock: Callable[[], float],
    ) -> None:
        self.store = store
        self.retention = retention_seconds
        self.clock = clock

    def check(self, key: bytes, sha256: str, where: str) -> tuple[Verdict, Entry | None]:
        entry = Entry.decode(self.store.get(key))
        if entry is None or self.clock() - entry.at > self.retention:
            return Verdict.NEW, entry
        if entry.where == where:
            return Verdict.REPLAY, entry
        if entry.sha256 == sha256:
            return Verdict.DUPLICATE, entry
        return Verdict.CONFLICT, entry

    def entry(self, sha256: str, where: str) -> bytes:
        """The stored value for a first delivery now."""
        return Entry(sha256, where, self.clock()).encode()

    def expired(self, items: Iterable[tuple[bytes, bytes]]) -> list[bytes]:
        """Keys whose entries are past the retention window or unreadable."""
        now = self.clock()
        out = []
        for key, raw in items:
            entry = Entry.decode(raw)
            if entry is None or now - entry.at > self.retention:
                out.append(key)
        return out
