"""The service portal's applications (issue 18; docs/serviceportal.md).

Pure logic: :mod:`hub.portal.catalog` (services catalogue, responsible
authority), :mod:`hub.portal.identity` (the applicant's JWT), :mod:`hub.portal.forms`
(form schema, Avro derivation), :mod:`hub.portal.status` (status records and
their store). The Kafka and HTTP side: :mod:`hub.portal.runtime`, mounted on the
worker's web port; :mod:`hub.portal.simulate` plays citizens for ``portal simulate``.

May import: ``hub.errors``, ``hub.settings``, ``hub.logging``, ``hub.core``, ``hub.avro``,
``hub.kafka`` and the webhook sink of ``hub.adapters`` (the Postfach). Never
``hub.streams``, ``hub.ops``, ``hub.tools``, ``hub.cli``.
"""
