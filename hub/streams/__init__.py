"""The stream processor: the Faust app and its agents.

Owns the app (:mod:`~hub.streams.app`), the ingest flow (:mod:`~hub.streams.ingest`:
pipeline, dedupe, publishing of outputs, audit and schema records, ack sequencing by
:mod:`~hub.streams.sequencer`), the dedupe table and its state folder, and the later
agents: mobility statistics (:mod:`~hub.streams.mobility`) and xdomea exchanges
(:mod:`~hub.streams.exchanges`).

May import: ``hub.errors``, ``hub.settings``, ``hub.logging``, ``hub.core``,
``hub.avro``, ``hub.kafka``, ``hub.xdomea``, ``hub.stats`` and the metrics it feeds
(``hub.ops.metrics``). Never ``hub.adapters``, ``hub.portal``, ``hub.tools``,
``hub.cli``, ``hub.broker``.
"""
