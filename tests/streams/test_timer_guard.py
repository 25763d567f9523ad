"""A timer of the worker that raises is logged and tried again at its next tick; it
never crashes the worker (Faust stops the whole app when a timer raises)."""

from __future__ import annotations

import asyncio
import json
import logging

import pytest

from hub.logging import JsonFormatter
from hub.streams.app import guarded


def test_a_raising_timer_is_logged_and_returns(caplog: pytest.LogCaptureFixture) -> None:
    calls: list[int] = []

    async def tick() -> int:
        calls.append(1)
        raise ValueError("secret document value must not be logged")

    wrapped = guarded("hub.test.timer", tick)
    with caplog.at_level(logging.ERROR, logger="hub.streams"):
        assert asyncio.run(wrapped()) is None
        assert asyncio.run(wrapped()) is None
    assert len(calls) == 2
    records = [r for r in caplog.records if getattr(r, "code", None) == "TIMER_FAILED"]
    assert len(records) == 2
    assert records[0].stage == "hub.test.timer"  # type: ignore[attr-defined]
    assert records[0].reason == "ValueError"  # type: ignore[attr-defined]
    assert "secret" not in caplog.text
    # the JSON log line keeps the timer's name and the error type (allowed keys only)
    line = json.loads(JsonFormatter().format(records[0]))
    assert line["code"] == "TIMER_FAILED" and line["stage"] == "hub.test.timer"
    assert line["reason"] == "ValueError" and "dropped" not in line


def test_a_timer_that_works_returns_its_result() -> None:
    async def tick() -> int:
        return 3

    assert asyncio.run(guarded("hub.test.ok", tick)()) == 3


def test_cancellation_is_not_swallowed() -> None:
    async def tick() -> None:
        raise asyncio.CancelledError

    with pytest.raises(asyncio.CancelledError):
        asyncio.run(guarded("hub.test.cancel", tick)())
