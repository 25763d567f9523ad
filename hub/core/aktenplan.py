"""The region's common file plan (Aktenplan): units, retention, archival assessment.

The plan is configuration (``hub/config/aktenplan.toml``; format in that file and
docs/xdomea.md). :meth:`Aktenplan.load` reads and checks it; the result is a
read-only collection of :class:`Unit` in file order, looked up by Kennzeichen::

    plan = Aktenplan.load(path)          # or Aktenplan.default()
    for unit in plan: ...                 # every unit, parents before children
    plan["3.2.1"].retention_years         # 5; None means "unbefristet"
    "3.2.1" in plan

``xoev-hub aktenplan publish`` renders it as xdomea ``Aktenplan.Aktenplan.0301``
(:mod:`hub.xdomea.aktenplan_xml`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from hub.core.configfile import describe_validation_error, read_toml
from hub.errors import ConfigError

__all__ = ["ASSESSMENTS", "UNLIMITED", "Aktenplan", "Unit", "default_path"]

#: The xdomea code list Aussonderungsart (urn:xoev-de:xdomea:codeliste:aussonderungsart).
ASSESSMENTS = {
    "A": "archivwürdig",
    "B": "bewerten",
    "V": "vernichten",
}
#: The retention value of a unit kept without limit (xdomea ``Unbefristet``).
UNLIMITED = "unbefristet"
#: Aufbewahrungsdauer/AnzahlJahre is an xs:unsignedShort.
MAX_YEARS = 65535


def default_path() -> Path:
    """The bundled plan, ``hub/config/aktenplan.toml``."""
    from hub.settings import DEFAULT_CONFIG_DIR

    return DEFAULT_CONFIG_DIR / "aktenplan.toml"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class _UnitEntry(_Model):
    kennzeichen: str = Field(min_length=1)
    title: str = Field(min_length=1)
    retention_years: int | Literal["unbefristet"]
    assessment: str
    retired: bool = Field(default=False, strict=True)

    @field_validator("kennzeichen")
    @classmethod
    def _check_mark(cls, value: str) -> str:
        parts = value.split(".")
        if any(not p or p != p.strip() or any(c.isspace() for c in p) for p in parts):
            raise ValueError(
                f"kennzeichen {value!r} must be parts without blanks joined by dots (e.g. '3.2.1')"
            )
        return value

    @field_validator("retention_years", mode="before")
    @classmethod
    def _check_years(cls, value: object) -> object:
        if isinstance(value, bool):
            raise ValueError("retention_years must be a number of years or \"unbefristet\"")
        if isinstance(value, int) and not 0 <= value <= MAX_YEARS:
            raise ValueError(f"retention_years must be 0..{MAX_YEARS}, got {value}")
        return value

    @field_validator("assessment")
    @classmethod
    def _check_assessment(cls, value: str) -> str:
        if value not in ASSESSMENTS:
            raise ValueError(
                f"assessment {value!r} is not in the xdomea code list Aussonderungsart "
                f"({', '.join(f'{k} {v}' for k, v in ASSESSMENTS.items())})"
            )
        return value


class _PlanFile(_Model):
    name: str = Field(min_length=1)
    type: str | None = None
    version: str = Field(min_length=1)
    sender: str = Field(min_length=1)
    unit: list[_UnitEntry] = Field(min_length=1)


@dataclass(frozen=True)
class Unit:
    """One unit of the file plan."""

    kennzeichen: str
    title: str
    #: Years to keep records of the unit; None when kept without limit.
    retention_years: int | None
    #: Archival assessment, a code of the xdomea list Aussonderungsart (A, B, V).
    assessment: str
    retired: bool
    #: The Kennzeichen of the parent unit; None for a top-level unit.
    parent: str | None

    @property
    def retention(self) -> str:
        """The retention as text: ``"10"`` (years) or ``"unbefristet"``."""
        return UNLIMITED if self.retention_years is None else str(self.retention_years)


class Aktenplan:
    """A loaded, checked file plan: a read-only collection of its units."""

    def __init__(
        self,
        *,
        name: str,
        version: str,
        sender: str,
        units: tuple[Unit, ...],
        type: str | None = None,
        source: str = "<memory>",
    ) -> None:
        self.name = name
        self.type = type
        self.version = version
        self.sender = sender
        self.units = units
        self.source = source
        self._by_mark = {u.kennzeichen: u for u in units}

    @classmethod
    def load(cls, path: Path | str) -> Aktenplan:
        """Read and check a plan file; ConfigError (one line, naming the file) otherwise."""
        path = Path(path)
        return cls.from_mapping(read_toml(path, "file plan"), str(path))

    @classmethod
    def default(cls) -> Aktenplan:
        """The bundled plan (``hub/config/aktenplan.toml``)."""
        return cls.load(default_path())

    @classmethod
    def from_mapping(cls, raw: dict[str, Any], source: str = "<memory>") -> Aktenplan:
        try:
            parsed = _PlanFile.model_validate(raw)
        except ValidationError as exc:
            detail = describe_validation_error(exc, raw, "unit", label="kennzeichen")
            raise ConfigError(f"{source}: {detail}") from None
        seen: set[str] = set()
        units: list[Unit] = []
        for index, entry in enumerate(parsed.unit):
            where = f"{source}: unit[{index}] ({entry.kennzeichen})"
            if entry.kennzeichen in seen:
                raise ConfigError(f"{where}: kennzeichen listed twice")
            head, dot, _ = entry.kennzeichen.rpartition(".")
            parent = head if dot else None
            if parent is not None and parent not in seen:
                raise ConfigError(
                    f"{where}: parent unit {parent!r} must be listed before it"
                )
            seen.add(entry.kennzeichen)
            years = None if entry.retention_years == UNLIMITED else int(entry.retention_years)
            units.append(Unit(
                kennzeichen=entry.kennzeichen,
                title=entry.title,
                retention_years=years,
                assessment=entry.assessment,
                retired=entry.retired,
                parent=parent,
            ))
        return cls(name=parsed.name, type=parsed.type, version=parsed.version,
                   sender=parsed.sender, units=tuple(units), source=source)

    def children(self, kennzeichen: str | None) -> tuple[Unit, ...]:
        """The direct children of a unit (of the plan for None), in file order."""
        return tuple(u for u in self.units if u.parent == kennzeichen)

    def get(self, kennzeichen: str) -> Unit | None:
        return self._by_mark.get(kennzeichen)

    def __getitem__(self, kennzeichen: str) -> Unit:
        try:
            return self._by_mark[kennzeichen]
        except KeyError:
            raise KeyError(f"no unit {kennzeichen!r} in the file plan {self.source}") from None

    def __contains__(self, kennzeichen: object) -> bool:
        return kennzeichen in self._by_mark

    def __iter__(self) -> Iterator[Unit]:
        return iter(self.units)

    def __len__(self) -> int:
        return len(self.units)

    def __repr__(self) -> str:
        return f"Aktenplan({self.name!r}, version={self.version!r}, units={len(self.units)})"
