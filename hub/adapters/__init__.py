"""Adapters for systems that do not speak Kafka (see docs/adapters.md).

Public surface: the base classes and messages, the framework wrappers, the
registry and the runtime. Built-in adapters live in their own modules and are
loaded through the entry-point group ``xoev_hub.adapters``.

May import: ``hub.errors``, ``hub.settings``, ``hub.logging``, ``hub.core``,
``hub.kafka`` and ``hub.xdomea`` (hand-over containers). Never ``hub.streams``,
``hub.ops``, ``hub.portal``, ``hub.tools``, ``hub.cli``.
"""

from hub.adapters.base import (
    Adapter,
    AdapterConfig,
    AdapterContext,
    Emit,
    InboundMessage,
    OutboundMessage,
    Sink,
    Source,
)
from hub.adapters.framework import (
    AdapterMetrics,
    DeadLetter,
    RetryPolicy,
    SinkDriver,
    instrument_emit,
)
from hub.adapters.registry import GROUP, AdapterRegistry, Registration
from hub.adapters.runtime import AdapterRuntime, AdapterSpec, run_adapters

__all__ = [
    "GROUP",
    "Adapter",
    "AdapterConfig",
    "AdapterContext",
    "AdapterMetrics",
    "AdapterRegistry",
    "AdapterRuntime",
    "AdapterSpec",
    "DeadLetter",
    "Emit",
    "InboundMessage",
    "OutboundMessage",
    "Registration",
    "RetryPolicy",
    "Sink",
    "SinkDriver",
    "Source",
    "instrument_emit",
    "run_adapters",
]
