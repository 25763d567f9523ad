"""`xoev-hub schemas check` (implemented in :mod:`hub.commands.schemas_avro`)."""

from hub.commands.schemas_avro import configure_check as configure

__all__ = ["configure"]
