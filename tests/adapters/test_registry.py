from __future__ import annotations

import tomllib
from importlib.metadata import EntryPoint

import pytest

from hub.adapters import Sink, Source
from hub.adapters.registry import BUILTIN, GROUP, AdapterRegistry, Registration
from hub.errors import ConfigError
from hub.testing.harnesses import BUILTIN_CONTRACTS, CONTRACT_GROUP
from tests.conftest import REPO


def test_builtin_table_equals_pyproject_entry_points() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert dict(project["entry-points"][GROUP]) == dict(BUILTIN)
    assert dict(project["entry-points"][CONTRACT_GROUP]) == dict(BUILTIN_CONTRACTS)


def test_builtins_load_as_sources_and_sinks() -> None:
    registry = AdapterRegistry.discover()
    assert issubclass(registry.load("directory-inbound"), Source)
    assert issubclass(registry.load("http-inbound"), Source)
    assert issubclass(registry.load("directory-outbound"), Sink)
    assert issubclass(registry.load("webhook"), Sink)


def test_duplicate_name_refused_naming_both_targets() -> None:
    other = EntryPoint("webhook", "somewhere.else:Webhook", GROUP)
    with pytest.raises(ConfigError) as info:
        AdapterRegistry.discover(extra=[other])
    assert "hub.adapters.webhook:WebhookSink" in str(info.value)
    assert "somewhere.else:Webhook" in str(info.value)


def test_same_registration_twice_is_not_a_conflict() -> None:
    same = EntryPoint("webhook", BUILTIN["webhook"], GROUP)
    assert "webhook" in AdapterRegistry.discover(extra=[same]).names()


def test_loading_is_lazy_and_errors_are_config_errors() -> None:
    registry = AdapterRegistry([Registration("broken", "no_such_module_xyz:Thing", "test")])
    assert registry.names() == ["broken"]  # nothing imported yet
    with pytest.raises(ConfigError, match="cannot load 'no_such_module_xyz:Thing'"):
        registry.load("broken")
    not_adapter = AdapterRegistry([Registration("odd", "pathlib:Path", "test")])
    with pytest.raises(ConfigError, match="not a Source or Sink"):
        not_adapter.load("odd")


def test_unknown_name_lists_registered_ones() -> None:
    with pytest.raises(ConfigError, match=r"unknown adapter 'ftp'.*directory-inbound"):
        AdapterRegistry.discover().load("ftp")


def test_public_surface_is_complete() -> None:
    import hub.adapters as pkg
    import hub.testing as kit

    for module in (pkg, kit):
        exported = {n for n in dir(module) if not n.startswith("_") and n[0].isupper()}
        missing = {n for n in exported if n not in module.__all__}
        assert not missing, (module.__name__, missing)
        for name in module.__all__:
            assert hasattr(module, name)
