from __future__ import annotations

from types import SimpleNamespace

import pytest
from pydantic import BaseModel, ConfigDict

from hub.adapters.runtime import adapter_specs
from hub.errors import ConfigError


class RegionAdapterEntry(BaseModel):
    """Shaped like hub.core.region.AdapterEntry: type plus flat extra options."""

    model_config = ConfigDict(extra="allow", frozen=True)
    type: str


def authority(*entries: object) -> SimpleNamespace:
    return SimpleNamespace(id="solingen.meldebehoerde", adapters=list(entries))


def test_flat_and_nested_options_and_kafka_is_native() -> None:
    specs = adapter_specs(authority(
        {"type": "kafka"},
        RegionAdapterEntry(type="directory-inbound", path="/in", poll_seconds=1),
        {"type": "webhook", "name": "fachverfahren", "config": {"url": "http://x", "secret": "s"},
         "retry": {"attempts": 3}, "batch_size": 10},
    ))
    assert [(s.type, s.instance) for s in specs] == [
        ("directory-inbound", "directory-inbound"), ("webhook", "fachverfahren")]
    assert specs[0].config == {"path": "/in", "poll_seconds": 1}
    assert specs[1].retry.attempts == 3 and specs[1].batch_size == 10


def test_mistakes_are_config_errors_naming_the_authority() -> None:
    with pytest.raises(ConfigError, match=r"solingen.meldebehoerde: adapters\[0\].*not both"):
        adapter_specs(authority({"type": "webhook", "url": "x", "config": {}}))
    with pytest.raises(ConfigError, match="used twice"):
        adapter_specs(authority({"type": "webhook"}, {"type": "webhook"}))
    with pytest.raises(ConfigError, match=r"adapters\[0\]: retry\.attempts"):
        adapter_specs(authority({"type": "webhook", "retry": {"attempts": 0}}))
