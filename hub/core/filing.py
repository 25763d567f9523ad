"""Filing: the unit of the regional file plan that files each message type (issue 14, 4).

The region keeps one file plan (:mod:`hub.core.aktenplan`, setting ``HUB_AKTENPLAN_FILE``,
default ``hub/config/aktenplan.toml``).
The filing file (setting ``HUB_FILING_FILE``, default ``hub/config/filing.toml``)
maps message types to its units::

    [[rule]]
    name = "xmeld-rueckmeldungen"
    standard = "XMeld"
    message_code = "02*"      # a value or a list; exact or glob (* ? [..])
    unit = "3.2.1"            # Kennzeichen of a unit of the Aktenplan

``version`` (value, list or glob) narrows a rule to releases. The first rule that
matches a message type (file order) files it; a type no rule matches is delivered
unfiled and counted (``xoev_hub_unfiled_messages_total``), never blocked. Every
``unit`` must be a unit of the Aktenplan and not retired: anything else is a
:class:`hub.errors.ConfigError` naming the rule, raised when the worker starts.

Hot path: :meth:`FilingPlan.lookup` is one dict hit per message, keyed by the
message type's (namespace, code); the rules are matched once per message type
(:meth:`FilingPlan.prime` does it for every installed type at start). The Kafka
headers of a filed type are built once, as bytes (:func:`hub.kafka.headers.filing_headers`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from hub.core.aktenplan import Aktenplan, Unit
from hub.core.configfile import read_toml
from hub.errors import ConfigError

if TYPE_CHECKING:
    from hub.core.schemas import MessageType
    from hub.settings import Settings

__all__ = ["Filing", "FilingPlan", "FilingRule"]

_RULE_KEYS = frozenset(("name", "description", "standard", "version", "message_code", "unit"))


class PackageLike(Protocol):
    @property
    def standard(self) -> str: ...

    @property
    def version(self) -> str: ...

    @property
    def messages(self) -> Mapping[str, MessageType]: ...


@dataclass(frozen=True)
class Filing:
    """Where a message type is filed: the unit's Kennzeichen and retention."""

    unit: str  # Kennzeichen, e.g. "3.2.1"
    retention_years: str  # decimal years, or "unbefristet"
    rule: str  # name of the rule that assigned it

    @classmethod
    def of(cls, unit: Unit, rule: str) -> Filing:
        return cls(unit=unit.kennzeichen, retention_years=unit.retention, rule=rule)


@dataclass(frozen=True)
class FilingRule:
    """One line of the mapping: message types (by selectors) → a file-plan unit."""

    name: str
    standard: tuple[str, ...]
    message_code: tuple[str, ...]
    unit: str
    version: tuple[str, ...] | None = None
    description: str = ""

    def matches(self, standard: str, version: str, code: str) -> bool:
        return (
            _match(self.standard, standard)
            and _match(self.message_code, code)
            and (self.version is None or _match(self.version, version))
        )


def _match(patterns: tuple[str, ...], value: str) -> bool:
    return any(fnmatchcase(value, pattern) for pattern in patterns)


_UNSEEN: Any = object()


