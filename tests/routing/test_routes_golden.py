"""``xoev-hub routes test|check``: golden cases pass, failures show a diff, bad files fail."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from hub.cli import main
from hub.core.region import Region
from hub.core.routing import Router
from hub.errors import ConfigError
from hub.settings import DEFAULT_CONFIG_DIR
from hub.tools.routing_cases import load_cases, run_cases

REPO = Path(__file__).resolve().parents[2]
GOLDEN = DEFAULT_CONFIG_DIR / "routes.golden"


def test_bundled_golden_cases_pass(region: Region, router: Router) -> None:
    cases = load_cases(GOLDEN)
    assert len(cases) >= 40
    results = run_cases(cases, region, router)
    assert [r.diff for r in results if not r.passed] == []
    # every authority of the region is the expected recipient of some case
    expected = {rec for c in cases for rec in (c.spec.expect.recipients or ())}
    assert expected == set(region.authorities)
    codes = {c.spec.expect.error for c in cases} - {None}
    assert {"READER_MISSING", "READER_MALFORMED", "READER_UNKNOWN_PREFIX",
            "AUTHOR_MISMATCH"} <= codes
    assert any(c.spec.expect.external for c in cases)


def test_cli_runs_bundled_cases_by_default(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["routes", "test"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("PASS ")
    assert out[-1].startswith(f"{len(out) - 1} cases: {len(out) - 1} passed, 0 failed")


def test_cli_rules_cases(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["routes", "test", str(REPO / "tests/routes/golden"),
                 "--routes", str(REPO / "tests/routes/routes.toml"), "-q"])
    assert code == 0
    assert capsys.readouterr().out == (
        f"7 cases: 7 passed, 0 failed ({REPO / 'tests/routes/golden'})\n"
    )


FAILING = """
[[case]]
name = "wrong-recipient"
standard = "XMeld"
version = "25.11a"
message_code = "0201"
author = "ags:05124000"
reader = ["ags:05122000", "dbs:1"]
expect = { recipients = ["remscheid.meldebehoerde"] }

[[case]]
name = "expects-error-gets-delivery"
standard = "XMeld"
version = "25.11a"
message_code = "0201"
author = "ags:05124000"
reader = "ags:05122000"
expect = { error = "READER_MALFORMED" }

[[case]]
name = "expects-delivery-gets-error"
standard = "XMeld"
version = "25.11a"
message_code = "0201"
author = "ags:05124000"
reader = "qqq:1"
expect = { recipients = ["solingen.meldebehoerde"] }

[[case]]
name = "wrong-rules"
standard = "XMeld"
version = "25.11a"
message_code = "0201"
author = "ags:05124000"
reader = "ags:05122000"
expect = { recipients = ["solingen.meldebehoerde"], rules = ["x"] }

[[case]]
name = "passes"
standard = "XMeld"
version = "25.11a"
message_code = "0201"
author = "ags:05124000"
reader = "ags:05122000"
expect = { recipients = ["solingen.meldebehoerde"] }
"""


def test_failures_show_a_diff_and_exit_non_zero(
    write: Callable[[str, str], Path], capsys: pytest.CaptureFixture[str]
) -> None:
    path = write("cases/failing.toml", FAILING)
    assert main(["routes", "test", str(path.parent)]) == 1
    assert capsys.readouterr().out.splitlines() == [
        "FAIL wrong-recipient (failing.toml): recipients: missing ['remscheid.meldebehoerde'], "
        "unexpected ['solingen.meldebehoerde']; external: expected false, got true",
        "FAIL expects-error-gets-delivery (failing.toml): expected error READER_MALFORMED, "
        "got recipients ['solingen.meldebehoerde'] external=false",
        "FAIL expects-delivery-gets-error (failing.toml): expected recipients "
        "['solingen.meldebehoerde'] external=false, got error READER_UNKNOWN_PREFIX: reader key "
        "'qqq:1' has an unknown prefix (known: ags, psw, abh, azr, dbs, reg, arc, jug)",
        "FAIL wrong-rules (failing.toml): rules: expected ['x'], got []",
        "PASS passes (failing.toml)",
        f"5 cases: 1 passed, 4 failed ({path.parent})",
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[[case]]\nname = "a"\nstandard = "X"\nversion = "1"\nmessage_code = "1"\n'
         'reader = "ags:1"\nexpect = { recipients = [], error = "X" }\n',
         r"case\[0\] \(a\): expect: .*expect either error, or recipients/external"),
        ('[[case]]\nname = "a"\nexpect = {}\n', r"expect needs recipients"),
        ('[[case]]\nname = "a"\nreeder = "x"\nexpect = { error = "X" }\n',
         r"case\[0\] \(a\): reeder: unknown key"),
        ('[[case]]\nname = "a"\nexpect = { error = "X" }\n[[case]]\nname = "a"\n'
         'expect = { error = "X" }\n', r"case 'a' is already defined"),
        ("", r"case: Field required"),
    ],
)
def test_bad_case_files(write: Callable[[str, str], Path], text: str, message: str) -> None:
    path = write("cases/bad.toml", text)
    with pytest.raises(ConfigError, match=message):
        load_cases(path.parent)


def test_case_without_header_fields_cannot_run(
    write: Callable[[str, str], Path], region: Region, router: Router
) -> None:
    path = write("c/x.toml", '[[case]]\nname = "a"\nreader = "ags:05124000"\n'
                             'expect = { recipients = [] }\n')
    [result] = run_cases(load_cases(path.parent), region, router)
    assert not result.passed
    assert "missing standard, version, message_code" in result.diff


def test_missing_or_empty_folder(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such folder"):
        load_cases(tmp_path / "absent")
    with pytest.raises(ConfigError, match=r"no golden routing cases \(\*\.toml\)"):
        load_cases(tmp_path)


def test_cli_error_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["routes", "test", str(tmp_path / "absent")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no such folder of golden routing cases" in err


def test_velbert_and_a_new_kind_by_configuration_only(
    write: Callable[[str, str], Path], capsys: pytest.CaptureFixture[str]
) -> None:
    region = (DEFAULT_CONFIG_DIR / "region.toml").read_text(encoding="utf-8").replace(
        'dbs = "federal', 'gsa = "Gesundheitsamt"\ndbs = "federal'
    ) + """
