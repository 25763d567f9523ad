"""One module per ``xoev-hub`` subcommand (see ``hub.cli.COMMANDS``)."""
