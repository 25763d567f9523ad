"""``xoev-hub exchanges list``: xdomea exchanges and whether they are answered.

Reads the exchanges agent's table from its changelog topic
(``<HUB_CONSUMER_GROUP>-exchanges-changelog``), so it works from any process while
workers run. Parties are shown as authority ids where the region knows their key.
"""

from __future__ import annotations

import argparse
import json
import time


def configure(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    listing = sub.add_parser(
        "list",
        help="open xdomea exchanges (ProzessID, parties, codes seen, age, overdue)",
        description="List the xdomea exchanges the workers track (hub/config/exchanges.toml): "
        "by default the open ones, oldest first; the age counts from the exchange's "
        "newest message, OVERDUE when it is past the type's deadline.",
    )
    listing.add_argument("--all", action="store_true",
                         help="also closed exchanges and answers without a request")
    listing.add_argument("--type", metavar="TYPE", help="only exchanges of this type")
    listing.add_argument("--json", action="store_true", help="one JSON object per line")
    listing.add_argument("--timeout", type=float, default=10.0,
                         help="give up reading the table after S seconds (default 10)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from hub.core.region import Region
    from hub.settings import load_settings
    from hub.xdomea.exchanges import OPEN, ExchangeConfig, format_age, read_exchanges

    settings = load_settings()
    region = Region.load(settings.region_file)
    config = ExchangeConfig.default()
    if args.type and args.type not in config.by_name:
        known = ", ".join(config.by_name)
        print(f"xoev-hub exchanges: unknown type {args.type!r} (configured: {known})")
        return 2
    now_ms = int(time.time() * 1000)

    def party(key: str) -> str:
        authority = region.by_dvdv_key(key)
        return authority.id if authority is not None else key

    rows = []
    for entry in read_exchanges(settings, timeout=args.timeout):
        if args.type and entry.type != args.type:
            continue
        if entry.state != OPEN and not args.all:
            continue
        kind = config.by_name.get(entry.type)
        age = entry.age(now_ms)
        overdue = entry.state == OPEN and kind is not None and age > kind.deadline
        rows.append((entry, age, overdue, party(entry.requester), party(entry.responder)))
    rows.sort(key=lambda r: (r[0].state != OPEN, -r[1]))
    if args.json:
        for entry, age, overdue, requester, responder in rows:
            print(json.dumps({
                "type": entry.type, "state": entry.state, "process_id": entry.process_id,
                "requester": requester, "responder": responder, "codes": entry.codes,
                "subject": entry.subject, "opened_ms": entry.opened_ms,
                "last_ms": entry.last_ms, "closed_ms": entry.closed_ms,
                "age_seconds": round(age, 3), "overdue": overdue,
            }, ensure_ascii=False))
        return 0
    if not rows:
        print("no open exchanges" if not args.all else "no exchanges")
        return 0
    head = ("TYPE", "STATE", "PROZESSID", "REQUESTER", "RESPONDER", "CODES", "AGE", "")
    lines = [head] + [
        (e.type, e.state, e.process_id, req, resp, ",".join(e.codes),
         format_age(age) if e.state == OPEN else "-", "OVERDUE" if overdue else "")
        for e, age, overdue, req, resp in rows
    ]
    widths = [max(len(line[i]) for line in lines) for i in range(len(head))]
    for line in lines:
        print("  ".join(v.ljust(w) for v, w in zip(line, widths, strict=True)).rstrip())
    return 0
