"""The example adapter passes the hub's contract kit, plus its own tests."""

from __future__ import annotations

import json
from pathlib import Path

from xoev_hub_adapter_example import JsonlFileSink, read_jsonl
from xoev_hub_adapter_example.harness import JsonlFileSinkHarness

from hub.adapters import AdapterContext, AdapterRegistry
from hub.testing import outbound, run


class TestJsonlFileSink(JsonlFileSinkHarness):
    """Every test of hub.testing.SinkContract, with this adapter's fixtures."""


def test_registered_through_the_entry_point() -> None:
    assert AdapterRegistry.discover().load("jsonl-file") is JsonlFileSink


def test_lines_carry_id_authority_headers_and_payload(tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"
    sink = JsonlFileSink.create({"path": str(path)}, AdapterContext("wuppertal.standesamt", "j"))
    message = outbound(1, "wuppertal.standesamt")

    async def scenario() -> None:
        await sink.start()
        await sink.deliver([message])
        await sink.stop()

    run(scenario())
    (line,) = path.read_text(encoding="utf-8").splitlines()
    record = json.loads(line)
    assert record["message_id"] == message.message_id
    assert record["authority_id"] == "wuppertal.standesamt"
    assert record["headers"]["xoev-message-id"] == message.message_id


def test_a_torn_last_line_is_ignored_and_not_lost_on_redelivery(tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"
    message = outbound(2)
    path.write_text('{"message_id": "torn', encoding="utf-8")  # crash mid-write
    sink = JsonlFileSink.create({"path": str(path)}, AdapterContext("a.b", "j"))

    async def scenario() -> None:
        await sink.start()
        await sink.deliver([message])
        await sink.stop()

    run(scenario())
    assert read_jsonl(path) == {message.message_id: message.payload}
    assert path.read_text(encoding="utf-8").count("\n") == 2
