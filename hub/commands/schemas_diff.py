"""`xoev-hub schemas diff` (implemented in :mod:`hub.commands.schemas_avro`)."""

from hub.commands.schemas_avro import configure_diff as configure

__all__ = ["configure"]
