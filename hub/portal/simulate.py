"""Simulated citizens for the service portal: ``xoev-hub portal setup|simulate`` and
the demo (docs/serviceportal.md, "Try it"; decision 0020).

The hub stays real; everything around it is played here, on loopback:

* :class:`PortalSetup` — a test identity provider (an EC key generated here, its
  public JWKS), the portal's and the ePayment provider's bearer tokens, the
  Postfach secret, and a copy of the region file naming a catalogue with a
  ``[portal]`` table. :meth:`PortalSetup.save` also keeps the private key and the
  secrets (files of mode 0600) and ``worker.env``, the environment a worker is
  started with, so a later :meth:`PortalSetup.load` plays the same parties.
* :class:`PortalClient` — the portal's and the provider's side of the HTTP contract.
* :class:`Postfach` — the applicants' Postfach: an HTTP server on 127.0.0.1 that
  checks each notice's webhook v2 signature and keeps it.
* :class:`Authorities` — the deciding authorities: they read their application
  topics and answer every application of this run with a notice on
  ``xoev.notices.<authority>``.
* :func:`plan_citizens` and :class:`PortalSimulation` — N citizens of the region's
  cities with a seeded mix of what they do (:data:`KINDS`), and what the hub made of
  each, compared with what the mix intended.

Nothing here prints a token, a secret or a form value: outcome lines carry the
application id, the service key, the city and codes.
"""

from __future__ import annotations

import base64
import json
import os
import random
import re
import secrets
import socket
import ssl
import threading
import time
import tomllib
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any

from joserfc import jwt
from joserfc.jwk import ECKey, KeySet

from hub.errors import ConfigError, HubError
from hub.settings import DEFAULT_CONFIG_DIR, duration_seconds

if TYPE_CHECKING:
    from hub.portal.catalog import Catalogue, Service
    from hub.settings import Settings

__all__ = [
    "AUDIENCE",
    "ISSUER",
    "KINDS",
    "Authorities",
    "Citizen",
    "Outcome",
    "PortalClient",
    "PortalSetup",
    "PortalSimulation",
    "Postfach",
    "describe",
    "free_port",
    "intended",
    "plan_citizens",
    "sample_form",
]

ISSUER = "https://servicekonto.test.invalid"
AUDIENCE = "xoev-hub-test"
KEY_ID = "idp-1"
TOKEN_ENV = "XOEV_PORTAL_TOKEN"
PAYMENT_TOKEN_ENV = "XOEV_PAYMENT_TOKEN"
POSTFACH_SECRET_ENV = "XOEV_POSTFACH_SECRET"
#: files of a saved setup (``portal setup DIR``)
SETUP_FILE = "setup.json"
WORKER_ENV_FILE = "worker.env"
PRIVATE_KEY_FILE = "idp-private-key.json"


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    raise TypeError(type(value))


def _write_private(path: Path, text: str) -> None:
    """Write ``text`` to a file only its owner may read (created so, never widened)."""
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)


def _new_key() -> ECKey:
    return ECKey.generate_key("P-256", parameters={"kid": KEY_ID})


