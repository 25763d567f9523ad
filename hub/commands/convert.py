"""`xoev-hub convert`: XÖV XML → Avro event (JSON or single-object bytes) and back.

    xoev-hub convert message.xml                  # the event record as JSON
    xoev-hub convert message.xml --format avro -o event.avro
    xoev-hub convert --reverse event.avro         # the XML again

Messages are found among the registry's packages (bundled and installed) and the
official set folders given with ``--set``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from hub.errors import ConfigError


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", type=Path, help="XÖV XML file (or, with --reverse, Avro bytes)")
    parser.add_argument(
        "--format", choices=("json", "avro"), default="json", help="output format (default json)"
    )
    parser.add_argument("--reverse", action="store_true", help="Avro single-object bytes → XML")
    parser.add_argument("-o", "--output", type=Path, help="write to this file instead of stdout")
    parser.add_argument(
        "--set",
        dest="sets",
        type=Path,
        action="append",
        default=[],
        metavar="DIR",
        help="also use an official schema set folder (with set.json); repeatable",
    )
    parser.set_defaults(run=run)


def _write(args: argparse.Namespace, data: bytes) -> None:
    if args.output is not None:
        args.output.write_bytes(data)
    else:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()


def run(args: argparse.Namespace) -> int:
    from hub.avro.support import envelope_for, find_message, load_catalog, parse

    try:
        data = args.file.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read {args.file}: {exc.strerror}") from exc
    catalog = load_catalog(args.sets)
    if args.reverse:
        plan = catalog.plan_for(data)
        _write(args, plan.to_xml(plan.decode(data)))
        return 0
    root = parse(data)
    package, message = find_message(catalog, root)
    print(f"converting with {package.standard} {package.version} plans…", file=sys.stderr)
    plan = catalog.plan(package, message)
    record = plan.to_record(root, envelope_for(root, package, message))
    if args.format == "avro":
        _write(args, plan.encode(record))
    else:
        text = json.dumps(record, ensure_ascii=False, indent=2) + "\n"
        _write(args, text.encode("utf-8"))
    return 0
