"""JSON log lines carry whitelisted keys only."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from hub.errors import SchemaValidationError
from hub.logging import configure_logging, log_event


@pytest.fixture
def stream() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    buffer = io.StringIO()
    configure_logging("DEBUG", buffer)
    yield buffer
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in saved[0]:
        root.addHandler(handler)
    root.setLevel(saved[1])


def lines(buffer: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in buffer.getvalue().splitlines()]


def test_event_with_whitelisted_fields(stream: io.StringIO) -> None:
    log = logging.getLogger("hub.streams.ingest")
    log_event(log, "delivered", message_id="6f1c", source="solingen.meldebehoerde",
              destination="wuppertal.meldebehoerde", code="0201", partition=2)
    (line,) = lines(stream)
    assert line["event"] == "delivered" and line["msg"] == "delivered"
    assert line["message_id"] == "6f1c" and line["partition"] == 2
    assert line["level"] == "INFO" and line["logger"] == "hub.streams.ingest"
    assert str(line["time"]).endswith("Z")


def test_unknown_keys_are_dropped_by_name(stream: io.StringIO) -> None:
    log = logging.getLogger("hub.streams.ingest")
    log.warning("rejected", extra={"event": "rejected", "familienname": "Mustermann",
                                   "geburtsdatum": "1970-01-01"})
    raw = stream.getvalue()
    assert "Mustermann" not in raw and "1970-01-01" not in raw
    (line,) = lines(stream)
    assert line["dropped"] == ["familienname", "geburtsdatum"]


def test_hub_messages_are_not_interpolated(stream: io.StringIO) -> None:
    logging.getLogger("hub.x").info("person %s moved", "Erika Mustermann")
    logging.getLogger("aiokafka.consumer").info("joined group %s", "xoev-hub")
    hub_line, kafka_line = lines(stream)
    assert hub_line["msg"] == "person %s moved"
    assert kafka_line["msg"] == "joined group xoev-hub"
    assert "Erika" not in stream.getvalue()


def test_exceptions_keep_type_and_frames_but_not_foreign_text(stream: io.StringIO) -> None:
    log = logging.getLogger("hub.x")
    try:
        raise ValueError("Element 'familienname': 'Mustermann' is not valid")
    except ValueError:
        log.exception("failed", extra={"event": "failed"})
    try:
        raise SchemaValidationError("element nachname missing", code="SCHEMA_INVALID")
    except SchemaValidationError:
        log.exception("failed", extra={"event": "failed"})
    foreign, own = lines(stream)
    assert "Mustermann" not in stream.getvalue()
    assert foreign["error"]["type"] == "ValueError"  # type: ignore[index]
    assert "detail" not in foreign["error"]  # type: ignore[operator]
    assert any("test_logging.py" in f for f in foreign["error"]["frames"])  # type: ignore[index]
    assert own["error"]["code"] == "SCHEMA_INVALID"  # type: ignore[index]


def test_values_are_bounded_and_plain(stream: io.StringIO) -> None:
    log_event(logging.getLogger("hub.x"), "x", reason="r" * 1000, code=object())
    (line,) = lines(stream)
    assert line["reason"] == "r" * 200
    assert line["code"] == "<object>"


def test_level_filters(stream: io.StringIO) -> None:
    configure_logging("WARNING", stream)
    logging.getLogger("hub.x").info("quiet")
    logging.getLogger("hub.x").warning("loud")
    assert [line["msg"] for line in lines(stream)] == ["loud"]
