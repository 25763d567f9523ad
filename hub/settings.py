"""Settings of the hub: one pydantic-settings class, environment prefix ``HUB_``.

Every field can be set as an environment variable (``HUB_BOOTSTRAP_SERVERS``,
``HUB_WEB_PORT``, ...). Unknown ``HUB_*`` variables are rejected so that a typo
fails at start instead of being silently ignored.
"""

from __future__ import annotations

import os
from functools import cached_property
from importlib.resources import files
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from hub.errors import ConfigError


def package_data(*parts: str) -> Path:
    """A folder of the hub's package data (``importlib.resources``), as a path.

    The bundled schema packages, the generated Avro schemas and the default
    configuration ship inside the ``hub`` package, so an installed wheel finds
    them wherever it runs; in a checkout (editable install) they are the source
    tree's files, which ``xoev-hub schemas build`` regenerates in place.
    """
    resource = files("hub").joinpath(*parts)
    if not isinstance(resource, Path):
        # Python 3.11 cannot hand out a folder of a zipped package as a path.
        raise ConfigError(f"package data hub/{'/'.join(parts)} is not a folder on disk; "
                          "install xoev-hub unpacked (pip install)")
    return resource


PACKAGE_DIR = package_data()
# The checkout's root (bench/ lives there); in an installed wheel it is site-packages.
PROJECT_DIR = PACKAGE_DIR.parent
BUNDLED_SCHEMA_DIR = package_data("schemas_data", "xoev")
AVRO_SCHEMA_DIR = package_data("schemas_data", "avro")
DEFAULT_CONFIG_DIR = package_data("config")


def _xdg(var: str, fallback: str) -> Path:
    value = os.environ.get(var)
    return Path(value) if value else Path.home() / fallback


