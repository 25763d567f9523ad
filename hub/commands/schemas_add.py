"""``xoev-hub schemas add DIR|ZIP``: install a published XÖV schema set.

The manifest is derived from the XSDs (see :mod:`hub.schemas.install`); the
package goes to ``HUB_SCHEMA_DIR/<standard>-<version>/``. A folder is used in
place (the manifest's ``base`` points at it); a ZIP is extracted.

``--header-profile`` names how the set's messages are addressed: ``g2g``,
``xdomea``, or a JSON file with an XPath profile (docs/xdomea.md). Without it
the profile is ``xdomea`` for xdomea namespaces (``urn:xoev-de:xdomea:schema:*``)
and ``g2g`` for everything else.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("source", type=Path, help="folder or ZIP of the published schema set")
    parser.add_argument("--standard", help="standard name (default: read from the XSDs)")
    parser.add_argument("--version", dest="set_version", help="release (default: from the XSDs)")
    parser.add_argument(
        "--header-profile",
        metavar="NAME|FILE",
        help="how messages are addressed: g2g, xdomea or a JSON file of XPath expressions "
        "(default: xdomea for urn:xoev-de:xdomea:schema:* namespaces, else g2g)",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from hub.schemas import install
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
    from hub.errors import ConfigError
    from hub.header import BUILTIN_PROFILES

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
