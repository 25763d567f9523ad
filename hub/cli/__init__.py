"""The ``xoev-hub`` command line: the top of the package; nothing but
``hub.__main__`` imports it, and it may import every folder but ``hub.testing``.

Each contract command lives in its own module ``hub.cli.<name>`` exposing
``configure(parser)``; the module sets ``parser.set_defaults(run=...)`` where
``run(args) -> int`` returns the exit code. Command modules import heavy
dependencies inside ``run`` so that ``--help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from hub import __version__
from hub.errors import HubError

#: name -> (module, one-line help). Order is the order shown by --help.
COMMANDS: dict[str, tuple[str, str]] = {
    "doctor": ("hub.cli.doctor", "check Java, broker, topics, schemas, region, routes, TLS"),
    "kafka": ("hub.cli.kafka", "run the embedded Apache Kafka broker (up|down|status)"),
    "topics": ("hub.cli.topics", "create the contract topics (apply)"),
    "worker": ("hub.cli.worker", "run the stream processor"),
    "demo": ("hub.cli.demo", "broker, topics, worker and simulated traffic, live view"),
    "simulate": ("hub.cli.simulate", "produce realistic regional XÖV traffic"),
    "send": ("hub.cli.send", "send XÖV files to an authority's inbound topic"),
    "validate": ("hub.cli.validate", "validate XÖV files against their XSD"),
    "convert": ("hub.cli.convert", "convert XÖV XML to an Avro event and back"),
    "schemas": ("hub.cli.schemas", "schema packages and Avro schemas"),
    "routes": ("hub.cli.routes", "routing rules (test golden cases)"),
    "dlq": ("hub.cli.dlq", "inspect and replay the dead-letter topic"),
    "stats": ("hub.cli.stats", "published statistics: stats mobility (from → to matrix, PNG)"),
    "aktenplan": ("hub.cli.aktenplan", "file plan: publish (xdomea 0301), status (0302)"),
    "exchanges": ("hub.cli.exchanges", "xdomea exchanges tracked to their answer (list)"),
    "portal": ("hub.cli.portal", "simulated service portal citizens (setup, simulate)"),
    "bench": ("hub.cli.bench", "run the benchmarks in bench/"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="xoev-hub",
        description="Integration hub for XÖV messages (XMeld, XPersonenstand, XAusländer).",
    )
    parser.add_argument("--version", action="version", version=f"xoev-hub {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (module_name, help_text) in COMMANDS.items():
        module = importlib.import_module(module_name)
        command_parser = sub.add_parser(name, help=help_text, description=help_text)
        module.configure(command_parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code: int = args.run(args)
    except HubError as exc:
        print(f"xoev-hub {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"xoev-hub {args.command}: interrupted", file=sys.stderr)
        return 130
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
