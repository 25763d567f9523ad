"""A portal configuration for tests: the bundled catalogue with a [portal] table,
an identity provider whose keys are generated here, and its assertions."""

from __future__ import annotations

import json
import secrets
import socket
import threading
import time
import tomllib
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from joserfc import jwt
from joserfc.jwk import ECKey, KeySet

from hub.adapters.webhook import verify_request
from hub.settings import DEFAULT_CONFIG_DIR
from tests.worker.harness import WorkerProcess

ISSUER = "https://servicekonto.test.invalid"
AUDIENCE = "xoev-hub-test"
TOKEN_ENV = "XOEV_PORTAL_TOKEN"
PAYMENT_TOKEN_ENV = "XOEV_PAYMENT_TOKEN"
POSTFACH_SECRET_ENV = "XOEV_POSTFACH_SECRET"


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
    #: the ePayment provider's token ([portal.payment]) and the Postfach ([portal.postfach])
    payment_token: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    postfach_url: str | None = None
    postfach_secret: str = field(default_factory=lambda: secrets.token_urlsafe(32))

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
            "[portal.payment]", f"token_env = {_toml(PAYMENT_TOKEN_ENV)}", "",
        ]
        if self.postfach_url is not None:
            lines += ["[portal.postfach]", f"url = {_toml(self.postfach_url)}",
                      f"secret_env = {_toml(POSTFACH_SECRET_ENV)}", "attempts = 3",
                      "backoff_seconds = 0.2", ""]
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

    def env(self) -> dict[str, str]:
        """The worker's environment variables holding this setup's secrets."""
        return {TOKEN_ENV: self.token, PAYMENT_TOKEN_ENV: self.payment_token,
                POSTFACH_SECRET_ENV: self.postfach_secret}

    def assertion(self, subject: str = "pseudonym-4711", level: str = "substantiell",
                  key: ECKey | None = None, **claims: Any) -> str:
        now = int(time.time())
        body = {"iss": ISSUER, "aud": AUDIENCE, "sub": subject, "iat": now,
                "exp": now + 300, "acr": level, **claims}
        return jwt.encode({"alg": "ES256", "kid": "idp-1"}, body, key or self.key)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Client:
    """The portal's side of the contract, with urllib."""

    def __init__(self, port: int, token: str) -> None:
        self.base = f"http://127.0.0.1:{port}"
        self.token = token

    def call(self, method: str, path: str, body: Any = None,
             token: str | None = None) -> tuple[int, dict[str, Any]]:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.base + path, data=data, method=method)
        request.add_header("Content-Type", "application/json")
        if (token or self.token) != "":
            request.add_header("Authorization", f"Bearer {token or self.token}")
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())

    def metrics(self) -> str:
        with urllib.request.urlopen(f"{self.base}/metrics", timeout=10) as response:
            return str(response.read().decode())

    def wait_ready(self, worker: WorkerProcess, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert worker.alive(), worker.log_text()[-3000:]
            try:
                status, _ = self.call("GET", "/v1/applications/probe")
                if status == 404:
                    return
            except OSError:
                pass
            time.sleep(0.5)
        raise AssertionError("portal not ready: " + worker.log_text()[-3000:])


class Postfach:
    """A test Postfach on 127.0.0.1: takes signed notices (webhook v2) and keeps them;
    ``fail_first`` answers 503 to the first so many POSTs."""

    def __init__(self, secret: str, fail_first: int = 0) -> None:
        self.secret = secret
        self.fail_first = fail_first
        self.notices: list[dict[str, Any]] = []
        self.posts = 0
        self.bad_signatures = 0
        self._lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with outer._lock:
                    outer.posts += 1
                    if outer.posts <= outer.fail_first:
                        self.send_response(503)
                        self.end_headers()
                        return
                    if not verify_request(outer.secret, dict(self.headers.items()), body):
                        outer.bad_signatures += 1
                        self.send_response(401)
                        self.end_headers()
                        return
                    notice = json.loads(body)
                    notice["_author"] = self.headers.get("xoev-author")
                    outer.notices.append(notice)
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/postfach"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Postfach:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def of(self, application_id: str) -> list[dict[str, Any]]:
        with self._lock:
            return [n for n in self.notices if n["application_id"] == application_id]

    def wait_for(self, application_id: str, timeout: float = 30) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.of(application_id)
            if found:
                return found[0]
            time.sleep(0.2)
        raise AssertionError(f"no notice for {application_id} in the Postfach")
