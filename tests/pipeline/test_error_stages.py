"""Every MessageError, plain or a subclass, names a stage that docs/contracts.md lists
for ``xoev-error-stage`` (decision 0005 retired ``ingest``, the stage of no step)."""

from __future__ import annotations

import re
from pathlib import Path

import hub.errors as errors

CONTRACTS = Path(__file__).resolve().parents[2] / "docs" / "contracts.md"


def contract_stages() -> set[str]:
    text = CONTRACTS.read_text(encoding="utf-8")
    found = re.search(r"Dead letters carry `xoev-error-stage` \(([^)]*)\)", text)
    assert found is not None
    return set(re.findall(r"`([a-z]+)`", found.group(1)))


def test_every_message_error_has_a_contract_stage() -> None:
    stages = contract_stages()
    assert "ingest" not in stages
    classes = [errors.MessageError]
    seen = []
    while classes:
        cls = classes.pop()
        seen.append(cls)
        classes.extend(cls.__subclasses__())
    assert len(seen) >= 10
    wrong = {cls.__name__: cls.stage for cls in seen if cls.stage not in stages}
    assert wrong == {}


def test_a_plain_message_error_is_a_delivery_refusal() -> None:
    assert errors.MessageError("refused", code="WEBHOOK_REFUSED").stage == "deliver"
