"""``xoev-hub dlq list|show|replay``: inspect and replay the dead-letter topic.

``list`` prints one line per entry: time, id (source topic:partition:offset),
stage, error code and nachrichtenUUID. ``show ID`` prints an entry's headers and
payload. ``replay`` re-submits entries to the inbound topic they came from with
the header ``xoev-replay``; select with ``--code`` and ``--since`` (ISO time or a
duration such as 2h), or name ids. Replaying twice delivers once: the worker
deduplicates on nachrichtenUUID.
"""

from __future__ import annotations

import argparse
import json
import sys


def configure(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    list_parser = sub.add_parser("list", help="one line per dead letter")
    show = sub.add_parser("show", help="headers and payload of one dead letter")
    show.add_argument("id", help="entry id (source topic:partition:offset) as shown by list")
    replay = sub.add_parser("replay", help="re-submit dead letters to their inbound topics")
    replay.add_argument("ids", nargs="*", help="entry ids (default: all matching the filters)")
    for p in (list_parser, replay):
        p.add_argument("--code", help="only entries with this error code")
        p.add_argument("--since", help="only entries since (ISO time, or 30m / 2h / 7d)")
    list_parser.add_argument("--json", action="store_true", help="one JSON object per line")
    replay.add_argument("--dry-run", action="store_true", help="show what would be replayed")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from hub.errors import HubError
    from hub.settings import load_settings
    from hub.tools.dlq import parse_since, read_dead_letters, replay

    settings = load_settings()
    since = parse_since(args.since) if getattr(args, "since", None) else None
    code = getattr(args, "code", None)
    entries = list(read_dead_letters(settings, since=since, code=code))
    if args.action == "list":
        for e in entries:
            if args.json:
                print(
                    json.dumps(
                        {
                            "time": e.timestamp.isoformat(),
                            "id": e.id,
                            "stage": e.stage,
                            "code": e.code,
                            "message_id": e.message_id,
                            "replay_of": e.replay_of,
                        }
                    )
                )
            else:
                print(
                    f"{e.timestamp:%Y-%m-%d %H:%M:%S}  {e.id}  {e.stage:<9} {e.code:<24} "
                    f"{e.message_id}"
                )
        print(f"{len(entries)} dead letter(s)", file=sys.stderr)
        return 0
    if args.action == "show":
        matches = [e for e in entries if e.id == args.id]
        if not matches:
            raise HubError(f"no dead letter with id {args.id!r} (see: xoev-hub dlq list)")
        entry = matches[-1]
        for name, value in sorted(entry.headers.items()):
            print(f"{name}: {value.decode('utf-8', 'replace')}")
        print()
        sys.stdout.write(entry.payload.decode("utf-8", "replace"))
        print()
        return 0
    chosen = [e for e in entries if not args.ids or e.id in args.ids]
    missing = set(args.ids) - {e.id for e in chosen}
    if missing:
        raise HubError(f"no dead letter with id(s) {', '.join(sorted(missing))}")
    if args.dry_run:
        for e in chosen:
            print(f"would replay {e.id} ({e.code}) to {e.source_topic}")
        return 0
    count = replay(
        settings,
        chosen,
        progress=lambda e, outcome: print(f"{e.id} ({e.code}): {outcome}", file=sys.stderr),
    )
    skipped = len(chosen) - count
    print(f"{count} dead letter(s) replayed" + (f", {skipped} skipped" if skipped else ""))
    return 0