class Settings(BaseSettings):
    """All settings of the hub (environment variables with prefix ``HUB_``)."""

    model_config = SettingsConfigDict(env_prefix="HUB_", extra="forbid", frozen=True)

    # --- Kafka -------------------------------------------------------------
    bootstrap_servers: str | None = Field(
        default=None,
        description="Existing Kafka cluster (host:port,...). Unset: the embedded broker.",
    )
    kafka_port: int = Field(default=9092, description="Embedded broker client port.")
    kafka_controller_port: int = Field(default=9093, description="Embedded KRaft controller port.")
    kafka_version: str = Field(default="4.1.1", description="Apache Kafka version to assemble.")
    kafka_data_dir: Path | None = Field(
        default=None, description="Embedded broker data, config and logs (default: state dir)."
    )
    kafka_cache_dir: Path = Field(
        default_factory=lambda: _xdg("XDG_CACHE_HOME", ".cache") / "xoev-hub",
        description="Where the broker jars are cached.",
    )
    kafka_heap: str = Field(default="512m", description="Embedded broker JVM heap (-Xmx).")
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    sasl_mechanism: Literal["SCRAM-SHA-256", "SCRAM-SHA-512", "PLAIN"] = "SCRAM-SHA-512"
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    ssl_cafile: Path | None = None

    # --- Topics ------------------------------------------------------------
    topic_partitions: int = Field(default=3, ge=1, description="Partitions per contract topic.")
    replication_factor: int = Field(default=1, ge=1)
    consumer_group: str = Field(default="xoev-hub", description="Faust app id / consumer group.")
    commit_interval_ms: int = Field(
        default=50, ge=10, le=60000,
        description="How often the worker commits offsets. Outputs are published and "
        "acknowledged before each commit, so this bounds the added end-to-end latency.",
    )
    batch_max: int = Field(
        default=500, ge=1, le=10000,
        description="The worker takes up to this many inbound events as one batch.",
    )
    batch_wait_ms: int = Field(
        default=2, ge=1, le=1000,
        description="How long the worker waits to fill a batch before it processes what "
        "it has (bounds the latency added at low rates).",
    )
    dedupe_retention: str = Field(
        default="30d",
        pattern=r"^\s*\d+(\.\d+)?\s*(ms|s|m|h|d)?\s*$",
        description="How long (author, nachrichtenUUID) pairs are remembered for "
        "deduplication, e.g. 30d, 12h, 90s (decision 0006).",
    )
    stats_window: str = Field(
        default="7d",
        pattern=r"^\s*\d+(\.\d+)?\s*(ms|s|m|h|d)?\s*$",
        description="Tumbling window of the mobility statistics, e.g. 7d, 1h, 30s "
        "(docs/statistics.md).",
    )
    stats_min_count: int = Field(
        default=5, ge=2,
        description="k: a mobility cell is published only with at least this many "
        "households in it; smaller ones are coarsened or suppressed.",
    )
    portal_payment_timeout: str = Field(
        default="7d",
        pattern=r"^\s*\d+(\.\d+)?\s*(ms|s|m|h|d)?\s*$",
        description="How long a service portal application with a fee waits for its "
        "payment before it is rejected (PAYMENT_TIMEOUT), e.g. 7d, 2h, 30s "
        "(docs/serviceportal.md).",
    )
    topic_prefix: str = Field(
        default="",
        pattern=r"^[A-Za-z0-9._-]*$",
        description="Prepended to every topic name (empty in production; tests and "
        "shared staging clusters use it to keep runs apart).",
    )

    # --- Configuration files ------------------------------------------------
    region_file: Path = Field(
        default=DEFAULT_CONFIG_DIR / "region.toml", description="Authorities of the region."
    )
    routes_file: Path = Field(
        default=DEFAULT_CONFIG_DIR / "routes.toml", description="Declarative routing rules."
    )
    aktenplan_file: Path = Field(
        default=DEFAULT_CONFIG_DIR / "aktenplan.toml",
        description="The region's common file plan (units, retention, archival assessment).",
    )
    filing_file: Path = Field(
        default=DEFAULT_CONFIG_DIR / "filing.toml",
        description="Which file-plan unit files each message type (checked against "
        "aktenplan_file when the worker starts).",
    )
    schema_dir: Path = Field(
        default_factory=lambda: _xdg("XDG_DATA_HOME", ".local/share") / "xoev-hub" / "schemas",
        description="Installed XÖV schema packages (bundled ones are always available).",
    )

    state_dir: Path = Field(
        default_factory=lambda: _xdg("XDG_STATE_HOME", ".local/state") / "xoev-hub" / "worker",
        description="Local table state of workers (RocksDB), one locked slot folder per "
        "process under <cluster id>/<consumer group>/.",
    )

    # --- Limits ------------------------------------------------------------
    max_message_bytes: int = Field(default=4 * 1024 * 1024, ge=1024)
    max_xml_depth: int = Field(default=256, ge=8)

    # --- Hand-over containers (xdomea ZIPs, claim check; docs/xdomea.md) ---------
    blob_dir: Path = Field(
        default_factory=lambda: _xdg("XDG_STATE_HOME", ".local/state") / "xoev-hub" / "blobs",
        description="Blob store of the claim check: checked containers, by authority and "
        "SHA-256 (every process that runs adapters must see the same folder).",
    )
    container_max_bytes: int = Field(
        default=200 * 1024 * 1024, ge=1024, description="Largest container (ZIP) accepted."
    )
    container_max_entries: int = Field(
        default=10_000, ge=2, description="Most entries of one container."
    )
    container_max_uncompressed_bytes: int = Field(
        default=1024 * 1024 * 1024, ge=1024,
        description="Most bytes all entries of one container may unpack to.",
    )
    container_max_ratio: int = Field(
        default=100, ge=2,
        description="Highest compression ratio of an entry above 1 MiB (zip bombs).",
    )

    # --- Web / worker -------------------------------------------------------
    web_host: str = "127.0.0.1"
    web_port: int = Field(default=6066, description="/metrics, /healthz, /readyz, HTTP inbound.")
    http_tls_cert: Path | None = Field(
        default=None,
        description="PEM certificate (chain) to serve the web port over HTTPS (HTTP inbound "
        "included); with http_tls_key. Unset: plain HTTP (warned at start).",
    )
    http_tls_key: Path | None = Field(default=None, description="PEM key of http_tls_cert.")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    @model_validator(mode="after")
    def _reject_unknown_env(self) -> Settings:
        known = {f"HUB_{name.upper()}" for name in type(self).model_fields}
        unknown = sorted(k for k in os.environ if k.startswith("HUB_") and k not in known)
        if unknown:
            raise ValueError(f"unknown setting(s): {', '.join(unknown)}")
        return self

    @model_validator(mode="after")
    def _tls_pair(self) -> Settings:
        if (self.http_tls_cert is None) != (self.http_tls_key is None):
            raise ValueError("give both HUB_HTTP_TLS_CERT and HUB_HTTP_TLS_KEY, or neither")
        return self

    @property
    def dedupe_retention_seconds(self) -> float:
        return duration_seconds(self.dedupe_retention)

    @property
    def stats_window_seconds(self) -> float:
        return duration_seconds(self.stats_window)

    @property
    def portal_payment_timeout_seconds(self) -> float:
        return duration_seconds(self.portal_payment_timeout)

    @property
    def embedded(self) -> bool:
        """True when the hub runs its own broker (no external cluster named)."""
        return not self.bootstrap_servers

    @cached_property
    def bootstrap(self) -> str:
        """The bootstrap address clients use."""
        return self.bootstrap_servers or f"127.0.0.1:{self.kafka_port}"

    @cached_property
    def broker_dir(self) -> Path:
        if self.kafka_data_dir is not None:
            return self.kafka_data_dir
        return _xdg("XDG_STATE_HOME", ".local/state") / "xoev-hub" / f"kafka-{self.kafka_port}"


_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def duration_seconds(text: str) -> float:
    """``30d``, ``12h``, ``90s``, ``500ms`` or a bare number of seconds, in seconds."""
    value = text.strip()
    for unit in sorted(_UNITS, key=len, reverse=True):
        if value.endswith(unit):
            return float(value[: -len(unit)].strip()) * _UNITS[unit]
    return float(value)


def load_settings(**overrides: object) -> Settings:
    """Read settings from the environment; raise ConfigError with one clear line."""
    try:
        settings = Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'settings'}: {err['msg']}"
            for err in exc.errors()
        )
        raise ConfigError(f"invalid settings: {problems}") from exc
    if settings.sasl_password is not None:
        from hub.logging import register_secret

        register_secret(settings.sasl_password.get_secret_value())
    return settings
