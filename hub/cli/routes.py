"""``xoev-hub routes test|check``: golden routing cases and a configuration check.

``routes test [DIR]`` runs every golden case in DIR (default: the folder
``routes.golden`` beside the routes file) against the configured region and
routing rules, prints one PASS/FAIL line per case (with the difference) and a
summary, and exits non-zero if any case fails. ``routes check`` loads the
region and the rules and reports whether they are valid, resolving every
projection's field paths against each installed release of its standard.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hub.core.region import Region
    from hub.core.routing import Router


def configure(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    test = sub.add_parser(
        "test", help="run golden routing cases",
        description="Run golden routing cases (message -> expected recipients).",
    )
    test.add_argument(
        "directory", nargs="?", type=Path, metavar="DIR",
        help="folder of *.toml case files (default: routes.golden beside the routes file)",
    )
    check = sub.add_parser(
        "check", help="validate the region, the routing rules and the projections",
        description="Load and validate the region file and the routing rules (a rule that "
        "would send the XML to a kind limited to projections is refused), and resolve "
        "every projection's field paths in each installed release of its standard.",
    )
    for command in (test, check):
        command.add_argument("--region", type=Path, metavar="FILE",
                             help="region file (default: HUB_REGION_FILE)")
        command.add_argument("--routes", type=Path, metavar="FILE",
                             help="routing rules (default: HUB_ROUTES_FILE)")
    test.add_argument(
        "--quiet", "-q", action="store_true", help="print only failures and the summary"
    )
    test.set_defaults(run=run_test)
    check.set_defaults(run=run_check)


def _load(args: argparse.Namespace) -> tuple[Region, Router, Path]:
    from hub.core.region import Region
    from hub.core.routing import Router
    from hub.settings import load_settings

    settings = load_settings()
    region = Region.load(args.region or settings.region_file)
    routes_file: Path = args.routes or settings.routes_file
    router = Router.load(routes_file, region)
    return region, router, routes_file


def run_check(args: argparse.Namespace) -> int:
    region, router, _ = _load(args)
    placeholders = len(region.placeholders())
    print(
        f"{region.source}: {len(region)} authorities of {region.name}, "
        f"{len(region.kinds)} kinds, {placeholders} placeholder key(s)"
    )
    print(f"{router.source}: {len(router.rules)} rule(s), external hand-over "
          f"{'on' if router.external else 'off'}: OK")
    from hub.core.projection import Projections

    projections = Projections(region)
    if projections:
        from hub.avro import EventCatalog
        from hub.core.schemas import SchemaRegistry
        from hub.settings import load_settings

        registry = SchemaRegistry.from_settings(load_settings())
        plans = projections.check(registry.packages, EventCatalog(registry))
        kinds = sorted({plan.kind for plan in plans} | {
            k for k, kind in region.kinds.items() if kind.projected
        })
        print(f"projections: {len(plans)} resolve in the installed releases "
              f"(kinds limited to projections: {', '.join(kinds)}): OK")
    return 0


def run_test(args: argparse.Namespace) -> int:
    from hub.tools.routing_cases import load_cases, run_cases

    region, router, routes_file = _load(args)
    directory: Path = args.directory or routes_file.with_suffix(".golden")
    cases = load_cases(directory)
    results = run_cases(cases, region, router)
    failed = [r for r in results if not r.passed]
    for result in results:
        if result.passed and not args.quiet:
            print(f"PASS {result.case.label}")
        elif not result.passed:
            print(f"FAIL {result.case.label}: {result.diff}")
    print(f"{len(results)} cases: {len(results) - len(failed)} passed, {len(failed)} failed "
          f"({directory})")
    return 1 if failed else 0
