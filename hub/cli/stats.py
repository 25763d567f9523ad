"""``xoev-hub stats mobility``: the published mobility statistics as a from → to matrix.

Reads the compacted topic ``xoev.stats.mobility`` to its end, picks the newest
published window (or ``--window START``) and prints it: rows are the from AGS
(with the city name where the region file knows it), columns the to AGS, each
cell the published moves (all levels summed), then the window's suppressed total.
``--json`` prints the same as one JSON object (with the window's records);
``--png FILE`` also draws the matrix as a heatmap (a PNG written without any
plotting library). Only published, k-anonymous counts are shown. Exit status 1
when no window is published yet (or ``--window`` names none).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def configure(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="STATISTIC", required=True)
    mobility = sub.add_parser(
        "mobility",
        help="the latest mobility window as a from → to matrix (xoev.stats.mobility)",
        description="Print the newest published window of xoev.stats.mobility as a "
        "from → to matrix of moves (rows: from AGS with city name, columns: to AGS) "
        "and its suppressed total.",
    )
    mobility.add_argument(
        "--window", metavar="START",
        help="the window starting at START (as printed, e.g. 2025-01-06T00:00:00.000Z, "
        "or a unique prefix of it); default: the newest",
    )
    mobility.add_argument("--json", action="store_true", help="print one JSON object")
    mobility.add_argument("--png", metavar="FILE", type=Path,
                          help="also draw the matrix as a heatmap PNG to FILE")
    mobility.add_argument("--timeout", type=float, default=10.0,
                          help="give up reading the topic after S seconds (default 10)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from hub.core.region import Region
    from hub.settings import load_settings
    from hub.stats.mobility_view import matrix_lines, place_names, read_windows, window_json

    settings = load_settings()
    names = place_names(Region.load(settings.region_file))
    windows = read_windows(settings, timeout=args.timeout)
    if args.window:
        window = windows.pick(args.window)
        if window is None:
            known = ", ".join(windows.starts()[-5:]) or "none"
            print(f"xoev-hub stats mobility: no window starts at {args.window!r} "
                  f"(newest: {known})", file=sys.stderr)
            return 1
    else:
        window = windows.latest()
        if window is None:
            print(f"xoev-hub stats mobility: no window published yet; windows close after "
                  f"HUB_STATS_WINDOW (now {settings.stats_window.strip()}) plus a grace of "
                  "half of it", file=sys.stderr)
            return 1
    if args.json:
        print(json.dumps(window_json(window, names), ensure_ascii=False))
    else:
        print("\n".join(matrix_lines(window, names)))
        others = len(windows.starts()) - 1
        if others:
            print(f"{others} other window(s) on the topic (--window START)")
    if windows.skipped:
        print(f"{windows.skipped} record(s) of another schema skipped", file=sys.stderr)
    if args.png is not None:
        from hub.stats.heatmap import render

        args.png.write_bytes(render(window, names).png())
        print(f"heatmap written to {args.png}", file=sys.stderr)
    return 0
