"""Exchanges: request/answer pairs of xdomea messages, correlated by ProzessID.

Pure logic (no Kafka). Which message codes open, continue and close an exchange
is configuration (``hub/config/exchanges.toml``, :class:`ExchangeConfig`), not
code. The Faust side is :mod:`hub.streams.exchanges`; the reader of the table's
changelog (``xoev-hub exchanges list``, ``aktenplan status``) is :func:`read_table`.

The ingest flow hands on one small :class:`ExchangeRecord` per delivered message
whose (standard, code) the configuration lists — ProzessID, code, the author's and
readers' keys, the inbound record's time and, for an opening code with a
configured ``subject``, that one value (e.g. the Aktenplan version). Nothing else
of the message: no names, no content. Messages of other codes and standards
(every g2g message) produce nothing.

One exchange is one requester and one responder under one ProzessID: the table
key is ``<ProzessID>|<requester key>|<responder key>``. A request to several
readers opens one exchange per reader. A continuing or closing message matches
the exchange of its two parties in either direction; :func:`apply` is idempotent,
so a message delivered again (at-least-once) changes nothing.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from lxml import etree
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from hub.core.configfile import describe_validation_error, read_toml
from hub.errors import ConfigError

__all__ = [
    "Entry",
    "ExchangeConfig",
    "ExchangeRecord",
    "ExchangeType",
    "apply",
    "default_path",
    "parse_duration",
    "table_changelog_name",
]

OPEN, CLOSED, UNMATCHED = "open", "closed", "unmatched"
Role = Literal["opens", "continues", "closes"]
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd])\s*$")
_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_CODE = re.compile(r"^[0-9A-Za-z]{1,16}$")
_STEP = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")
TABLE_NAME = "exchanges"


def default_path() -> Path:
    from hub.settings import DEFAULT_CONFIG_DIR

    return DEFAULT_CONFIG_DIR / "exchanges.toml"



def table_changelog_name(consumer_group: str) -> str:
    """The changelog topic Faust keeps for the ``exchanges`` table."""
    return f"{consumer_group}-{TABLE_NAME}-changelog"


def parse_duration(value: object) -> float:
    """``"7d"``, ``"36h"``, ``"90m"``, ``"30s"`` or a number of seconds -> seconds."""
    if isinstance(value, bool):
        raise ValueError("a duration is a number of seconds or '<n>s|m|h|d'")
    if isinstance(value, (int, float)):
        seconds = float(value)
    else:
        match = _DURATION.match(str(value))
        if not match:
            raise ValueError(f"duration {value!r} is not '<n>s|m|h|d' (e.g. '7d')")
        seconds = float(match[1]) * _UNITS[match[2]]
    if seconds <= 0:
        raise ValueError(f"duration {value!r} must be positive")
    return seconds


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class _TypeEntry(_Model):
    type: str = Field(min_length=1, pattern=r"^[a-z][a-z0-9_-]*$")
    description: str = ""
    standard: str = Field(min_length=1)
    opens: list[str] = Field(min_length=1)
    continues: list[str] = Field(default_factory=list)
    closes: list[str] = Field(min_length=1)
    deadline: float
    subject: str | None = None

    @field_validator("opens", "continues", "closes")
    @classmethod
    def _codes(cls, value: list[str]) -> list[str]:
        bad = [c for c in value if not _CODE.match(c)]
        if bad:
            raise ValueError(f"message codes must be letters and digits, got {bad}")
        return value

    @field_validator("deadline", mode="before")
    @classmethod
    def _deadline(cls, value: object) -> float:
        return parse_duration(value)

    @field_validator("subject")
    @classmethod
    def _subject(cls, value: str | None) -> str | None:
        if value is not None and not all(_STEP.match(s) for s in value.split("/")):
            raise ValueError(
                f"subject {value!r} must be element names joined by '/' (e.g. 'Aktenplan/Version')"
            )
        return value


class _ConfigFile(_Model):
    keep_closed: float = 400 * 86400.0
    exchange: list[_TypeEntry] = Field(min_length=1)

    @field_validator("keep_closed", mode="before")
    @classmethod
    def _keep(cls, value: object) -> float:
        return parse_duration(value)


@dataclass(frozen=True)
class ExchangeType:
    """One kind of exchange: the codes that open, continue and close it."""

    type: str
    standard: str
    opens: frozenset[str]
    continues: frozenset[str]
    closes: frozenset[str]
    #: seconds an exchange may wait for its next message before it is overdue
    deadline: float
    description: str = ""
    #: element path (local names, below the root) read from an opening message
    subject: str | None = None
    _subject_xpath: Any = field(default=None, compare=False, repr=False)

    def role(self, code: str) -> Role | None:
        if code in self.opens:
            return "opens"
        if code in self.closes:
            return "closes"
        if code in self.continues:
            return "continues"
        return None

    def read_subject(self, root: Any) -> str | None:
        """The configured subject of an opening message (first match, trimmed), or None."""
        if self._subject_xpath is None:
            return None
        try:
            found = self._subject_xpath(root)
        except etree.XPathError:
            return None
        text = str(found).strip() if found is not None else ""
        return text[:200] or None


def _subject_xpath(path: str) -> etree.XPath:
    steps = "/".join(f"*[local-name()='{step}']" for step in path.split("/"))
    return etree.XPath(f"string({steps})")


class ExchangeConfig:
    """The exchange types, looked up by (standard, message code)."""

    def __init__(self, types: Iterable[ExchangeType], keep_closed: float = 400 * 86400.0,
                 source: str = "<memory>") -> None:
        self.types = tuple(types)
        self.keep_closed = keep_closed
        self.source = source
        self.by_name = {t.type: t for t in self.types}
        #: standard -> code -> (type, role): the ingest flow's one lookup per message
        self.codes: dict[str, dict[str, tuple[ExchangeType, Role]]] = {}
        for kind in self.types:
            per = self.codes.setdefault(kind.standard, {})
            for code in sorted(kind.opens | kind.continues | kind.closes):
                role = kind.role(code)
                assert role is not None
                if code in per:
                    raise ConfigError(
                        f"{source}: {kind.standard} code {code} is in both "
                        f"{per[code][0].type} and {kind.type}"
                    )
                per[code] = (kind, role)

    @classmethod
    def load(cls, path: Path | str) -> ExchangeConfig:
        path = Path(path)
        return cls.from_mapping(read_toml(path, "exchange configuration"), str(path))

    @classmethod
    def default(cls) -> ExchangeConfig:
        return cls.load(default_path())

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any], source: str = "<memory>") -> ExchangeConfig:
        try:
            parsed = _ConfigFile.model_validate(raw)
        except ValidationError as exc:
            raise ConfigError(
                f"{source}: {describe_validation_error(exc, raw, 'exchange', label='type')}"
            ) from None
        types: list[ExchangeType] = []
        for entry in parsed.exchange:
            opens, cont, closes = set(entry.opens), set(entry.continues), set(entry.closes)
            if opens & cont or opens & closes or cont & closes:
                raise ConfigError(f"{source}: exchange {entry.type}: a code is listed in "
                                  "more than one of opens, continues, closes")
            if entry.type in {t.type for t in types}:
                raise ConfigError(f"{source}: exchange {entry.type} is listed twice")
            types.append(ExchangeType(
                type=entry.type, standard=entry.standard, opens=frozenset(opens),
                continues=frozenset(cont), closes=frozenset(closes), deadline=entry.deadline,
                description=entry.description, subject=entry.subject,
                _subject_xpath=_subject_xpath(entry.subject) if entry.subject else None,
            ))
        return cls(types, parsed.keep_closed, source)

    def lookup(self, standard: str, code: str) -> tuple[ExchangeType, Role] | None:
        per = self.codes.get(standard)
        return per.get(code) if per else None


# -- records from the ingest flow --------------------------------------------------


@dataclass(frozen=True)
class ExchangeRecord:
    """One delivered message of an exchange, as the ingest flow hands it on."""

    process_id: str
    standard: str
    code: str
    author: str
    readers: tuple[str, ...]
    time_ms: int
    subject: str | None = None

    def encode(self) -> bytes:
        data: dict[str, Any] = {"p": self.process_id, "s": self.standard, "c": self.code,
                                "f": self.author, "r": list(self.readers), "t": self.time_ms}
        if self.subject is not None:
            data["j"] = self.subject
        return json.dumps(data, separators=(",", ":")).encode()

    @classmethod
    def decode(cls, raw: bytes) -> ExchangeRecord:
        data = json.loads(raw)
        return cls(process_id=str(data["p"]), standard=str(data["s"]), code=str(data["c"]),
                   author=str(data["f"]), readers=tuple(str(r) for r in data["r"]),
                   time_ms=int(data["t"]), subject=data.get("j"))


# -- the table ---------------------------------------------------------------------


@dataclass
class Entry:
    """One exchange (or one answer without a request) as kept in the table."""

    type: str
    process_id: str
    requester: str
    responder: str
    state: str
    opened_ms: int
    last_ms: int
    codes: list[str]
    subject: str | None = None
    closed_ms: int | None = None

    @property
    def key(self) -> bytes:
        return table_key(self.process_id, self.requester, self.responder)

    def encode(self) -> bytes:
        return json.dumps({
            "type": self.type, "process_id": self.process_id, "requester": self.requester,
            "responder": self.responder, "state": self.state, "opened_ms": self.opened_ms,
            "last_ms": self.last_ms, "codes": self.codes, "subject": self.subject,
            "closed_ms": self.closed_ms,
        }, separators=(",", ":"), ensure_ascii=False).encode()

    @classmethod
    def decode(cls, raw: bytes) -> Entry:
        data = json.loads(raw)
        return cls(**{k: data.get(k) for k in (
            "type", "process_id", "requester", "responder", "state", "opened_ms",
            "last_ms", "codes", "subject", "closed_ms")})

    def age(self, now_ms: int) -> float:
        """Seconds since the exchange's newest message (what it waits for an answer to)."""
        return max(0.0, (now_ms - self.last_ms) / 1000)


