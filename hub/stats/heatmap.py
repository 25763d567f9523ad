"""A dependency-free PNG heatmap of a mobility window (``stats mobility --png``).

The image is drawn into an RGB byte buffer and written as a PNG with
:mod:`zlib` and :mod:`struct` only: signature, ``IHDR`` (8-bit RGB), one ``IDAT``
(every row with filter type 0), ``IEND``. Labels use a 5x7 bitmap font
(digits, A–Z, a few signs; lower case is drawn as upper case, accents are
dropped). Rows are the from AGS (with the city name where the region knows it),
columns the to AGS; a cell's colour runs from light to dark blue with its count,
a cell with no published moves is grey. Title, legend and the suppressed total
are drawn too, so the picture stands on its own.
"""

from __future__ import annotations

import struct
import unicodedata
import zlib
from collections.abc import Mapping
from dataclasses import dataclass

from hub.stats.mobility_view import MobilityWindow, axes, place

RGB = tuple[int, int, int]

# 5x7 glyphs: seven rows of five bits (leftmost pixel = 0x10), as hex pairs.
_GLYPHS = {
    "0": "0E11131519110E", "1": "040C040404040E", "2": "0E11010204081F",
    "3": "1F02040201110E", "4": "02060A121F0202", "5": "1F101E0101110E",
    "6": "0608101E11110E", "7": "1F010204080808", "8": "0E11110E11110E",
    "9": "0E11110F01020C", "A": "0E1111111F1111", "B": "1E11111E11111E",
    "C": "0E11101010110E", "D": "1C12111111121C", "E": "1F10101E10101F",
    "F": "1F10101E101010", "G": "0E11101711110F", "H": "1111111F111111",
    "I": "0E04040404040E", "J": "0702020202120C", "K": "11121418141211",
    "L": "1010101010101F", "M": "111B1515111111", "N": "11111915131111",
    "O": "0E11111111110E", "P": "1E11111E101010", "Q": "0E11111115120D",
    "R": "1E11111E141211", "S": "0F10100E01011E", "T": "1F040404040404",
    "U": "1111111111110E", "V": "11111111110A04", "W": "1111111515150A",
    "X": "11110A040A1111", "Y": "1111110A040404", "Z": "1F01020408101F",
    " ": "00000000000000", "-": "0000001F000000", ".": "00000000000C0C",
    ":": "000C0C000C0C00", ">": "08040201020408", "+": "0004041F040400",
    "=": "00001F001F0000", "(": "02040808080402", ")": "08040202020408",
    "*": "0004150E150400", "/": "00010204081000", "|": "04040404040404",
    "?": "0E110102040004", ",": "000000000C0408", "\\": "00100804020100",
    "<": "02040810080402", "_": "0000000000001F",
}
_UNKNOWN_GLYPH = "1F11111111111F"

WHITE: RGB = (255, 255, 255)
BLACK: RGB = (0, 0, 0)
GREY: RGB = (236, 236, 236)
LIGHT: RGB = (222, 235, 247)
DARK: RGB = (8, 48, 107)


def _glyph(char: str) -> list[int]:
    code = _GLYPHS.get(char.upper())
    if code is None:
        base = unicodedata.normalize("NFKD", char)[:1].upper()
        code = _GLYPHS.get(base, _UNKNOWN_GLYPH)
    return [int(code[i : i + 2], 16) for i in range(0, 14, 2)]


