"""The demo's live view of the mobility statistics (pure: records encoded by the hub's
own encoder, read back as the demo's watcher does)."""

from __future__ import annotations

from hub.stats.mobility import MOBILITY_CODEC, Cell, anonymize, records
from hub.stats.mobility_view import MobilityWindows
from hub.tools.demo import Snapshot, mobility_lines, render

WUPPERTAL, SOLINGEN, REMSCHEID = "05124000", "05122000", "05120000"
NAMES = {WUPPERTAL: "Wuppertal", SOLINGEN: "Solingen", REMSCHEID: "Remscheid"}
START, END = "2025-01-13T12:00:00.000Z", "2025-01-13T12:00:30.000Z"


def window_records(flows: dict[tuple[str, str], int], lonely: int = 0) -> list[tuple[bytes, bytes]]:
    """One household of one person per move; ``lonely`` moves ausland → Wuppertal
    (below k = 5: suppressed)."""
    cells: dict[Cell, dict[str, int]] = {}
    for (origin, to), count in flows.items():
        cells[Cell(origin, "unbekannt", to, "unbekannt", "30-49", "1")] = {
            f"{origin}{to}{i}/0": 1 for i in range(count)}
    if lonely:
        cells[Cell("ausland", "unbekannt", WUPPERTAL, "unbekannt", "18-29", "unbekannt")] = {
            f"a{i}/0": 1 for i in range(lonely)}
    return [(key, MOBILITY_CODEC.encode(record))
            for key, record in records(anonymize(cells, 5), START, END, 5)]


def test_no_window_yet() -> None:
    (line,) = mobility_lines(None, NAMES, "30s")
    assert line.startswith("mobility (xoev.stats.mobility, windows of 30s): no window yet")


def test_top_three_flows_of_the_newest_complete_window() -> None:
    windows = MobilityWindows()
    flows = {(WUPPERTAL, SOLINGEN): 12, (REMSCHEID, WUPPERTAL): 9, (SOLINGEN, REMSCHEID): 7,
             (SOLINGEN, WUPPERTAL): 5}
    published = window_records(flows, lonely=2)
    # the watcher has read all but the suppressed total (the last record written):
    # the window is not complete yet and not shown
    for key, value in published[:-1]:
        windows.add(key, value)
    assert windows.latest(complete=True) is None
    windows.add(*published[-1])
    lines = mobility_lines(windows.latest(complete=True), NAMES, "30s")
    assert lines[0] == ("mobility (xoev.stats.mobility, windows of 30s): window "
                        "12:00:00–12:00:30 UTC, 33 moves published, 2 suppressed (k = 5); "
                        "top flows")
    assert [line.split() for line in lines[1:]] == [
        ["Wuppertal", "→", "Solingen", "12"],
        ["Remscheid", "→", "Wuppertal", "9"],
        ["Solingen", "→", "Remscheid", "7"],
    ]
    text = render(Snapshot(), rate=1.0, sent=5, elapsed=3, metrics_url="u", mobility=lines)
    assert "\n".join(lines) in text


def test_a_window_with_only_suppressed_moves() -> None:
    windows = MobilityWindows()
    for key, value in window_records({}, lonely=3):
        windows.add(key, value)
    lines = mobility_lines(windows.latest(complete=True), NAMES, "30s")
    assert "0 moves published, 3 suppressed" in lines[0]
    assert lines[1].strip().startswith("(every move of the window is below k")
