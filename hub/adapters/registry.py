"""Adapter registration through the entry-point group ``xoev_hub.adapters``.

An entry is ``name = "module:Class"``; the class is imported only when an
adapter of that name is built (lazy, as faust's registries do). Two entries of
the same name with different targets are refused with a ``ConfigError`` naming
both targets.

The built-in adapters are registered in the hub's own ``pyproject.toml``.
``BUILTIN`` repeats them so that a checkout that was not (re)installed still
finds them; ``tests/adapters`` checks that both lists agree.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points

from hub.adapters.base import Adapter
from hub.errors import ConfigError

GROUP = "xoev_hub.adapters"

#: Built-in adapters (same as ``[project.entry-points."xoev_hub.adapters"]``).
BUILTIN: Mapping[str, str] = {
    "directory-inbound": "hub.adapters.directory:DirectorySource",
    "directory-outbound": "hub.adapters.directory:DirectorySink",
    "http-inbound": "hub.adapters.http_inbound:HttpInboundSource",
    "webhook": "hub.adapters.webhook:WebhookSink",
}


@dataclass(frozen=True)
class Registration:
    """One registered adapter: its name, ``module:Class`` target and origin."""

    name: str
    target: str
    origin: str  # distribution name, or "builtin"

    def load(self) -> type[Adapter]:
        module_name, _, attr = self.target.partition(":")
        if not module_name or not attr:
            raise ConfigError(f"adapter {self.name!r}: target {self.target!r} is not module:Class")
        try:
            obj: object = importlib.import_module(module_name)
            for part in attr.split("."):
                obj = getattr(obj, part)
        except (ImportError, AttributeError) as exc:
            raise ConfigError(
                f"adapter {self.name!r}: cannot load {self.target!r} ({self.origin}): {exc}"
            ) from exc
        if not (isinstance(obj, type) and issubclass(obj, Adapter)):
            raise ConfigError(
                f"adapter {self.name!r}: {self.target!r} is not a Source or Sink subclass"
            )
        return obj


class AdapterRegistry:
    """Registered adapters by name; classes are loaded on first use."""

    def __init__(self, registrations: Iterable[Registration]) -> None:
        self._by_name: dict[str, Registration] = {}
        self._loaded: dict[str, type[Adapter]] = {}
        for reg in registrations:
            known = self._by_name.get(reg.name)
            if known is None:
                self._by_name[reg.name] = reg
            elif known.target != reg.target:
                raise ConfigError(
                    f"adapter name {reg.name!r} registered twice: "
                    f"{known.target!r} ({known.origin}) and {reg.target!r} ({reg.origin})"
                )

    @classmethod
    def discover(cls, extra: Iterable[EntryPoint] = ()) -> AdapterRegistry:
        """Built-ins plus every installed entry point of ``xoev_hub.adapters``."""
        regs = [Registration(name, target, "builtin") for name, target in BUILTIN.items()]
        for ep in [*entry_points(group=GROUP), *extra]:
            origin = ep.dist.name if ep.dist is not None else "unknown distribution"
            regs.append(Registration(ep.name, ep.value, origin))
        return cls(regs)

    def names(self) -> list[str]:
        return sorted(self._by_name)

    def registration(self, name: str) -> Registration:
        try:
            return self._by_name[name]
        except KeyError:
            raise ConfigError(
                f"unknown adapter {name!r}; registered: {', '.join(self.names()) or 'none'}"
            ) from None

    def load(self, name: str) -> type[Adapter]:
        """The adapter class registered as ``name`` (``ConfigError`` if unknown)."""
        if name not in self._loaded:
            self._loaded[name] = self.registration(name).load()
        return self._loaded[name]
