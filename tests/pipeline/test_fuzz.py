"""Fuzzing the pure ingest pipeline: every outcome is a delivery or a MessageError.

Hypothesis mutates valid XÖV messages (byte flips, truncation, insertion of
hostile fragments, text and tag edits) and feeds ``Pipeline.process``. Any
exception other than a ``MessageError`` with a code is a bug. The budget is
bounded (``max_examples``) so it runs in CI on every commit.
"""

from __future__ import annotations

from functools import cache

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hub.core.pipeline import Accepted, Pipeline
from hub.core.region import Region
from hub.errors import MessageError
from hub.settings import load_settings

FRAGMENTS = [
    b'<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>',
    b'<!ENTITY a "aaaaaaaaaa">',
    b"&e;",
    b"&#0;",
    b"<![CDATA[",
    b"]]>",
    b"<?pi x?>",
    b"<!--",
    b"-->",
    b'xmlns="urn:x"',
    b"\xff\xfe",
    b"\x00",
    b"\xc3\x28",
    b"</",
    b"<a>" * 50,
    b'version="99.99"',
    b"ags:05124000",
    b"dbs:1",
    b"xyz:1",
]


@cache
def seeds() -> tuple[tuple[str, bytes], ...]:
    """Valid messages (source authority id, payload) of every bundled message type."""
    from hub.core.schemas import SchemaRegistry
    from hub.tools.samples import generate

    settings = load_settings()
    region = Region.load(settings.region_file)
    registry = SchemaRegistry.from_settings(settings)
    by_kind: dict[str, list[str]] = {}
    for a in sorted(region.authorities.values(), key=lambda a: a.id):
        by_kind.setdefault(a.kind, []).append(a.id)
    out = []
    for package in registry.packages:
        for i, message in enumerate(sorted(package.messages.values(), key=lambda m: m.root)):
            kind = "standesamt" if package.standard == "XPersonenstand" else "meldebehoerde"
            author = by_kind[kind][i % len(by_kind[kind])]
            reader = by_kind["meldebehoerde"][(i + 1) % len(by_kind["meldebehoerde"])]
            payload = generate(
                package,
                message,
                seed=i,
                author_key=region.authorities[author].dvdv_key,
                reader_key=region.authorities[reader].dvdv_key,
            )
            out.append((author, payload))
    return tuple(out)


@cache
def pipeline() -> Pipeline:
    return Pipeline.from_settings(load_settings())


@st.composite
def mutated(draw: st.DrawFn) -> tuple[str, bytes]:
    source, payload = draw(st.sampled_from(seeds()))
    data = bytearray(payload)
    for _ in range(draw(st.integers(1, 4))):
        if not data:
            break
        op = draw(st.sampled_from(["flip", "truncate", "insert", "delete", "replace_text"]))
        at = draw(st.integers(0, len(data) - 1))
        if op == "flip":
            data[at] = draw(st.integers(0, 255))
        elif op == "truncate":
            del data[at:]
        elif op == "insert":
            data[at:at] = draw(st.sampled_from(FRAGMENTS))
        elif op == "delete":
            del data[at : at + draw(st.integers(1, 64))]
        else:
            gt = data.find(b">", at)
            lt = data.find(b"<", gt + 1) if gt >= 0 else -1
            if gt >= 0 and lt > gt:
                data[gt + 1 : lt] = draw(st.binary(max_size=40))
    return source, bytes(data)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_mutations_end_in_delivery_or_coded_rejection(case: tuple[str, bytes]) -> None:
    source, data = case
    try:
        outcome = pipeline().process(data, source)
    except MessageError as exc:
        assert exc.code and exc.code.isupper(), exc
        assert exc.stage
    else:
        assert isinstance(outcome, Accepted)
        assert outcome.event[:2] == b"\xc3\x01"


def test_seeds_are_delivered() -> None:
    """The unmutated seeds themselves are all accepted (the fuzzer starts from valid input)."""
    for source, payload in seeds():
        try:
            outcome = pipeline().process(payload, source)
        except MessageError as exc:  # pragma: no cover - shows which seed broke
            pytest.fail(f"seed from {source} rejected: {exc}")
        assert outcome.route.recipients or outcome.route.external
