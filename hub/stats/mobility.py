"""Mobility statistics: moves derived from XMeld messages, counted without personal data.

Pure logic (no Kafka): :func:`extract_moves` turns one delivered XMeld message into
moves, :func:`anonymize` applies k-anonymity to the counts of one window, and
:data:`MOBILITY_CODEC` encodes the published records. The Faust side (the
internal moves topic, the window state, publication) is :mod:`hub.streams.mobility`;
the privacy model is docs/statistics.md.

A move is a :class:`Cell` and nothing else: from (AGS, district) → to (AGS,
district), the mover's age band and the household size class. The birth date is
read only to compute the band and is dropped at once; names, addresses, ids and
dates never leave :func:`extract_moves`.

Which messages record a move (XMeld 25.05/25.11a, bundled and official):

======  =================================  ==================================================
code    message                            move
======  =================================  ==================================================
0201    rueckmeldung.anmeldunginland       per ``umzugsverband`` (a household), per
                                           ``betroffener``: reader's municipality (the old
                                           residence, ``wohnung.leser``) → author's (the new
                                           one, ``wohnung.autor``); household size = persons
                                           in the ``umzugsverband``
0202    rueckmeldung.anmeldungausland      per ``betroffener``: ``ausland`` → author's
                                           municipality; household size not carried
0090    fortschreibung.anschrift           the person's address change within the author's
                                           municipality: ``anschrift.bisher`` → ``anschrift.neu``
======  =================================  ==================================================

The AGS is the address's ``gemeindeschluessel`` (8 digits, also inside a code
element as in the official XInneres type), otherwise the AGS of the header's
``ags:`` key. The district is ``wohnortFruehererGemeindename`` (official
XInneres Meldeanschrift: the former municipality, today's district), when the
address carries one; the bundled model has none.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from hub.avro.single_object import SingleObjectCodec

#: XMeld message codes that record a move (the table above).
MOVE_CODES = frozenset({"0201", "0202", "0090"})
#: Age bands (years, at the message's creation date).
AGE_BANDS = ("0-17", "18-29", "30-49", "50-64", "65+")
UNKNOWN = "unbekannt"
#: Placeholder of a dimension dropped by coarsening.
ANY = "*"
ABROAD = "ausland"
#: Levels of publication, finest first (see :func:`anonymize`).
LEVELS = ("cell", "no_district", "pair", "suppressed")




_AGS = re.compile(r"\d{8}")
_DATE = re.compile(r"(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?")


@dataclass(frozen=True, order=True)
class Cell:
    """One cell of the statistic: what a move is, and all that it is."""

    from_ags: str
    from_district: str
    to_ags: str
    to_district: str
    age_band: str
    household: str

    def coarser(self, level: str) -> Cell:
        """The cell with the dimensions that ``level`` drops set to ``*``."""
        if level == "cell":
            return self
        if level == "no_district":
            return Cell(self.from_ags, ANY, self.to_ags, ANY, self.age_band, ANY)
        if level == "pair":
            return Cell(self.from_ags, ANY, self.to_ags, ANY, ANY, ANY)
        return Cell(ANY, ANY, ANY, ANY, ANY, ANY)

    def text(self) -> str:
        return "|".join((self.from_ags, self.from_district, self.to_ags, self.to_district,
                         self.age_band, self.household))

    @classmethod
    def parse(cls, text: str) -> Cell:
        parts = text.split("|")
        if len(parts) != 6:
            raise ValueError("not a mobility cell")
        return cls(*parts)


@dataclass(frozen=True)
class Move:
    """One person's move; ``token`` identifies it within its message (for dedupe)."""

    cell: Cell
    token: str  # "<household index>/<person index>": positions, never content

    @property
    def household(self) -> str:
        return self.token.split("/", 1)[0]


def age_band(birth: str | None, on: date) -> str:
    """The band of someone born on ``birth`` (``YYYY``, ``YYYY-MM`` or ``YYYY-MM-DD``,
    as in XÖV's partially known dates) at ``on``. A year alone counts as 1 July, a
    month as its 15th; anything else (unknown, in the future) is ``unbekannt``."""
    if not birth:
        return UNKNOWN
    match = _DATE.fullmatch(birth.strip()[:10])
    if not match:
        return UNKNOWN
    year = int(match[1])
    month = int(match[2]) if match[2] else 7
    day = int(match[3]) if match[3] else (15 if match[2] else 1)
    if not (1 <= month <= 12 and 1 <= day <= 31):
        return UNKNOWN
    age = on.year - year - ((on.month, on.day) < (month, day))
    if age < 0 or age > 130:
        return UNKNOWN
    for limit, band in ((18, "0-17"), (30, "18-29"), (50, "30-49"), (65, "50-64")):
        if age < limit:
            return band
    return "65+"


