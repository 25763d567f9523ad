"""XÖV schema packages and the registry that identifies messages.

Public surface (see docs/design/interfaces.md and docs/validation.md)::

    MessageType, SchemaPackage, SchemaRegistry, derive_manifest, install
"""

from __future__ import annotations

from hub.core.schemas.install import derive_manifest, install
from hub.core.schemas.model import MANIFEST, MessageType, SchemaPackage
from hub.core.schemas.registry import SchemaRegistry, namespace_family

__all__ = [
    "MANIFEST",
    "MessageType",
    "SchemaPackage",
    "SchemaRegistry",
    "derive_manifest",
    "install",
    "namespace_family",
]