[kinds.gesundheitsamt]
name = "Gesundheitsamt"

[[authority]]
id = "velbert.meldebehoerde"
municipality = "Velbert"
ags = "5158032"
kind = "meldebehoerde"
dvdv_key = "ags:05158032"

[[authority]]
id = "velbert.gesundheitsamt"
municipality = "Velbert"
ags = "05158032"
kind = "gesundheitsamt"
dvdv_key = "gsa:05158032"
"""
    cases = """
[[case]]
name = "to-velbert"
source = "wuppertal.meldebehoerde"
standard = "XMeld"
version = "25.11a"
message_code = "0201"
author = "ags:05124000"
reader = "ags:5158032"
expect = { error = "READER_MALFORMED" }

[[case]]
name = "to-velbert-8-digits"
source = "wuppertal.meldebehoerde"
standard = "XMeld"
version = "25.11a"
message_code = "0201"
author = "ags:05124000"
reader = "ags:05158032"
expect = { recipients = ["velbert.meldebehoerde"] }

[[case]]
name = "to-velbert-gesundheitsamt"
source = "velbert.meldebehoerde"
standard = "XGesundheit"
version = "1.0"
message_code = "0001"
author = "ags:05158032"
reader = "gsa:05158032"
expect = { recipients = ["velbert.gesundheitsamt"] }
"""
    region_file = write("region.toml", region)
    case_file = write("golden/velbert.toml", cases)
    code = main(["routes", "test", str(case_file.parent), "--region", str(region_file), "-q"])
    out = capsys.readouterr().out
    assert code == 1, out  # the short AGS in a DVDV key is not a key of the region
    assert out.splitlines()[0].startswith("FAIL to-velbert (velbert.toml): expected error "
                                          "READER_MALFORMED, got recipients [] external=true")
    assert out.splitlines()[1] == f"3 cases: 2 passed, 1 failed ({case_file.parent})"


def test_routes_check(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["routes", "check"]) == 0
    out = capsys.readouterr().out
    assert "18 authorities of Bergisches Städtedreieck, 6 kinds, 15 placeholder key(s)" in out
    assert "1 rule(s), external hand-over on: OK" in out
    assert "(kinds limited to projections: jugendamt): OK" in out


def test_xml_inputs_read_like_the_worker(
    write: Callable[[str, str], Path], region: Region, router: Router
) -> None:
    message = (GOLDEN / "messages/xmeld-0201-wuppertal-to-solingen.xml").read_text("utf-8")
    write("c/m/bad-reader.xml", message.replace("<kennung>ags:05122000</kennung>",
                                                "<kennung>05122000</kennung>", 1))
    write("c/m/not-xml.xml", "<unclosed>")
    write("c/m/unknown.xml", message.replace("xmeld2511a", "xmeld2999"))
    path = write("c/x.toml", """
[[case]]
name = "bad-reader"
input = "m/bad-reader.xml"
expect = { error = "READER_MALFORMED" }

[[case]]
name = "not-xml"
input = "m/not-xml.xml"
expect = { error = "XML_MALFORMED" }

[[case]]
name = "unknown-version"
input = "m/unknown.xml"
expect = { error = "UNKNOWN_VERSION" }

[[case]]
name = "missing-file"
input = "m/absent.xml"
expect = { recipients = [] }
""")
    results = {r.case.name: r for r in run_cases(load_cases(path.parent), region, router)}
    assert results["bad-reader"].passed, results["bad-reader"].diff
    assert results["not-xml"].passed, results["not-xml"].diff
    assert results["unknown-version"].passed, results["unknown-version"].diff
    assert not results["missing-file"].passed
    assert "cannot read golden input" in results["missing-file"].diff