def table_key(process_id: str, requester: str, responder: str) -> bytes:
    return f"{process_id}|{requester}|{responder}".encode()


@dataclass
class Outcome:
    """What :func:`apply` did: the table writes and the answers without a request."""

    writes: dict[bytes, Entry] = field(default_factory=dict)
    unmatched: int = 0


def apply(record: ExchangeRecord, config: ExchangeConfig,
          get: Any) -> tuple[ExchangeType | None, Outcome]:
    """Apply one record to the table (read through ``get(key) -> bytes | None``).

    Returns the exchange type (None for a code not configured) and the writes.
    Idempotent: applying the same record twice writes nothing the second time.
    """
    found = config.lookup(record.standard, record.code)
    outcome = Outcome()
    if found is None:
        return None, outcome
    kind, role = found
    for reader in record.readers:
        if role == "opens":
            key = table_key(record.process_id, record.author, reader)
            raw = get(key)
            if raw is None:
                outcome.writes[key] = Entry(
                    type=kind.type, process_id=record.process_id, requester=record.author,
                    responder=reader, state=OPEN, opened_ms=record.time_ms,
                    last_ms=record.time_ms, codes=[record.code], subject=record.subject,
                )
            continue
        entry = None
        for key in (table_key(record.process_id, reader, record.author),
                    table_key(record.process_id, record.author, reader)):
            raw = get(key)
            if raw is not None:
                entry = Entry.decode(raw)
                break
        if entry is None:
            # an answer without a request: kept (so a replay is not counted twice), counted
            key = table_key(record.process_id, reader, record.author)
            outcome.writes[key] = Entry(
                type=kind.type, process_id=record.process_id, requester=reader,
                responder=record.author, state=UNMATCHED, opened_ms=record.time_ms,
                last_ms=record.time_ms, codes=[record.code], closed_ms=record.time_ms,
            )
            outcome.unmatched += 1
            continue
        if record.code in entry.codes or entry.state != OPEN:
            continue  # delivered again, or after the exchange was closed: nothing changes
        entry.codes.append(record.code)
        entry.last_ms = max(entry.last_ms, record.time_ms)
        if role == "closes":
            entry.state = CLOSED
            entry.closed_ms = record.time_ms
        outcome.writes[entry.key] = entry
    return kind, outcome


