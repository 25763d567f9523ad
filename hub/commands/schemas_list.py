"""``xoev-hub schemas list``: installed and bundled schema packages."""

from __future__ import annotations

import argparse
import json


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from hub.schemas import SchemaRegistry
    from hub.settings import load_settings

    registry = SchemaRegistry.from_settings(load_settings())
    rows = [
        {
            "standard": p.standard,
            "version": p.version,
            "origin": p.origin,
            "active": registry.active(p),
            "messages": len(p.messages),
            "header_profile": p.header_profile_name,
            "namespaces": list(p.namespaces),
            "path": str(p.path),
        }
        for p in registry.packages
    ]
    if args.json:
        print(json.dumps(rows, indent=1))
        return 0
    if not rows:
        print("no schema packages (install one with 'xoev-hub schemas add DIR|ZIP')")
        return 0
    header = ("STANDARD", "VERSION", "ORIGIN", "MESSAGES", "HEADER", "NAMESPACES")
    table = [
        (
            str(r["standard"]),
            str(r["version"]),
            str(r["origin"]) + ("" if r["active"] else " (shadowed)"),
            str(r["messages"]),
            str(r["header_profile"]),
            " ".join(p.namespaces),
        )
        for r, p in zip(rows, registry.packages, strict=True)
    ]
    widths = [max(len(line[i]) for line in (header, *table)) for i in range(5)]
    for line in (header, *table):
        print("  ".join(cell.ljust(w) for cell, w in zip(line[:5], widths, strict=True)), line[5])
    return 0
