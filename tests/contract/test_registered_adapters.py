"""The kit's contract suites over every registered adapter (built-in and installed).

Third-party adapters appear here once their distribution is installed and
registers a harness in ``xoev_hub.adapter_contracts`` (e.g. after
``pip install -e examples/xoev-hub-adapter-example``).
"""

from __future__ import annotations

import re

from hub.adapters.base import Sink, Source
from hub.adapters.registry import AdapterRegistry
from hub.testing import SinkContract, SourceContract, contract_harnesses

REGISTRY = AdapterRegistry.discover()
HARNESSES = contract_harnesses()

for _name, _harness in HARNESSES.items():
    _cls_name = "Test_" + re.sub(r"\W", "_", _name)
    globals()[_cls_name] = type(_cls_name, (_harness,), {"__module__": __name__})


def test_every_registered_adapter_has_a_harness() -> None:
    missing = [name for name in REGISTRY.names() if name not in HARNESSES]
    assert missing == [], f"adapters without a contract harness: {missing}"


def test_harness_matches_the_adapter_direction() -> None:
    for name, harness in HARNESSES.items():
        adapter = REGISTRY.load(name)
        if issubclass(adapter, Source):
            assert issubclass(harness, SourceContract), name
        else:
            assert issubclass(adapter, Sink), name
            assert issubclass(harness, SinkContract), name
