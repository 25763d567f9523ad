"""Helpers of the security tests (imported by conftest.py and the tests)."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import SecretStr

from hub.broker.embedded import (
    EmbeddedBroker,
)
from hub.settings import Settings
from hub.testing.tls import LocalPki

ADMIN = "admin"


@dataclass(frozen=True)
class SecuredBroker:
    bootstrap: str
    pki: LocalPki
    admin_password: str
    broker: EmbeddedBroker

    def settings(self, user: str, password: str, **overrides: object) -> Settings:
        """Hub settings of a client that authenticates as ``user``."""
        values: dict[str, object] = {
            "bootstrap_servers": self.bootstrap,
            "security_protocol": "SASL_SSL",
            "sasl_mechanism": "SCRAM-SHA-512",
            "sasl_username": user,
            "sasl_password": SecretStr(password),
            "ssl_cafile": self.pki.ca_cert,
        }
        values.update(overrides)
        return Settings(**values)  # type: ignore[arg-type]

    def admin_settings(self) -> Settings:
        return self.settings(ADMIN, self.admin_password)
