"""Moves from generated XMeld messages, age bands, k-anonymity (pure logic, no Kafka)."""

from __future__ import annotations

import itertools
from datetime import date

import pytest
from lxml import etree

from hub.core.schemas import SchemaRegistry  # type: ignore[import-not-found,unused-ignore]
from hub.settings import load_settings
from hub.stats.mobility import (
    ANY,
    MOBILITY_CODEC,
    UNKNOWN,
    Cell,
    age_band,
    anonymize,
    decode_moves,
    encode_moves,
    extract_moves,
    household_class,
    records,
)
from hub.tools.samples import generate

WUPPERTAL, SOLINGEN, REMSCHEID = "05124000", "05122000", "05120000"


@pytest.fixture(scope="module")
def xmeld():  # type: ignore[no-untyped-def]
    return SchemaRegistry.from_settings(load_settings()).get("XMeld", "25.11a")


def local(node: etree._Element) -> str:
    return etree.QName(node).localname


def nodes(root: etree._Element, name: str) -> list[etree._Element]:
    return [n for n in root.iter() if isinstance(n.tag, str) and local(n) == name]


def set_birth(person: etree._Element, value: str) -> None:
    """Replace the person's (first) birth date by a full date."""
    geburtsdatum = nodes(person, "geburtsdatum")[0]
    for child in list(geburtsdatum):
        geburtsdatum.remove(child)
    known = etree.SubElement(geburtsdatum, "teilbekanntesDatum")
    etree.SubElement(known, "jahrMonatTag").text = value


def sample(xmeld, code: str, seed: int, author: str, reader: str) -> etree._Element:  # type: ignore[no-untyped-def]
    data = generate(xmeld, code, seed=seed, author_key=f"ags:{author}", reader_key=f"ags:{reader}")
    return etree.fromstring(data)


def moves_of(root: etree._Element, code: str, author: str, reader: str, created: str):  # type: ignore[no-untyped-def]
    return extract_moves(root, code, author_key=f"ags:{author}", reader_keys=(f"ags:{reader}",),
                         created=created)


@pytest.mark.parametrize("on,birth,band", [
    (date(2025, 6, 1), "2007-06-02", "0-17"),
    (date(2025, 6, 1), "2007-06-01", "18-29"),
    (date(2025, 6, 1), "1995-06-02", "18-29"),
    (date(2025, 6, 1), "1995-06-01", "30-49"),
    (date(2025, 6, 1), "1975-05-31", "50-64"),
    (date(2025, 6, 1), "1960-06-01", "65+"),
    (date(2025, 6, 1), "1960", "50-64"),        # a year alone: 1 July
    (date(2025, 7, 1), "1960", "65+"),
    (date(2025, 6, 14), "1960-06", "50-64"),    # a month: its 15th
    (date(2025, 6, 15), "1960-06", "65+"),
    (date(2025, 6, 1), "2030-01-01", UNKNOWN),  # in the future
    (date(2025, 6, 1), None, UNKNOWN),
    (date(2025, 6, 1), "unbekannt", UNKNOWN),
])
def test_age_band(on: date, birth: str | None, band: str) -> None:
    assert age_band(birth, on) == band


def test_household_class() -> None:
    assert [household_class(n) for n in (None, 0, 1, 2, 3, 4, 5, 9)] == [
        UNKNOWN, UNKNOWN, "1", "2", "3-4", "3-4", "5+", "5+"]


@pytest.mark.parametrize("seed", range(6))
def test_rueckmeldung_0201_moves_reader_to_author(xmeld, seed: int) -> None:  # type: ignore[no-untyped-def]
    root = sample(xmeld, "0201", seed, SOLINGEN, WUPPERTAL)
    households = nodes(root, "umzugsverband")
    persons = [p for h in households for p in h if local(p) == "betroffener"]
    for person in persons:  # controlled addresses and birth dates
        for name, ags in (("wohnung.leser", WUPPERTAL), ("wohnung.autor", SOLINGEN)):
            for address in nodes(person, name):
                for code in nodes(address, "gemeindeschluessel"):
                    code.text = ags
        set_birth(person, "1990-01-01")
    moves = moves_of(root, "0201", SOLINGEN, WUPPERTAL, "2025-11-12T10:00:00+01:00")
    assert len(moves) == len(persons) >= 1
    sizes = [sum(1 for p in h if local(p) == "betroffener") for h in households]
    expected_sizes = [household_class(n) for n in sizes for _ in range(n)]
    assert [m.cell.household for m in moves] == expected_sizes
    for move in moves:
        assert (move.cell.from_ags, move.cell.to_ags) == (WUPPERTAL, SOLINGEN)
        assert move.cell.age_band == "30-49"
        assert move.cell.from_district == move.cell.to_district == UNKNOWN
    assert len({m.token for m in moves}) == len(moves)


