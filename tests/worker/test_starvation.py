"""No starvation: a flood of hostile and oversized messages does not stop valid ones.

The hostile corpus of tests/hostile (entity bombs, XXE, external DTDs, deep
nesting, bad encodings, non-XML, …) plus oversized messages are interleaved
one-to-one with valid messages. Every valid message is delivered, every hostile
one is dead-lettered with its own code. The per-message cost of each hostile
kind in the pure pipeline is printed (a figure for the notes, not an assertion).
"""

from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from hub.core.pipeline import Pipeline
from hub.errors import MessageError
from hub.kafka.topics import TopicNames
from hub.settings import Settings

from .harness import drain, produce
from .test_resilience import fresh_copies, templates

pytestmark = [pytest.mark.kafka, pytest.mark.slow, pytest.mark.timeout(900)]

HOSTILE = Path(__file__).resolve().parents[1] / "hostile"
LIMIT = 64 * 1024


def hostile_corpus() -> list[tuple[str, bytes, str]]:
    expected = json.loads((HOSTILE / "expected.json").read_text())
    corpus = [
        (name, (HOSTILE / "data" / name).read_bytes(), code)
        for name, code in expected.items()
        if not name.startswith("(")
    ]
    big = b'<?xml version="1.0"?><r>' + b"<a>x</a>" * (LIMIT // 8 + 100) + b"</r>"
    corpus.append(("oversized", big, "XML_TOO_LARGE"))
    return corpus


def test_hostile_flood_does_not_starve_valid_messages(
    kafka_bootstrap: str, worker_settings: Settings, start_worker: Any, capsys: Any
) -> None:
    names = TopicNames(worker_settings.topic_prefix)
    corpus = hostile_corpus()
    # what each hostile kind must yield with the worker's own settings, and its cost
    pipeline = Pipeline.from_settings(
        worker_settings.model_copy(update={"max_message_bytes": LIMIT})
    )
    code_of: dict[str, str] = {}
    costs: dict[str, float] = {}
    for name, payload, corpus_code in corpus:
        started = time.perf_counter()
        for _ in range(20):
            with pytest.raises(MessageError) as caught:
                pipeline.inspect(payload, "wuppertal.meldebehoerde")
        costs[name] = (time.perf_counter() - started) / 20
        code_of[name] = caught.value.code
        # the corpus's own code, except where it depends on installed packages
        assert code_of[name] == corpus_code or corpus_code.startswith("UNKNOWN_"), name

    valid, ids = fresh_copies(templates(worker_settings), 400)
    sends: list[tuple[str, bytes | None, bytes]] = []
    expected_codes: Counter[str] = Counter()
    for i, message in enumerate(valid):
        sends.append(message)
        name, payload, _ = corpus[i % len(corpus)]
        sends.append((message[0], None, payload))
        expected_codes[code_of[name]] += 1
    worker = start_worker(HUB_MAX_MESSAGE_BYTES=str(LIMIT))
    produce(kafka_bootstrap, sends)
    out = drain(kafka_bootstrap, [names.audit, names.deadletter], total=len(sends), timeout=240)
    assert worker.alive()
    assert set(ids) == {k.decode() for k in out.keys(names.audit)}
    codes = Counter(h["xoev-error-code"].decode() for h in out.headers(names.deadletter))
    assert codes == expected_codes
    with capsys.disabled():
        worst = max(costs, key=costs.__getitem__)
        print(
            f"\nhostile flood: {len(ids)} valid delivered, {sum(codes.values())} dead-lettered; "
            f"costliest hostile kind {worst}: {costs[worst] * 1e6:.0f} µs per message"
        )
