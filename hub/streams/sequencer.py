"""Acks in offset order: an event becomes committable only after every earlier one.

faust-streaming 0.15.3 decides the offset to commit from the set of acked offsets
(``Consumer._new_offset``), and its gap check is off by one and skipped before the
first commit (upstream issue 606): with offset 10 unacked and 11, 12 acked it
commits 13, and offset 10 is never read again. The ingest flow settles events out
of order by design — a duplicate at once, a delivered message when the broker
acknowledged its outputs, which land on other partitions at other times — so it
never hands Faust an ack directly. It tracks each event here, in the order the
stream yields them, and settles it when its outputs are acknowledged; the
sequencer releases events per partition strictly in offset order, so the acked
set Faust sees never has a hole.

The sequencer is plain data (no Faust, no asyncio): a partition key, an offset and
an item to hand back. A settled event behind an unsettled one waits; an event that
is never settled (its output failed and the worker is stopping) holds back every
later event of its partition, which is exactly what at-least-once needs.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

__all__ = ["AckSequencer", "Ticket"]

T = TypeVar("T")


@dataclass(eq=False)
class Ticket(Generic[T]):
    """One tracked event: settled once its effects are durable."""

    partition: Hashable
    offset: int
    item: T
    settled: bool = field(default=False)


class AckSequencer(Generic[T]):
    """Releases settled items per partition in the order they were tracked."""

    def __init__(self) -> None:
        self._queues: dict[Hashable, deque[Ticket[T]]] = {}

    def track(self, partition: Hashable, offset: int, item: T) -> Ticket[T]:
        """Register the next event of ``partition`` (call in stream order)."""
        ticket = Ticket(partition, offset, item)
        self._queues.setdefault(partition, deque()).append(ticket)
        return ticket

    def settle(self, ticket: Ticket[T]) -> list[T]:
        """Mark ``ticket`` done; return the items that may be acked now, in order."""
        ticket.settled = True
        queue = self._queues.get(ticket.partition)
        released: list[T] = []
        while queue and queue[0].settled:
            released.append(queue.popleft().item)
        if queue is not None and not queue:
            del self._queues[ticket.partition]
        return released

    @property
    def pending(self) -> int:
        """Events tracked and not yet released (settled or not)."""
        return sum(len(q) for q in self._queues.values())

    def oldest(self) -> dict[Hashable, int]:
        """Per partition, the offset of the oldest event not yet released."""
        return {p: q[0].offset for p, q in self._queues.items() if q}
