"""``xoev-hub schemas add DIR|ZIP``: install a published XÖV schema set.

The manifest is derived from the XSDs (see :mod:`hub.schemas.install`); the
package goes to ``HUB_SCHEMA_DIR/<standard>-<version>/``. A folder is used in
place (the manifest's ``base`` points at it); a ZIP is extracted.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("source", type=Path, help="folder or ZIP of the published schema set")
    parser.add_argument("--standard", help="standard name (default: read from the XSDs)")
    parser.add_argument("--version", dest="set_version", help="release (default: from the XSDs)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from hub.schemas import install
    from hub.settings import load_settings

    settings = load_settings()
    print(f"reading {args.source} ...", file=sys.stderr)
    package = install(
        args.source, settings.schema_dir, standard=args.standard, version=args.set_version
    )
    print(
        f"installed {package.label}: {len(package.messages)} message types, "
        f"namespace(s) {', '.join(package.namespaces)} -> {package.path}"
    )
    return 0
