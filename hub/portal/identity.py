"""The applicant's identity assertion: a JWT signed by the identity provider.

:class:`IdentityVerifier` checks, with ``joserfc``: the signature against the
provider's JWKS (a file, or an ``https://`` URL fetched at start and again when
a token names an unknown ``kid``, at most once a minute), the algorithm (from
the configured list, never ``none``), ``iss``, ``aud``, ``exp`` (required),
``nbf``/``iat`` when present, the subject ``sub`` and the eIDAS trust level in
the configured claim. The result carries only the pseudonymous subject id and
the level; the token itself goes nowhere.

Trust level values: ``substantiell``/``hoch`` (also ``substantial``/``high`` and
the eIDAS URIs ``http://eidas.europa.eu/LoA/substantial`` / ``.../high``); a
lower or unknown level is ``niedrig``.
"""

from __future__ import annotations

import contextlib
import json
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from hub.errors import ConfigError
from hub.portal.catalog import IdentityConfig

__all__ = ["Identity", "IdentityError", "IdentityVerifier", "trust_level_of"]

LEVELS = {
    "substantiell": "substantiell", "substantial": "substantiell",
    "http://eidas.europa.eu/loa/substantial": "substantiell",
    "hoch": "hoch", "high": "hoch", "http://eidas.europa.eu/loa/high": "hoch",
}
MAX_TOKEN_CHARS = 16 * 1024
JWKS_REFRESH_SECONDS = 60.0


@dataclass(frozen=True)
class Identity:
    """What the hub keeps of an identity: pseudonymous id and trust level."""

    subject: str
    trust_level: str


class IdentityError(Exception):
    """The assertion is missing, forged, expired or from the wrong party (HTTP 401)."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


def trust_level_of(value: object) -> str:
    """The eIDAS level of a claim value: ``substantiell``, ``hoch`` or ``niedrig``."""
    if isinstance(value, list):
        levels = [trust_level_of(v) for v in value]
        return "hoch" if "hoch" in levels else "substantiell" if "substantiell" in levels \
            else "niedrig"
    if not isinstance(value, str):
        return "niedrig"
    return LEVELS.get(value.strip().lower(), "niedrig")


def _load_jwks(source: str, base: Path | None = None) -> KeySet:
    try:
        if source.startswith("https://") or source.startswith("http://127.0.0.1"):
            with urllib.request.urlopen(source, timeout=10) as response:
                data: Any = json.loads(response.read(1024 * 1024))
        else:
            path = Path(source)
            if base is not None and not path.is_absolute():
                path = base / path
            data = json.loads(path.read_text(encoding="utf-8"))
        keys = KeySet.import_key_set(data)
    except (OSError, ValueError, JoseError) as exc:
        raise ConfigError(f"portal identity: JWKS {source} unusable: {type(exc).__name__}") from exc
    if not keys.keys:
        raise ConfigError(f"portal identity: JWKS {source} has no keys")
    for key in keys.keys:
        if key.is_private:
            raise ConfigError(f"portal identity: JWKS {source} holds a private key; "
                              "configure the provider's public keys only")
    return keys


class IdentityVerifier:
    """Checks identity assertions against one provider's keys and claims."""

    def __init__(self, config: IdentityConfig, base: Path | None = None) -> None:
        if any(a.lower() == "none" or a.startswith("HS") for a in config.algorithms):
            raise ConfigError("portal identity: algorithms must be asymmetric (RS*, PS*, ES*, "
                              "EdDSA); 'none' and HS* are refused")
        self.config = config
        self.base = base
        self.keys = _load_jwks(config.jwks, base)
        self._refreshed = time.monotonic()

    def _refresh(self) -> None:
        if time.monotonic() - self._refreshed < JWKS_REFRESH_SECONDS:
            return
        self._refreshed = time.monotonic()
        # keep the known keys when the provider is down for a moment
        with contextlib.suppress(ConfigError):
            self.keys = _load_jwks(self.config.jwks, self.base)

    def verify(self, token: object, now: float | None = None) -> Identity:
        """The identity of a valid assertion; IdentityError with a one-line reason otherwise."""
        if not isinstance(token, str) or not token.strip():
            raise IdentityError("IDENTITY_MISSING", "no identity assertion")
        if len(token) > MAX_TOKEN_CHARS or token.count(".") != 2:
            raise IdentityError("IDENTITY_MALFORMED", "the identity assertion is not a signed JWT")
        try:
            decoded = jwt.decode(token, self.keys, algorithms=self.config.algorithms)
        except JoseError as exc:
            if type(exc).__name__ in ("InvalidKeyIdError", "MissingKeyError"):
                self._refresh()
                try:
                    decoded = jwt.decode(token, self.keys, algorithms=self.config.algorithms)
                except (JoseError, ValueError) as again:
                    raise self._refused(again) from None
            else:
                raise self._refused(exc) from None
        except ValueError as exc:
            raise self._refused(exc) from None
        claims = decoded.claims
        now = time.time() if now is None else now
        leeway = self.config.leeway_seconds
        if claims.get("iss") != self.config.issuer:
            raise IdentityError("IDENTITY_ISSUER", "the identity assertion is from another issuer")
        audience = claims.get("aud")
        audiences = audience if isinstance(audience, list) else [audience]
        if self.config.audience not in audiences:
            raise IdentityError("IDENTITY_AUDIENCE",
                                "the identity assertion is meant for another audience")
        exp = claims.get("exp")
        if not isinstance(exp, int | float) or isinstance(exp, bool):
            raise IdentityError("IDENTITY_EXPIRY", "the identity assertion has no expiry")
        if exp + leeway < now:
            raise IdentityError("IDENTITY_EXPIRED", "the identity assertion has expired")
        for claim in ("nbf", "iat"):
            value = claims.get(claim)
            if value is not None and (not isinstance(value, int | float) or value - leeway > now):
                raise IdentityError("IDENTITY_NOT_YET_VALID",
                                    "the identity assertion is not valid yet")
        subject = claims.get("sub")
        if not isinstance(subject, str) or not subject.strip() or len(subject) > 255:
            raise IdentityError("IDENTITY_SUBJECT", "the identity assertion names no subject")
        level = trust_level_of(claims.get(self.config.trust_level_claim))
        return Identity(subject=subject.strip(), trust_level=level)

    @staticmethod
    def _refused(exc: Exception) -> IdentityError:
        name = type(exc).__name__
        if name == "BadSignatureError":
            return IdentityError("IDENTITY_SIGNATURE",
                                 "the identity assertion's signature is invalid")
        if name in ("InvalidKeyIdError", "MissingKeyError"):
            return IdentityError("IDENTITY_KEY_UNKNOWN",
                                 "the identity assertion is signed with an unknown key")
        if name in ("UnsupportedAlgorithmError", "MissingAlgorithmError"):
            return IdentityError("IDENTITY_ALGORITHM",
                                 "the identity assertion's algorithm is not accepted")
        return IdentityError("IDENTITY_MALFORMED", "the identity assertion is not a valid JWT")
