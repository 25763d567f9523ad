"""`xoev-hub schemas build|check|diff`: the Avro side of schema packages.

* ``build``: write ``hub/schemas_data/avro/<standard>/<version>/<root>.avsc`` for every package
  the registry knows; official set folders (``--set``) only into ``--out``.
* ``check``: exit 1 naming every checked-in .avsc that differs from a fresh build
  (or has no message type any more), for CI.
* ``diff OLD NEW``: per message type, can a reader of one version read the other
  (Avro schema resolution rules)? OLD/NEW: ``STANDARD-VERSION`` of a known package,
  an official set folder (``set.json``) or a folder of .avsc files.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from hub.errors import ConfigError


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
    from hub.avro.support import registry_packages
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
    from hub.avro.support import registry_packages
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
    from hub.avro.support import registry_packages
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
