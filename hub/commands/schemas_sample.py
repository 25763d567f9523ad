"""``xoev-hub schemas sample PACKAGE MESSAGE``: valid sample messages from a package.

PACKAGE is ``standard-version`` or ``standard:version`` (``xmeld-25.11a``,
``XMeld:25.11a``); the installed package wins over the bundled one of the same
namespace, exactly as in the hub. MESSAGE is a root element name or a message
code (``rueckmeldung.anmeldunginland.0201`` or ``0201``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from hub.errors import ConfigError


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("package", metavar="PACKAGE",
                        help="standard-version or standard:version, e.g. xmeld-25.11a")
    parser.add_argument("message", metavar="MESSAGE",
                        help="root element name or message code, e.g. 0201")
    parser.add_argument("--count", type=int, default=1, help="number of instances (default 1)")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of the first instance; instance i uses seed+i (default 0)")
    parser.add_argument("--out", type=Path, default=None,
                        help="directory for <root>-<seed>.xml files "
                        "(default: stdout, one instance)")
    parser.add_argument("--author", default=None, help="DVDV key of the author, e.g. ags:05124000")
    parser.add_argument("--reader", default=None, help="DVDV key of the reader, e.g. ags:05122000")
    parser.set_defaults(run=run)


def split_package(spec: str, standards: list[str]) -> tuple[str, str]:
    """``xmeld-25.11a`` / ``XMeld:25.11a`` -> (standard, version) of a loaded standard."""
    for separator in (":", "-"):
        standard, sep, version = spec.partition(separator)
        if sep and standard and version:
            for known in standards:
                if known.lower() == standard.lower():
                    return known, version
    raise ConfigError(
        f"unknown package {spec!r}: use standard-version or standard:version "
        f"(loaded standards: {', '.join(sorted(set(standards))) or 'none'})"
    )


def run(args: argparse.Namespace) -> int:
    if args.count < 1:
        raise ConfigError("--count must be at least 1")
    if args.out is None and args.count > 1:
        raise ConfigError("more than one instance needs --out DIR")

    from hub.samples import SampleError, generate, resolve_message
    from hub.schemas import SchemaRegistry  # type: ignore[import-not-found,unused-ignore]
    from hub.settings import load_settings
    registry = SchemaRegistry.from_settings(load_settings())
    standard, version = split_package(args.package, [p.standard for p in registry.packages])
    package: Any = registry.get(standard, version)
    try:
        message = resolve_message(list(package.messages.values()), args.message)
    except SampleError as exc:
        raise ConfigError(f"{package.standard} {package.version}: {exc}") from None
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
    for index in range(args.count):
        seed = args.seed + index
        data = generate(package, message, seed=seed,
                        author_key=args.author, reader_key=args.reader)
        if args.out is None:
            sys.stdout.buffer.write(data)
            sys.stdout.flush()
            continue
        (args.out / f"{message.root}-{seed}.xml").write_bytes(data)
        if args.count >= 100 and (index + 1) % 100 == 0:
            print(f"{index + 1}/{args.count} written", file=sys.stderr)
    if args.out is not None:
        print(f"{args.count} {message.root} sample(s) of {package.standard} {package.version} "
              f"({package.origin}) in {args.out}", file=sys.stderr)
    return 0
