"""Generated instances (hub.tools.samples) of every official and bundled message type
convert losslessly."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from hub.avro import ConversionPlan, EventCatalog, OfficialSet, canonical_xml
from hub.avro.catalog import compile_plans
from hub.core.schemas import SchemaRegistry
from hub.tools.samples import generate
from tests.avro.conftest import ENVELOPE
from tests.conftest import REPO


def _lossless(plan: ConversionPlan, xml: bytes) -> None:
    root = etree.fromstring(xml)
    back = plan.to_xml(plan.decode(plan.encode(plan.to_record(root, ENVELOPE))))
    assert canonical_xml(back) == canonical_xml(root), plan.full_name


@pytest.mark.official
@pytest.mark.parametrize("fixture", ["xmeld", "xpersonenstand", "xwasser"])
def test_one_generated_instance_of_every_official_message_type(
    fixture: str, request: pytest.FixtureRequest
) -> None:
    official: OfficialSet = request.getfixturevalue(fixture)
    plans = compile_plans(official)
    for qname, message in official.messages.items():
        _lossless(plans[qname], generate(official, message, seed=11))
    assert len(plans) == len(official.messages) > 0


_REGISTRY = SchemaRegistry.load([Path(REPO / "hub" / "schemas_data" / "xoev")])
_CATALOG = EventCatalog(_REGISTRY)
_TYPES = [(p, m) for p in _REGISTRY.packages for m in p.messages.values()]


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(kind=st.sampled_from(_TYPES), seed=st.integers(min_value=0, max_value=2**31))
def test_generated_bundled_instances(kind: tuple[object, object], seed: int) -> None:
    package, message = kind
    xml = generate(package, message, seed=seed)  # type: ignore[arg-type]
    _lossless(_CATALOG.plan(package, message), xml)  # type: ignore[arg-type]
