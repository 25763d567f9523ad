"""`xoev-hub demo`: not implemented yet (issue 6)."""

from __future__ import annotations

import argparse

from hub.commands._pending import configure_pending


def configure(parser: argparse.ArgumentParser) -> None:
    configure_pending(parser, issue=6)
