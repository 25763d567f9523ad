"""Running a worker: the process and what operations see of it.

Owns the worker entry (:mod:`~hub.ops.worker`: topics, pipeline, Faust app, adapters,
portal, web server), the Prometheus metrics (:mod:`~hub.ops.metrics`; names and labels
are a contract), liveness and readiness (:mod:`~hub.ops.health`) and the HTTP server
(:mod:`~hub.ops.web`). Structured logging is :mod:`hub.logging`, beside the settings,
because every layer logs.

May import everything the worker runs: ``hub.core``, ``hub.avro``, ``hub.kafka``,
``hub.streams``, ``hub.adapters``, ``hub.portal``, ``hub.xdomea``, ``hub.stats``. Never
``hub.tools``, ``hub.cli``, ``hub.broker`` or ``hub.testing``.
"""