@dataclass
class PortalSetup:
    """The parties around the hub: identity provider keys, tokens, Postfach, and the
    region and catalogue files a worker is started with (``HUB_REGION_FILE``)."""

    folder: Path
    key: ECKey = field(default_factory=_new_key)
    token: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    #: services offered without their fee (tests); the simulation keeps the fees
    free: tuple[str, ...] = ("meldebescheinigung",)
    #: the ePayment provider's token ([portal.payment]) and the Postfach ([portal.postfach])
    payment_token: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    postfach_url: str | None = None
    postfach_secret: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    postfach_attempts: int = 3
    postfach_backoff_seconds: float = 0.2
    #: the region file copied (its catalogue with it); None: the bundled one
    region_source: Path | None = None
    #: HUB_PORTAL_PAYMENT_TIMEOUT in worker.env (None: the worker's own setting)
    payment_timeout: str | None = None

    def write(self) -> PortalSetup:
        """The region file (a copy naming this setup's catalogue), the catalogue (the
        region's services and schemas with a ``[portal]`` table; those in ``free``
        without a fee) and the public JWKS."""
        from hub.core.region import Region

        self.folder.mkdir(parents=True, exist_ok=True)
        source = Path(self.region_source or DEFAULT_CONFIG_DIR / "region.toml")
        region = Region.load(source)
        if region.services_file is None:
            raise ConfigError(f"{source}: the region file names no services catalogue "
                              "(services = \"services.toml\")")
        catalogue_file = region.services_file
        raw = tomllib.loads(catalogue_file.read_text("utf-8"))
        jwks = self.folder / "jwks.json"
        jwks.write_text(json.dumps(KeySet([self.key]).as_dict(private=False)), "utf-8")
        lines = [
            "# written by xoev-hub portal setup: a simulated identity provider, portal,",
            "# ePayment provider and Postfach (docs/serviceportal.md, \"Try it\")",
            "[portal]", f"token_env = {_toml(TOKEN_ENV)}", "[portal.identity]",
            f"jwks = {_toml(str(jwks.resolve()))}", f"issuer = {_toml(ISSUER)}",
            f"audience = {_toml(AUDIENCE)}", "",
            "[portal.payment]", f"token_env = {_toml(PAYMENT_TOKEN_ENV)}", "",
        ]
        if self.postfach_url is not None:
            lines += ["[portal.postfach]", f"url = {_toml(self.postfach_url)}",
                      f"secret_env = {_toml(POSTFACH_SECRET_ENV)}",
                      f"attempts = {self.postfach_attempts}",
                      f"backoff_seconds = {self.postfach_backoff_seconds}", ""]
        for service in raw.get("service", []):
            entry = dict(service)
            entry["schema"] = str((catalogue_file.parent / service["schema"]).resolve())
            if entry["key"] in self.free:
                entry.pop("fee_cents", None)
            lines.append("[[service]]")
            lines += [f"{k} = {_toml(v)}" for k, v in entry.items()]
            lines.append("")
        self.services_file.write_text("\n".join(lines), "utf-8")
        text = source.read_text("utf-8")
        named = re.compile(r"^(\s*services\s*=\s*).*$", re.MULTILINE)
        text, count = named.subn(lambda m: m.group(1) + _toml(str(self.services_file.resolve())),
                                 text, count=1)
        if count != 1:  # pragma: no cover - Region.load found it above
            raise ConfigError(f"{source}: no services = line to replace")
        self.region_file.write_text(text, "utf-8")
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

    def worker_env(self) -> dict[str, str]:
        """Everything a worker needs for this setup: the region file, the payment
        timeout (when set) and the secrets."""
        env = {"HUB_REGION_FILE": str(self.region_file.resolve())}
        if self.payment_timeout is not None:
            env["HUB_PORTAL_PAYMENT_TIMEOUT"] = self.payment_timeout
        return {**env, **self.env()}

    def assertion(self, subject: str = "pseudonym-4711", level: str = "substantiell",
                  key: ECKey | None = None, **claims: Any) -> str:
        now = int(time.time())
        body = {"iss": ISSUER, "aud": AUDIENCE, "sub": subject, "iat": now,
                "exp": now + 300, "acr": level, **claims}
        return jwt.encode({"alg": "ES256", "kid": KEY_ID}, body, key or self.key)

    # -- a setup kept on disk (``xoev-hub portal setup DIR``) -------------------------

    def save(self) -> PortalSetup:
        """:meth:`write`, plus the private key and ``worker.env`` (mode 0600) and
        ``setup.json`` (no secrets), so that :meth:`load` plays the same parties."""
        self.write()
        _write_private(self.folder / PRIVATE_KEY_FILE,
                       json.dumps(self.key.as_dict(private=True)))
        lines = ["# the environment of a worker for this setup (secrets: keep it 0600)",
                 "# (set -a; . ./worker.env; exec xoev-hub worker)"]
        lines += [f"{k}='{v}'" for k, v in self.worker_env().items()]
        _write_private(self.folder / WORKER_ENV_FILE, "\n".join(lines) + "\n")
        (self.folder / SETUP_FILE).write_text(json.dumps({
            "issuer": ISSUER, "audience": AUDIENCE, "postfach_url": self.postfach_url,
            "payment_timeout": self.payment_timeout,
            "free": list(self.free),
            "region_source": str(self.region_source) if self.region_source else None,
        }, indent=2) + "\n", "utf-8")
        return self

    @classmethod
    def load(cls, folder: Path) -> PortalSetup:
        """A setup saved with :meth:`save`; ConfigError when the folder holds none."""
        folder = Path(folder)
        try:
            meta = json.loads((folder / SETUP_FILE).read_text("utf-8"))
            key_data = json.loads((folder / PRIVATE_KEY_FILE).read_text("utf-8"))
            env_text = (folder / WORKER_ENV_FILE).read_text("utf-8")
        except FileNotFoundError as exc:
            raise ConfigError(f"{folder}: no portal setup here ({Path(exc.filename).name} "
                              "missing): run `xoev-hub portal setup DIR` first") from None
        except (OSError, ValueError) as exc:
            raise ConfigError(f"{folder}: unreadable portal setup: "
                              f"{type(exc).__name__}") from None
        env = dict(_env_line(line) for line in env_text.splitlines()
                   if line.strip() and not line.lstrip().startswith("#"))
        try:
            key = ECKey.import_key(key_data)
            return cls(folder=folder, key=key, token=env[TOKEN_ENV],
                       payment_token=env[PAYMENT_TOKEN_ENV],
                       postfach_secret=env[POSTFACH_SECRET_ENV],
                       postfach_url=meta.get("postfach_url"), free=tuple(meta.get("free", ())),
                       payment_timeout=env.get("HUB_PORTAL_PAYMENT_TIMEOUT"),
                       region_source=Path(meta["region_source"]) if meta.get("region_source")
                       else None)
        except (KeyError, ValueError) as exc:
            raise ConfigError(f"{folder}: incomplete portal setup "
                              f"({type(exc).__name__}): run `xoev-hub portal setup` "
                              "again") from None


