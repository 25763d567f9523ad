"""``xoev-hub schemas``: schema packages and Avro schemas.

* ``add DIR|ZIP``: install a published XÖV schema set. The manifest is derived from
  the XSDs (see :mod:`hub.core.schemas.install`); the package goes to
  ``HUB_SCHEMA_DIR/<standard>-<version>/``. A folder is used in place (the manifest's
  ``base`` points at it); a ZIP is extracted. ``--header-profile`` names how the set's
  messages are addressed: ``g2g``, ``xdomea``, or a JSON file with an XPath profile
  (docs/xdomea.md). Without it the profile is ``xdomea`` for xdomea namespaces
  (``urn:xoev-de:xdomea:schema:*``) and ``g2g`` for everything else.
* ``list``: installed and bundled schema packages.
* ``build``: write ``hub/schemas_data/avro/<standard>/<version>/<root>.avsc`` for every package
  the registry knows; official set folders (``--set``) only into ``--out``.
* ``check``: exit 1 naming every checked-in .avsc that differs from a fresh build
  (or has no message type any more), for CI.
* ``diff OLD NEW``: per message type, can a reader of one version read the other
  (Avro schema resolution rules)? OLD/NEW: ``STANDARD-VERSION`` of a known package,
  an official set folder (``set.json``) or a folder of .avsc files.
* ``sample PACKAGE MESSAGE``: valid sample messages from a package. PACKAGE is
  ``standard-version`` or ``standard:version`` (``xmeld-25.11a``, ``XMeld:25.11a``); the
  installed package wins over the bundled one of the same namespace, exactly as in the
  hub. MESSAGE is a root element name or a message code
  (``rueckmeldung.anmeldunginland.0201`` or ``0201``).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hub.errors import ConfigError


def configure_add(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("source", type=Path, help="folder or ZIP of the published schema set")
    parser.add_argument("--standard", help="standard name (default: read from the XSDs)")
    parser.add_argument("--version", dest="set_version", help="release (default: from the XSDs)")
    parser.add_argument(
        "--header-profile",
        metavar="NAME|FILE",
        help="how messages are addressed: g2g, xdomea or a JSON file of XPath expressions "
        "(default: xdomea for urn:xoev-de:xdomea:schema:* namespaces, else g2g)",
    )
    parser.set_defaults(run=run_add)


def run_add(args: argparse.Namespace) -> int:
    from hub.core.schemas import install
    from hub.settings import load_settings

    settings = load_settings()
    profile = _profile_option(args.header_profile)
    print(f"reading {args.source} ...", file=sys.stderr)
    package = install(
        args.source,
        settings.schema_dir,
        standard=args.standard,
        version=args.set_version,
        header_profile=profile,
    )
    print(
        f"installed {package.label}: {len(package.messages)} message types, "
        f"namespace(s) {', '.join(package.namespaces)}, "
        f"header profile {package.header_profile_name} -> {package.path}"
    )
    return 0


def _profile_option(value: str | None) -> Any:
    """``--header-profile``: a built-in name, or a JSON file holding an XPath profile."""
    from hub.core.header import BUILTIN_PROFILES

    if value is None or value in BUILTIN_PROFILES:
        return value
    path = Path(value)
    if not path.is_file():
        raise ConfigError(
            f"--header-profile {value!r}: neither a built-in profile "
            f"({', '.join(BUILTIN_PROFILES)}) nor a JSON file"
        )
    try:
        spec = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"--header-profile {path}: cannot read JSON: {exc}") from exc
    if not isinstance(spec, dict):
        raise ConfigError(f"--header-profile {path}: must hold a JSON object")
    return spec


def configure_list(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.set_defaults(run=run_list)


def run_list(args: argparse.Namespace) -> int:
    from hub.core.schemas import SchemaRegistry
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


def configure_build(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--out", type=Path, help="output folder (default: the bundled hub/schemas_data/avro)"
    )
    parser.add_argument(
        "--set",
        dest="sets",
        type=Path,
        action="append",
        default=[],
        metavar="DIR",
        help="also build an official schema set folder (needs --out); repeatable",
    )
    parser.set_defaults(run=run_build)


def configure_check(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--dir", type=Path, help=".avsc folder to check (default: bundled hub/schemas_data/avro)"
    )
    parser.set_defaults(run=run_check)


def configure_diff(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("old", help="STANDARD-VERSION, official set folder or .avsc folder")
    parser.add_argument("new", help="STANDARD-VERSION, official set folder or .avsc folder")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.set_defaults(run=run_diff)


def _progress(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def unique_packages(packages: list[Any]) -> list[Any]:
    """First package per (standard, version): the registry's win over ``--set``."""
    seen: set[tuple[str, str]] = set()
    result = []
    for package in packages:
        key = (package.standard, package.version)
        if key not in seen:
            seen.add(key)
            result.append(package)
    return result


def build_files(packages: list[Any]) -> dict[Path, str]:
    from hub.avro.catalog import package_schemas

    files: dict[Path, str] = {}
    for package in packages:
        _progress(f"deriving {package.standard} {package.version} …")
        files.update(package_schemas(package))
    return files


def run_build(args: argparse.Namespace) -> int:
    from hub.avro.catalog import OfficialSet
    from hub.core.convert import registry_packages
    from hub.settings import AVRO_SCHEMA_DIR

    if args.sets and args.out is None:
        raise ConfigError("official sets are only built into a given --out folder")
    out: Path = args.out or AVRO_SCHEMA_DIR
    packages = unique_packages([*registry_packages(), *(OfficialSet(p) for p in args.sets)])
    files = build_files(packages)
    written = 0
    for relative, text in sorted(files.items()):
        path = out / relative
        if path.is_file() and path.read_text(encoding="utf-8") == text:
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written += 1
    print(f"{len(files)} Avro schemas in {out} ({written} written)")
    return 0


