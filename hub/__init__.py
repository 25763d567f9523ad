"""xoev-hub: an event-driven integration hub for XÖV messages.

City systems write XÖV XML to Kafka topics; the hub validates each message
against its XSD, converts it into an Avro event, routes it to the addressed
authorities' topics and dead-letters whatever fails.
"""

from hub.errors import (
    AdapterError,
    AuthorMismatchError,
    ConfigError,
    ConversionError,
    HeaderError,
    HubError,
    MessageError,
    MisaddressedError,
    ParseError,
    SchemaValidationError,
    TransientError,
    UnknownMessageError,
)

__version__ = "0.1.0"

__all__ = [
    "AdapterError",
    "AuthorMismatchError",
    "ConfigError",
    "ConversionError",
    "HeaderError",
    "HubError",
    "MessageError",
    "MisaddressedError",
    "ParseError",
    "SchemaValidationError",
    "TransientError",
    "UnknownMessageError",
    "__version__",
]