def _env_line(line: str) -> tuple[str, str]:
    name, _, value = line.strip().partition("=")
    if len(value) >= 2 and value[0] == value[-1] == "'":
        value = value[1:-1]
    return name.strip(), value


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PortalClient:
    """The portal's (or the ePayment provider's) side of the contract, with urllib."""

    def __init__(self, port_or_url: int | str, token: str,
                 context: ssl.SSLContext | None = None) -> None:
        self.base = (f"http://127.0.0.1:{port_or_url}" if isinstance(port_or_url, int)
                     else port_or_url.rstrip("/"))
        self.token = token
        self.context = context

    def call(self, method: str, path: str, body: Any = None,
             token: str | None = None) -> tuple[int, dict[str, Any]]:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.base + path, data=data, method=method)
        request.add_header("Content-Type", "application/json")
        if (token or self.token) != "":
            request.add_header("Authorization", f"Bearer {token or self.token}")
        try:
            with urllib.request.urlopen(request, timeout=30, context=self.context) as response:
                return response.status, _json(response.read())
        except urllib.error.HTTPError as error:
            return error.code, _json(error.read())

    def metrics(self) -> str:
        with urllib.request.urlopen(f"{self.base}/metrics", timeout=10,
                                    context=self.context) as response:
            return str(response.read().decode())


def _json(raw: bytes) -> dict[str, Any]:
    try:
        data = json.loads(raw)
    except ValueError:
        return {"error": "NOT_JSON"}
    return data if isinstance(data, dict) else {"error": "NOT_AN_OBJECT"}


class Postfach:
    """A Postfach on 127.0.0.1 (``port`` 0: any free one): takes signed notices
    (webhook v2) and keeps them; ``fail_first`` answers 503 to the first so many POSTs."""

    def __init__(self, secret: str, fail_first: int = 0, port: int = 0) -> None:
        from hub.adapters.webhook import verify_request

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

        try:
            self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        except OSError as exc:
            raise HubError(f"the simulated Postfach cannot listen on 127.0.0.1:{port}: "
                           f"{exc.strerror or exc}") from None
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/postfach"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True,
                                       name="postfach")

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


