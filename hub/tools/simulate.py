"""Realistic regional XÖV traffic for demos, load and tests.

Flows (``hub/config/simulation.toml``) describe kinds of events — a move, a
birth in a neighbouring city's hospital, a death, a marriage, a foreigner
registering — by authority kinds, never by city; the region file supplies the
authorities. Each event becomes a valid message from the sample generator,
produced to the author authority's inbound topic keyed by its nachrichtenUUID.

The one traffic source of ``xoev-hub simulate`` and the demo: :func:`run_simulation`
paces the messages; :func:`addressed` puts each on its topic and, for the demo's
dead-letter panel, turns a share of them into typical faults.
"""

from __future__ import annotations

import random
import sys
import threading
import time
import tomllib
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from hub.core.region import Authority, Region
from hub.core.schemas import MessageType, SchemaPackage, SchemaRegistry
from hub.errors import ConfigError
from hub.kafka.topics import TopicNames
from hub.settings import DEFAULT_CONFIG_DIR

DEFAULT_FLOWS = DEFAULT_CONFIG_DIR / "simulation.toml"
#: the header's creation time: simulated messages are created "now"
CREATED = "nachrichtenkopf.g2g/identifikation.nachricht/erstellungszeitpunkt"
MESSAGE_ID = "nachrichtenkopf.g2g/identifikation.nachricht/nachrichtenUUID"


