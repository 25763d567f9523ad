"""``xoev-hub stats mobility`` on the real broker: MobilityCount records (encoded by the
hub's own encoder) on a test-prefixed xoev.stats.mobility are read back as the
from → to matrix, as JSON and as a PNG heatmap."""

from __future__ import annotations

import json
import struct
import zlib
from pathlib import Path

import pytest
from kafka import KafkaAdminClient
from kafka.admin import NewTopic

from hub.cli import main
from hub.core.region import Region
from hub.kafka.topics import TopicNames
from hub.settings import load_settings
from hub.stats.heatmap import layout
from hub.stats.mobility import MOBILITY_CODEC, Cell, anonymize, records
from hub.stats.mobility_view import MobilityWindows, place_names
from tests.worker.harness import produce

pytestmark = pytest.mark.kafka

WUPPERTAL, SOLINGEN, REMSCHEID = "05124000", "05122000", "05120000"
K = 5
OLD = ("2025-01-06T00:00:00.000Z", "2025-01-13T00:00:00.000Z")
NEW = ("2025-01-13T00:00:00.000Z", "2025-01-20T00:00:00.000Z")


def households(cell: Cell, count: int, persons: int, tag: str) -> dict[Cell, dict[str, int]]:
    return {cell: {f"{tag}{i}/0": persons for i in range(count)}}


def cell(origin: str, to: str, band: str = "30-49", size: str = "1") -> Cell:
    return Cell(origin, "unbekannt", to, "unbekannt", band, size)


def new_window() -> dict[Cell, dict[str, int]]:
    """Published: W→S 6 (cell level), R→W 6 (only as a pair: two age bands of 3
    households each), S→S 10 (5 households of 2); suppressed: ausland → S, 2 moves."""
    cells: dict[Cell, dict[str, int]] = {}
    cells |= households(cell(WUPPERTAL, SOLINGEN), 6, 1, "ws")
    cells |= households(cell(REMSCHEID, WUPPERTAL, "18-29"), 3, 1, "ry")
    cells |= households(cell(REMSCHEID, WUPPERTAL, "65+"), 3, 1, "ro")
    cells |= households(cell(SOLINGEN, SOLINGEN, size="2"), 5, 2, "ss")
    cells |= households(cell("ausland", SOLINGEN), 2, 1, "au")
    return cells


NEW_MATRIX = {(WUPPERTAL, SOLINGEN): 6, (REMSCHEID, WUPPERTAL): 6, (SOLINGEN, SOLINGEN): 10}
OLD_MATRIX = {(WUPPERTAL, REMSCHEID): 7}


def encoded(
    cells: dict[Cell, dict[str, int]], window: tuple[str, str]
) -> list[tuple[bytes, bytes]]:
    published = anonymize(cells, K)
    return [(key, MOBILITY_CODEC.encode(record))
            for key, record in records(published, window[0], window[1], K)]


@pytest.fixture
def stats_topic(kafka_bootstrap: str, topic_prefix: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("HUB_BOOTSTRAP_SERVERS", kafka_bootstrap)
    monkeypatch.setenv("HUB_TOPIC_PREFIX", topic_prefix)
    topic = TopicNames(topic_prefix).stats_mobility
    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    try:
        admin.create_topics([NewTopic(topic, 1, 1, topic_configs={"cleanup.policy": "compact"})])
    finally:
        admin.close()
    return topic


def parse_matrix(out: str) -> tuple[dict[tuple[str, str], int], int]:
    """(from AGS, to AGS) -> count from the printed matrix, and the suppressed total."""
    lines = out.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("from \\ to"))
    columns = lines[header].split()[3:-1]  # "from", "\", "to", AGS..., "total"
    matrix: dict[tuple[str, str], int] = {}
    for line in lines[header + 1:]:
        if line.startswith("total"):
            break
        parts = line.split()
        origin = parts[0] if parts[0].isdigit() else parts[0].lower()
        values = parts[-len(columns) - 1 : -1]
        row_total = int(parts[-1])
        assert row_total == sum(int(v) for v in values if v != "-")
        for column, value in zip(columns, values, strict=True):
            if value != "-":
                matrix[(origin, column)] = int(value)
    suppressed = next(int(line.rsplit(":", 1)[1]) for line in lines
                      if line.startswith("suppressed"))
    return matrix, suppressed