# -- citizens -------------------------------------------------------------------------

#: what a simulated citizen does, and its share of the mix
KINDS: dict[str, float] = {
    "pays": 0.55,           # a service with a fee, paid with the right amount
    "free": 0.15,           # a service without a fee
    "abandons": 0.12,       # never pays: PAYMENT_TIMEOUT
    "wrong amount": 0.09,   # pays another amount: PAYMENT_AMOUNT_MISMATCH
    "weak identity": 0.09,  # identity below the service's trust level: 403
}

FAMILY_NAMES = ("Mustermann", "Musterfrau", "Beispiel", "Probst-Muster", "Schäfer-Probe",
                "Özdemir-Muster", "Lindqvist-Beispiel", "Grünwald-Test")
GIVEN_NAMES = ("Erika", "Max", "Zoë", "Jonas", "Maëlle", "Ahmet", "Lena Marie", "Jörg")
PLACES = ("Musterstadt", "Beispielhausen", "Probeheim")
WORDS = ("Nachweis", "Unterlage", "Kopie", "Bescheinigung", "Antrag")
PDF = b"%PDF-1.4\n% simulierter Bescheid\n%%EOF\n"


def _date_between(rng: random.Random, start: date, end: date) -> str:
    return (start + timedelta(days=rng.randint(0, (end - start).days))).isoformat()


def _string(schema: Mapping[str, Any], name: str, rng: random.Random) -> str:
    pattern = str(schema.get("pattern", ""))
    today = date.today()
    if schema.get("format") == "date" or pattern == "^[0-9]{4}-[0-9]{2}-[0-9]{2}$":
        if any(hint in name for hint in ("gueltig", "beginn", "bis", "ab")):
            return _date_between(rng, today + timedelta(days=30), today + timedelta(days=400))
        return _date_between(rng, date(1950, 1, 1), today - timedelta(days=365 * 18))
    digits = re.fullmatch(r"\^\[0-9\]\{(\d+)\}\$", pattern)
    if digits:
        return "".join(rng.choice("0123456789") for _ in range(int(digits.group(1))))
    if pattern:
        raise ValueError(f"a string pattern the simulator cannot fill ({name})")
    if "familienname" in name or "geburtsname" in name:
        text = rng.choice(FAMILY_NAMES)
    elif "vorname" in name:
        text = rng.choice(GIVEN_NAMES)
    elif "ort" in name:
        text = rng.choice(PLACES)
    else:
        text = f"{rng.choice(WORDS)} {rng.randint(1, 99)}"
    text = text[: int(schema.get("maxLength", len(text)))]
    return text.ljust(int(schema.get("minLength", 0)), "x")


def _value(schema: Mapping[str, Any], name: str, rng: random.Random) -> Any:
    if "enum" in schema:
        return rng.choice(list(schema["enum"]))
    kind = schema.get("type")
    if kind == "object":
        required = set(schema.get("required", ()))
        return {key: _value(sub, key, rng) for key, sub in schema.get("properties", {}).items()
                if key in required or rng.random() < 0.5}
    if kind == "integer":
        low = int(schema.get("minimum", 0))
        return rng.randint(low, int(schema.get("maximum", low + 5)))
    if kind == "number":
        bottom = float(schema.get("minimum", 0))
        return round(rng.uniform(bottom, float(schema.get("maximum", bottom + 5))), 2)
    if kind == "boolean":
        return rng.random() < 0.5
    if kind == "array":
        low = int(schema.get("minItems", 0))
        count = rng.randint(low, max(low, min(2, int(schema.get("maxItems", 2)))))
        return [_value(schema.get("items", {}), name, rng) for _ in range(count)]
    if kind == "string":
        return _string(schema, name, rng)
    raise ValueError(f"a schema the simulator cannot fill ({name}: type {kind!r})")


