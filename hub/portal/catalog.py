"""The services catalogue: which online services the portal offers through the hub.

The region file names it (``services = "services.toml"``, relative to the region
file); each service has its LeiKa/FIM key, the kind of authority that decides
it, the JSON Schema of its form data (a file beside the catalogue), the eIDAS
trust level it needs and its fee. The responsible authority of an application
is the authority of that kind in the municipality of the application's AGS
(:meth:`Catalogue.responsible`), so a fourth city's services are its entries in
the region file. ``[portal]`` (optional) switches the endpoints on.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from hub.core.configfile import describe_validation_error, read_toml
from hub.core.region import Authority, Region, normalise_ags
from hub.errors import ConfigError

__all__ = [
    "TRUST_LEVELS",
    "Catalogue",
    "IdentityConfig",
    "PaymentConfig",
    "PortalConfig",
    "PostfachConfig",
    "Service",
    "TrustLevel",
]

TrustLevel = Literal["substantiell", "hoch"]
#: eIDAS levels in ascending order (``niedrig`` is never enough for the portal).
TRUST_LEVELS: tuple[str, ...] = ("niedrig", "substantiell", "hoch")
SERVICE_KEY_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class ServiceEntry(_Model):
    key: str = Field(description="LeiKa/FIM Leistungsschlüssel (or a readable placeholder).")
    placeholder_key: bool = Field(default=False, strict=True)
    name: str = Field(min_length=1)
    kind: str = Field(min_length=1, description="Kind of authority that decides it.")
    schema_file: str = Field(alias="schema", min_length=1)
    trust_level: TrustLevel
    fee_cents: int | None = Field(default=None, ge=1, description="Absent: no fee.")

    @field_validator("key")
    @classmethod
    def _check_key(cls, value: str) -> str:
        if not SERVICE_KEY_RE.match(value):
            raise ValueError(
                f"key {value!r} must be lower-case letters, digits and hyphens (1-64), "
                "e.g. a 14-digit LeiKa key"
            )
        return value


class IdentityConfig(_Model):
    jwks: str = Field(min_length=1, description="JWKS file path or https:// URL.")
    issuer: str = Field(min_length=1)
    audience: str = Field(min_length=1)
    trust_level_claim: str = Field(default="acr", min_length=1)
    algorithms: list[str] = Field(default_factory=lambda: ["RS256", "PS256", "ES256"])
    leeway_seconds: int = Field(default=30, ge=0, le=300)


def _hex_digests(value: list[str]) -> list[str]:
    for item in value:
        if len(item) != 64 or any(c not in "0123456789abcdef" for c in item.lower()):
            raise ValueError("each entry must be a SHA-256 hex digest (64 hex digits)")
    return [v.lower() for v in value]


class PaymentConfig(_Model):
    """The ePayment provider's notifications (``POST /v1/payments/notifications``)."""

    token_sha256: list[str] = Field(default_factory=list)
    token_env: str | None = None

    @field_validator("token_sha256")
    @classmethod
    def _hex(cls, value: list[str]) -> list[str]:
        return _hex_digests(value)


class PostfachConfig(_Model):
    """The Postfach sink: notices to the applicant's Postfach (signed as webhook v2)."""

    url: str = Field(min_length=1, description="https://, or http:// on this host.")
    secret_env: str = Field(min_length=1, description="Env variable with the HMAC secret.")
    allow_http: bool = False
    timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    attempts: int = Field(default=5, ge=1, le=20)
    backoff_seconds: float = Field(default=1.0, ge=0, le=300)

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("url must start with http:// or https://")
        return value

    @model_validator(mode="after")
    def _tls(self) -> PostfachConfig:
        from hub.adapters.webhook import _loopback

        if self.url.startswith("http://") and not self.allow_http and not _loopback(self.url):
            raise ValueError("url must use https:// for another host (or set allow_http: "
                             "notices would travel unencrypted)")
        return self


class PortalConfig(_Model):
    token_sha256: list[str] = Field(default_factory=list)
    token_env: str | None = None
    identity: IdentityConfig
    payment: PaymentConfig | None = None
    postfach: PostfachConfig | None = None

    @field_validator("token_sha256")
    @classmethod
    def _hex(cls, value: list[str]) -> list[str]:
        return _hex_digests(value)


