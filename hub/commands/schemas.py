"""`xoev-hub schemas`: schema packages and their Avro schemas.

``build``, ``check`` and ``diff`` live in :mod:`hub.commands.schemas_avro`;
``add`` (installing packages) is not implemented yet (issue 3).
"""

from __future__ import annotations

import argparse

from hub.commands import schemas_avro
from hub.commands._pending import configure_pending


def configure(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="schemas_command", metavar="ACTION", required=True)
    schemas_avro.configure_build(
        sub.add_parser("build", help="write schemas/avro/<standard>/<version>/<root>.avsc")
    )
    schemas_avro.configure_check(
        sub.add_parser("check", help="fail naming .avsc files that differ from a fresh build")
    )
    schemas_avro.configure_diff(
        sub.add_parser("diff", help="Avro compatibility report between two package versions")
    )
    configure_pending(sub.add_parser("add", help="install a schema package"), issue=3)
