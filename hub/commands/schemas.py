"""``xoev-hub schemas``: schema packages and Avro schemas.

Each subcommand lives in its own module ``hub.commands.schemas_<name>`` with
``configure(parser)`` (which sets ``run``), so that parts built in parallel do
not edit the same file. A subcommand whose module does not exist yet is
registered as a placeholder that names its issue.
"""

from __future__ import annotations

import argparse
import importlib

from hub.commands._pending import configure_pending

#: name -> (module, one-line help, issue that implements it)
SUBCOMMANDS: dict[str, tuple[str, str, int]] = {
    "add": ("hub.commands.schemas_add", "install a published XÖV schema set (folder or ZIP)", 3),
    "list": ("hub.commands.schemas_list", "list installed and bundled schema packages", 3),
    "build": ("hub.commands.schemas_build", "derive the Avro schemas of the packages", 4),
    "check": ("hub.commands.schemas_check", "check that the Avro schemas are up to date", 4),
    "diff": ("hub.commands.schemas_diff", "compare the Avro schemas of two releases", 4),
    "sample": ("hub.commands.schemas_sample", "generate sample messages from a package", 3),
}


def configure(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="schemas_command", metavar="SUBCOMMAND", required=True)
    for name, (module_name, help_text, issue) in SUBCOMMANDS.items():
        sub_parser = sub.add_parser(name, help=help_text, description=help_text)
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            configure_pending(sub_parser, issue=issue)
            continue
        module.configure(sub_parser)
