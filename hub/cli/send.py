"""``xoev-hub send --from AUTHORITY FILE…``: send files to an authority's inbound topic.

Each file's bytes go unchanged to ``xoev.in.<AUTHORITY>`` (acks=all), keyed by
the message's nachrichtenUUID when the file is well-formed and has one. ``-``
reads standard input. Prints one line per file (topic, partition, offset) and
a summary; exits non-zero if any file was not accepted.
"""

from __future__ import annotations

import argparse
import sys


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--from", dest="authority", required=True, metavar="AUTHORITY",
        help="id of the sending authority, e.g. wuppertal.meldebehoerde",
    )
    parser.add_argument("files", nargs="+", metavar="FILE", help="XÖV XML files ('-': stdin)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from hub.core.region import Region
    from hub.settings import load_settings
    from hub.tools.sender import SendResult, read_inputs, send

    settings = load_settings()
    region = Region.from_settings(settings)
    region.get(args.authority)  # unknown authority: one line naming the known ids
    inputs = read_inputs(args.files)

    def show(result: SendResult) -> None:
        if result.ok:
            print(
                f"{result.name}: {result.topic} partition {result.partition} "
                f"offset {result.offset} key {result.key or '-'} ({result.size} bytes)"
            )
        else:
            print(f"{result.name}: NOT SENT to {result.topic}: {result.error}", file=sys.stderr)

    results = send(settings, region, args.authority, inputs, on_result=show)
    sent = [r for r in results if r.ok]
    failed = len(results) - len(sent)
    summary = (
        f"sent {len(sent)} of {len(results)} file(s), {sum(r.size for r in sent)} bytes, "
        f"to {results[0].topic if results else '-'}"
    )
    if failed:
        summary += f"; {failed} failed"
    print(summary)
    return 1 if failed else 0
