"""The record timestamp the statistics and exchange records carry is the sender's
(CreateTime): never later than the worker's clock plus MAX_CLOCK_SKEW."""

from __future__ import annotations

from hub.streams.ingest import MAX_CLOCK_SKEW, record_time


def test_a_timestamp_in_the_past_or_now_is_kept() -> None:
    assert record_time(1_700_000_000.0, now=1_800_000_000.0) == 1_700_000_000.0
    assert record_time(1_800_000_010.0, now=1_800_000_000.0) == 1_800_000_010.0


def test_a_timestamp_far_in_the_future_is_clamped() -> None:
    now = 1_800_000_000.0
    assert record_time(4_000_000_000.0, now=now) == now + MAX_CLOCK_SKEW


def test_no_timestamp_is_the_clock() -> None:
    assert record_time(None, now=5.0) == 5.0
    assert record_time(-1.0, now=5.0) == 5.0
