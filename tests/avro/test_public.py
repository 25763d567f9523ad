"""The public surface of hub.avro is what ``__all__`` says."""

from __future__ import annotations

import hub.avro


def test_all_is_complete_and_importable() -> None:
    exported = set(hub.avro.__all__)
    public = {
        name
        for name, value in vars(hub.avro).items()
        if not name.startswith("_") and not isinstance(value, type(hub.avro))
    }
    assert public <= exported | {"annotations"}
    for name in exported:
        assert getattr(hub.avro, name) is not None