def sample_form(service: Service, rng: random.Random) -> dict[str, Any]:
    """Made-up but valid form data for ``service`` (checked against its schema);
    ConfigError when its schema uses what this generator does not fill."""
    from hub.portal.forms import FormSchema

    try:
        form = _value(service.schema, "form", rng)
    except ValueError as exc:
        raise ConfigError(f"service {service.key}: {exc}") from None
    problem = FormSchema.of(service).check(form)
    if problem is not None:
        raise ConfigError(f"service {service.key}: the simulator's form fails the schema at "
                          f"{problem.path} ({problem.rule})")
    assert isinstance(form, dict)
    return form


@dataclass(frozen=True)
class Citizen:
    """One simulated citizen and what the mix has them do."""

    number: int
    kind: str
    application_id: str
    service: str
    fee_cents: int | None
    ags: str
    city: str
    authority: str
    subject: str
    trust_level: str
    payment_reference: str | None
    form: dict[str, Any] = field(repr=False, compare=False)

    @property
    def paid_amount(self) -> str | None:
        """The amount (euro) the provider reports, or None when nothing is paid."""
        if self.fee_cents is None or self.kind in ("abandons", "weak identity", "free"):
            return None
        cents = self.fee_cents if self.kind == "pays" else max(1, self.fee_cents // 2)
        return f"{cents // 100}.{cents % 100:02d}"


def plan_citizens(catalogue: Catalogue, count: int, seed: int,
                  run: str | None = None) -> list[Citizen]:
    """``count`` citizens of the region's cities: at least one of each kind the
    catalogue allows (when ``count`` is large enough), the rest by the weights of
    :data:`KINDS`, shuffled — reproducible for a seed. Application ids are
    ``SIM-<run>-<number>``: ``run`` is fresh for every run unless given."""
    rng = random.Random(seed)
    run = run or secrets.token_hex(3)
    served = {s.key for s in catalogue if s not in catalogue.unserved()}
    services = [s for s in catalogue if s.key in served]
    with_fee = [s for s in services if s.fee_cents is not None]
    choices: dict[str, list[Service]] = {
        "pays": with_fee, "abandons": with_fee, "wrong amount": with_fee,
        "free": [s for s in services if s.fee_cents is None],
        "weak identity": [s for s in services if s.trust_level == "hoch"],
    }
    kinds = [k for k in KINDS if choices[k]]
    if not kinds:
        raise ConfigError(f"{catalogue.source}: no service an authority of the region decides")
    mix = kinds[:count] if count < len(kinds) else list(kinds)
    mix += rng.choices(kinds, weights=[KINDS[k] for k in kinds], k=max(0, count - len(mix)))
    rng.shuffle(mix)
    citizens = []
    for number, kind in enumerate(mix, start=1):
        service = rng.choice(sorted(choices[kind], key=lambda s: s.key))
        authority = rng.choice(sorted((a for a in catalogue.region if a.kind == service.kind),
                                      key=lambda a: a.id))
        level = "substantiell" if kind == "weak identity" else service.trust_level
        application_id = f"SIM-{run}-{number:03d}"
        citizens.append(Citizen(
            number=number, kind=kind, application_id=application_id, service=service.key,
            fee_cents=service.fee_cents, ags=authority.ags, city=authority.municipality,
            authority=authority.id, subject=f"sim:{rng.getrandbits(48):012x}",
            trust_level=level,
            payment_reference=f"PAY-{run}-{number:03d}" if service.fee_cents else None,
            form=sample_form(service, rng)))
    return citizens


def intended(citizen: Citizen, authorities: bool = True) -> str:
    """What the mix intends to happen to ``citizen`` (compared with :func:`describe`)."""
    if citizen.kind == "weak identity":
        return "refused 403 TRUST_LEVEL_TOO_LOW"
    if citizen.kind == "abandons":
        return "rejected PAYMENT_TIMEOUT, rejection notice delivered"
    if citizen.kind == "wrong amount":
        return "rejected PAYMENT_AMOUNT_MISMATCH, rejection notice delivered"
    return "forwarded, decision notice delivered" if authorities else "forwarded"


def describe(refusal: tuple[int, str] | None, state: Mapping[str, Any] | None,
             notices: list[dict[str, Any]]) -> str:
    """What happened, from the endpoint's refusal (status, code), the state
    ``GET /v1/applications/{id}`` answered and the notices in the Postfach."""
    if refusal is not None:
        return f"refused {refusal[0]} {refusal[1]}" + (
            "" if state is None else f", yet recorded ({state.get('status')})")
    if state is None:
        return "unknown to the hub"
    history = [(s["status"], s.get("reason")) for s in state.get("history", [])]
    steps = {status: reason for status, reason in history}
    if "rejected" in steps:
        head = f"rejected {steps['rejected']}"
    elif "forwarded" in steps:
        head = "forwarded"
    else:
        head = str(state.get("status", "?")).replace("_", " ")
    if "notice_delivered" in steps:
        kind = "rejection" if "rejected" in steps else "decision"
        if any(n.get("kind") == kind for n in notices):
            return f"{head}, {kind} notice delivered"
        return f"{head}, notice delivered elsewhere (not in this Postfach)"
    if "notice_failed" in steps:
        return f"{head}, notice failed {steps['notice_failed']}"
    return head


@dataclass
class Outcome:
    citizen: Citizen
    intended: str
    actual: str = "not sent"
    settled: bool = False
    refusal: tuple[int, str] | None = None

    @property
    def ok(self) -> bool:
        return self.actual == self.intended

    def line(self) -> str:
        c = self.citizen
        text = (f"{c.application_id}  {c.city:<10} {c.service:<30} {c.kind:<13} "
                f"→ {self.actual}")
        return text if self.ok else f"{text}   UNEXPECTED (intended: {self.intended})"


# -- the authorities ----------------------------------------------------------------

class Authorities:
    """The deciding authorities: read their application topics (from the end, as
    this run starts) and answer each application of ``wanted`` with a notice (text
    and a small PDF) on ``xoev.notices.<authority>``; runs in a thread."""

    def __init__(self, settings: Settings, catalogue: Catalogue, wanted: set[str],
                 stop: tuple[threading.Event, ...]) -> None:
        from hub.kafka.topics import TopicNames

        self.settings = settings
        self.names = TopicNames(settings.topic_prefix)
        self.topics = {self.names.applications(a.id): a
                       for a in catalogue.deciding_authorities()}
        self.services = {s.key: s.name for s in catalogue}
        self.wanted = wanted
        self.stop = stop
        self.answered: set[str] = set()
        self.error: str | None = None
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True, name="authorities")

    def start(self, timeout: float = 30.0) -> Authorities:
        self.thread.start()
        if not self.ready.wait(timeout):
            raise HubError("the simulated authorities could not read their application "
                           "topics in time (is the broker up and `topics apply` done?)")
        if self.error is not None:
            raise HubError(self.error)
        return self

    def _run(self) -> None:
        from kafka import KafkaConsumer, KafkaProducer, TopicPartition

        from hub.kafka.config import consumer_config, producer_config

        consumer = KafkaConsumer(**consumer_config(self.settings), group_id=None,
                                 enable_auto_commit=False)
        producer = KafkaProducer(**producer_config(self.settings), acks="all", linger_ms=5)
        try:
            partitions = []
            deadline = time.monotonic() + 20
            for topic in self.topics:
                found = consumer.partitions_for_topic(topic)
                while not found and time.monotonic() < deadline:
                    time.sleep(0.5)
                    found = consumer.partitions_for_topic(topic)
                if not found:
                    self.error = f"topic {topic} is missing: run `xoev-hub topics apply`"
                    return
                partitions += [TopicPartition(topic, p) for p in sorted(found)]
            consumer.assign(partitions)
            consumer.seek_to_end(*partitions)
            for tp in partitions:  # resolve the end offsets now, before any application
                consumer.position(tp)
            self.ready.set()
            while not any(event.is_set() for event in self.stop):
                for tp, records in consumer.poll(timeout_ms=200).items():
                    authority = self.topics[tp.topic]
                    for record in records:
                        key = (record.key or b"").decode("utf-8", "replace")
                        if key not in self.wanted or key in self.answered:
                            continue
                        service = dict(record.headers or []).get("xoev-service", b"").decode()
                        notice = {
                            "application_id": key, "notice_id": f"{key}:bescheid",
                            "text": f"{self.services.get(service, 'Ihr Antrag')}: "
                                    f"bewilligt ({authority.id}).",
                            "pdf_base64": base64.b64encode(PDF).decode(),
                            "filename": "bescheid.pdf",
                        }
                        producer.send(self.names.notices(authority.id), key=key.encode(),
                                      value=json.dumps(notice).encode()).get(timeout=30)
                        self.answered.add(key)
        except Exception as exc:
            self.error = f"the simulated authorities stopped: {type(exc).__name__}"
        finally:
            self.ready.set()
            producer.close()
            consumer.close()

    def join(self, timeout: float = 10.0) -> None:
        self.thread.join(timeout)


