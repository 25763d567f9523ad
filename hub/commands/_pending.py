"""Placeholder for commands whose issue is still open: says so, exits non-zero."""

from __future__ import annotations

import argparse
import sys


def pending(issue: int) -> object:
    def run(args: argparse.Namespace) -> int:
        print(
            f"xoev-hub {args.command}: not implemented yet (tracked in issue {issue})",
            file=sys.stderr,
        )
        return 3

    return run


def configure_pending(parser: argparse.ArgumentParser, issue: int) -> None:
    parser.add_argument("rest", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    parser.set_defaults(run=pending(issue))
