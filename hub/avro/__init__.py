"""Avro events for XÖV messages (see docs/avro.md).

* :func:`derive_event_schemas` / :func:`build_models`: Avro schemas from XSDs;
* :class:`EventCatalog` / :class:`ConversionPlan`: XML ⇄ Avro record ⇄ bytes;
* :class:`Envelope`: the shared hub metadata record;
* :func:`fingerprint_of`, :func:`crc64_avro`: single-object encoding helpers;
* :func:`can_read` / :func:`compare`: Avro schema resolution checks;
* :mod:`hub.avro.single_object`, :mod:`hub.avro.audit`: the fixed-schema codec and the
  audit record.

May import: ``hub.errors``, ``hub.avro`` and the schema model it derives from
(``hub.core.schemas``). No Kafka or Faust library; nothing of the runtime.
"""

from hub.avro.canonical import canonical_xml
from hub.avro.catalog import (
    EventCatalog,
    OfficialSet,
    avsc_path,
    compile_plans,
    package_schemas,
    qname,
)
from hub.avro.compat import Compatibility, can_read, compare
from hub.avro.derive import (
    ENVELOPE_NAME,
    ENVELOPE_SCHEMA,
    build_models,
    derive_event_schemas,
    dumps_schema,
)
from hub.avro.encoding import MAGIC, crc64_avro, fingerprint_of, split_single_object
from hub.avro.model import DerivationError
from hub.avro.naming import avro_name, avro_namespace
from hub.avro.plan import ConversionPlan, Envelope
from hub.core.schemas.protocols import PackageLike

__all__ = [
    "ENVELOPE_NAME",
    "ENVELOPE_SCHEMA",
    "MAGIC",
    "Compatibility",
    "ConversionPlan",
    "DerivationError",
    "Envelope",
    "EventCatalog",
    "OfficialSet",
    "PackageLike",
    "avro_name",
    "avro_namespace",
    "avsc_path",
    "build_models",
    "can_read",
    "canonical_xml",
    "compare",
    "compile_plans",
    "crc64_avro",
    "derive_event_schemas",
    "dumps_schema",
    "fingerprint_of",
    "package_schemas",
    "qname",
    "split_single_object",
]