def test_the_newest_window_as_matrix_json_and_older_window(
    stats_topic: str, kafka_bootstrap: str, capsys: pytest.CaptureFixture[str]
) -> None:
    old = encoded(households(cell(WUPPERTAL, REMSCHEID), 7, 1, "wr"), OLD)
    new = encoded(new_window(), NEW)
    # the new window twice: a worker that crashed between publication and its mark
    # publishes the same keys again; compaction folds them, the command must too
    produce(kafka_bootstrap, [(stats_topic, k, v) for k, v in old + new + new])

    assert main(["stats", "mobility"]) == 0
    out = capsys.readouterr().out
    assert f"mobility window {NEW[0]} → {NEW[1]} (k = {K} households)" in out
    matrix, suppressed = parse_matrix(out)
    assert matrix == NEW_MATRIX
    assert suppressed == 2
    assert "moves in the window: 24 (published 22 + suppressed 2)" in out
    assert "05124000 Wuppertal" in out and "05122000 Solingen" in out
    assert "Ausland" not in out  # its only move is suppressed: no row, no column
    assert "1 other window(s) on the topic" in out

    assert main(["stats", "mobility", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert (data["window_start"], data["window_end"], data["min_count"]) == (*NEW, K)
    assert {(m["from_ags"], m["to_ags"]): m["count"] for m in data["matrix"]} == NEW_MATRIX
    assert {m["from_name"] for m in data["matrix"]} == {"Wuppertal", "Remscheid", "Solingen"}
    assert (data["published"], data["suppressed"]) == (22, 2)
    assert {r["level"] for r in data["records"]} == {"cell", "pair", "suppressed"}

    assert main(["stats", "mobility", "--window", "2025-01-06"]) == 0
    out = capsys.readouterr().out
    assert f"mobility window {OLD[0]} → {OLD[1]}" in out
    assert parse_matrix(out) == (OLD_MATRIX, 0)

    assert main(["stats", "mobility", "--window", "2024-12-30"]) == 1
    assert "no window starts at '2024-12-30'" in capsys.readouterr().err


def test_empty_topic_says_no_window_yet(
    stats_topic: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["stats", "mobility"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "no window published yet; windows close after HUB_STATS_WINDOW" in captured.err


def pixels(png: bytes) -> tuple[int, int, list[bytes]]:
    """Width, height and RGB rows of a PNG as written by hub.stats.heatmap (8-bit RGB,
    filter type 0 on every row); the chunk CRCs are checked."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    pos, chunks = 8, []
    while pos < len(png):
        (length,) = struct.unpack(">I", png[pos : pos + 4])
        kind, data = png[pos + 4 : pos + 8], png[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", png[pos + 8 + length : pos + 12 + length])
        assert crc == zlib.crc32(kind + data) & 0xFFFFFFFF
        chunks.append((kind, data))
        pos += 12 + length
    assert chunks[0][0] == b"IHDR" and chunks[-1][0] == b"IEND"
    width, height, depth, colour, *_ = struct.unpack(">IIBBBBB", chunks[0][1])
    assert (depth, colour) == (8, 2)
    raw = zlib.decompress(b"".join(d for k, d in chunks if k == b"IDAT"))
    stride = 1 + 3 * width
    assert len(raw) == stride * height
    rows = [raw[y * stride : (y + 1) * stride] for y in range(height)]
    assert all(row[0] == 0 for row in rows)
    return width, height, [row[1:] for row in rows]


def test_png_heatmap_colours_cells_by_count(
    stats_topic: str, kafka_bootstrap: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    new = encoded(new_window(), NEW)
    produce(kafka_bootstrap, [(stats_topic, k, v) for k, v in new])
    target = tmp_path / "mobility.png"
    assert main(["stats", "mobility", "--png", str(target)]) == 0
    assert f"heatmap written to {target}" in capsys.readouterr().err
    width, height, rows = pixels(target.read_bytes())

    # the geometry the renderer used, for the same window
    windows = MobilityWindows()
    for key, value in new:
        windows.add(key, value)
    window = windows.latest()
    assert window is not None
    geo = layout(window, place_names(Region.load(load_settings().region_file)))
    assert (width, height) == (geo.width, geo.height)

    def colour(origin: str, to: str) -> bytes:
        x, y, _w, _h = geo.cell(geo.rows.index(origin), geo.cols.index(to))
        return rows[y + 1][3 * (x + 1) : 3 * (x + 2)]  # inside the cell, off its label

    most = colour(SOLINGEN, SOLINGEN)  # 10, the largest count
    fewer = colour(WUPPERTAL, SOLINGEN)  # 6
    same = colour(REMSCHEID, WUPPERTAL)  # 6
    none = colour(WUPPERTAL, WUPPERTAL)  # no published move
    assert fewer == same
    assert len({most, fewer, none}) == 3
    assert sum(most) < sum(fewer) < sum(none)  # darker with more moves; grey for none
    # pixel rows through cells of different counts differ
    y_most = geo.cell(geo.rows.index(SOLINGEN), 0)[1] + 1
    y_fewer = geo.cell(geo.rows.index(WUPPERTAL), 0)[1] + 1
    assert rows[y_most] != rows[y_fewer]
    assert rows[y_most][3 * geo.left : 3 * geo.width] != rows[y_fewer][3 * geo.left : 3 * geo.width]
