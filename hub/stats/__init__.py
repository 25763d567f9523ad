"""The statistics the hub publishes and how they are read back (docs/statistics.md).

Owns the moves derived from XMeld messages and their k-anonymous counts
(:mod:`~hub.stats.mobility`; the agent is :mod:`hub.streams.mobility`), reading the
published windows back (:mod:`~hub.stats.mobility_view`) and the PNG heatmap
(:mod:`~hub.stats.heatmap`).

May import: ``hub.errors``, ``hub.settings``, ``hub.core``, ``hub.avro``, ``hub.kafka``.
Never ``hub.streams``, ``hub.ops``, ``hub.adapters``, ``hub.tools``, ``hub.cli``; no Faust.
"""
