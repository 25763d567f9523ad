"""Only a W3C-shaped traceparent is taken over into audit records and outputs."""

from __future__ import annotations

import re

from hub.kafka.headers import H_TRACEPARENT
from hub.streams.ingest import Trace

GOOD = b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def test_a_w3c_traceparent_is_kept() -> None:
    trace = Trace.from_headers({H_TRACEPARENT: GOOD})
    assert trace.trace_id == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert trace.parent == "00f067aa0ba902b7"
    assert re.fullmatch(r"00-4bf92f3577b34da6a3ce929d0e0e4736-[0-9a-f]{16}-01", trace.child())


def test_anything_else_starts_a_new_trace() -> None:
    bad = [
        b"00-" + b"Max Mustermann, Berlin 1".ljust(32, b"x") + b"-00f067aa0ba902b7-01",
        b"00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",  # upper case
        b"00-00000000000000000000000000000000-00f067aa0ba902b7-01",  # invalid id
        b"00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
        b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
        b"",
    ]
    for value in bad:
        trace = Trace.from_headers({H_TRACEPARENT: value})
        assert re.fullmatch(r"[0-9a-f]{32}", trace.trace_id)
        assert trace.parent == "" and trace.trace_id.encode() not in value
