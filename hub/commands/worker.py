"""`xoev-hub worker`: not implemented yet (issue 5)."""

from __future__ import annotations

import argparse

from hub.commands._pending import configure_pending


def configure(parser: argparse.ArgumentParser) -> None:
    configure_pending(parser, issue=5)
