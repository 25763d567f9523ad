"""The pipeline routes before it converts: a misaddressed message costs no conversion."""

from __future__ import annotations

import pytest

from hub.core.pipeline import Pipeline
from hub.core.region import Region
from hub.core.schemas import SchemaRegistry
from hub.errors import MisaddressedError
from hub.settings import load_settings
from hub.tools.samples import generate


def _message(reader_key: str) -> tuple[Pipeline, bytes, str]:
    settings = load_settings()
    region = Region.load(settings.region_file)
    registry = SchemaRegistry.from_settings(settings)
    package = next(p for p in registry.packages if p.standard == "XMeld")
    message = sorted(package.messages.values(), key=lambda m: m.root)[0]
    author = next(a for a in region.authorities.values() if a.kind == "meldebehoerde")
    payload = generate(package, message, seed=1, author_key=author.dvdv_key, reader_key=reader_key)
    return Pipeline.from_settings(settings), payload, author.id


def test_misaddressed_message_is_not_converted() -> None:
    pipeline, payload, source = _message("xyz:1")
    inspected = pipeline.inspect(payload, source)
    with pytest.raises(MisaddressedError) as raised:
        pipeline.finish(inspected, trace_id="")
    assert raised.value.code == "READER_UNKNOWN_PREFIX"


def test_addressed_message_is_routed_then_converted() -> None:
    region = Region.load(load_settings().region_file)
    reader = next(a for a in region.authorities.values() if a.kind == "meldebehoerde")
    pipeline, payload, source = _message(reader.dvdv_key)
    accepted = pipeline.finish(pipeline.inspect(payload, source), trace_id="")
    assert accepted.event, "no Avro event"
    assert {"parse", "validate", "route", "convert"} <= set(accepted.timings)
    # the inspection stays as it was: frozen, and its timings read-only
    assert "route" not in accepted.inspected.timings
    with pytest.raises(TypeError):
        accepted.inspected.timings["route"] = 0.0  # type: ignore[index]
    assert accepted.route.recipients, "no recipient"
