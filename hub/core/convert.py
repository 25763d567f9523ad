"""Glue for commands and tools: the registry's packages, envelopes, one message's event.

:func:`convert_message` takes the worker's path (:func:`hub.core.validation.examine`:
hardened parse, identify with an installed release winning over the bundled one,
XSD validation, the g2g header) and then converts with the plan of the package
that path chose, exactly as :meth:`hub.core.pipeline.Pipeline.finish` does.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hub.avro.catalog import EventCatalog
from hub.avro.plan import ConversionPlan, Envelope
from hub.core.header import Nachrichtenkopf
from hub.core.schemas import SchemaPackage, SchemaRegistry, derive_manifest
from hub.core.schemas.model import MessageType
from hub.core.schemas.protocols import PackageLike
from hub.core.validation import examine
from hub.core.xmlsafe import Limits

if TYPE_CHECKING:
    from hub.settings import Settings

__all__ = [
    "convert_message",
    "envelope_for",
    "registry_packages",
    "registry_with_sets",
    "utc_now",
]


def registry_packages() -> list[PackageLike]:
    """Packages of ``SchemaRegistry.from_settings`` (bundled, then installed)."""
    from hub.settings import load_settings

    return list(SchemaRegistry.from_settings(load_settings()).packages)


def registry_with_sets(settings: Settings, sets: Sequence[Path] = ()) -> SchemaRegistry:
    """The settings' registry plus official set folders read in place.

    A set folder becomes a package as ``xoev-hub schemas add`` would install it
    (by reference, nothing is written), and wins over the installed and bundled
    packages of its namespace.
    """
    registry = SchemaRegistry.from_settings(settings)
    if not sets:
        return registry
    extra = []
    for folder in sets:
        base = folder.resolve()
        manifest = {**derive_manifest(base), "base": str(base)}
        extra.append(SchemaPackage(base, manifest, "installed"))
    return SchemaRegistry([*registry.packages, *extra])


def envelope_for(
    header: Nachrichtenkopf,
    package: PackageLike,
    message: MessageType,
    *,
    received: str | None = None,
    trace_id: str | None = None,
    file_plan_unit: str | None = None,
    retention_years: str | None = None,
) -> Envelope:
    """The envelope of a message: its header fields plus receive time and trace id,
    and the file-plan unit and retention its type is filed under (hub.core.filing)."""
    return Envelope(
        message_id=header.message_id,
        standard=package.standard,
        version=package.version,
        message_type_code=message.code,
        message_type_name=message.name,
        author_key=header.author_key,
        reader_keys=header.reader_keys,
        created=header.created,
        received=received or utc_now(),
        trace_id=trace_id if trace_id is not None else secrets.token_hex(16),
        file_plan_unit=file_plan_unit,
        retention_years=retention_years,
    )


def convert_message(
    data: bytes,
    registry: SchemaRegistry,
    catalog: EventCatalog,
    limits: Limits,
    *,
    received: str | None = None,
    trace_id: str | None = None,
) -> tuple[PackageLike, ConversionPlan, dict[str, Any]]:
    """(package, plan, event record) of one XÖV message; raises the MessageError the
    worker would dead-letter it with (author and routing aside)."""
    root, package, message, header = examine(data, registry, limits).accepted()
    plan = catalog.plan(package, message)
    envelope = envelope_for(header, package, message, received=received, trace_id=trace_id)
    return package, plan, plan.to_record(root, envelope, validated=True)


def utc_now() -> str:
    """RFC 3339 UTC with milliseconds, e.g. ``2026-11-25T21:00:00.123Z``."""
    now = dt.datetime.now(dt.UTC)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"