class CatalogueFile(_Model):
    portal: PortalConfig | None = None
    service: list[ServiceEntry] = Field(min_length=1)


@dataclass(frozen=True)
class Service:
    """One service of the catalogue with its loaded JSON Schema."""

    key: str
    name: str
    kind: str
    trust_level: str
    fee_cents: int | None
    schema: Mapping[str, Any]
    schema_path: Path
    placeholder_key: bool = False

    def trust_sufficient(self, level: str) -> bool:
        """Whether an identity of ``level`` may apply for this service."""
        if level not in TRUST_LEVELS:
            return False
        return TRUST_LEVELS.index(level) >= TRUST_LEVELS.index(self.trust_level)


class Catalogue:
    """The services of a region and who decides them."""

    def __init__(
        self,
        services: Mapping[str, Service],
        region: Region,
        portal: PortalConfig | None = None,
        source: str = "<services>",
    ) -> None:
        self.services: Mapping[str, Service] = MappingProxyType(dict(services))
        self.region = region
        self.portal = portal
        self.source = source

    def unserved(self) -> list[Service]:
        """Services no authority of the region decides (their kind has no authority):
        applications for them are refused with NO_RESPONSIBLE_AUTHORITY."""
        kinds = {a.kind for a in self.region}
        return [s for s in self if s.kind not in kinds]

    @classmethod
    def load(cls, path: Path, region: Region) -> Catalogue:
        """Read a catalogue and its JSON Schemas; ConfigError with one line otherwise."""
        path = Path(path)
        raw = read_toml(path, "services catalogue")
        try:
            data = CatalogueFile.model_validate(raw)
        except ValidationError as exc:
            raise ConfigError(
                f"{path}: {describe_validation_error(exc, raw, 'service', 'key')}"
            ) from exc
        services: dict[str, Service] = {}
        for index, entry in enumerate(data.service):
            where = f"{path}: service[{index}] ({entry.key})"
            if entry.key in services:
                raise ConfigError(f"{where}: duplicate key")
            schema_path = (path.parent / entry.schema_file).resolve()
            try:
                schema = json.loads(schema_path.read_text(encoding="utf-8"))
            except FileNotFoundError:
                raise ConfigError(f"{where}: schema {entry.schema_file} not found") from None
            except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
                raise ConfigError(f"{where}: schema {entry.schema_file} unreadable: "
                                  f"{type(exc).__name__}") from exc
            if not isinstance(schema, dict) or schema.get("type") != "object":
                raise ConfigError(f"{where}: schema {entry.schema_file} must describe an object")
            services[entry.key] = Service(
                key=entry.key, name=entry.name, kind=entry.kind,
                trust_level=entry.trust_level, fee_cents=entry.fee_cents,
                schema=schema, schema_path=schema_path, placeholder_key=entry.placeholder_key,
            )
        catalogue = cls(services, region, data.portal, source=str(path))
        # every form schema must compile and derive an Avro schema: fail at start
        from hub.portal.forms import FormSchema

        for service in catalogue:
            try:
                FormSchema.of(service)
            except ValueError as exc:
                raise ConfigError(f"{path}: service {service.key}: {exc}") from exc
        return catalogue

    @classmethod
    def of_region(cls, region: Region) -> Catalogue | None:
        """The catalogue the region file names, or None when it names none."""
        if region.services_file is None:
            return None
        return cls.load(region.services_file, region)

    def __iter__(self) -> Iterator[Service]:
        return iter(self.services.values())

    def __len__(self) -> int:
        return len(self.services)

    def get(self, key: str) -> Service | None:
        return self.services.get(key)

    def responsible(self, service: Service, ags: str) -> Authority | None:
        """The authority of the service's kind in the municipality of ``ags``."""
        try:
            wanted = normalise_ags(ags)
        except ValueError:
            return None
        for authority in self.region:
            if authority.kind == service.kind and authority.ags == wanted:
                return authority
        return None

    def deciding_authorities(self) -> list[Authority]:
        """Every authority that decides at least one service (has an application topic)."""
        kinds = {s.kind for s in self}
        return sorted((a for a in self.region if a.kind in kinds), key=lambda a: a.id)