def test_missing_gemeindeschluessel_falls_back_to_the_header_keys(xmeld) -> None:  # type: ignore[no-untyped-def]
    root = sample(xmeld, "0201", 3, REMSCHEID, SOLINGEN)
    for code in nodes(root, "gemeindeschluessel"):
        code.getparent().remove(code)
    moves = moves_of(root, "0201", REMSCHEID, SOLINGEN, "2025-11-12T10:00:00Z")
    assert {(m.cell.from_ags, m.cell.to_ags) for m in moves} == {(SOLINGEN, REMSCHEID)}


def test_district_is_read_when_the_address_carries_one(xmeld) -> None:  # type: ignore[no-untyped-def]
    root = sample(xmeld, "0090", 1, WUPPERTAL, SOLINGEN)
    for name, district in (("anschrift.bisher", "Elberfeld"), ("anschrift.neu", "Barmen")):
        address = nodes(root, name)[0]
        etree.SubElement(address, "wohnortFruehererGemeindename").text = district
        for code in nodes(address, "gemeindeschluessel"):
            code.text = WUPPERTAL
    [move] = moves_of(root, "0090", WUPPERTAL, SOLINGEN, "2025-11-12T10:00:00Z")
    assert move.cell.from_district == "Elberfeld" and move.cell.to_district == "Barmen"
    assert move.cell.from_ags == move.cell.to_ags == WUPPERTAL


@pytest.mark.parametrize("seed", range(4))
def test_anmeldung_ausland_0202_comes_from_abroad(xmeld, seed: int) -> None:  # type: ignore[no-untyped-def]
    root = sample(xmeld, "0202", seed, REMSCHEID, WUPPERTAL)
    persons = [p for p in root if local(p) == "betroffener"]
    for address in nodes(root, "wohnung.autor"):
        for code in nodes(address, "gemeindeschluessel"):
            code.text = REMSCHEID
    moves = moves_of(root, "0202", REMSCHEID, WUPPERTAL, "2025-11-12T10:00:00Z")
    assert len(moves) == len(persons)
    assert {(m.cell.from_ags, m.cell.to_ags) for m in moves} == {("ausland", REMSCHEID)}
    assert len({m.household for m in moves}) == len(moves)  # each person a household


@pytest.mark.parametrize("code", ["0040", "0091", "0203", "0204", "0206"])
def test_other_messages_record_no_move(xmeld, code: str) -> None:  # type: ignore[no-untyped-def]
    root = sample(xmeld, code, 0, WUPPERTAL, SOLINGEN)
    assert moves_of(root, code, WUPPERTAL, SOLINGEN, "2025-11-12T10:00:00Z") == []


@pytest.mark.parametrize("code,seed", list(itertools.product(["0201", "0202", "0090"], range(5))))
def test_no_personal_value_reaches_the_move_record(xmeld, code: str, seed: int) -> None:  # type: ignore[no-untyped-def]
    """Every text of the message except AGS codes, the message id and bare codes
    (names, streets, dates, places, ids) is absent from what ingest hands on."""
    root = sample(xmeld, code, seed, WUPPERTAL, SOLINGEN)
    message_id = nodes(root, "nachrichtenUUID")[0].text or ""
    moves = moves_of(root, code, WUPPERTAL, SOLINGEN, "2025-11-12T10:00:00Z")
    record = encode_moves(message_id, moves).decode()
    assert decode_moves(record.encode()) == (message_id, moves)
    texts = {t.strip() for t in root.itertext() if t.strip()}
    texts |= {v for n in root.iter() if isinstance(n.tag, str) for v in n.attrib.values()}
    for text in texts:
        if text == message_id or text.isdigit() or len(text) < 4:
            continue  # AGS and code values, short codes
        assert text not in record, f"{text!r} leaked"


def cell(frm: str, to: str, band: str = "30-49", fd: str = UNKNOWN, td: str = UNKNOWN,
         hh: str = "1") -> Cell:
    return Cell(frm, fd, to, td, band, hh)


def households(n: int, prefix: str, per: int = 1) -> dict[str, int]:
    return {f"{prefix}{i}/0": per for i in range(n)}


