"""xdomea records management: hand-over containers, their blob store, exchanges
tracked to their answer and the file plan as an xdomea message (docs/xdomea.md).

Owns :mod:`~hub.xdomea.containers` (checking a ZIP, the claim check),
:mod:`~hub.xdomea.blobstore`, :mod:`~hub.xdomea.exchanges` (request/answer pairs; the
agent is :mod:`hub.streams.exchanges`) and :mod:`~hub.xdomea.aktenplan_xml`. The file
plan itself is configuration of the engine (:mod:`hub.core.aktenplan`).

May import: ``hub.errors``, ``hub.settings``, ``hub.logging``, ``hub.core``,
``hub.kafka``. Never ``hub.streams``, ``hub.ops``, ``hub.adapters``, ``hub.tools``,
``hub.cli``; no Faust.
"""