# -- the run ------------------------------------------------------------------------

class PortalSimulation:
    """Plays the portal, the ePayment provider and the Postfach (and, unless
    ``authorities`` is False, the deciding authorities) for ``citizens`` against the
    hub at ``url``; :meth:`run` returns each one's :class:`Outcome`."""

    def __init__(self, settings: Settings, setup: PortalSetup, citizens: list[Citizen],
                 catalogue: Catalogue, *, url: str, rate: float = 2.0,
                 authorities: bool = True, timeout: float | None = None,
                 stop: threading.Event | None = None,
                 on_outcome: Callable[[Outcome], None] | None = None,
                 context: ssl.SSLContext | None = None) -> None:
        if setup.postfach_url is None:
            raise ConfigError(f"{setup.folder}: the setup names no Postfach URL")
        self.settings = settings
        self.setup = setup
        self.citizens = citizens
        self.catalogue = catalogue
        self.portal = PortalClient(url, setup.token, context)
        self.provider = PortalClient(url, setup.payment_token, context)
        self.rate = rate
        self.authorities = authorities
        wait = duration_seconds(setup.payment_timeout or settings.portal_payment_timeout)
        self.timeout = timeout if timeout is not None else wait + 45.0
        self.stop = stop or threading.Event()
        self.on_outcome = on_outcome
        self.outcomes = [Outcome(c, intended(c, authorities)) for c in citizens]
        self.sent = 0
        self.postfach: Postfach | None = None
        self.answered = 0

    def wait_ready(self, timeout: float = 60.0) -> None:
        """Until the hub's portal answers; HubError when it refuses this setup."""
        deadline = time.monotonic() + timeout
        last = "no answer"
        while time.monotonic() < deadline and not self.stop.is_set():
            try:
                status, answer = self.portal.call("GET", "/v1/applications/probe")
            except OSError as exc:
                last = f"unreachable ({type(exc).__name__})"
            else:
                if status == 404 and answer.get("error") == "UNKNOWN_APPLICATION":
                    return
                if status == 401:
                    raise HubError(f"the hub at {self.portal.base} refuses this setup's portal "
                                   "token: start its worker with the setup's worker.env")
                if status == 404:
                    raise HubError(f"the hub at {self.portal.base} has no portal: start its "
                                   "worker with the setup's worker.env (HUB_REGION_FILE)")
                last = f"HTTP {status} {answer.get('error', '')}".strip()
            self.stop.wait(0.5)
        raise HubError(f"the hub's portal at {self.portal.base} is not ready: {last}")

    def run(self, ready_timeout: float = 60.0) -> list[Outcome]:
        """Start the Postfach (on the setup's port) and the authorities, apply for
        every citizen at ``rate`` per second (paying as the mix says), then wait until
        each outcome is settled or ``timeout`` has passed."""
        from urllib.parse import urlsplit

        port = urlsplit(self.setup.postfach_url).port or 0
        halt = threading.Event()  # stops the authorities when this run ends
        with Postfach(self.setup.postfach_secret, port=port) as postfach:
            self.postfach = postfach
            players = None
            try:
                self.wait_ready(ready_timeout)
                if self.authorities:
                    players = Authorities(self.settings, self.catalogue,
                                          {c.application_id for c in self.citizens},
                                          (self.stop, halt)).start()
                self._apply_all()
                self._settle(players)
            finally:
                halt.set()
                if players is not None:
                    players.join()
                    self.answered = len(players.answered)
        return self.outcomes

    def _apply_all(self) -> None:
        started = time.monotonic()
        for index, outcome in enumerate(self.outcomes):
            if self.stop.is_set():
                return
            if self.rate > 0:
                ahead = index / self.rate - (time.monotonic() - started)
                if ahead > 0 and self.stop.wait(ahead):
                    return
            self._apply(outcome)
            self.sent += 1
            self._check(outcome)

    def _apply(self, outcome: Outcome) -> None:
        c = outcome.citizen
        body: dict[str, Any] = {
            "service": c.service, "ags": c.ags, "application_id": c.application_id,
            "identity": self.setup.assertion(subject=c.subject, level=c.trust_level),
            "form": c.form}
        if c.payment_reference is not None:
            body["payment_reference"] = c.payment_reference
        status, answer = self.portal.call("POST", "/v1/applications", body)
        if status >= 400:
            outcome.refusal = (status, str(answer.get("error", "?")))
            return
        amount = c.paid_amount
        if amount is not None and answer.get("status") == "awaiting_payment":
            self.provider.call("POST", "/v1/payments/notifications", {
                "transaction_id": f"TX-{c.application_id}",
                "reference": c.payment_reference or c.application_id,
                "amount": amount, "currency": "EUR", "status": "PAYED"})

    def _check(self, outcome: Outcome) -> None:
        if outcome.settled:
            return
        c = outcome.citizen
        status, state = self.portal.call("GET", f"/v1/applications/{c.application_id}")
        known = state if status == 200 else None
        assert self.postfach is not None
        outcome.actual = describe(outcome.refusal, known, self.postfach.of(c.application_id))
        steps = {s["status"] for s in (known or {}).get("history", [])}
        outcome.settled = outcome.refusal is not None or bool(
            steps & {"notice_delivered", "notice_failed"}) or (
            not self.authorities and "forwarded" in steps and "rejected" not in steps)
        if outcome.settled and self.on_outcome is not None:
            self.on_outcome(outcome)

    def _settle(self, players: Authorities | None) -> None:
        deadline = time.monotonic() + self.timeout
        while not self.stop.is_set():
            waiting = [o for o in self.outcomes if not o.settled]
            if not waiting:
                return
            if players is not None and players.error is not None:
                raise HubError(players.error)
            if time.monotonic() > deadline:
                for outcome in waiting:
                    outcome.actual += " (still so after the wait)"
                    if self.on_outcome is not None:
                        self.on_outcome(outcome)
                return
            for outcome in waiting:
                self._check(outcome)
            self.stop.wait(0.5)

    def summary(self, seconds: float) -> list[str]:
        kinds = Counter(o.citizen.kind for o in self.outcomes)
        results = Counter(o.actual for o in self.outcomes)
        as_intended = sum(o.ok for o in self.outcomes)
        postfach = self.postfach
        lines = [
            f"{len(self.outcomes)} citizens in {seconds:.1f}s: "
            + ", ".join(f"{n} {k}" for k, n in kinds.most_common()),
            "outcomes:",
            *(f"  {n:>4}  {text}" for text, n in results.most_common()),
        ]
        if postfach is not None:
            lines.append(f"Postfach: {len(postfach.notices)} notices, "
                         f"{postfach.bad_signatures} with a bad signature")
        if self.authorities:
            lines.append(f"authorities answered {self.answered} applications")
        lines.append(f"as intended: {as_intended} of {len(self.outcomes)}")
        return lines
