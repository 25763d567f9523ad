"""A portal configuration for tests: the bundled catalogue with a [portal] table,
an identity provider whose keys are generated here, and its assertions."""

from __future__ import annotations

import json
import secrets
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from joserfc import jwt
from joserfc.jwk import ECKey, KeySet

from hub.settings import DEFAULT_CONFIG_DIR

ISSUER = "https://servicekonto.test.invalid"
AUDIENCE = "xoev-hub-test"
TOKEN_ENV = "XOEV_PORTAL_TOKEN"


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    raise TypeError(type(value))


@dataclass
class PortalSetup:
    """Files and keys of one test's portal."""

    folder: Path
    key: ECKey = field(default_factory=lambda: ECKey.generate_key("P-256", parameters={
        "kid": "idp-1"}))
    token: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    free: tuple[str, ...] = ("meldebescheinigung",)

    def write(self) -> PortalSetup:
        """The region file (bundled, naming the test's catalogue), the catalogue
        (bundled services and schemas; those in ``free`` without a fee) and the JWKS."""
        self.folder.mkdir(parents=True, exist_ok=True)
        bundled = tomllib.loads((DEFAULT_CONFIG_DIR / "services.toml").read_text("utf-8"))
        jwks = self.folder / "jwks.json"
        jwks.write_text(json.dumps(KeySet([self.key]).as_dict(private=False)), "utf-8")
        lines = [
            "[portal]", f"token_env = {_toml(TOKEN_ENV)}", "[portal.identity]",
            f"jwks = {_toml(str(jwks))}", f"issuer = {_toml(ISSUER)}",
            f"audience = {_toml(AUDIENCE)}", "",
        ]
        for service in bundled["service"]:
            entry = dict(service)
            entry["schema"] = str(DEFAULT_CONFIG_DIR / service["schema"])
            if entry["key"] in self.free:
                entry.pop("fee_cents", None)
            lines.append("[[service]]")
            lines += [f"{k} = {_toml(v)}" for k, v in entry.items()]
            lines.append("")
        self.services_file.write_text("\n".join(lines), "utf-8")
        region = (DEFAULT_CONFIG_DIR / "region.toml").read_text("utf-8")
        assert 'services = "services.toml"' in region
        region = region.replace('services = "services.toml"',
                                f"services = {_toml(str(self.services_file))}")
        self.region_file.write_text(region, "utf-8")
        return self

    @property
    def services_file(self) -> Path:
        return self.folder / "services.toml"

    @property
    def region_file(self) -> Path:
        return self.folder / "region.toml"

    def assertion(self, subject: str = "pseudonym-4711", level: str = "substantiell",
                  key: ECKey | None = None, **claims: Any) -> str:
        now = int(time.time())
        body = {"iss": ISSUER, "aud": AUDIENCE, "sub": subject, "iat": now,
                "exp": now + 300, "acr": level, **claims}
        return jwt.encode({"alg": "ES256", "kid": "idp-1"}, body, key or self.key)