class FilingPlan:
    """The regional mapping message type → file-plan unit, checked against the plan."""

    def __init__(
        self, rules: Iterable[FilingRule], aktenplan: Aktenplan, *, source: str = ""
    ) -> None:
        self.rules = tuple(rules)
        self.source = source
        where = f"{source}: " if source else ""
        names: set[str] = set()
        self._filings: dict[str, Filing] = {}
        for rule in self.rules:
            if rule.name in names:
                raise ConfigError(f"{where}filing rule {rule.name!r} is defined twice")
            names.add(rule.name)
            unit = aktenplan.get(rule.unit)
            if unit is None:
                raise ConfigError(
                    f"{where}filing rule {rule.name!r}: unit {rule.unit!r} is not a unit "
                    f"of the Aktenplan {aktenplan.source}"
                )
            if unit.retired:
                raise ConfigError(
                    f"{where}filing rule {rule.name!r}: unit {rule.unit!r} is retired "
                    "(closed for new files)"
                )
            self._filings[rule.name] = Filing.of(unit, rule.name)
        # (namespace, code) -> Filing, or None for a type no rule matches
        self._by_type: dict[tuple[str, str], Filing | None] = {}

    @classmethod
    def from_settings(cls, settings: Settings) -> FilingPlan:
        """The plan of ``HUB_FILING_FILE``, checked against ``HUB_AKTENPLAN_FILE``."""
        return cls.load(settings.filing_file, Aktenplan.load(settings.aktenplan_file))

    @classmethod
    def load(cls, path: Path, aktenplan: Aktenplan) -> FilingPlan:
        """Read a filing file and check every rule against the Aktenplan's units."""
        data = read_toml(Path(path), "filing file", "HUB_FILING_FILE")
        return cls.parse(data, aktenplan, source=str(path))

    @classmethod
    def parse(
        cls, data: Mapping[str, Any], aktenplan: Aktenplan, *, source: str = ""
    ) -> FilingPlan:
        where = f"{source}: " if source else ""
        unknown = sorted(set(data) - {"rule"})
        if unknown:
            raise ConfigError(f"{where}unknown top-level key(s) {', '.join(unknown)}")
        raw_rules = data.get("rule", [])
        if not isinstance(raw_rules, list):
            raise ConfigError(f"{where}'rule' must be an array of tables ([[rule]])")
        return cls((_rule(raw, i, where) for i, raw in enumerate(raw_rules, 1)), aktenplan,
                   source=source)

    def match(self, standard: str, version: str, code: str) -> Filing | None:
        """The filing of a message type by its selectors (first matching rule), or None."""
        for rule in self.rules:
            if rule.matches(standard, version, code):
                return self._filings[rule.name]
        return None

    def lookup(self, package: PackageLike, message: MessageType) -> Filing | None:
        """The filing of a message's type: one dict hit once its type has been seen."""
        key = (message.namespace, message.code)
        filing = self._by_type.get(key, _UNSEEN)
        if filing is _UNSEEN:
            filing = self._by_type[key] = self.match(package.standard, package.version,
                                                     message.code)
        return filing  # type: ignore[no-any-return]

    def prime(self, packages: Iterable[PackageLike]) -> list[tuple[str, str, str]]:
        """Match every message type of the packages once; returns the unfiled ones as
        (standard, version, code), for ``routes check``-style reports."""
        unfiled: list[tuple[str, str, str]] = []
        for package in packages:
            for message in package.messages.values():
                if self.lookup(package, message) is None:
                    unfiled.append((package.standard, package.version, message.code))
        return sorted(set(unfiled))


def _rule(raw: Any, index: int, where: str) -> FilingRule:
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{where}filing rule #{index} must be a table")
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ConfigError(f"{where}filing rule #{index} has no name")
    label = f"{where}filing rule {name!r}"
    unknown = sorted(set(raw) - _RULE_KEYS)
    if unknown:
        raise ConfigError(f"{label}: unknown key(s) {', '.join(unknown)}")
    for key in ("standard", "message_code", "unit"):
        if key not in raw:
            raise ConfigError(f"{label}: {key} is missing")
    unit = raw["unit"]
    if not isinstance(unit, str) or not unit.strip():
        raise ConfigError(f"{label}: unit must be a Kennzeichen (a non-empty string)")
    description = raw.get("description", "")
    if not isinstance(description, str):
        raise ConfigError(f"{label}: description must be a string")
    return FilingRule(
        name=name,
        standard=_patterns(raw["standard"], "standard", label),
        message_code=_patterns(raw["message_code"], "message_code", label),
        version=_patterns(raw["version"], "version", label) if "version" in raw else None,
        unit=unit.strip(),
        description=description,
    )


def _patterns(value: Any, key: str, label: str) -> tuple[str, ...]:
    values = [value] if isinstance(value, str) else value
    if (
        not isinstance(values, list)
        or not values
        or not all(isinstance(v, str) and v.strip() for v in values)
    ):
        raise ConfigError(f"{label}: {key} must be a non-empty string or list of strings")
    return tuple(v.strip() for v in values)
