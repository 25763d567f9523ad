"""Reading the published mobility statistics back: windows, the from → to matrix.

Used by ``xoev-hub stats mobility`` and the demo's live view. Input is the
compacted topic ``xoev.stats.mobility`` (records of :data:`hub.stats.mobility.MOBILITY_SCHEMA`,
one per published cell and one suppressed total per window, keyed by window +
level + cell). Everything here is about published, k-anonymous counts only.

A window's matrix sums, per (from AGS, to AGS), the counts of all its published
levels (``cell``, ``no_district``, ``pair``): a coarser record holds only the moves
its finer records could not publish, so the sum counts each published move once.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from hub.stats.mobility import ABROAD, MOBILITY_CODEC, UNKNOWN

SUPPRESSED = "suppressed"


@dataclass
class MobilityWindow:
    """The published records of one window (the newest value per key)."""

    start: str
    end: str
    records: dict[bytes, dict[str, Any]] = field(default_factory=dict)

    @property
    def complete(self) -> bool:
        """The suppressed total is the last record a window's publication writes."""
        return any(r["level"] == SUPPRESSED for r in self.records.values())

    @property
    def min_count(self) -> int:
        return max((int(r["min_count"]) for r in self.records.values()), default=0)

    @property
    def suppressed(self) -> int:
        return sum(int(r["count"]) for r in self.records.values() if r["level"] == SUPPRESSED)

    def matrix(self) -> dict[tuple[str, str], int]:
        """Published moves per (from AGS, to AGS), summed over the levels."""
        totals: dict[tuple[str, str], int] = {}
        for record in self.records.values():
            if record["level"] == SUPPRESSED:
                continue
            pair = (str(record["from_ags"]), str(record["to_ags"]))
            totals[pair] = totals.get(pair, 0) + int(record["count"])
        return totals

    @property
    def published(self) -> int:
        return sum(self.matrix().values())

    def top_flows(self, n: int = 3) -> list[tuple[str, str, int]]:
        """The ``n`` largest from → to counts (ties by AGS)."""
        flows = sorted(self.matrix().items(), key=lambda item: (-item[1], item[0]))
        return [(a, b, count) for (a, b), count in flows[:n]]


@dataclass
class MobilityWindows:
    """Every window read from the topic, by start; records of another schema skipped."""

    windows: dict[str, MobilityWindow] = field(default_factory=dict)
    skipped: int = 0

    def add(self, key: bytes | None, value: bytes | None) -> None:
        if key is None:
            self.skipped += 1
            return
        if value is None:  # a tombstone deletes the key
            for window in self.windows.values():
                window.records.pop(key, None)
            return
        try:
            record = MOBILITY_CODEC.decode(value)
        except Exception:
            self.skipped += 1
            return
        start = str(record["window_start"])
        window = self.windows.setdefault(start, MobilityWindow(start, str(record["window_end"])))
        window.records[key] = record

    def starts(self) -> list[str]:
        """The starts of windows with records, oldest first (RFC 3339 UTC sorts as text)."""
        return sorted(s for s, w in self.windows.items() if w.records)

    def latest(self, *, complete: bool = False) -> MobilityWindow | None:
        for start in reversed(self.starts()):
            if not complete or self.windows[start].complete:
                return self.windows[start]
        return None

    def pick(self, start: str) -> MobilityWindow | None:
        """The window starting at ``start``; a prefix (``2025-01-06``) when it names one."""
        starts = self.starts()
        if start in starts:
            return self.windows[start]
        matches = [s for s in starts if s.startswith(start)]
        return self.windows[matches[0]] if len(matches) == 1 else None


def collect(records: Iterable[Any]) -> MobilityWindows:
    """Windows from Kafka records (objects with ``key`` and ``value``), in offset order."""
    windows = MobilityWindows()
    for record in records:
        windows.add(record.key, record.value)
    return windows


def read_windows(settings: Any, *, timeout: float = 10.0) -> MobilityWindows:
    """Read ``xoev.stats.mobility`` from its start to the end offset seen when reading began."""
    from hub.kafka.reading import read_to_end
    from hub.kafka.topics import TopicNames

    topic = TopicNames(settings.topic_prefix).stats_mobility
    return collect(read_to_end(settings, [topic], None, timeout, missing_is_error=True))


# -- presentation ------------------------------------------------------------------

def place_names(region: Any) -> dict[str, str]:
    """AGS → municipality name, from the region's authorities."""
    return {a.ags: a.municipality for a in region}


def place(ags: str, names: Mapping[str, str]) -> str:
    """How a from/to value is shown: the city name where known, else the value."""
    if ags in names:
        return names[ags]
    return {ABROAD: "Ausland", UNKNOWN: "unbekannt"}.get(ags, ags)


def _order(values: Iterable[str], names: Mapping[str, str]) -> list[str]:
    """Region AGS first (by AGS), then other AGS, then ausland/unbekannt/*."""
    def rank(ags: str) -> tuple[int, str]:
        if ags in names:
            return 0, ags
        return (1 if ags.isdigit() else 2), ags
    return sorted(set(values), key=rank)


def axes(window: MobilityWindow, names: Mapping[str, str]) -> tuple[list[str], list[str]]:
    """Row (from) and column (to) values of the window's matrix, in display order."""
    matrix = window.matrix()
    return _order((a for a, _ in matrix), names), _order((b for _, b in matrix), names)


def matrix_lines(window: MobilityWindow, names: Mapping[str, str]) -> list[str]:
    """The window as text: header, the from → to matrix with totals, the suppressed line."""
    matrix = window.matrix()
    rows, cols = axes(window, names)
    lines = [
        f"mobility window {window.start} → {window.end} (k = {window.min_count} households)",
        "moves from (rows) → to (columns); '-': none published",
    ]
    labels = {r: (f"{r} {names[r]}" if r in names else place(r, names)) for r in rows}
    corner = "from \\ to"
    label_width = max([len(v) for v in labels.values()] + [len(corner), len("total")])
    width = max([len(c) for c in cols] + [len(str(window.published)), 5]) + 2
    lines.append(f"{corner:<{label_width}}" + "".join(f"{c:>{width}}" for c in cols)
                 + f"{'total':>{width}}")
    for r in rows:
        counts = [matrix.get((r, c)) for c in cols]
        cells = "".join(f"{'-' if n is None else n:>{width}}" for n in counts)
        lines.append(f"{labels[r]:<{label_width}}{cells}{sum(n or 0 for n in counts):>{width}}")
    column_totals = "".join(
        f"{sum(matrix.get((r, c), 0) for r in rows):>{width}}" for c in cols
    )
    lines.append(f"{'total':<{label_width}}{column_totals}{window.published:>{width}}")
    lines.append(f"suppressed (below k, in no published cell): {window.suppressed}")
    lines.append(
        f"moves in the window: {window.published + window.suppressed} "
        f"(published {window.published} + suppressed {window.suppressed})"
    )
    return lines


def window_json(window: MobilityWindow, names: Mapping[str, str]) -> dict[str, Any]:
    return {
        "window_start": window.start,
        "window_end": window.end,
        "min_count": window.min_count,
        "matrix": [
            {"from_ags": a, "from_name": names.get(a), "to_ags": b, "to_name": names.get(b),
             "count": n}
            for (a, b), n in sorted(window.matrix().items())
        ],
        "published": window.published,
        "suppressed": window.suppressed,
        "records": sorted(window.records.values(), key=lambda r: (
            r["level"], r["from_ags"], r["to_ags"], r["from_district"], r["to_district"],
            r["age_band"], r["household_size"])),
    }
