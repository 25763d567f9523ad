"""``xoev-hub worker``: run the stream processor (the Faust ingest agent).

Consumes every authority's inbound topic ``xoev.in.<authority>``, validates,
routes and converts each message, and writes the outbound, audit,
dead-letter and schema topics. Creates missing contract topics first (``topics apply``)
unless ``--no-apply-topics`` is given; then it refuses to start while one is
missing (exit 2, the names in one line). Stop with Ctrl-C or SIGTERM; offsets of
everything delivered are committed before it exits.
"""

from __future__ import annotations

import argparse


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--no-apply-topics",
        action="store_true",
        help="do not create missing contract topics; refuse to start while one is missing",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from hub.ops.worker import run_worker
    from hub.settings import load_settings

    settings = load_settings()
    return run_worker(settings, apply_topics=not args.no_apply_topics)
