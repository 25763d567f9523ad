"""Exchange tracking logic (hub.xdomea.exchanges): configuration, apply, summary; and the
0301 rendering of the file plan, valid against the official xdomea 3.0.0 package."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from hub.core.aktenplan import Aktenplan
from hub.core.header import read_header
from hub.core.schemas import SchemaRegistry, install
from hub.core.validation import check
from hub.core.xmlsafe import parse_xml
from hub.errors import ConfigError
from hub.xdomea.aktenplan_xml import render
from hub.xdomea.exchanges import (
    CLOSED,
    OPEN,
    UNMATCHED,
    Entry,
    ExchangeConfig,
    ExchangeRecord,
    apply,
    default_path,
    parse_duration,
    summarize,
)
from tests.conftest import official_or_skip

ARC, REG_W, REG_S = "arc:05124000", "reg:05124000", "reg:05122000"
PID = "0b5d7a1e-1111-4222-8333-444455556666"


class Table(dict[bytes, bytes]):
    def run(self, record: ExchangeRecord, config: ExchangeConfig) -> int:
        _kind, outcome = apply(record, config, self.get)
        for key, entry in outcome.writes.items():
            self[key] = entry.encode()
        return len(outcome.writes)

    def entries(self) -> list[Entry]:
        return [Entry.decode(v) for v in self.values()]


def rec(code: str, author: str, readers: tuple[str, ...], t: int, pid: str = PID,
        subject: str | None = None) -> ExchangeRecord:
    return ExchangeRecord(pid, "xdomea", code, author, readers, t, subject)


def test_bundled_configuration_has_the_verified_codes() -> None:
    raw = tomllib.loads(default_path().read_text(encoding="utf-8"))
    config = ExchangeConfig.default()
    assert [t.type for t in config.types] == [e["type"] for e in raw["exchange"]]
    assert config.lookup("xdomea", "0301") == (config.by_name["aktenplan"], "opens")
    assert config.lookup("xdomea", "0302") == (config.by_name["aktenplan"], "closes")
    assert config.lookup("xdomea", "0402")[1] == "closes"  # type: ignore[index]
    assert config.lookup("xdomea", "0506")[1] == "closes"  # type: ignore[index]
    assert config.lookup("xdomea", "0101") is None and config.lookup("XMeld", "0301") is None
    assert config.by_name["aktenplan"].deadline == parse_duration(raw["exchange"][0]["deadline"])


@pytest.mark.parametrize(("text", "message"), [
    ('[[exchange]]\ntype="a"\nstandard="x"\nopens=["1"]\ncloses=["1"]\ndeadline="1d"\n',
     "more than one"),
    ('[[exchange]]\ntype="a"\nstandard="x"\nopens=["1"]\ncloses=["2"]\ndeadline="soon"\n',
     "deadline"),
    ('[[exchange]]\ntype="a"\nstandard="x"\nopens=["1"]\ncloses=["2"]\ndeadline="1d"\n'
     '[[exchange]]\ntype="b"\nstandard="x"\nopens=["2"]\ncloses=["3"]\ndeadline="1d"\n',
     "in both a and b"),
])
def test_bad_configuration_fails(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "exchanges.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        ExchangeConfig.load(path)


def test_file_plan_to_three_acknowledged_by_two() -> None:
    config = ExchangeConfig.default()
    table = Table()
    pids = {r: f"{PID[:-1]}{i}" for i, r in enumerate((REG_W, REG_S, "reg:05120000"))}
    for reader, pid in pids.items():
        table.run(rec("0301", ARC, (reader,), 1000, pid, "2025.1"), config)
    assert table.run(rec("0301", ARC, (REG_W,), 1000, pids[REG_W], "2025.1"), config) == 0
    assert table.run(rec("0302", REG_W, (ARC,), 5000, pids[REG_W]), config) == 1
    assert table.run(rec("0302", REG_S, (ARC,), 6000, pids[REG_S]), config) == 1
    assert table.run(rec("0302", REG_S, (ARC,), 6000, pids[REG_S]), config) == 0  # replay
    states = {e.responder: (e.state, e.subject, e.codes) for e in table.entries()}
    assert states == {
        REG_W: (CLOSED, "2025.1", ["0301", "0302"]),
        REG_S: (CLOSED, "2025.1", ["0301", "0302"]),
        "reg:05120000": (OPEN, "2025.1", ["0301"]),
    }
    summary = summarize(table.entries(), config, now_ms=61_000)
    assert summary["aktenplan"] == (1, 60.0) and summary["abgabe"] == (0, 0.0)


def test_answer_without_request_is_kept_once_and_counted_once() -> None:
    config = ExchangeConfig.default()
    table = Table()
    _kind, outcome = apply(rec("0302", REG_W, (ARC,), 10), config, table.get)
    assert outcome.unmatched == 1
    for key, entry in outcome.writes.items():
        table[key] = entry.encode()
    _kind, again = apply(rec("0302", REG_W, (ARC,), 10), config, table.get)
    assert again.unmatched == 0 and not again.writes
    assert [e.state for e in table.entries()] == [UNMATCHED]
    assert summarize(table.entries(), config, 100)["aktenplan"] == (0, 0.0)


def test_aussonderung_runs_through_its_steps_in_both_directions() -> None:
    config = ExchangeConfig.default()
    table = Table()
    table.run(rec("0501", REG_S, (ARC,), 1), config)
    for t, (code, author, reader) in enumerate([
        ("0504", ARC, REG_S), ("0502", ARC, REG_S), ("0505", REG_S, ARC),
        ("0503", REG_S, ARC), ("0507", ARC, REG_S)], start=2):
        table.run(rec(code, author, (reader,), t * 1000), config)
        assert table.entries()[0].state == OPEN and table.entries()[0].last_ms == t * 1000
    assert summarize(table.entries(), config, 10_000)["aussonderung"] == (1, 4.0)
    table.run(rec("0506", ARC, (REG_S,), 20_000), config)
    (entry,) = table.entries()
    assert entry.state == CLOSED and entry.codes[-1] == "0506" and entry.requester == REG_S


def test_rendered_file_plan_is_valid_official_xdomea(tmp_path: Path) -> None:
    official = official_or_skip()
    install(official / "xdomea-3.0.0", tmp_path)
    registry = SchemaRegistry.load([tmp_path])
    plan = Aktenplan.default()
    data = render(plan, sender_key=ARC, recipient_key=REG_S)
    report = check(data, registry)
    assert report.valid, report.problems
    assert (report.standard, report.version, report.message_code) == ("xdomea", "3.0.0", "0301")
    root = parse_xml(data)
    header = read_header(root)
    assert header.author_key == ARC and header.reader_keys == (REG_S,)
    ns = {"x": "urn:xoev-de:xdomea:schema:3.0.0"}
    assert root.findtext("x:Aktenplan/x:Version", namespaces=ns) == plan.version
    marks = [e.text for e in root.iterfind(".//x:Einheit/x:Kennzeichen", ns)]
    assert marks == [u.kennzeichen for u in plan]  # depth first = file order
    # nesting follows the dotted marks; retention and assessment as configured
    for unit in plan:
        el = root.find(f".//x:Einheit[x:Kennzeichen='{unit.kennzeichen}']", ns)
        assert el is not None
        parent = el.getparent()
        assert parent is not None
        assert (parent.findtext("x:Kennzeichen", namespaces=ns)) == unit.parent
        assert el.findtext("x:Aussonderungsart/x:Aussonderungsart/code",
                           namespaces=ns) == unit.assessment
        years = el.findtext("x:Aufbewahrungsdauer/x:AnzahlJahre", namespaces=ns)
        assert years == (None if unit.retention_years is None else str(unit.retention_years))
    # the subject the exchange keeps is the version
    assert ExchangeConfig.default().by_name["aktenplan"].read_subject(root) == plan.version