class Flow(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    name: str
    standard: str
    message: str
    from_kind: str = Field(alias="from")
    to_kind: str = Field(alias="to")
    city: Literal["same", "other", "any"] = "any"
    weight: float = Field(default=1.0, gt=0)
    version: str | None = None


class FlowFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    flow: list[Flow]


def load_flows(path: Path = DEFAULT_FLOWS) -> list[Flow]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        return FlowFile.model_validate(data).flow
    except FileNotFoundError as exc:
        raise ConfigError(f"simulation flows file not found: {path}") from exc
    except (tomllib.TOMLDecodeError, ValidationError) as exc:
        first = str(exc).splitlines()[0]
        raise ConfigError(f"{path}: invalid simulation flows: {first}") from exc


def _fold(name: str) -> str:
    """Compare standard names ignoring case and umlaut spelling (XAusländer = XAuslaender)."""
    name = name.lower()
    for umlaut, plain in (("ä", "ae"), ("ö", "oe"), ("ü", "ue"), ("ß", "ss")):
        name = name.replace(umlaut, plain)
    return name


@dataclass(frozen=True)
class SimulatedMessage:
    flow: str
    author: Authority
    reader: Authority
    message_id: str
    payload: bytes


@dataclass
class Simulator:
    """Turns flows into messages, deterministically for a seed."""

    region: Region
    registry: SchemaRegistry
    flows: Sequence[Flow]
    seed: int = 0
    #: a fresh nachrichtenUUID per message (the seed fixes content and timing only);
    #: False repeats the seed's ids, for replay tests
    fresh_ids: bool = True
    _resolved: list[tuple[Flow, SchemaPackage, MessageType]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        for flow in self.flows:
            package, message = self._find(flow)
            self._resolved.append((flow, package, message))
        self.weights = [f.weight for f, _, _ in self._resolved]

    def _find(self, flow: Flow) -> tuple[SchemaPackage, MessageType]:
        candidates = [
            p
            for p in self.registry.packages
            if _fold(p.standard) == _fold(flow.standard)
            and (flow.version is None or p.version == flow.version)
        ]
        # the newest release; of two packages for one namespace the installed one wins
        ranked = sorted(candidates, key=lambda p: (p.version, p.origin == "installed"))
        for package in reversed(ranked):
            for message in package.messages.values():
                if flow.message in (message.code, message.root, message.name):
                    return package, message
        raise ConfigError(
            f"flow {flow.name!r}: no installed {flow.standard} package has message {flow.message!r}"
        )

    def _pick(self, flow: Flow) -> tuple[Authority, Authority]:
        authors = [a for a in self.region.authorities.values() if a.kind == flow.from_kind]
        if not authors:
            raise ConfigError(f"flow {flow.name!r}: the region has no {flow.from_kind}")
        author = self.rng.choice(sorted(authors, key=lambda a: a.id))
        readers = [a for a in self.region.authorities.values() if a.kind == flow.to_kind]
        if flow.city == "same":
            readers = [a for a in readers if a.municipality == author.municipality]
        elif flow.city == "other":
            readers = [a for a in readers if a.municipality != author.municipality]
        if not readers:
            raise ConfigError(f"flow {flow.name!r}: no {flow.to_kind} matches city={flow.city}")
        return author, self.rng.choice(sorted(readers, key=lambda a: a.id))

    def next(self) -> SimulatedMessage:
        from hub.core.header import read_header
        from hub.core.xmlsafe import parse_xml
        from hub.tools.samples import generate

        flow, package, message = self.rng.choices(self._resolved, weights=self.weights)[0]
        author, reader = self._pick(flow)
        payload = generate(
            package,
            message,
            seed=self.rng.getrandbits(63),
            author_key=author.dvdv_key,
            reader_key=reader.dvdv_key,
            overrides={
                CREATED: datetime.now(UTC).isoformat(timespec="milliseconds"),
                **({MESSAGE_ID: str(uuid.uuid4())} if self.fresh_ids else {}),
            },
        )
        message_id = read_header(parse_xml(payload)).message_id
        return SimulatedMessage(flow.name, author, reader, message_id, payload)

    def messages(self, count: int) -> Iterator[SimulatedMessage]:
        for _ in range(count):
            yield self.next()


@dataclass
class Summary:
    sent: int = 0
    seconds: float = 0.0
    by_flow: Counter[str] = field(default_factory=Counter)
    by_pair: Counter[tuple[str, str]] = field(default_factory=Counter)

    def lines(self) -> list[str]:
        rate = self.sent / self.seconds if self.seconds else 0.0
        out = [f"sent {self.sent} messages in {self.seconds:.1f}s ({rate:.0f}/s)", "by flow:"]
        out += [f"  {name:<28} {n:>7}" for name, n in self.by_flow.most_common()]
        out.append("by municipality pair (author → reader):")
        out += [f"  {a:>12} → {b:<12} {n:>7}" for (a, b), n in sorted(self.by_pair.items())]
        return out


def addressed(
    message: SimulatedMessage,
    names: TopicNames,
    *,
    faults: float = 0.0,
    rng: random.Random | None = None,
    region: Region | None = None,
) -> tuple[str, bytes]:
    """The topic and payload of ``message``: its author's inbound topic and its bytes;
    with ``faults`` > 0 that share of messages (drawn from ``rng``) is turned into a
    typical bad one (:func:`inject_fault`). Without faults nothing is drawn, so a seed's
    traffic stays the same."""
    topic = names.inbound(message.author.id)
    payload = message.payload
    if faults > 0:
        assert rng is not None and region is not None
        if rng.random() < faults:
            payload, topic = inject_fault(rng.random(), payload, topic, region, names)
    return topic, payload


def inject_fault(
    pick: float, payload: bytes, topic: str, region: Region, names: TopicNames
) -> tuple[bytes, str]:
    """Turn a good message into a typical bad one: schema-invalid (``pick`` < 0.4),
    sent on another authority's inbound topic (< 0.7), or not well-formed."""
    if pick < 0.4:  # schema-invalid: the nachrichtenUUID loses its pattern
        return payload.replace(b"nachrichtenUUID>", b"nachrichtenUUID>x", 1), topic
    if pick < 0.7:  # spoofed: sent on another authority's inbound topic
        others = sorted(a for a in region.authorities if names.inbound(a) != topic)
        return payload, names.inbound(others[0])
    return b"<kein-xml", topic  # not well-formed


def run_simulation(
    simulator: Simulator,
    send: Callable[[SimulatedMessage], None],
    *,
    rate: float,
    duration: float | None = None,
    count: int | None = None,
    progress: Callable[[Summary, float], None] | None = None,
    stop: threading.Event | None = None,
) -> Summary:
    """Send at ``rate`` msgs/s until ``duration`` seconds, ``count`` messages or ``stop``."""
    if duration is None and count is None and stop is None:
        raise ConfigError("give a duration or a count")
    summary = Summary()
    started = time.monotonic()
    last_report = started
    while True:
        elapsed = time.monotonic() - started
        if (count is not None and summary.sent >= count) or (
            duration is not None and elapsed >= duration
        ) or (stop is not None and stop.is_set()):
            break
        due = int(elapsed * rate) + 1 if rate > 0 else summary.sent + 1
        while summary.sent < due and (count is None or summary.sent < count) and not (
            stop is not None and stop.is_set()
        ):
            message = simulator.next()
            send(message)
            summary.sent += 1
            summary.by_flow[message.flow] += 1
            summary.by_pair[(message.author.municipality, message.reader.municipality)] += 1
        now = time.monotonic()
        if progress and now - last_report >= 0.5:
            progress(summary, now - started)
            last_report = now
        if rate > 0:
            ahead = summary.sent / rate - (time.monotonic() - started)
            if ahead > 0:
                if stop is not None:
                    stop.wait(min(ahead, 0.1))
                else:
                    time.sleep(min(ahead, 0.1))
    summary.seconds = time.monotonic() - started
    if progress:
        progress(summary, summary.seconds)
    return summary


def progress_bar(
    total_seconds: float | None, total_count: int | None
) -> Callable[[Summary, float], None]:
    """A one-line progress display on stderr."""

    def show(summary: Summary, elapsed: float) -> None:
        if total_count:
            done = summary.sent / total_count
        elif total_seconds:
            done = min(elapsed / total_seconds, 1.0)
        else:
            done = 0.0
        bar = "#" * int(done * 30)
        rate = summary.sent / elapsed if elapsed else 0.0
        sys.stderr.write(f"\r[{bar:<30}] {summary.sent:>7} sent  {rate:6.0f}/s  {elapsed:6.1f}s")
        sys.stderr.flush()

    return show
