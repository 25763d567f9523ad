"""The Kafka contract and clients, without Faust's app.

Owns the client configuration (:mod:`~hub.kafka.config`: the only place that turns
settings into client arguments; :mod:`~hub.kafka.credentials` for adapters'
principals), topic names (:mod:`~hub.kafka.topics`), topic specs and their idempotent
creation (:mod:`~hub.kafka.topic_admin`), the contract headers and the builders of
output and dead-letter headers (:mod:`~hub.kafka.headers`), and reading a topic back
to its end (:mod:`~hub.kafka.reading`).

May import: ``hub.errors``, ``hub.settings``, ``hub.logging``, ``hub.core``, ``hub.kafka``;
the portal's catalogue (``hub.portal.catalog``, inside a function) because the
portal's topics follow it. Never ``hub.streams``, ``hub.ops``, ``hub.adapters``,
``hub.tools``, ``hub.cli``.
"""
