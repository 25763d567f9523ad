"""Keyword arguments for Kafka clients, built from the settings in one place.

Every Kafka client the hub constructs (kafka-python's admin client, producer and
consumer; aiokafka's producer and consumer) takes its connection and security
arguments from these functions, so that security (SASL, TLS) is added here and
nowhere else::

    KafkaAdminClient(**admin_config(settings))
    KafkaProducer(**producer_config(settings), acks="all")
    AIOKafkaConsumer(topic, **consumer_config(settings, client="aiokafka"))

Callers add their own behavioural options (acks, group id, ...) after these.

An adapter acts with the Kafka principal of the authority it serves
(docs/decisions/0008): ``credentials=SaslCredentials(...)`` replaces only the
SASL username and password; protocol, mechanism and TLS stay the hub's. Without
SASL (the open local broker) credentials change nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from pydantic import SecretStr

if TYPE_CHECKING:
    from hub.settings import Settings

__all__ = [
    "Client",
    "SaslCredentials",
    "admin_config",
    "connection_config",
    "consumer_config",
    "faust_credentials",
    "max_request_bytes",
    "producer_config",
    "uses_sasl",
]

Client = Literal["kafka-python", "aiokafka"]

#: Room for record headers and batch overhead above the largest accepted message.
REQUEST_OVERHEAD_BYTES = 64 * 1024


#: The largest Avro schema record on ``xoev.schemas``, whatever the message limit:
#: schemas of large standards reach tens of KiB (XMeld 0201: 77 KB).
SCHEMA_RECORD_BYTES = 1024 * 1024


def max_request_bytes(settings: Settings) -> int:
    """The largest produce request needed for a message of ``HUB_MAX_MESSAGE_BYTES``."""
    return settings.max_message_bytes + REQUEST_OVERHEAD_BYTES


def schema_topic_bytes(settings: Settings) -> int:
    """``max.message.bytes`` of ``xoev.schemas`` and the worker's largest request."""
    return max(max_request_bytes(settings), SCHEMA_RECORD_BYTES)


@dataclass(frozen=True)
class SaslCredentials:
    """A SASL principal other than the hub's (an authority's, for its adapters)."""

    username: str
    password: SecretStr = field(repr=False)


def uses_sasl(settings: Settings) -> bool:
    """Whether the hub's clients authenticate with SASL (and credentials matter)."""
    return settings.security_protocol.startswith("SASL")


def _security(
    settings: Settings, client: Client, credentials: SaslCredentials | None = None
) -> dict[str, Any]:
    """Security-related client arguments (the one place to extend for SASL/TLS)."""
    config: dict[str, Any] = {"security_protocol": settings.security_protocol}
    if uses_sasl(settings):
        config["sasl_mechanism"] = settings.sasl_mechanism
        if credentials is not None:
            config["sasl_plain_username"] = credentials.username
            config["sasl_plain_password"] = credentials.password.get_secret_value()
        else:
            config["sasl_plain_username"] = settings.sasl_username
            config["sasl_plain_password"] = (
                settings.sasl_password.get_secret_value() if settings.sasl_password else None
            )
    if settings.security_protocol in ("SSL", "SASL_SSL"):
        if client == "aiokafka":
            from aiokafka.helpers import create_ssl_context

            config["ssl_context"] = create_ssl_context(
                cafile=str(settings.ssl_cafile) if settings.ssl_cafile else None
            )
        elif settings.ssl_cafile is not None:
            config["ssl_cafile"] = str(settings.ssl_cafile)
    return config


def _common(
    settings: Settings, client: Client, client_id: str,
    credentials: SaslCredentials | None = None,
) -> dict[str, Any]:
    return {
        "bootstrap_servers": settings.bootstrap,
        "client_id": client_id,
        **_security(settings, client, credentials),
    }


def faust_credentials(settings: Settings) -> Any:
    """Faust's ``broker_credentials`` for the security protocol (None: PLAINTEXT)."""
    import ssl

    import faust

    context = None
    if settings.security_protocol in ("SSL", "SASL_SSL"):
        context = ssl.create_default_context(
            cafile=str(settings.ssl_cafile) if settings.ssl_cafile else None
        )
    if settings.security_protocol.startswith("SASL"):
        password = settings.sasl_password.get_secret_value() if settings.sasl_password else ""
        return faust.SASLCredentials(
            username=settings.sasl_username,
            password=password,
            mechanism=settings.sasl_mechanism,
            ssl_context=context,
        )
    return context


def connection_config(
    settings: Settings, *, client: Client = "kafka-python",
    credentials: SaslCredentials | None = None,
) -> dict[str, Any]:
    """Bootstrap address and security only, for clients that set the rest themselves
    (``credentials``: another SASL principal than the hub's, see above)."""
    return {"bootstrap_servers": settings.bootstrap,
            **_security(settings, client, credentials)}


def admin_config(settings: Settings) -> dict[str, Any]:
    """Arguments for ``kafka.KafkaAdminClient``."""
    return _common(settings, "kafka-python", "xoev-hub-admin")


def producer_config(
    settings: Settings, *, client: Client = "kafka-python",
    credentials: SaslCredentials | None = None,
) -> dict[str, Any]:
    """Arguments for ``kafka.KafkaProducer`` or ``aiokafka.AIOKafkaProducer``.

    Includes a request size large enough for ``HUB_MAX_MESSAGE_BYTES``; the
    contract topics are created with a matching ``max.message.bytes``.
    """
    config = _common(settings, client, "xoev-hub-producer", credentials)
    config["max_request_size"] = max_request_bytes(settings)
    return config


def consumer_config(
    settings: Settings, *, client: Client = "kafka-python",
    credentials: SaslCredentials | None = None,
) -> dict[str, Any]:
    """Arguments for ``kafka.KafkaConsumer`` or ``aiokafka.AIOKafkaConsumer``."""
    config = _common(settings, client, "xoev-hub-consumer", credentials)
    config["max_partition_fetch_bytes"] = max_request_bytes(settings)
    return config


#: Hosts of a bootstrap address that do not leave the machine.
LOOPBACK_HOSTS = ("127.", "localhost", "[::1]", "::1")


def transport_warning(settings: Settings) -> str | None:
    """One line when messages and credentials would cross a network unencrypted."""
    if settings.security_protocol not in ("PLAINTEXT", "SASL_PLAINTEXT"):
        return None
    hosts = [h.strip() for h in settings.bootstrap.split(",") if h.strip()]
    if all(h.startswith(LOOPBACK_HOSTS) for h in hosts):
        return None  # the embedded broker or a local tunnel
    what = "messages and the SASL password" if settings.security_protocol.startswith(
        "SASL") else "messages"
    return (
        f"HUB_SECURITY_PROTOCOL={settings.security_protocol} sends {what} to "
        f"{settings.bootstrap} without TLS; use SSL or SASL_SSL (docs/security.md)"
    )