class Canvas:
    """An RGB image in memory."""

    def __init__(self, width: int, height: int, background: RGB = WHITE) -> None:
        self.width, self.height = width, height
        self.pixels = bytearray(bytes(background) * (width * height))

    def rect(self, x: int, y: int, w: int, h: int, colour: RGB) -> None:
        x0, y0 = max(x, 0), max(y, 0)
        x1, y1 = min(x + w, self.width), min(y + h, self.height)
        if x1 <= x0 or y1 <= y0:
            return
        row = bytes(colour) * (x1 - x0)
        for yy in range(y0, y1):
            start = (yy * self.width + x0) * 3
            self.pixels[start : start + len(row)] = row

    def text(self, x: int, y: int, text: str, colour: RGB, scale: int) -> None:
        for i, char in enumerate(text):
            rows = _glyph(char)
            left = x + i * 6 * scale
            for r, bits in enumerate(rows):
                for c in range(5):
                    if bits & (0x10 >> c):
                        self.rect(left + c * scale, y + r * scale, scale, scale, colour)

    def pixel(self, x: int, y: int) -> RGB:
        i = (y * self.width + x) * 3
        return self.pixels[i], self.pixels[i + 1], self.pixels[i + 2]

    def png(self) -> bytes:
        def chunk(kind: bytes, data: bytes) -> bytes:
            return (struct.pack(">I", len(data)) + kind + data
                    + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

        stride = self.width * 3
        raw = b"".join(
            b"\x00" + bytes(self.pixels[y * stride : (y + 1) * stride]) for y in range(self.height)
        )
        header = struct.pack(">IIBBBBB", self.width, self.height, 8, 2, 0, 0, 0)
        return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
                + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


def text_width(text: str, scale: int) -> int:
    return len(text) * 6 * scale - scale if text else 0


def shade(count: int, top: int) -> RGB:
    """Light blue (few) to dark blue (the window's largest count), linear in count."""
    t = count / top if top > 0 else 1.0
    return tuple(round(a + (b - a) * t) for a, b in zip(LIGHT, DARK, strict=True))  # type: ignore[return-value]


@dataclass(frozen=True)
class Layout:
    """Where the heatmap's cells are; ``cell(row, col)`` is (x, y, width, height)."""

    rows: list[str]
    cols: list[str]
    left: int
    top: int
    cell_w: int
    cell_h: int
    width: int
    height: int

    def cell(self, row: int, col: int) -> tuple[int, int, int, int]:
        return (self.left + col * self.cell_w, self.top + row * self.cell_h,
                self.cell_w - 2, self.cell_h - 2)


def layout(window: MobilityWindow, names: Mapping[str, str], scale: int = 2) -> Layout:
    rows, cols = axes(window, names)
    char, line = 6 * scale, 8 * scale
    labels = [_row_label(r, names) for r in rows] + ["FROM \\ TO"]
    left = 2 * line + max(len(v) for v in labels) * char
    top = 6 * line
    cell_w = max([len(c) for c in cols] + [len(str(max(window.matrix().values(), default=0)))]
                 ) * char + 2 * line
    cell_h = 2 * line
    width = max(left + max(len(cols), 1) * cell_w + line, 64 * char)
    height = top + max(len(rows), 1) * cell_h + 5 * line
    return Layout(rows, cols, left, top, cell_w, cell_h, width, height)


def _row_label(ags: str, names: Mapping[str, str]) -> str:
    return f"{ags} {names[ags]}" if ags in names else place(ags, names)


def render(window: MobilityWindow, names: Mapping[str, str], scale: int = 2) -> Canvas:
    """The heatmap of ``window`` as a canvas (``.png()`` gives the file's bytes)."""
    geo = layout(window, names, scale)
    canvas = Canvas(geo.width, geo.height)
    char, line = 6 * scale, 8 * scale
    matrix = window.matrix()
    top_count = max(matrix.values(), default=0)
    canvas.text(line, line, f"MOBILITY {window.start} -> {window.end}", BLACK, scale)
    canvas.text(line, line + 3 * line // 2,
                f"MOVES FROM (ROWS) -> TO (COLUMNS), K = {window.min_count}", BLACK, scale)
    canvas.text(line, geo.top - 3 * line // 2, "FROM \\ TO", BLACK, scale)
    for c, to in enumerate(geo.cols):
        x, _y, w, _h = geo.cell(0, c)
        canvas.text(x + (w - text_width(to, scale)) // 2, geo.top - 3 * line // 2, to, BLACK,
                    scale)
    for r, origin in enumerate(geo.rows):
        _x, y, _w, h = geo.cell(r, 0)
        canvas.text(line, y + (h - 7 * scale) // 2, _row_label(origin, names), BLACK, scale)
        for c, to in enumerate(geo.cols):
            x, y, w, h = geo.cell(r, c)
            count = matrix.get((origin, to))
            if count is None:
                canvas.rect(x, y, w, h, GREY)
                continue
            colour = shade(count, top_count)
            canvas.rect(x, y, w, h, colour)
            label = str(count)
            ink = WHITE if sum(colour) < 3 * 128 else BLACK
            canvas.text(x + (w - text_width(label, scale)) // 2, y + (h - 7 * scale) // 2,
                        label, ink, scale)
    bottom = geo.top + max(len(geo.rows), 1) * geo.cell_h + line
    canvas.text(line, bottom,
                f"SUPPRESSED (BELOW K): {window.suppressed}   PUBLISHED: {window.published}",
                BLACK, scale)
    # legend: the colour scale from 1 to the largest count
    legend_y = bottom + 2 * line
    canvas.text(line, legend_y, "1", BLACK, scale)
    bar_x, bar_w = line + 2 * char, 20 * char
    for i in range(bar_w):
        colour = shade(round(1 + (top_count - 1) * i / max(bar_w - 1, 1)), max(top_count, 1))
        canvas.rect(bar_x + i, legend_y, 1, 7 * scale, colour)
    canvas.text(bar_x + bar_w + char, legend_y, str(top_count), BLACK, scale)
    return canvas
