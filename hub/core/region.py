"""The region: its authorities and the DVDV keys that address them.

Authorities are configuration, not code. The region file (TOML, setting
``HUB_REGION_FILE``, default the bundled ``hub/config/region.toml``) lists every
authority with its id ``<municipality>.<kind>``, municipality name, AGS, kind,
DVDV key and delivery adapters, the kinds of authority the region knows, and the
prefixes a well-formed DVDV organisation key may carry. Adding a municipality or
a kind of authority is an edit of that file; see docs/routing.md.

A DVDV organisation key is a three-letter prefix, a colon and an id
(``ags:05124000``, ``psw:05124000``, ``dbs:490010010000``). Keys are compared
after :func:`normalise_key` (surrounding blanks removed, prefix in lower case).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from hub.core.configfile import describe_validation_error, parse_toml, read_toml
from hub.errors import ConfigError

if TYPE_CHECKING:
    from hub.settings import Settings

__all__ = [
    "AdapterEntry",
    "Authority",
    "KeyStatus",
    "Kind",
    "ProjectionSpec",
    "Region",
    "normalise_ags",
    "normalise_key",
]

#: An authority id: ``<municipality>.<kind>``, lower case, digits and hyphens.
#: No underscores: Kafka treats ``.`` and ``_`` alike in metric names, so
#: topics differing only in them would collide.
ID_PART = r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?"
ID_RE = re.compile(rf"^({ID_PART})\.({ID_PART})$")
KIND_RE = re.compile(rf"^{ID_PART}$")
#: Longest authority id: ``xoev.out.<id>.avro`` plus a topic prefix must stay
#: within Kafka's 249 characters.
MAX_ID_LENGTH = 180
#: A DVDV organisation key: three letters, a colon, an id.
KEY_RE = re.compile(r"^([A-Za-z]{3}):([A-Za-z0-9](?:[A-Za-z0-9._/-]*[A-Za-z0-9])?)$")
PREFIX_RE = re.compile(r"^[a-z]{3}$")
#: A path in an Avro event record: field names joined by dots.
PATH_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*$")


def normalise_key(key: str) -> str:
    """A DVDV key as compared by the hub: blanks stripped, prefix in lower case."""
    key = key.strip()
    head, sep, tail = key.partition(":")
    return f"{head.lower()}{sep}{tail}" if sep else key


def normalise_ags(value: object) -> str:
    """An AGS as 8 digits: ``5124000`` and ``"5124000"`` become ``"05124000"``.

    Raises ValueError for anything that is not 1-8 decimal digits.
    """
    if isinstance(value, bool):
        raise ValueError("AGS must be 8 digits, got a boolean")
    if isinstance(value, int):
        if value < 0:
            raise ValueError(f"AGS must be 8 digits, got {value}")
        text = str(value)
    elif isinstance(value, str):
        text = value.strip()
    else:
        raise ValueError(f"AGS must be 8 digits, got {type(value).__name__}")
    if not text.isascii() or not text.isdigit():
        raise ValueError(f"AGS must be 8 digits, got {text!r}")
    if len(text) > 8:
        raise ValueError(f"AGS must be 8 digits, got {len(text)} ({text!r})")
    return text.zfill(8)


class KeyStatus(Enum):
    """How a DVDV key looks to the region (before asking whom it addresses)."""

    OK = "ok"
    MISSING = "missing"
    MALFORMED = "malformed"
    UNKNOWN_PREFIX = "unknown_prefix"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class AdapterEntry(BaseModel):
    """One entry of an authority's ``adapters`` list: ``type`` plus the rest, unread.

    Here only ``type`` is checked. The adapter runtime reads the entry's hub keys
    (:class:`hub.adapters.AdapterSpec`: name, retry, batch size, Kafka principal) and
    the adapter its own options (its :class:`hub.adapters.AdapterConfig` subclass).
    """

    model_config = ConfigDict(extra="allow", frozen=True)

    type: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.:-]+$")

    @property
    def options(self) -> dict[str, Any]:
        """Everything but ``type``."""
        return dict(self.model_extra or {})


def _listify(value: object) -> object:
    return (value,) if isinstance(value, str) else value


class ProjectionSpec(BaseModel):
    """One projection of a kind: which messages, and which of their fields."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    standard: str = Field(min_length=1, description="e.g. 'XPersonenstand' (exact)")
    message_code: tuple[str, ...] = Field(
        min_length=1, description="message type codes (exact), e.g. ['031010']"
    )
    fields: tuple[str, ...] = Field(
        min_length=1, description="allowed paths in the Avro event record, e.g. 'envelope'"
    )

    @field_validator("message_code", "fields", mode="before")
    @classmethod
    def _list(cls, value: object) -> object:
        return _listify(value)

    @field_validator("message_code")
    @classmethod
    def _codes(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        bad = [v for v in value if not v or any(c in v for c in "*?[")]
        if bad:
            raise ValueError(f"message codes must be exact values, got {list(bad)}")
        return value

    @field_validator("fields")
    @classmethod
    def _paths(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        bad = [v for v in value if not PATH_RE.match(v)]
        if bad:
            raise ValueError(
                f"fields must be dotted paths of Avro field names (e.g. 'body.kind'), got {bad}"
            )
        return value


def _default_adapters() -> list[AdapterEntry]:
    return [AdapterEntry(type="kafka")]


class Kind(_Model):
    """A kind of authority (``meldebehoerde``, ``standesamt``, ...): data, not code."""

    name: str = Field(min_length=1, description="Human-readable name, e.g. 'Meldebehörde'.")
    description: str = ""
    projection: tuple[ProjectionSpec, ...] = Field(
        default=(),
        description="When given, authorities of this kind receive only these projections "
        "(an Avro event with the allowed fields), never the XML or the full event.",
    )

    @property
    def projected(self) -> bool:
        """True when authorities of this kind receive projections only."""
        return bool(self.projection)

    def projection_for(self, standard: str, message_code: str) -> ProjectionSpec | None:
        """The projection of one message type, or None (then it may not receive it)."""
        for spec in self.projection:
            if spec.standard == standard and message_code in spec.message_code:
                return spec
        return None


class Authority(_Model):
    """One authority of the region."""

    id: str = Field(description="<municipality>.<kind>, e.g. 'wuppertal.meldebehoerde'.")
    municipality: str = Field(min_length=1, description="Name of the municipality.")
    ags: str = Field(description="Amtlicher Gemeindeschlüssel, 8 digits.")
    kind: str = Field(description="A kind listed in the region file's [kinds] table.")
    dvdv_key: str = Field(description="DVDV organisation key, e.g. 'ags:05124000'.")
    placeholder_key: bool = Field(
        default=False,
        strict=True,
        description="True while dvdv_key is a placeholder, not the authority's real number.",
    )
    adapters: list[AdapterEntry] = Field(default_factory=_default_adapters)

    @field_validator("id")
    @classmethod
    def _check_id(cls, value: str) -> str:
        if not ID_RE.match(value):
            raise ValueError(
                f"id {value!r} must be '<municipality>.<kind>' in lower-case letters, "
                "digits and hyphens (valid in Kafka topic names)"
            )
        if len(value) > MAX_ID_LENGTH:
            raise ValueError(f"id {value!r} is longer than {MAX_ID_LENGTH} characters")
        return value

    @field_validator("ags", mode="before")
    @classmethod
    def _check_ags(cls, value: object) -> str:
        return normalise_ags(value)

    @field_validator("kind")
    @classmethod
    def _check_kind(cls, value: str) -> str:
        if not KIND_RE.match(value):
            raise ValueError(f"kind {value!r} must be lower-case letters, digits and hyphens")
        return value

    @field_validator("dvdv_key")
    @classmethod
    def _check_key(cls, value: str) -> str:
        if not KEY_RE.match(value.strip()):
            raise ValueError(
                f"dvdv_key {value!r} is not a DVDV organisation key "
                "(three-letter prefix, colon, id, e.g. 'ags:05124000')"
            )
        return normalise_key(value)

    @field_validator("adapters")
    @classmethod
    def _check_adapters(cls, value: list[AdapterEntry]) -> list[AdapterEntry]:
        if not value:
            raise ValueError("adapters must list at least one adapter (e.g. { type = \"kafka\" })")
        return value

    @property
    def municipality_id(self) -> str:
        """The first part of the id (``wuppertal`` of ``wuppertal.meldebehoerde``)."""
        return self.id.partition(".")[0]


class DvdvConfig(_Model):
    """The prefixes a well-formed DVDV key may carry (prefix -> what it addresses)."""

    prefixes: dict[str, str] = Field(min_length=1)

    @field_validator("prefixes")
    @classmethod
    def _check_prefixes(cls, value: dict[str, str]) -> dict[str, str]:
        bad = [p for p in value if not PREFIX_RE.match(p)]
        if bad:
            raise ValueError(f"DVDV prefixes must be three lower-case letters, got {bad}")
        return value


class RegionFile(_Model):
    """The region file as written (see hub/config/region.toml)."""

    name: str = Field(min_length=1, description="Name of the region.")
    dvdv: DvdvConfig
    kinds: dict[str, Kind] = Field(min_length=1)
    authority: list[Authority] = Field(min_length=1)
    services: str | None = Field(
        default=None,
        description="The service portal's services catalogue, relative to this file "
        "(hub.portal.catalog; docs/serviceportal.md).",
    )


@dataclass(frozen=True)
class _Located:
    """Where in the file an entry came from (for error messages)."""

    index: int
    authority: Authority


class Region:
    """The authorities of a region, looked up by id and by DVDV key."""

    def __init__(self, data: RegionFile, source: str = "<region>") -> None:
        self.source = source
        self.name = data.name
        self.kinds: Mapping[str, Kind] = MappingProxyType(dict(data.kinds))
        self.dvdv_prefixes: Mapping[str, str] = MappingProxyType(dict(data.dvdv.prefixes))
        #: the services catalogue the file names, or None: relative to the region
        #: file, else (not there, or a region given as text) to the bundled
        #: configuration, so a copied region file keeps the bundled catalogue
        self.services_file: Path | None = None
        if data.services is not None:
            from hub.settings import DEFAULT_CONFIG_DIR

            beside = Path(source).parent / data.services
            self.services_file = beside if Path(source).is_file() and beside.exists() \
                else DEFAULT_CONFIG_DIR / data.services
        by_id: dict[str, Authority] = {}
        by_key: dict[str, Authority] = {}
        municipalities: dict[str, Authority] = {}
        for index, authority in enumerate(data.authority):
            where = f"{source}: authority[{index}] ({authority.id})"
            if authority.id in by_id:
                raise ConfigError(f"{where}: duplicate id {authority.id!r}")
            if authority.dvdv_key in by_key:
                other = by_key[authority.dvdv_key].id
                raise ConfigError(
                    f"{where}: dvdv_key {authority.dvdv_key!r} is already used by {other}"
                )
            if authority.kind not in data.kinds:
                raise ConfigError(
                    f"{where}: kind {authority.kind!r} is not listed in [kinds] "
                    f"(known: {', '.join(sorted(data.kinds))})"
                )
            if authority.id.partition(".")[2] != authority.kind:
                raise ConfigError(
                    f"{where}: id must end with its kind ('.{authority.kind}')"
                )
            prefix = authority.dvdv_key.partition(":")[0]
            if prefix not in data.dvdv.prefixes:
                raise ConfigError(
                    f"{where}: dvdv_key prefix {prefix!r} is not listed in [dvdv.prefixes] "
                    f"(known: {', '.join(sorted(data.dvdv.prefixes))})"
                )
            same = municipalities.setdefault(authority.municipality_id, authority)
            if same.ags != authority.ags or same.municipality != authority.municipality:
                raise ConfigError(
                    f"{where}: municipality {authority.municipality_id!r} is "
                    f"{same.municipality!r} with AGS {same.ags} in {same.id}, "
                    f"but {authority.municipality!r} with AGS {authority.ags} here"
                )
            by_id[authority.id] = authority
            by_key[authority.dvdv_key] = authority
        for kind_id, kind in data.kinds.items():
            seen: set[tuple[str, str]] = set()
            for index, spec in enumerate(kind.projection):
                for code in spec.message_code:
                    if (spec.standard, code) in seen:
                        raise ConfigError(
                            f"{source}: kinds.{kind_id}.projection[{index}]: {spec.standard} "
                            f"{code} has a projection already"
                        )
                    seen.add((spec.standard, code))
        self.authorities: Mapping[str, Authority] = MappingProxyType(by_id)
        self._by_key: Mapping[str, Authority] = MappingProxyType(by_key)
        self._local: Mapping[tuple[str, str], Authority] = MappingProxyType(
            {(a.municipality_id, a.kind): a for a in by_id.values()}
        )

    # -- construction ---------------------------------------------------------
    @classmethod
    def load(cls, path: Path) -> Region:
        """Read and validate a region file; ConfigError with one line naming the entry."""
        path = Path(path)
        return cls.from_dict(read_toml(path, "region file", "HUB_REGION_FILE"), source=str(path))

    @classmethod
    def from_toml(cls, text: str, source: str = "<region>") -> Region:
        return cls.from_dict(parse_toml(text, source), source=source)

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any], source: str = "<region>") -> Region:
        try:
            data = RegionFile.model_validate(raw)
        except ValidationError as exc:
            problems = describe_validation_error(exc, raw, "authority")
            raise ConfigError(f"{source}: {problems}") from exc
        return cls(data, source=source)

    @classmethod
    def from_settings(cls, settings: Settings) -> Region:
        return cls.load(settings.region_file)

    # -- lookups --------------------------------------------------------------
    def __iter__(self) -> Iterator[Authority]:
        return iter(self.authorities.values())

    def __len__(self) -> int:
        return len(self.authorities)

    def __contains__(self, authority_id: object) -> bool:
        return authority_id in self.authorities

    def get(self, authority_id: str) -> Authority:
        """The authority of an id; ConfigError naming the known ids if there is none."""
        try:
            return self.authorities[authority_id]
        except KeyError:
            raise ConfigError(
                f"unknown authority {authority_id!r}; known: {', '.join(self.authorities)}"
            ) from None

    def by_dvdv_key(self, key: str) -> Authority | None:
        """The authority a DVDV key addresses, or None if it is not in the region."""
        return self._by_key.get(normalise_key(key))

    def local(self, authority_id: str, kind: str) -> Authority | None:
        """The authority of ``kind`` in the municipality of ``authority_id`` (or None)."""
        return self._local.get((authority_id.partition(".")[0], kind))

    def projected(self, authority_id: str) -> bool:
        """True when the authority's kind receives projections only."""
        authority = self.authorities.get(authority_id)
        return authority is not None and self.kinds[authority.kind].projected

    def key_status(self, key: str | None) -> KeyStatus:
        """Whether a key is present, well-formed and of a prefix the region accepts."""
        if key is None or not key.strip():
            return KeyStatus.MISSING
        match = KEY_RE.match(key.strip())
        if not match:
            return KeyStatus.MALFORMED
        if match.group(1).lower() not in self.dvdv_prefixes:
            return KeyStatus.UNKNOWN_PREFIX
        return KeyStatus.OK

    def placeholders(self) -> list[Authority]:
        """Authorities whose DVDV key is still a placeholder."""
        return [a for a in self.authorities.values() if a.placeholder_key]

    def __repr__(self) -> str:
        return f"Region({self.name!r}, {len(self)} authorities, from {self.source})"

