"""What build-time tools need of a schema package and a message type.

``hub.core.schemas.SchemaPackage``/``MessageType`` satisfy these; so does any object
shaped like them (e.g. an official set read in place by the Avro tools), which
keeps the sample generator and the Avro derivation independent of the registry.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol


class MessageLike(Protocol):
    """A message type: root element, namespace, code and name."""

    @property
    def namespace(self) -> str: ...
    @property
    def root(self) -> str: ...
    @property
    def code(self) -> str: ...
    @property
    def name(self) -> str: ...


class PackageLike(Protocol):
    """A schema package: standard, version, message types and its xmlschema schema."""

    @property
    def standard(self) -> str: ...
    @property
    def version(self) -> str: ...
    @property
    def messages(self) -> Mapping[str, Any]: ...
    def xmlschema_schema(self) -> Any: ...