def summarize(entries: Iterable[Entry], config: ExchangeConfig,
              now_ms: int) -> dict[str, tuple[int, float]]:
    """Per configured type: (open exchanges, age in seconds of the oldest)."""
    result = {t.type: (0, 0.0) for t in config.types}
    for entry in entries:
        if entry.state != OPEN or entry.type not in result:
            continue
        count, oldest = result[entry.type]
        result[entry.type] = (count + 1, max(oldest, entry.age(now_ms)))
    return result


def read_table(values: Mapping[bytes, bytes | None]) -> Iterator[Entry]:
    """The entries of a table's newest values per key (tombstones skipped)."""
    for raw in values.values():
        if raw:
            try:
                yield Entry.decode(raw)
            except (ValueError, TypeError, KeyError):
                continue


def read_exchanges(settings: Any, *, timeout: float = 10.0) -> list[Entry]:
    """Every exchange in the worker's table, read from its changelog (newest value per
    key, up to the end offsets seen when reading began): works from any process.
    An empty list when the worker has not created the changelog yet."""
    from hub.kafka.reading import read_to_end

    newest: dict[bytes, bytes | None] = {}
    topic = table_changelog_name(settings.consumer_group)
    for record in read_to_end(settings, [topic], None, timeout):
        newest[record.key] = record.value
    return sorted(read_table(newest), key=lambda e: (e.opened_ms, e.key))


def format_age(seconds: float) -> str:
    """``3d 4h``, ``2h 5m``, ``4m 10s``, ``12s``."""
    s = int(seconds)
    days, rest = divmod(s, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    if minutes:
        return f"{minutes}m {secs}s"
    return f"{secs}s"
