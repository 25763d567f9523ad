"""The hub's error tree.

::

    HubError
    ├── ConfigError            bad settings or configuration files: fail at start
    ├── TransientError         broker or endpoint unreachable: retry, do not commit
    │   └── NotAuthorizedError     the broker refuses the principal (ACLs): retry, alert
    ├── AdapterError           a third-party library failed inside an adapter (wraps it)
    └── MessageError           this message cannot be delivered: dead-letter it
        ├── ParseError             not well-formed, hostile or oversized XML
        ├── UnknownMessageError    no installed schema package knows the root
        ├── SchemaValidationError  XSD-invalid
        ├── HeaderError            no g2g header, or a required field of it missing
        ├── AuthorMismatchError    author key does not belong to the sending authority
        ├── MisaddressedError      reader key missing, malformed or unroutable
        ├── ConversionError        content that the Avro plan cannot represent
        ├── ContainerError         a refused hand-over container or claim check (xdomea.containers)
        └── DuplicateIdConflict    a remembered (author, nachrichtenUUID), another payload

Every ``MessageError`` carries a stable machine-readable ``code`` (used as the
``xoev-error-code`` header and metric label) and a ``stage`` (``parse``,
``identify``, ``validate``, ``header``, ``authorize``, ``dedupe``, ``convert``,
``route``, ``deliver``, ``container``; ``internal`` for the unexpected). Details never
contain personal data: ids, codes and keys only.
"""

from __future__ import annotations


class HubError(Exception):
    """Base class of every error the hub raises on purpose."""


class ConfigError(HubError):
    """Settings or configuration files are wrong; the hub refuses to start."""


class TransientError(HubError):
    """A dependency is unreachable for now; retry later and do not commit offsets."""


class NotAuthorizedError(TransientError):
    """The broker refuses the principal an operation (ACLs, or another authority's
    credentials). Retrying helps only after an operator fixed credentials or ACLs,
    so nothing is dropped: it is transient with a code of its own."""

    code = "KAFKA_NOT_AUTHORIZED"


class AdapterError(HubError):
    """A third-party failure inside an adapter, re-raised as the hub's own type."""


class MessageError(HubError):
    """A message that cannot be delivered; it goes to the dead-letter topic.

    ``code`` is a stable identifier such as ``XML_ENTITY_FORBIDDEN``;
    ``detail`` is a human-readable explanation without personal data.
    """

    #: A plain MessageError is raised by outbound adapters when an endpoint refuses
    #: a message (their dead letters carry the stage ``deliver``); every step of the
    #: worker raises a subclass with its own stage. (``ingest``, the stage of no step,
    #: was retired by decision 0005.)
    stage: str = "deliver"
    default_code: str = "MESSAGE_ERROR"

    def __init__(
        self,
        detail: str,
        *,
        code: str | None = None,
        line: int | None = None,
        column: int | None = None,
        path: str | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.code = code or self.default_code
        self.line = line
        self.column = column
        self.path = path

    def __str__(self) -> str:
        return f"{self.code}: {self.detail}"


class ParseError(MessageError):
    """The bytes are not acceptable XML (malformed, hostile, too big, too deep)."""

    stage = "parse"
    default_code = "XML_MALFORMED"


class UnknownMessageError(MessageError):
    """No installed schema package covers this root namespace and element."""

    stage = "identify"
    default_code = "UNKNOWN_MESSAGE"


class SchemaValidationError(MessageError):
    """The message violates its XSD."""

    stage = "validate"
    default_code = "SCHEMA_INVALID"


class AuthorMismatchError(MessageError):
    """The header's author is not the authority whose inbound topic carried it."""

    stage = "authorize"
    default_code = "AUTHOR_MISMATCH"


class HeaderError(MessageError):
    """The message has no g2g header, or a required field of it is missing or empty."""

    stage = "header"
    default_code = "HEADER_INVALID"


class MisaddressedError(MessageError):
    """The reader key is missing, malformed or of an unknown prefix."""

    stage = "route"
    default_code = "MISADDRESSED"


class ConversionError(MessageError):
    """Content that the Avro conversion plan cannot represent losslessly."""

    stage = "convert"
    default_code = "CONVERSION_FAILED"


class ContainerError(MessageError):
    """A hand-over container the hub refuses (hostile, corrupt, not as xdomea
    prescribes), or a claim check that names no container of the sender."""

    stage = "container"
    default_code = "CONTAINER_INVALID"


class DuplicateIdConflict(MessageError):
    """A remembered (author, nachrichtenUUID) arrived again with another payload."""

    stage = "dedupe"
    default_code = "DUPLICATE_ID_CONFLICT"