def household_class(size: int | None) -> str:
    """``1``, ``2``, ``3-4``, ``5+`` or ``unbekannt``."""
    if size is None or size < 1:
        return UNKNOWN
    if size <= 2:
        return str(size)
    return "3-4" if size <= 4 else "5+"


# -- reading the XML (local names: bundled model and official XInneres alike) -----

def _children(element: Any, name: str) -> list[Any]:
    # "{*}name": any namespace or none, matched in C by lxml
    return list(element.iterchildren(f"{{*}}{name}"))


def _child(element: Any, name: str) -> Any | None:
    return element.find(f"{{*}}{name}")


def _descendant(element: Any | None, name: str) -> Any | None:
    if element is None:
        return None
    return next(element.iter(f"{{*}}{name}"), None)


def _ags_of_key(key: str | None) -> str:
    if key and key.startswith("ags:") and _AGS.fullmatch(key[4:]):
        return key[4:]
    return UNKNOWN


def _place(address: Any | None, fallback: str) -> tuple[str, str]:
    """(AGS, district) of an address element; the fallback AGS when it names none."""
    ags = fallback
    district = UNKNOWN
    if address is not None:
        code = _descendant(address, "gemeindeschluessel")
        if code is not None:
            found = _AGS.search("".join(code.itertext()))
            if found:
                ags = found[0]
        name = _descendant(address, "wohnortFruehererGemeindename")
        if name is not None:
            text = unicodedata.normalize("NFC", " ".join("".join(name.itertext()).split()))
            district = text[:40].replace("|", " ") or UNKNOWN
    return ags, district


def _birth(person: Any | None) -> str | None:
    """The lexical birth date under ``person`` (its first ``geburtsdatum``), or None."""
    node = _descendant(person, "geburtsdatum")
    if node is None:
        return None
    for name in ("jahrMonatTag", "jahrMonat", "jahr"):
        value = _descendant(node, name)
        if value is not None and value.text:
            return str(value.text)
    text = (node.text or "").strip()
    return text or None


def _creation_date(created: str) -> date | None:
    try:
        return date.fromisoformat(created.strip()[:10])
    except ValueError:
        return None


def extract_moves(
    root: Any,
    code: str,
    *,
    author_key: str,
    reader_keys: Sequence[str],
    created: str,
) -> list[Move]:
    """The moves recorded by one XMeld message (empty if its code records none).

    ``root`` is the parsed message; ``created`` its ``erstellungszeitpunkt`` (the
    reference date of the age bands).
    """
    if code not in MOVE_CODES:
        return []
    on = _creation_date(created)
    author_ags = _ags_of_key(author_key)
    reader_ags = _ags_of_key(reader_keys[0]) if reader_keys else UNKNOWN

    def band(person: Any | None) -> str:
        return age_band(_birth(person), on) if on is not None else UNKNOWN

    moves: list[Move] = []
    if code == "0201":
        for h, household in enumerate(_children(root, "umzugsverband")):
            persons = _children(household, "betroffener")
            size = household_class(len(persons))
            for p, person in enumerate(persons):
                ident = _child(person, "identifikation.betroffener")
                origin = _place(_descendant(ident, "wohnung.leser"), reader_ags)
                target = _place(_descendant(ident, "wohnung.autor"), author_ags)
                moves.append(Move(Cell(*origin, *target, band(ident), size), f"{h}/{p}"))
    elif code == "0202":
        for p, person in enumerate(_children(root, "betroffener")):
            ident = _child(person, "identifikation.betroffener")
            target = _place(_descendant(ident, "wohnung.autor"), author_ags)
            # each person of a 0202 is a household of its own (the size is not carried)
            moves.append(Move(Cell(ABROAD, UNKNOWN, *target, band(ident), UNKNOWN), f"{p}/0"))
    else:  # 0090: an address change within the author's municipality
        person = _child(root, "identifikation.person")
        origin = _place(_child(root, "anschrift.bisher"), author_ags)
        target = _place(_child(root, "anschrift.neu"), author_ags)
        moves.append(Move(Cell(*origin, *target, band(person), UNKNOWN), "0/0"))
    return moves


# -- the record on the internal moves topic ---------------------------------------

def encode_moves(message_id: str, moves: Iterable[Move]) -> bytes:
    """The internal record of one message's moves (cells and positions only)."""
    return json.dumps(
        {"id": message_id, "moves": [[m.token, m.cell.text()] for m in moves]},
        separators=(",", ":"),
    ).encode()


