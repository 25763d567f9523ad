"""The pinned faust-streaming's commit decision, which the ack sequencer exists for.

faust-streaming 0.15.3 computes the offset to commit in ``Consumer._new_offset``
from the acked offsets. Its gap check is off by one and skipped before the first
commit (upstream issue 606, fix not merged): acked offsets 11 and 12 with 10
unacked commit 13. The hub therefore acks strictly in offset order
(:mod:`hub.streams.sequencer`). If this test starts failing, the pinned Faust
changed that behaviour: re-read docs/decisions/0004 before relying on it either way.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from faust.transport.consumer import Consumer
from faust.transport.drivers.aiokafka import Consumer as AIOKafkaConsumer
from faust.types import TP
from intervaltree import IntervalTree

TOPIC = TP("xoev.in.x", 0)


def bare_consumer(committed: int | None, acked: list[int]) -> Any:
    # the worker's consumer class; only its commit bookkeeping is used
    consumer: Any = object.__new__(AIOKafkaConsumer)
    consumer._gap = defaultdict(IntervalTree)
    consumer._acked = defaultdict(list)
    consumer._acked_index = defaultdict(set)
    consumer._committed_offset = defaultdict(lambda: None)
    consumer._committed_offset[TOPIC] = committed
    consumer._acked[TOPIC] = list(acked)
    consumer._acked_index[TOPIC] = set(acked)
    return consumer


def test_pinned_faust_commits_past_a_hole_after_the_committed_offset() -> None:
    # committed 10 means offset 10 is the next to read; 10 is not acked
    assert Consumer._new_offset(bare_consumer(10, [11, 12]), TOPIC) == 13


def test_pinned_faust_commits_past_a_hole_before_the_first_commit() -> None:
    assert Consumer._new_offset(bare_consumer(None, [3, 4]), TOPIC) == 5


def test_contiguous_acks_commit_exactly_their_end() -> None:
    assert Consumer._new_offset(bare_consumer(10, [10, 11, 12]), TOPIC) == 13
