"""When the web port, adapters and portal task ends on an error, the worker says why."""

from __future__ import annotations

import asyncio
import logging

import pytest

from hub.errors import ConfigError
from hub.ops.worker import operations_ended


def _failed(exc: BaseException) -> asyncio.Future[None]:
    async def run() -> None:
        raise exc

    async def make() -> asyncio.Future[None]:
        task = asyncio.ensure_future(run())
        await asyncio.wait([task])
        return task

    return asyncio.run(make())


def test_a_config_error_is_logged_and_printed(
    caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    task = _failed(ConfigError("HUB_PORTAL_TOKEN is not set"))
    with caplog.at_level(logging.ERROR, logger="hub.worker"):
        operations_ended(task)
    record = next(r for r in caplog.records if getattr(r, "event", "") == "operations_failed")
    assert record.reason == "ConfigError"  # type: ignore[attr-defined]
    assert "HUB_PORTAL_TOKEN is not set" in capsys.readouterr().err


def test_another_error_is_logged_by_type_only(
    caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    task = _failed(ValueError("Erika Mustermann"))
    with caplog.at_level(logging.ERROR, logger="hub.worker"):
        operations_ended(task)
    record = next(r for r in caplog.records if getattr(r, "event", "") == "operations_failed")
    assert record.reason == "ValueError"  # type: ignore[attr-defined]
    assert "Mustermann" not in record.getMessage() and "Mustermann" not in capsys.readouterr().err