def stale_files(avro_dir: Path, packages: list[Any]) -> list[str]:
    """Checked-in .avsc that differ from a fresh build, are missing, or are orphans."""
    files = build_files(packages)
    stale: list[str] = []
    for relative, text in sorted(files.items()):
        path = avro_dir / relative
        if not path.is_file():
            stale.append(f"{path} (missing)")
        elif path.read_text(encoding="utf-8") != text:
            stale.append(f"{path} (differs)")
    if avro_dir.is_dir():
        for path in sorted(avro_dir.rglob("*.avsc")):
            if path.relative_to(avro_dir) not in files:
                stale.append(f"{path} (no such message type)")
    return stale


def run_check(args: argparse.Namespace) -> int:
    from hub.core.convert import registry_packages
    from hub.settings import AVRO_SCHEMA_DIR

    avro_dir: Path = args.dir or AVRO_SCHEMA_DIR
    packages = [p for p in registry_packages() if getattr(p, "origin", "bundled") == "bundled"]
    stale = stale_files(avro_dir, packages)
    for line in stale:
        print(f"stale: {line}")
    if stale:
        print(
            f"{len(stale)} stale Avro schema file(s): run `xoev-hub schemas build`",
            file=sys.stderr,
        )
        return 1
    print(f"Avro schemas in {avro_dir} are up to date")
    return 0


def load_side(spec: str) -> dict[str, Any]:
    """Event schemas by root local name for a diff argument."""
    from hub.avro.catalog import OfficialSet, package_schemas
    from hub.core.convert import registry_packages
    from hub.settings import AVRO_SCHEMA_DIR

    path = Path(spec)
    if (path / "set.json").is_file():
        files = package_schemas(OfficialSet(path))
        return {rel.name.removesuffix(".avsc"): json.loads(text) for rel, text in files.items()}
    if path.is_dir():
        return {
            avsc.name.removesuffix(".avsc"): json.loads(avsc.read_text(encoding="utf-8"))
            for avsc in sorted(path.glob("*.avsc"))
        }
    standard, _, version = spec.partition("-")
    for package in registry_packages():
        if package.standard.lower() == standard.lower() and package.version == version:
            files = package_schemas(package)
            return {rel.name.removesuffix(".avsc"): json.loads(t) for rel, t in files.items()}
    folder = AVRO_SCHEMA_DIR / standard / version
    if version and folder.is_dir():
        return load_side(str(folder))
    raise ConfigError(f"unknown package or folder {spec!r} (expected STANDARD-VERSION or a folder)")


def run_diff(args: argparse.Namespace) -> int:
    from hub.avro.compat import compare

    old, new = load_side(args.old), load_side(args.new)
    results = [compare(name, old[name], new[name]) for name in sorted(set(old) & set(new))]
    only_old = sorted(set(old) - set(new))
    only_new = sorted(set(new) - set(old))
    if args.json:
        payload = {
            "messages": [
                {
                    "message": r.message,
                    "verdict": r.verdict,
                    "new_reads_old": not r.backward,
                    "old_reads_new": not r.forward,
                    "new_reads_old_problems": r.backward,
                    "old_reads_new_problems": r.forward,
                }
                for r in results
            ],
            "only_old": only_old,
            "only_new": only_new,
        }
        print(json.dumps(payload, indent=2, ensure_ascii=False))
        return 0
    print(f"{'message type':<60} {'new reads old':<14} {'old reads new':<14} verdict")
    for r in results:
        print(
            f"{r.message:<60} {'yes' if not r.backward else 'NO':<14} "
            f"{'yes' if not r.forward else 'NO':<14} {r.verdict}"
        )
        for problem in (r.backward + r.forward)[:5]:
            print(f"    {problem}")
    for name in only_old:
        print(f"{name:<60} removed in new")
    for name in only_new:
        print(f"{name:<60} added in new")
    return 0


def configure_sample(parser: argparse.ArgumentParser) -> None:
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
    parser.set_defaults(run=run_sample)


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


def run_sample(args: argparse.Namespace) -> int:
    if args.count < 1:
        raise ConfigError("--count must be at least 1")
    if args.out is None and args.count > 1:
        raise ConfigError("more than one instance needs --out DIR")

    from hub.core.schemas import SchemaRegistry  # type: ignore[import-not-found,unused-ignore]
    from hub.settings import load_settings
    from hub.tools.samples import SampleError, generate, resolve_message
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


#: name -> (configure, one-line help); the order is the order of ``--help``
SUBCOMMANDS: dict[str, tuple[Callable[[argparse.ArgumentParser], None], str]] = {
    "add": (configure_add, "install a published XÖV schema set (folder or ZIP)"),
    "list": (configure_list, "list installed and bundled schema packages"),
    "build": (configure_build, "derive the Avro schemas of the packages"),
    "check": (configure_check, "check that the Avro schemas are up to date"),
    "diff": (configure_diff, "compare the Avro schemas of two releases"),
    "sample": (configure_sample, "generate sample messages from a package"),
}


def configure(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="schemas_command", metavar="SUBCOMMAND", required=True)
    for name, (configure_sub, help_text) in SUBCOMMANDS.items():
        configure_sub(sub.add_parser(name, help=help_text, description=help_text))