def test_a_single_persons_move_is_never_visible() -> None:
    """Crafted: a busy pair, plus one person moving Remscheid → Solingen, aged 65+,
    from a named district. No published record shows that move or any cell of it."""
    counts = {
        cell(WUPPERTAL, SOLINGEN): households(7, "a"),
        cell(WUPPERTAL, SOLINGEN, "18-29"): households(5, "b"),
        cell(REMSCHEID, SOLINGEN, "65+", fd="Lennep"): households(1, "lonely"),
    }
    result = anonymize(counts, 5)
    for (_level, published), count in result.cells.items():
        assert count >= 5
        assert published.from_ags != REMSCHEID
        assert "Lennep" not in published.text() and published.age_band != "65+"
    assert result.suppressed == 1
    encoded = b"".join(MOBILITY_CODEC.encode(r) for _k, r in records(result, "s", "e", 5))
    assert b"Lennep" not in encoded


def test_a_family_moving_together_is_one_household() -> None:
    """Five persons of one household in one cell are fewer than k=5 households."""
    counts = {cell(WUPPERTAL, SOLINGEN, hh="5+"): {"m1/0": 5}}
    result = anonymize(counts, 5)
    assert result.cells == {} and result.suppressed == 5 and result.seen == 5


def test_small_cells_are_coarsened_before_they_are_suppressed() -> None:
    counts = {
        # three districts with 2 households each: together 6 >= 5 without districts
        cell(WUPPERTAL, WUPPERTAL, fd="Elberfeld", td="Barmen"): households(2, "x"),
        cell(WUPPERTAL, WUPPERTAL, fd="Barmen", td="Vohwinkel"): households(2, "y"),
        cell(WUPPERTAL, WUPPERTAL, fd="Ronsdorf", td="Cronenberg"): households(2, "z"),
        # two age bands of 3 households each: 6 >= 5 as a pair only
        cell(SOLINGEN, REMSCHEID, "18-29"): households(3, "p"),
        cell(SOLINGEN, REMSCHEID, "50-64"): households(3, "q", per=2),
    }
    result = anonymize(counts, 5)
    assert result.cells == {
        ("no_district", Cell(WUPPERTAL, ANY, WUPPERTAL, ANY, "30-49", ANY)): 6,
        ("pair", Cell(SOLINGEN, ANY, REMSCHEID, ANY, ANY, ANY)): 9,
    }
    assert result.suppressed == 0 and result.seen == 15


@pytest.mark.parametrize("seed", range(20))
def test_published_plus_suppressed_is_seen(seed: int) -> None:
    import random
    rng = random.Random(seed)
    places = [WUPPERTAL, SOLINGEN, REMSCHEID, "ausland"]
    counts: dict[Cell, dict[str, int]] = {}
    for n in range(rng.randint(1, 300)):
        c = cell(rng.choice(places), rng.choice(places), rng.choice(["0-17", "30-49", "65+"]),
                 fd=rng.choice([UNKNOWN, "A", "B"]), hh=rng.choice(["1", "2", "3-4"]))
        counts.setdefault(c, {})[f"h{n}/0"] = rng.randint(1, 4)
    k = rng.randint(2, 8)
    result = anonymize(counts, k)
    published = sum(result.cells.values())
    assert published + result.suppressed == result.seen == sum(
        sum(h.values()) for h in counts.values())
    out = records(result, "2025-01-01T00:00:00.000Z", "2025-01-08T00:00:00.000Z", k)
    decoded = [MOBILITY_CODEC.decode(MOBILITY_CODEC.encode(r)) for _key, r in out]
    assert sum(r["count"] for r in decoded) == result.seen
    assert len({key for key, _r in out}) == len(out)  # one key per record


def test_window_keys_of_both_formats_are_read() -> None:
    """One key per move (e9af907) and the earlier one value per cell holding the
    tokens, which state folders and changelogs written before may still hold."""
    from hub.streams.mobility import move_key, window_moves

    cell = "05124000|*|05122000|*|30-49|2"
    start = 1_700_000_000_000
    prefix = b"W|%d|" % start
    new = move_key(start, cell, "m1/0/0")
    legacy = f"W|{start}|{cell}".encode()
    got = list(window_moves(prefix, [(new, b"1"), (legacy, b"m2/0/0\nm2/0/1\nm3/1/0")]))
    assert sorted(got) == [(cell, "m1/0/0"), (cell, "m2/0/0"), (cell, "m2/0/1"),
                           (cell, "m3/1/0")]
    assert list(window_moves(prefix, [(b"W|1|" + cell.encode(), b"x/0/0")])) == []
