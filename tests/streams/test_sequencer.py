"""The ack sequencer releases events per partition strictly in offset order."""

from __future__ import annotations

import random

from hub.streams.sequencer import AckSequencer


def test_a_later_event_waits_for_an_earlier_unsettled_one() -> None:
    seq: AckSequencer[int] = AckSequencer()
    tickets = [seq.track("p0", offset, offset) for offset in range(10, 14)]
    assert seq.settle(tickets[1]) == []  # 11 done, 10 not: nothing may be acked
    assert seq.settle(tickets[2]) == []
    assert seq.oldest() == {"p0": 10}
    assert seq.settle(tickets[0]) == [10, 11, 12]
    assert seq.pending == 1
    assert seq.settle(tickets[3]) == [13]
    assert seq.pending == 0 and seq.oldest() == {}


def test_partitions_are_independent() -> None:
    seq: AckSequencer[str] = AckSequencer()
    a0 = seq.track("a", 0, "a0")
    b0 = seq.track("b", 0, "b0")
    b1 = seq.track("b", 1, "b1")
    assert seq.settle(b1) == []
    assert seq.settle(b0) == ["b0", "b1"]  # partition a's open event does not hold b
    assert seq.oldest() == {"a": 0}
    assert seq.settle(a0) == ["a0"]


def test_a_never_settled_event_holds_back_its_partition_for_ever() -> None:
    seq: AckSequencer[int] = AckSequencer()
    tickets = [seq.track(0, o, o) for o in range(5)]
    released = [x for t in tickets[1:] for x in seq.settle(t)]
    assert released == []
    assert seq.pending == 5


def test_any_settle_order_releases_each_event_once_in_offset_order() -> None:
    rng = random.Random(4)
    for _ in range(200):
        seq: AckSequencer[tuple[int, int]] = AckSequencer()
        tickets = [seq.track(p, o, (p, o)) for o in range(20) for p in range(3)]
        rng.shuffle(tickets)
        released: list[tuple[int, int]] = []
        for ticket in tickets:
            released.extend(seq.settle(ticket))
        assert sorted(released) == sorted((p, o) for o in range(20) for p in range(3))
        for p in range(3):
            assert [o for q, o in released if q == p] == list(range(20))
