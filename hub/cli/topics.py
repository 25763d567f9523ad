"""``xoev-hub topics apply``: create the contract topics of the region.

Creates ``xoev.in.<id>``, ``xoev.out.<id>.xml`` and ``xoev.out.<id>.avro`` for
every authority of the region file, plus ``xoev.out.external``,
``xoev.deadletter``, ``xoev.audit`` and ``xoev.schemas``, with the configs listed
in docs/routing.md. Idempotent: a second run changes nothing and says so;
drifted configs are set back, partitions are added but never removed.
"""

from __future__ import annotations

import argparse
import sys


def configure(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    apply = sub.add_parser(
        "apply",
        help="create missing topics, fix drifted configs, report",
        description="Create every contract topic of the region (idempotent).",
    )
    apply.add_argument(
        "--dry-run", action="store_true",
        help="only report what would change; exit 1 if anything would",
    )
    apply.add_argument(
        "--timeout", type=float, default=15.0,
        help="seconds to wait for the cluster to answer (default 15)",
    )
    apply.add_argument(
        "--verbose", "-v", action="store_true", help="also list topics that are unchanged"
    )
    apply.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from hub.core.region import Region
    from hub.kafka.topic_admin import apply_topics
    from hub.settings import load_settings

    settings = load_settings()
    region = Region.from_settings(settings)
    print(
        f"applying topics for {len(region)} authorities of {region.name} "
        f"at {settings.bootstrap} ...",
        file=sys.stderr,
    )
    report = apply_topics(
        settings, region, dry_run=args.dry_run, connect_timeout=args.timeout
    )
    for topic in report.topics:
        if topic.action == "existing" and not args.verbose:
            continue
        label: str = "unchanged" if topic.action == "existing" else topic.action
        if report.dry_run and topic.action != "existing":
            label = f"would be {label}"
        detail = f" ({'; '.join(topic.changes)})" if topic.changes else ""
        print(f"{label:9} {topic.name}{detail}")
    for warning in report.warnings:
        print(f"warning: {warning}")
    print(report.summary())
    return 1 if report.dry_run and report.changed else 0
