"""What the metrics cost per message, against a baseline in the same run.

    python bench/metrics_overhead.py [--messages 20000]

Baseline: parsing a 6 KB XML message with lxml (the cheapest step of the hot
path). Measured: the HubMetrics calls the worker makes per message (received,
five stage timings, delivery to two destinations with end-to-end latency, the
pending Rückmeldung bookkeeping, consumed timestamp) and one JSON log line.
Prints µs per message and the ratio to the baseline; asserts nothing.
"""

from __future__ import annotations

import argparse
import io
import logging
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lxml import etree

from hub.logging import configure_logging, log_event
from hub.ops.metrics import HubMetrics

XML = (
    b'<?xml version="1.0" encoding="UTF-8"?><root xmlns="urn:x">'
    + b"".join(b"<feld%d>Wert %d</feld%d>" % (i, i, i) for i in range(300))
    + b"</root>"
)


def per_message(fn: object, n: int) -> float:
    start = time.perf_counter()
    for i in range(n):
        fn(i)  # type: ignore[operator]
    return (time.perf_counter() - start) / n * 1e6


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=20000)
    n = parser.parse_args().messages
    parser_ = etree.XMLParser(resolve_entities=False, no_network=True)
    metrics = HubMetrics()
    created = time.time() - 0.5
    configure_logging("INFO", io.StringIO())
    log = logging.getLogger("hub.bench")

    def parse(_: int) -> None:
        etree.fromstring(XML, parser_)

    def observe(i: int) -> None:
        metrics.observe_received("solingen.meldebehoerde", len(XML))
        for stage in ("parse", "validate", "convert", "route", "deliver"):
            metrics.observe_stage(stage, 0.0001)
        key = ("xoev.in.solingen.meldebehoerde", 0, i)
        metrics.pending_begin(key, standard="XMeld", message_type="0201", created=created)
        metrics.observe_delivery(
            source="solingen.meldebehoerde",
            destinations=["wuppertal.meldebehoerde", "external"],
            standard="XMeld",
            message_type="0201",
            created=created,
        )
        metrics.pending_end(key)
        metrics.observe_consumed("xoev.in.solingen.meldebehoerde", created)
        metrics.observe_stage("total", 0.0005)

    def log_line(i: int) -> None:
        log_event(
            log,
            "delivered",
            message_id="6f1c0e0a-0000-4000-8000-000000000000",
            source="solingen.meldebehoerde",
            destination="wuppertal.meldebehoerde",
            code="0201",
            partition=0,
            offset=i,
        )

    print(f"{len(XML)} B message, {n} messages", file=sys.stderr)
    per_message(parse, n // 10)  # warm up
    baseline = per_message(parse, n)
    cost = per_message(observe, n)
    logging_cost = per_message(log_line, n)
    print(f"baseline lxml parse:      {baseline:7.1f} µs/message")
    print(f"metrics per message:      {cost:7.1f} µs/message  ({cost / baseline:.2f}x baseline)")
    print(
        f"one JSON log line:        {logging_cost:7.1f} µs/message  "
        f"({logging_cost / baseline:.2f}x baseline)"
    )


if __name__ == "__main__":
    main()
