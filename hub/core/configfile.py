"""Helpers shared by the configuration files (region, routes, golden cases)."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from hub.errors import ConfigError


def read_toml(path: Path, what: str, setting: str | None = None) -> dict[str, Any]:
    """Parse a TOML file; ConfigError with one line naming the file otherwise."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        hint = f" (setting {setting})" if setting else ""
        raise ConfigError(f"{path}: {what} not found{hint}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read {what}: {exc}") from exc
    return parse_toml(text, str(path))


def parse_toml(text: str, source: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: invalid TOML: {exc}") from exc


def describe_validation_error(
    exc: ValidationError, raw: Mapping[str, Any], entries: str, label: str = "id"
) -> str:
    """Pydantic errors as one line: ``authority[3] (solingen.standesamt): ags: ...``.

    ``entries`` is the array of tables whose items are named by their ``label``
    key (``id`` of an authority, ``name`` of a rule).
    """
    parts = []
    for err in exc.errors():
        loc = list(err["loc"])
        where = ""
        if len(loc) >= 2 and loc[0] == entries and isinstance(loc[1], int):
            index = loc[1]
            items = raw.get(entries)
            name = None
            if isinstance(items, list) and index < len(items) and isinstance(items[index], dict):
                name = items[index].get(label)
            where = f"{entries}[{index}]" + (f" ({name})" if name else "")
            loc = loc[2:]
        field = ".".join(str(p) for p in loc)
        message = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            message = "unknown key"
        text = ": ".join(p for p in (where, field) if p)
        parts.append(f"{text}: {message}" if text else message)
    return "; ".join(parts)
