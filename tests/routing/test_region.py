"""The region file: the bundled fifteen authorities, normalisation and clear errors."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from hub.core.region import KeyStatus, Region, normalise_ags, normalise_key
from hub.errors import ConfigError

CITIES = {"wuppertal": "05124000", "solingen": "05122000", "remscheid": "05120000"}
KINDS = {
    "meldebehoerde": "ags", "standesamt": "psw", "auslaenderbehoerde": "abh",
    "registratur": "reg", "archiv": "arc",  # xdomea Behoerdenkennung (placeholders)
    "jugendamt": "jug",  # projections only (issue 15)
}

HEAD = """
name = "Test"
[dvdv.prefixes]
ags = "Meldebehörde"
psw = "Standesamt"
dbs = "federal"
[kinds.meldebehoerde]
name = "Meldebehörde"
[kinds.standesamt]
name = "Standesamt"
"""


def entry(**fields: object) -> str:
    values = {
        "id": "wuppertal.meldebehoerde", "municipality": "Wuppertal", "ags": "05124000",
        "kind": "meldebehoerde", "dvdv_key": "ags:05124000",
    }
    values.update(fields)
    lines = ["[[authority]]"]
    for key, value in values.items():
        if value is None:
            continue
        lines.append(f"{key} = {value}" if isinstance(value, int | bool) or
                     str(value).startswith("[") else f'{key} = "{value}"')
    return "\n".join(lines) + "\n"


def test_bundled_region_has_the_fifteen_authorities(region: Region) -> None:
    expected = {f"{city}.{kind}" for city in CITIES for kind in KINDS}
    assert set(region.authorities) == expected
    for authority in region:
        city, kind = authority.id.split(".")
        assert authority.kind == kind
        assert authority.ags == CITIES[city]
        assert authority.dvdv_key == f"{KINDS[kind]}:{CITIES[city]}"
        assert authority.municipality == city.capitalize()
        assert [a.type for a in authority.adapters] == ["kafka"]
        # the Meldebehörden's keys are real, the others placeholders until configured
        assert authority.placeholder_key == (kind != "meldebehoerde")
    assert {a.id for a in region.placeholders()} == expected - {
        f"{c}.meldebehoerde" for c in CITIES
    }
    assert {"ags", "psw", "abh", "dbs", "azr", "reg", "arc"} <= set(region.dvdv_prefixes)


def test_bundled_file_marks_placeholders_in_text() -> None:
    from hub.settings import DEFAULT_CONFIG_DIR

    text = (DEFAULT_CONFIG_DIR / "region.toml").read_text(encoding="utf-8")
    assert "PLACEHOLDER" in text
    # every authority but the three Meldebehörden carries a placeholder key
    region = Region.load(DEFAULT_CONFIG_DIR / "region.toml")
    marked = text.count("placeholder_key = true  # PLACEHOLDER")
    assert marked == len(region.placeholders()) == len(region.authorities) - len(CITIES)


@pytest.mark.parametrize("city", CITIES)
@pytest.mark.parametrize("kind", KINDS)
def test_lookup_by_key(region: Region, city: str, kind: str) -> None:
    authority = region.by_dvdv_key(f"{KINDS[kind]}:{CITIES[city]}")
    assert authority is not None and authority.id == f"{city}.{kind}"


def test_lookup_normalises_prefix_case_and_blanks(region: Region) -> None:
    found = region.by_dvdv_key("  AGS:05124000 ")
    assert found is not None and found.id == "wuppertal.meldebehoerde"
    assert region.by_dvdv_key("ags:05124001") is None
    assert region.by_dvdv_key("ags:5124000") is None  # keys are exact, only AGS fields normalise


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("5124000", "05124000"), (5124000, "05124000"), ("05124000", "05124000"),
     (" 05158032 ", "05158032"), ("1", "00000001")],
)
def test_normalise_ags(raw: object, expected: str) -> None:
    assert normalise_ags(raw) == expected


@pytest.mark.parametrize("raw", ["", "05x24000", "051240001", -5, True, 5.0, "٠٥١٢٤٠٠٠"])
def test_normalise_ags_rejects(raw: object) -> None:
    with pytest.raises(ValueError, match="AGS must be 8 digits"):
        normalise_ags(raw)


def test_normalise_key() -> None:
    assert normalise_key(" PSW:05124000") == "psw:05124000"
    assert normalise_key("noprefix") == "noprefix"


@pytest.mark.parametrize(
    ("key", "status"),
    [("ags:05124000", KeyStatus.OK), ("DBS:490010010000", KeyStatus.OK),
     (None, KeyStatus.MISSING), ("", KeyStatus.MISSING), ("  ", KeyStatus.MISSING),
     ("05124000", KeyStatus.MALFORMED), ("ags:", KeyStatus.MALFORMED),
     ("ag:05124000", KeyStatus.MALFORMED), ("ags:0512 4000", KeyStatus.MALFORMED),
     ("xyz:123", KeyStatus.UNKNOWN_PREFIX)],
)
def test_key_status(region: Region, key: str | None, status: KeyStatus) -> None:
    assert region.key_status(key) is status


def test_ags_without_leading_zero_is_normalised(write: Callable[[str, str], Path]) -> None:
    region = Region.load(write("r.toml", HEAD + entry(ags="5124000")))
    assert region.authorities["wuppertal.meldebehoerde"].ags == "05124000"
    region = Region.load(write("r2.toml", HEAD + entry(ags=5124000)))
    assert region.authorities["wuppertal.meldebehoerde"].ags == "05124000"


def test_default_adapter_is_kafka(write: Callable[[str, str], Path]) -> None:
    region = Region.load(write("r.toml", HEAD + entry()))
    assert [a.type for a in region.authorities["wuppertal.meldebehoerde"].adapters] == ["kafka"]


def test_adapter_options_are_kept(write: Callable[[str, str], Path]) -> None:
    text = HEAD + entry(adapters='[{ type = "kafka" }, { type = "http", url = "https://x" }]')
    adapters = Region.load(write("r.toml", text)).authorities["wuppertal.meldebehoerde"].adapters
    assert [a.type for a in adapters] == ["kafka", "http"]
    assert adapters[1].options == {"url": "https://x"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (HEAD + entry(ags="05x24000"),
         r"authority\[0\] \(wuppertal.meldebehoerde\): ags: AGS must be 8 digits"),
        (HEAD + entry(ags="123456789"), r"ags: AGS must be 8 digits, got 9"),
        (HEAD + entry(colour="blue"),
         r"authority\[0\] \(wuppertal.meldebehoerde\): colour: unknown key"),
        (HEAD + entry(kind="standesmt", id="wuppertal.standesmt"),
         r"kind 'standesmt' is not listed in \[kinds\] \(known: meldebehoerde, standesamt\)"),
        (HEAD + entry() + entry(dvdv_key="ags:05122000"), r"authority\[1\] .*duplicate id"),
        (HEAD + entry() + entry(id="wuppertal.standesamt", kind="standesamt"),
         r"authority\[1\] \(wuppertal.standesamt\): dvdv_key 'ags:05124000' is already used by "
         r"wuppertal.meldebehoerde"),
        (HEAD + entry() + entry(id="w2.meldebehoerde", dvdv_key="AGS:05124000"),
         r"already used"),
        (HEAD + entry(id="Wuppertal.Meldebehoerde"), r"id 'Wuppertal.Meldebehoerde' must be"),
        (HEAD + entry(id="wuppertal_x.meldebehoerde"), r"must be '<municipality>.<kind>'"),
        (HEAD + entry(id="wuppertal/meldebehoerde"), r"must be '<municipality>.<kind>'"),
        (HEAD + entry(id="wuppertal.a.meldebehoerde"), r"must be '<municipality>.<kind>'"),
        (HEAD + entry(id="wuppertal.standesamt"), r"id must end with its kind"),
        (HEAD + entry(dvdv_key="05124000"), r"dvdv_key '05124000' is not a DVDV organisation key"),
        (HEAD + entry(dvdv_key="abh:05124000"),
         r"dvdv_key prefix 'abh' is not listed in \[dvdv.prefixes\]"),
        (HEAD + entry() + entry(id="wuppertal.standesamt", kind="standesamt",
                                dvdv_key="psw:05124000", ags="05124001"),
         r"municipality 'wuppertal' is 'Wuppertal' with AGS 05124000"),
        (HEAD + entry(adapters="[]"), r"adapters must list at least one adapter"),
        (HEAD, r"authority: Field required"),
        (HEAD.replace('ags = "Meldebehörde"', 'agsx = "x"') + entry(), r"three lower-case letters"),
        (entry(), r"name: Field required"),
        ("name = [", r"invalid TOML"),
    ],
)
def test_bad_region_files_are_one_clear_line(
    write: Callable[[str, str], Path], text: str, message: str
) -> None:
    path = write("region.toml", text)
    with pytest.raises(ConfigError, match=message) as exc:
        Region.load(path)
    line = str(exc.value)
    assert line.startswith(str(path)), line
    assert "\n" not in line


def test_missing_region_file_names_the_setting(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"region file not found \(setting HUB_REGION_FILE"):
        Region.load(tmp_path / "absent.toml")


def test_get_unknown_authority_names_known_ids(region: Region) -> None:
    with pytest.raises(ConfigError, match=r"unknown authority 'velbert\.meldebehoerde'; known: "
                       r"wuppertal\.meldebehoerde, wuppertal\.standesamt"):
        region.get("velbert.meldebehoerde")
    assert region.get("solingen.standesamt").dvdv_key == "psw:05122000"


def test_a_copied_region_file_keeps_the_bundled_services_catalogue(tmp_path: Path) -> None:
    """The catalogue the region names is read beside the region file, else from the
    bundled configuration (hub/config), wherever the module that reads it lives."""
    from hub.settings import DEFAULT_CONFIG_DIR, load_settings

    bundled = load_settings().region_file
    copy = tmp_path / "region.toml"
    copy.write_text(bundled.read_text("utf-8"), encoding="utf-8")
    for region in (Region.load(copy), Region.from_toml(bundled.read_text("utf-8"))):
        assert region.services_file is not None
        assert region.services_file.parent == DEFAULT_CONFIG_DIR
        assert region.services_file.is_file()
