"""Structured logs: one JSON object per line, with a guard against personal data.

Log an event with whitelisted fields::

    log = logging.getLogger("hub.streams.ingest")
    log.info("delivered", extra={"event": "delivered", "message_id": mid,
                                 "source": "solingen.meldebehoerde", "code": "0201"})
    # or: log_event(log, "delivered", message_id=mid, source=..., code=...)

The guard (``JsonFormatter``) writes only the keys in ``ALLOWED_KEYS``; any other
``extra`` key is dropped and its *name* listed under ``dropped``. Values must be
``str``/``int``/``float``/``bool``/``None`` (others are replaced by their type
name) and strings are cut at 200 characters. For the hub's own loggers
(``hub.*``) the message is the format string *without* interpolating its
``%`` arguments, since arguments are how content slips in; third-party loggers
(faust, aiokafka) keep their rendered text, which is about brokers, topics and
offsets. Exceptions are logged as type and stack frames only — the exception
text (which for lxml can quote element content) is kept only for the hub's own
``HubError`` subclasses, whose details are designed to carry ids and codes only.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
import traceback
from collections.abc import Mapping
from typing import IO, Any, Final

#: Keys a log line may carry besides the fixed ones (time, level, logger, msg).
ALLOWED_KEYS: Final = frozenset({
    "event", "message_id", "code", "stage", "source", "destination", "destinations",
    "standard", "version", "message_type", "topic", "partition", "offset", "count",
    "duration_ms", "lag", "authority", "trace_id", "worker", "port", "status",
    "reason", "adapter", "attempt", "retry_in", "fingerprint", "outcome",
    "window_start", "suppressed",
})

#: Attributes every ``LogRecord`` has; they are not ``extra`` fields.
_RECORD_ATTRS: Final = frozenset(
    vars(logging.LogRecord("x", logging.INFO, "x", 0, "x", None, None))
) | {"message", "asctime", "taskName"}

MAX_VALUE_CHARS: Final = 200


def _safe_value(value: object) -> object:
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, str):
        return value[:MAX_VALUE_CHARS]
    if isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
        return [v[:MAX_VALUE_CHARS] for v in value[:20]]
    return f"<{type(value).__name__}>"


class JsonFormatter(logging.Formatter):
    """Formats a record as one JSON line carrying whitelisted keys only."""

    def __init__(self, allowed: frozenset[str] = ALLOWED_KEYS) -> None:
        super().__init__()
        self.allowed = allowed

    def format(self, record: logging.LogRecord) -> str:
        own = record.name == "hub" or record.name.startswith("hub.")
        message = str(record.msg) if own else record.getMessage()
        line: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "msg": message[:MAX_VALUE_CHARS * 5],
        }
        dropped: list[str] = []
        for key, value in vars(record).items():
            if key in _RECORD_ATTRS or key.startswith("_"):
                continue
            if key in self.allowed:
                line[key] = _safe_value(value)
            else:
                dropped.append(key)
        if dropped:
            line["dropped"] = sorted(dropped)
        if record.exc_info and record.exc_info[1] is not None:
            line["error"] = _describe(record.exc_info[1])
        # secrets are redacted from the whole line, whatever field carries them
        # (third-party loggers render their arguments: kafka-python's admin client
        # logs its configuration, SASL password included, at DEBUG)
        rendered = json.dumps(line, ensure_ascii=False, separators=(",", ":"))
        return redact(rendered)


def _describe(exc: BaseException) -> dict[str, Any]:
    from hub.errors import HubError

    described: dict[str, Any] = {"type": type(exc).__name__}
    if isinstance(exc, HubError):
        described["detail"] = str(exc)[:MAX_VALUE_CHARS]
        code = getattr(exc, "code", None)
        if isinstance(code, str):
            described["code"] = code
    described["frames"] = [
        f"{frame.filename.rsplit('/', 1)[-1]}:{frame.lineno}:{frame.name}"
        for frame in traceback.extract_tb(exc.__traceback__)
    ][-10:]
    return described


def log_event(logger: logging.Logger, event: str, level: int = logging.INFO,
              **fields: object) -> None:
    """Log ``event`` with ``fields`` as whitelisted extras (unknown keys are dropped)."""
    logger.log(level, event, extra={"event": event, **fields})


def configure_logging(level: str | int = "INFO", stream: IO[str] | None = None,
                      *, allowed: Mapping[str, object] | frozenset[str] | None = None) -> None:
    """Send every log record (root logger) as JSON lines to ``stream`` (stderr).

    Replaces the root logger's handlers, so calling it twice is harmless.
    ``allowed`` widens the whitelist for keys a deployment vetted itself.
    """
    keys = ALLOWED_KEYS | frozenset(allowed or ())
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(JsonFormatter(keys))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level if isinstance(level, int) else level.upper())


#: Secrets known to this process (SASL password, HTTP tokens, webhook secrets).
_SECRETS: set[str] = set()
#: ``password=…``, ``'sasl_plain_password': '…'``, ``token: …``, ``Bearer …``
_SECRET_SHAPES = re.compile(
    r"""(?ix)
    (?P<key>(?:password|passwd|secret|token|authorization)[a-z_]*['"]?\s*[:=]\s*)
        (?P<quote>['"]?)(?P<value>(?:bearer\s+)?[^'"\s,;)}\]]+)(?P=quote)
    | (?P<bearer>bearer\s+)(?P<bvalue>[^'"\s,;)}\]]+)
    """
)


def register_secret(value: str | None) -> None:
    """Never write ``value`` to the log (any logger, any level, any field)."""
    if value and len(value) >= 4:
        _SECRETS.add(value)
        _SECRETS.add(json.dumps(value, ensure_ascii=False)[1:-1])  # as a JSON line shows it


def redact(text: str) -> str:
    """``text`` with registered secrets and password-shaped values replaced by ***."""
    for secret in sorted(_SECRETS, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, "***")
    if any(word in text.lower() for word in ("pass", "secret", "token", "auth", "bearer")):
        text = _SECRET_SHAPES.sub(_mask, text)
    return text


def _mask(match: re.Match[str]) -> str:
    if match.group("bearer") is not None:
        return f"{match.group('bearer')}***"
    return f"{match.group('key')}{match.group('quote')}***{match.group('quote')}"
