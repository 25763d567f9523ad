"""The service portal's applications (issue 18; docs/serviceportal.md).

Pure logic: :mod:`hub.portal.catalog` (services catalogue, responsible
authority), :mod:`hub.portal.identity` (the applicant's JWT), :mod:`hub.portal.forms`
(form schema, Avro derivation), :mod:`hub.portal.status` (status records and
their store). The Kafka and HTTP side: :mod:`hub.portal.runtime`, mounted on the
worker's web port.
"""
