"""``xoev-hub validate FILE…``: validate XÖV files against their XSD.

Prints ``FILE:LINE:COL: CODE message`` per problem and ``FILE: valid (XMeld
25.11a 0201)`` per valid file; ``--json`` prints one report per file. Exit 0
only when every file is valid, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", nargs="+", type=Path, metavar="FILE", help="XÖV message files")
    parser.add_argument("--json", action="store_true", help="machine-readable reports")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from hub.core.schemas import SchemaRegistry
    from hub.core.validation import Problem, ValidationReport, check
    from hub.core.xmlsafe import Limits
    from hub.errors import ConfigError
    from hub.settings import load_settings

    settings = load_settings()
    registry = SchemaRegistry.from_settings(settings)
    limits = Limits.from_settings(settings)
    all_valid = True
    reports = []
    for file in args.files:
        try:
            data = file.read_bytes()
        except OSError as exc:
            report = ValidationReport(
                False, None, None, None, (Problem("FILE_UNREADABLE", exc.strerror or str(exc)),)
            )
        else:
            try:
                report = check(data, registry, limits)
            except ConfigError as exc:  # a broken package: say which, keep going
                problem = Problem("SCHEMA_BROKEN", str(exc))
                report = ValidationReport(False, None, None, None, (problem,))
        all_valid &= report.valid
        if args.json:
            reports.append({"file": str(file), **report.as_dict()})
            continue
        if report.valid:
            print(f"{file}: valid ({report.standard} {report.version} {report.message_code})")
        for problem in report.problems:
            position = "".join(f":{v}" for v in (problem.line, problem.column) if v is not None)
            location = f" at {problem.path}" if problem.path else ""
            print(f"{file}{position}: {problem.code} {problem.message}{location}")
    if args.json:
        print(json.dumps(reports, indent=1, ensure_ascii=False))
    return 0 if all_valid else 1
