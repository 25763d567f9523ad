"""The embedded Apache Kafka broker: assembled from Maven Central, run in KRaft mode.

Owns finding Java (:mod:`~hub.broker.java`), the jars (:mod:`~hub.broker.jars`) and
running a broker (:mod:`~hub.broker.embedded`). Test-only clusters and TLS material
are in :mod:`hub.testing`. May import ``hub.errors`` and ``hub.settings`` only.
"""

from hub.broker.embedded import BrokerNode, EmbeddedBroker, broker_from_settings, wait_ready

__all__ = ["BrokerNode", "EmbeddedBroker", "broker_from_settings", "wait_ready"]
