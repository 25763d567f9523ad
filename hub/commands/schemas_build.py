"""`xoev-hub schemas build` (implemented in :mod:`hub.commands.schemas_avro`)."""

from hub.commands.schemas_avro import configure_build as configure

__all__ = ["configure"]
