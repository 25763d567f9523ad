"""The integrator kit: contract suites every adapter passes.

::

    from hub.testing import SinkContract

    class TestMySink(SinkContract):
        @pytest.fixture
        def adapter_factory(self): ...
        # valid_config, read_back, make_unreachable: see SinkContract

An adapter distribution registers its harness (a ``SourceContract`` or
``SinkContract`` subclass with the fixtures) in the entry-point group
``xoev_hub.adapter_contracts`` under the adapter's name, so that the hub's
``tests/contract/`` runs the suite over every installed adapter.

Also test-only helpers of the hub's own suite: a multi-broker cluster
(:mod:`hub.testing.cluster`), throw-away TLS material (:mod:`hub.testing.tls`), test
tools (:mod:`hub.testing.tools`). May import anything but ``hub.cli``; nothing else in
``hub`` imports this folder.
"""

from hub.testing.contracts import (
    AUTHORITY,
    SinkContract,
    SourceContract,
    outbound,
    run,
    sample_payload,
    wait_for,
)
from hub.testing.harnesses import CONTRACT_GROUP, contract_harnesses

__all__ = [
    "AUTHORITY",
    "CONTRACT_GROUP",
    "SinkContract",
    "SourceContract",
    "contract_harnesses",
    "outbound",
    "run",
    "sample_payload",
    "wait_for",
]