def decode_moves(data: bytes) -> tuple[str, list[Move]]:
    record = json.loads(data)
    moves = [Move(Cell.parse(cell), str(token)) for token, cell in record["moves"]]
    return str(record["id"]), moves


# -- k-anonymity ------------------------------------------------------------------

@dataclass(frozen=True)
class Published:
    """The outcome of :func:`anonymize` for one window."""

    cells: dict[tuple[str, Cell], int]  # (level, cell) -> moves
    suppressed: int  # moves in no published cell
    seen: int  # every move of the window

    def matrix(self) -> dict[tuple[str, str], int]:
        """Published moves per (from AGS, to AGS), summed over the levels."""
        totals: dict[tuple[str, str], int] = defaultdict(int)
        for (_level, cell), count in self.cells.items():
            totals[(cell.from_ags, cell.to_ags)] += count
        return dict(totals)


def anonymize(
    households: Mapping[Cell, Mapping[str, int]], k: int
) -> Published:
    """Apply k-anonymity to one window.

    ``households`` maps each finest cell to its moves, counted per household token
    (``{household: moves}``; a household is one ``umzugsverband`` of one message,
    a person alone elsewhere). A cell is published only when **at least k distinct
    households** moved in it, so no published count describes fewer than k
    households (a family of five moving together is one household, not five).
    What a cell cannot publish is added to its coarser cell — without districts
    and household class (``no_district``), then without age band (``pair``) — and
    what is still below k there is only counted in the suppressed total.
    Published + suppressed = seen, always.
    """
    if k < 1:
        raise ValueError("k must be at least 1")
    cells: dict[tuple[str, Cell], int] = {}
    pending: dict[Cell, dict[str, int]] = {c: dict(h) for c, h in households.items()}
    seen = sum(sum(h.values()) for h in pending.values())
    for level in LEVELS[:-1]:
        grouped: dict[Cell, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        for cell, members in pending.items():
            target = grouped[cell.coarser(level)]
            for household, moves in members.items():
                target[household] += moves
        pending = {}
        for cell, members in grouped.items():
            if len(members) >= k:
                cells[(level, cell)] = sum(members.values())
            else:
                pending[cell] = members
    suppressed = sum(sum(h.values()) for h in pending.values())
    return Published(cells, suppressed, seen)


# -- the published record -----------------------------------------------------------

MOBILITY_SCHEMA: dict[str, Any] = {
    "type": "record",
    "name": "MobilityCount",
    "namespace": "de.xoev.hub.stats",
    "doc": "Moves in one closed window and cell, k-anonymous; never personal data "
    "(docs/statistics.md).",
    "fields": [
        {"name": "window_start", "type": "string", "doc": "RFC 3339 UTC, inclusive"},
        {"name": "window_end", "type": "string", "doc": "RFC 3339 UTC, exclusive"},
        {"name": "level", "type": "string",
         "doc": "cell, no_district, pair (coarsened to reach k) or suppressed (the total "
         "of moves published in no cell; all other fields '*')"},
        {"name": "from_ags", "type": "string", "doc": "AGS, 'ausland', 'unbekannt' or '*'"},
        {"name": "from_district", "type": "string"},
        {"name": "to_ags", "type": "string"},
        {"name": "to_district", "type": "string"},
        {"name": "age_band", "type": "string", "doc": "0-17, 18-29, 30-49, 50-64, 65+"},
        {"name": "household_size", "type": "string", "doc": "1, 2, 3-4, 5+"},
        {"name": "count", "type": "long", "doc": "moves"},
        {"name": "min_count", "type": "int", "doc": "k: households a published cell has"},
    ],
}
MOBILITY_CODEC = SingleObjectCodec(MOBILITY_SCHEMA)


def records(
    published: Published, window_start: str, window_end: str, k: int
) -> list[tuple[bytes, dict[str, Any]]]:
    """(key, record) per published cell and one suppressed-total record.

    The key is window + level + cell, so the compacted topic keeps the last
    publication of each (a re-publication after a restart has the same keys).
    """
    out: list[tuple[bytes, dict[str, Any]]] = []
    items = sorted(published.cells.items(), key=lambda item: (LEVELS.index(item[0][0]), item[0]))
    items.append((("suppressed", Cell(ANY, ANY, ANY, ANY, ANY, ANY)), published.suppressed))
    for (level, cell), count in items:
        record = {
            "window_start": window_start,
            "window_end": window_end,
            "level": level,
            "from_ags": cell.from_ags,
            "from_district": cell.from_district,
            "to_ags": cell.to_ags,
            "to_district": cell.to_district,
            "age_band": cell.age_band,
            "household_size": cell.household,
            "count": count,
            "min_count": k,
        }
        out.append((f"{window_start}|{level}|{cell.text()}".encode(), record))
    return out
