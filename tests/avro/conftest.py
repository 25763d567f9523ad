"""Fixtures of the Avro tests: the feature schema and the official sets."""

from __future__ import annotations

from pathlib import Path

import pytest
import xmlschema

from hub.avro import ConversionPlan, Envelope, OfficialSet, build_models
from hub.avro.catalog import compile_plans
from tests.conftest import OFFICIAL as _OFFICIAL
from tests.conftest import REPO

# a git worktree may sit one level deeper than the main checkout beside ../shared
OFFICIAL = next(
    (p for p in (_OFFICIAL, REPO.parent.parent / "shared" / "xoev-official") if p.is_dir()),
    _OFFICIAL,
)
DATA = Path(__file__).parent / "data"
FEATURES_ROOT = "{urn:test:features:1}probe.nachricht.9999"

ENVELOPE = Envelope(
    message_id="a91e4951-3f23-596f-9a02-505b94fca5dd",
    standard="XTest",
    version="1",
    message_type_code="9999",
    message_type_name="probe.nachricht",
    author_key="ags:05124000",
    reader_keys=("ags:05122000",),
    created="2025-03-25T08:35:00.562+01:00",
    received="2026-11-25T21:00:00.000Z",
    trace_id="0af7651916cd43dd8448eb211c80319c",
)


@pytest.fixture(scope="session")
def features_schema() -> xmlschema.XMLSchema:
    return xmlschema.XMLSchema(str(DATA / "features.xsd"))


@pytest.fixture(scope="session")
def features_plan(features_schema: xmlschema.XMLSchema) -> ConversionPlan:
    models = build_models(features_schema, [FEATURES_ROOT], "de.xoev.xtest.v1")
    return ConversionPlan(models[FEATURES_ROOT])


def _official(name: str) -> OfficialSet:
    path = OFFICIAL / name
    if not (path / "set.json").is_file():
        pytest.skip(f"official set {name} not found at {path}")
    return OfficialSet(path)


@pytest.fixture(scope="session")
def xmeld() -> OfficialSet:
    return _official("xmeld-25.11a")


@pytest.fixture(scope="session")
def xmeld_plans(xmeld: OfficialSet) -> dict[str, ConversionPlan]:
    return compile_plans(xmeld)


@pytest.fixture(scope="session")
def xpersonenstand() -> OfficialSet:
    return _official("xpersonenstand-25.11")


@pytest.fixture(scope="session")
def xwasser() -> OfficialSet:
    return _official("xwasser-1.0.0")
