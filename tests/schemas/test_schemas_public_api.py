"""The public surface of the validation modules: ``__all__`` is complete and importable."""

from __future__ import annotations

import importlib
import inspect

import pytest


@pytest.mark.parametrize(
    "module_name",
    ["hub.core.xmlsafe", "hub.core.schemas", "hub.core.validation", "hub.core.header"],
)
def test_all_is_complete(module_name: str) -> None:
    module = importlib.import_module(module_name)
    exported = set(module.__all__)
    for name in exported:
        assert hasattr(module, name), name
    public = {
        name
        for name, value in vars(module).items()
        if not name.startswith("_")
        and (inspect.isclass(value) or inspect.isfunction(value))
        and getattr(value, "__module__", "").startswith(module_name)
    }
    assert public <= exported, public - exported
