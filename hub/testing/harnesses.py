"""Discovery of contract harnesses (entry-point group ``xoev_hub.adapter_contracts``)."""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from importlib.metadata import entry_points

from hub.errors import ConfigError

CONTRACT_GROUP = "xoev_hub.adapter_contracts"

#: Harnesses of the built-in adapters (same as in the hub's pyproject.toml).
BUILTIN_CONTRACTS: Mapping[str, str] = {
    "directory-inbound": "hub.testing.builtin:DirectorySourceHarness",
    "directory-outbound": "hub.testing.builtin:DirectorySinkHarness",
    "http-inbound": "hub.testing.builtin:HttpInboundHarness",
    "webhook": "hub.testing.builtin:WebhookHarness",
}


def _load(target: str) -> type:
    module_name, _, attr = target.partition(":")
    obj: object = importlib.import_module(module_name)
    for part in attr.split("."):
        obj = getattr(obj, part)
    if not isinstance(obj, type):
        raise ConfigError(f"contract harness {target!r} is not a class")
    return obj


def contract_harnesses() -> dict[str, type]:
    """Adapter name → harness class, for built-ins and every installed entry point."""
    targets = dict(BUILTIN_CONTRACTS)
    for ep in entry_points(group=CONTRACT_GROUP):
        known = targets.get(ep.name)
        if known is not None and known != ep.value:
            raise ConfigError(
                f"contract harness for {ep.name!r} registered twice: {known!r} and {ep.value!r}"
            )
        targets[ep.name] = ep.value
    return {name: _load(target) for name, target in sorted(targets.items())}
