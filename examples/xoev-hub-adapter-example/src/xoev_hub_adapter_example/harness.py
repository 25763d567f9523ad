"""The contract harness of ``jsonl-file`` (needs pytest): the fixtures that
``hub.testing.SinkContract`` asks for."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

from hub.adapters import AdapterContext, Sink
from hub.testing import AUTHORITY, SinkContract
from xoev_hub_adapter_example import JsonlFileSink, read_jsonl

CONTEXT = AdapterContext(AUTHORITY, "jsonl")


class JsonlFileSinkHarness(SinkContract):
    @pytest.fixture
    def valid_config(self, tmp_path: Path) -> dict[str, Any]:
        return {"path": str(tmp_path / "mailbox" / "messages.jsonl")}

    @pytest.fixture
    def adapter_factory(self, valid_config: dict[str, Any]) -> Callable[[], Sink]:
        return lambda: JsonlFileSink.create(valid_config, CONTEXT)

    @pytest.fixture
    def read_back(self, valid_config: dict[str, Any]) -> Callable[[], Mapping[str, bytes]]:
        return lambda: read_jsonl(Path(valid_config["path"]))

    @pytest.fixture
    def make_unreachable(self, tmp_path: Path) -> Callable[[], Sink]:
        blocker = tmp_path / "a-file"
        blocker.write_text("not a folder")
        return lambda: JsonlFileSink.create({"path": str(blocker / "messages.jsonl")}, CONTEXT)
