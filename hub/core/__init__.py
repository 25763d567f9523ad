"""The engine: everything the hub does to one message, without Kafka.

Owns hardened XML parsing (:mod:`~hub.core.xmlsafe`), the one header reader
(:mod:`~hub.core.header`), schema packages and the registry (:mod:`~hub.core.schemas`),
XSD validation (:mod:`~hub.core.validation`, messages by :mod:`~hub.core.xsd_messages`),
the region and its file plan (:mod:`~hub.core.region`, :mod:`~hub.core.aktenplan`),
routing, projections and filing, the pipeline (:mod:`~hub.core.pipeline`: steps →
``Accepted`` or a ``MessageError``) and the commands' one-message conversion
(:mod:`~hub.core.convert`).

May import: ``hub.errors``, ``hub.settings``, ``hub.logging``, ``hub.core`` and
``hub.avro``. Never the runtime (``hub.kafka``, ``hub.streams``, ``hub.ops``,
``hub.adapters``, ``hub.portal``, ``hub.tools``, ``hub.cli``, ``hub.broker``) and no
Kafka or Faust library (tests/test_layout.py checks it).
"""
