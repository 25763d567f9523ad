"""`xoev-hub convert`: XÖV XML → Avro event (JSON or single-object bytes) and back.

    xoev-hub convert message.xml                  # the event record as JSON
    xoev-hub convert message.xml --format avro -o event.avro
    xoev-hub convert --reverse event.avro         # the XML again

A message takes the worker's path (hardened parse, identify, XSD validation,
g2g header; :func:`hub.core.validation.examine`) with the registry's packages, an
installed release winning over the bundled one of the same namespace, plus the
official set folders given with ``--set`` (they win over both). A message the
worker would dead-letter at one of those steps fails with the same code.
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
    from hub.avro import EventCatalog
    from hub.core.convert import convert_message, registry_with_sets
    from hub.core.xmlsafe import Limits
    from hub.settings import load_settings

    try:
        data = args.file.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read {args.file}: {exc.strerror}") from exc
    settings = load_settings()
    registry = registry_with_sets(settings, args.sets)
    catalog = EventCatalog(registry)
    if args.reverse:
        plan = catalog.plan_for(data)
        _write(args, plan.to_xml(plan.decode(data)))
        return 0
    package, plan, record = convert_message(
        data, registry, catalog, Limits.from_settings(settings)
    )
    origin = getattr(package, "origin", "")
    print(f"converted with {package.standard} {package.version} ({origin})", file=sys.stderr)
    if args.format == "avro":
        _write(args, plan.encode(record))
    else:
        text = json.dumps(record, ensure_ascii=False, indent=2) + "\n"
        _write(args, text.encode("utf-8"))
    return 0
