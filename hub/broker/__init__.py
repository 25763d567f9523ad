"""The embedded Apache Kafka broker: assembled from Maven Central, run in KRaft mode."""

from hub.broker.embedded import BrokerNode, EmbeddedBroker, broker_from_settings, wait_ready

__all__ = ["BrokerNode", "EmbeddedBroker", "broker_from_settings", "wait_ready"]
