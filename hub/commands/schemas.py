"""``xoev-hub schemas``: schema packages and Avro schemas.

Each subcommand lives in its own module ``hub.commands.schemas_<name>`` with
``configure(parser)`` (which sets ``run``).
"""

from __future__ import annotations

import argparse
import importlib

#: name -> (module, one-line help)
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "add": ("hub.commands.schemas_add", "install a published XÖV schema set (folder or ZIP)"),
    "list": ("hub.commands.schemas_list", "list installed and bundled schema packages"),
    "build": ("hub.commands.schemas_build", "derive the Avro schemas of the packages"),
    "check": ("hub.commands.schemas_check", "check that the Avro schemas are up to date"),
    "diff": ("hub.commands.schemas_diff", "compare the Avro schemas of two releases"),
    "sample": ("hub.commands.schemas_sample", "generate sample messages from a package"),
}


def configure(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="schemas_command", metavar="SUBCOMMAND", required=True)
    for name, (module_name, help_text) in SUBCOMMANDS.items():
        sub_parser = sub.add_parser(name, help=help_text, description=help_text)
        importlib.import_module(module_name).configure(sub_parser)
