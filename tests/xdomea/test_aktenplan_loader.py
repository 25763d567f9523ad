"""The file plan loader (hub.core.aktenplan): the bundled plan and its checks."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from hub.core.aktenplan import ASSESSMENTS, Aktenplan, default_path
from hub.core.region import Region
from hub.errors import ConfigError


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "aktenplan.toml"
    path.write_text(text, encoding="utf-8")
    return path


HEAD = 'name = "Plan"\nversion = "7"\nsender = "wuppertal.archiv"\n'


def test_bundled_plan_loads_with_every_unit_of_the_file() -> None:
    raw = tomllib.loads(default_path().read_text(encoding="utf-8"))
    plan = Aktenplan.default()
    assert [u.kennzeichen for u in plan] == [u["kennzeichen"] for u in raw["unit"]]
    assert plan.version == raw["version"] and plan.sender == raw["sender"]
    assert all(u.assessment in ASSESSMENTS for u in plan)
    for unit in plan:
        assert unit.parent is None or unit.parent in plan
    # the sender is an authority of the default region, and not a registratur
    region = Region.load(Path(default_path().parent, "region.toml"))
    assert plan.sender in region and region.get(plan.sender).kind != "registratur"


def test_units_parents_retention_and_lookup(tmp_path: Path) -> None:
    plan = Aktenplan.load(_write(tmp_path, HEAD + """
[[unit]]
kennzeichen = "3"
title = "Ordnung"
retention_years = 10
assessment = "B"
[[unit]]
kennzeichen = "3.2"
title = "Meldewesen"
retention_years = "unbefristet"
assessment = "A"
retired = true
"""))
    assert len(plan) == 2 and "3.2" in plan and "9" not in plan
    assert plan["3"].parent is None and plan["3.2"].parent == "3"
    assert plan["3"].retention_years == 10 and plan["3"].retention == "10"
    assert plan["3.2"].retention_years is None and plan["3.2"].retention == "unbefristet"
    assert plan["3.2"].retired and not plan["3"].retired
    assert plan.children(None) == (plan["3"],) and plan.children("3") == (plan["3.2"],)
    with pytest.raises(KeyError):
        plan["9"]


def _unit(mark: str = "1", years: str = "5", assessment: str = "A", extra: str = "") -> str:
    return (f'kennzeichen = "{mark}"\ntitle = "x"\nretention_years = {years}\n'
            f'assessment = "{assessment}"\n{extra}')


@pytest.mark.parametrize(("units", "message"), [
    (_unit(assessment="X"), "Aussonderungsart"),
    (_unit(years="-1"), "0..65535"),
    (_unit(years='"ewig"'), "retention_years"),
    (_unit(mark="1..2"), "dots"),
    (_unit(mark="1.2"), "parent unit '1'"),
    (_unit(extra='colour = "red"\n'), "unknown key"),
])
def test_bad_units_fail_with_one_line_naming_file_and_unit(
    tmp_path: Path, units: str, message: str
) -> None:
    path = _write(tmp_path, HEAD + "[[unit]]\n" + units)
    with pytest.raises(ConfigError) as info:
        Aktenplan.load(path)
    text = str(info.value)
    assert str(path) in text and message in text and "\n" not in text


def test_duplicate_mark_and_missing_file(tmp_path: Path) -> None:
    unit = '[[unit]]\nkennzeichen = "1"\ntitle = "x"\nretention_years = 5\nassessment = "A"\n'
    with pytest.raises(ConfigError, match="listed twice"):
        Aktenplan.load(_write(tmp_path, HEAD + unit + unit))
    with pytest.raises(ConfigError, match="not found"):
        Aktenplan.load(tmp_path / "missing.toml")
