"""Kafka credentials of an adapter: the principal it acts as and where its password is.

An adapter built into the worker acts with the credentials of the authority it
serves (docs/decisions/0008), so the broker's ACLs, not only an HTTP token, tie
what it writes and reads to that authority. The region file never holds the
password, only a reference to it (``kafka_credentials`` of an adapter entry)::

    # the password is in an environment variable; the username is the authority id
    { type = "http-inbound", token_env = "…", kafka_credentials = "env:XOEV_KAFKA_SOLINGEN_MB" }
    # a file holds the password (a mounted Kubernetes secret, one line)
    { type = "directory-outbound", path = "…",
      kafka_credentials = "file:/etc/xoev-hub/kafka-users/solingen.meldebehoerde/password" }
    # another username than the authority id (the password is still a reference)
    { type = "webhook", url = "…", secret_env = "…",
      kafka_credentials = { username = "solingen.meldebehoerde", password = "env:PW" } }

``env:NAME`` names a variable outside the ``HUB_`` prefix (``HUB_*`` are settings,
and unknown ones are refused). ``file:PATH`` names an absolute path; its content
without the trailing line break is the password. References are resolved when
the adapters are built (worker start): a variable that is unset or empty, or a
file that cannot be read or is empty, is a ``ConfigError`` naming the authority,
the adapter and the variable or file. Every resolved password is registered with
:func:`hub.logging.register_secret`.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from hub.errors import ConfigError
from hub.kafka.config import SaslCredentials
from hub.logging import register_secret

__all__ = ["KafkaCredentialsRef", "parse_reference", "resolve_credentials"]

ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
#: What a SCRAM username may look like here (authority ids and service names).
USERNAME = r"^[A-Za-z0-9][A-Za-z0-9._@-]*$"


def parse_reference(reference: str) -> tuple[str, str]:
    """``("env", NAME)`` or ``("file", PATH)``; ValueError otherwise.

    The error never repeats the value: it may be the secret itself, written
    into the region file by mistake."""
    kind, sep, target = reference.partition(":")
    if sep and kind == "env":
        if not ENV_NAME.match(target):
            raise ValueError("env: needs an environment variable name (letters, digits, _)")
        if target.upper().startswith("HUB_"):
            raise ValueError(
                f"env:{target}: HUB_* variables are the hub's settings (unknown ones are "
                "refused at start); name the variable otherwise, e.g. XOEV_KAFKA_…"
            )
        return "env", target
    if sep and kind == "file":
        if not target.startswith("/"):
            raise ValueError("file: needs an absolute path")
        return "file", target
    raise ValueError(
        "must reference the password as env:VARIABLE or file:/absolute/path "
        "(the region file never holds the secret itself)"
    )


class KafkaCredentialsRef(BaseModel):
    """``kafka_credentials`` of an adapter entry: a username and a password reference.

    A plain string is the password reference; the username is then the id of the
    authority the adapter serves (the principal the ACL plan grants)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    username: str | None = Field(default=None, pattern=USERNAME, max_length=200)
    password: str = Field(description="env:VARIABLE or file:/absolute/path")

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        return {"password": data} if isinstance(data, str) else data

    @field_validator("password")
    @classmethod
    def _reference(cls, value: str) -> str:
        parse_reference(value)
        return value

    def describe(self) -> str:
        """Where the password comes from (never the password)."""
        return self.password


def resolve_credentials(
    ref: KafkaCredentialsRef, *, authority_id: str, where: str
) -> SaslCredentials:
    """Read the referenced password; ``where`` names the adapter in errors."""
    kind, target = parse_reference(ref.password)
    if kind == "env":
        password = os.environ.get(target, "")
        if not password:
            raise ConfigError(
                f"{where}: kafka_credentials: environment variable {target} is not set"
                if target not in os.environ
                else f"{where}: kafka_credentials: environment variable {target} is empty"
            )
    else:
        try:
            password = Path(target).read_text(encoding="utf-8").rstrip("\r\n")
        except OSError as exc:
            raise ConfigError(
                f"{where}: kafka_credentials: file {target} cannot be read "
                f"({exc.strerror or type(exc).__name__})"
            ) from None
        except UnicodeDecodeError:
            raise ConfigError(
                f"{where}: kafka_credentials: file {target} is not UTF-8 text"
            ) from None
        if not password:
            raise ConfigError(f"{where}: kafka_credentials: file {target} is empty")
    register_secret(password)
    return SaslCredentials(ref.username or authority_id, SecretStr(password))
