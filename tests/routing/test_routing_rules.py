"""Routing: the default rule, external hand-over, misaddressed messages, rules, authors."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from hub.core.region import Region
from hub.core.routing import RouteDecision, Router, check_author
from hub.errors import AuthorMismatchError, ConfigError, MisaddressedError

CITIES = {"wuppertal": "05124000", "solingen": "05122000", "remscheid": "05120000"}
KINDS = {"meldebehoerde": "ags", "standesamt": "psw", "auslaenderbehoerde": "abh"}

ALL = [(city, kind) for city in CITIES for kind in KINDS]

WUPPERTAL_MB = "ags:05124000"
SOLINGEN_MB = "ags:05122000"
REMSCHEID_MB = "ags:05120000"


def route(router: Router, *readers: str, standard: str = "XMeld", version: str = "25.11a",
          code: str = "0201", author: str = WUPPERTAL_MB) -> RouteDecision:
    return router.route(standard=standard, version=version, message_code=code,
                        author_key=author, reader_keys=list(readers))


@pytest.mark.parametrize(("city", "kind"), ALL)
def test_each_authority_receives_what_is_addressed_to_it(
    router: Router, city: str, kind: str
) -> None:
    decision = route(router, f"{KINDS[kind]}:{CITIES[city]}")
    assert decision == RouteDecision(recipients=(f"{city}.{kind}",), external=False)


def test_reader_key_is_normalised(router: Router) -> None:
    assert route(router, " AGS:05122000 ").recipients == ("solingen.meldebehoerde",)


@pytest.mark.parametrize(
    "reader",
    ["ags:05158032",       # Velbert: not in the default region
     "ags:09162000",       # München
     "dbs:490010010000",   # BZSt
     "azr:000000000001",   # Ausländerzentralregister
     "psw:05111000"],      # Standesamt Düsseldorf
)
def test_well_formed_keys_outside_the_region_go_external(router: Router, reader: str) -> None:
    assert route(router, reader) == RouteDecision(recipients=(), external=True)


def test_several_readers_inside_and_outside(router: Router) -> None:
    decision = route(router, SOLINGEN_MB, "dbs:490010010000", REMSCHEID_MB, SOLINGEN_MB)
    assert decision.recipients == ("solingen.meldebehoerde", "remscheid.meldebehoerde")
    assert decision.external is True


@pytest.mark.parametrize(
    ("readers", "code"),
    [((), "READER_MISSING"), (("",), "READER_MISSING"), (("   ",), "READER_MISSING"),
     (("05124000",), "READER_MALFORMED"), (("ags:",), "READER_MALFORMED"),
     (("ags 05124000",), "READER_MALFORMED"), (("agsx:05124000",), "READER_MALFORMED"),
     (("ags:05124000:x",), "READER_MALFORMED"), (("ags:<x>",), "READER_MALFORMED"),
     (("xyz:05124000",), "READER_UNKNOWN_PREFIX"), (("osc:1",), "READER_UNKNOWN_PREFIX"),
     # one bad reader spoils the message: nothing is delivered to the good one either
     ((SOLINGEN_MB, "nonsense"), "READER_MALFORMED"),
     ((SOLINGEN_MB, "qqq:1"), "READER_UNKNOWN_PREFIX"),
     ((SOLINGEN_MB, ""), "READER_MISSING")],
)
def test_misaddressed(router: Router, readers: tuple[str, ...], code: str) -> None:
    with pytest.raises(MisaddressedError) as exc:
        route(router, *readers)
    assert exc.value.code == code
    assert exc.value.stage == "route"


def test_bare_string_reader_is_one_key(router: Router) -> None:
    decision = router.route(standard="XMeld", version="25.11a", message_code="0201",
                            author_key=WUPPERTAL_MB, reader_keys=SOLINGEN_MB)
    assert decision.recipients == ("solingen.meldebehoerde",)


RULES = """
[[rule]]
name = "death-copy"
standard = "XPersonenstand"
message_code = "035*"
reader = "ags:05124000"
copy_to = ["wuppertal.standesamt"]

[[rule]]
name = "old-xmeld-to-solingen-abh"
standard = "XMeld"
version = ["24.*", "25.05"]
recipient = "*.meldebehoerde"
copy_to = "solingen.auslaenderbehoerde"

[[rule]]
name = "from-remscheid-abh"
author = "abh:05120000"
message_code = ["0201", "0202"]
redirect_to = ["remscheid.meldebehoerde", "external"]

[[rule]]
name = "bzst-local"
reader = "dbs:490010010000"
redirect_to = "wuppertal.meldebehoerde"

[[rule]]
name = "second-redirect-loses"
reader = "dbs:490010010000"
redirect_to = "solingen.meldebehoerde"
copy_to = "remscheid.standesamt"

[[rule]]
name = "external-copy"
reader = "ags:0512[02]000"
message_code = "0900"
copy_to = "external"
"""


@pytest.fixture
def rules_router(region: Region, write: Callable[[str, str], Path]) -> Router:
    return Router.load(write("routes.toml", RULES), region)


def test_copy_on_standard_code_prefix_and_reader(rules_router: Router) -> None:
    decision = route(rules_router, WUPPERTAL_MB, standard="XPersonenstand", version="1.9",
                     code="035010", author="psw:05122000")
    assert decision == RouteDecision(
        recipients=("wuppertal.meldebehoerde", "wuppertal.standesamt"), external=False,
        rules=("death-copy",),
    )


@pytest.mark.parametrize(
    ("standard", "code", "reader"),
    [("XMeld", "035010", WUPPERTAL_MB),           # other standard
     ("XPersonenstand", "031010", WUPPERTAL_MB),  # other code
     ("XPersonenstand", "035010", SOLINGEN_MB)],  # other reader
)
def test_copy_rule_does_not_select_others(
    rules_router: Router, standard: str, code: str, reader: str
) -> None:
    decision = route(rules_router, reader, standard=standard, code=code)
    assert len(decision.recipients) == 1 and decision.rules == ()


@pytest.mark.parametrize(("version", "copied"), [("24.11", True), ("25.05", True),
                                                 ("25.11a", False), ("2.4", False)])
def test_rule_selects_on_version_and_recipient(
    rules_router: Router, version: str, copied: bool
) -> None:
    decision = route(rules_router, SOLINGEN_MB, version=version)
    assert ("solingen.auslaenderbehoerde" in decision.recipients) is copied
    # recipient = "*.meldebehoerde": a message to a Standesamt is not copied
    assert route(rules_router, "psw:05122000", version=version).recipients == (
        "solingen.standesamt",
    )


def test_redirect_on_author_replaces_default(rules_router: Router) -> None:
    decision = route(rules_router, SOLINGEN_MB, author="abh:05120000", code="0202")
    assert decision == RouteDecision(
        recipients=("remscheid.meldebehoerde",), external=True, rules=("from-remscheid-abh",)
    )
    # another author, same message: default
    assert route(rules_router, SOLINGEN_MB, author="ags:05120000", code="0202").recipients == (
        "solingen.meldebehoerde",
    )


def test_first_redirect_wins_and_copies_accumulate(rules_router: Router) -> None:
    decision = route(rules_router, "dbs:490010010000")
    assert decision == RouteDecision(
        recipients=("wuppertal.meldebehoerde", "remscheid.standesamt"), external=False,
        rules=("bzst-local", "second-redirect-loses"),
    )


def test_copy_to_external_with_character_class(rules_router: Router) -> None:
    assert route(rules_router, REMSCHEID_MB, code="0900").external is True
    assert route(rules_router, SOLINGEN_MB, code="0900").external is True
    assert route(rules_router, WUPPERTAL_MB, code="0900").external is False


def test_rule_key_patterns_are_normalised(
    region: Region, write: Callable[[str, str], Path]
) -> None:
    text = '[[rule]]\nname = "a"\nreader = "AGS:05122000"\nauthor = " ABH:*"\n' \
           'copy_to = "external"\n'
    router = Router.load(write("routes.toml", text), region)
    assert route(router, SOLINGEN_MB, author="abh:05120000").external is True
    assert route(router, SOLINGEN_MB, author="ags:05120000").external is False


def test_rules_never_rescue_misaddressed(rules_router: Router) -> None:
    with pytest.raises(MisaddressedError):
        route(rules_router, "dbs 490010010000")


def test_external_off_makes_outside_readers_misaddressed(
    region: Region, write: Callable[[str, str], Path]
) -> None:
    router = Router.load(write("routes.toml", "[defaults]\nexternal = false\n"), region)
    assert route(router, SOLINGEN_MB).recipients == ("solingen.meldebehoerde",)
    with pytest.raises(MisaddressedError) as exc:
        route(router, "dbs:490010010000")
    assert exc.value.code == "READER_OUTSIDE_REGION"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[[rule]]\nname = "a"\ncopy_to = ["velbert.meldebehoerde"]\n',
         r"rule\[0\] \(a\): copy_to: unknown authority 'velbert.meldebehoerde'"),
        ('[[rule]]\nname = "a"\nredirect_to = "wuppertal.gesundheitsamt"\n',
         r"redirect_to: unknown authority 'wuppertal.gesundheitsamt'"),
        ('[[rule]]\nname = "a"\nreader = "ags:1"\n',
         r"rule\[0\] \(a\): a rule needs copy_to or redirect_to"),
        ('[[rule]]\nname = "a"\nreader = "xyz:1"\ncopy_to = "wuppertal.standesamt"\n',
         r"reader: 'xyz:1' is not a well-formed DVDV key of a known prefix \(unknown_prefix\)"),
        ('[[rule]]\nname = "a"\nauthor = "05124000"\ncopy_to = "wuppertal.standesamt"\n',
         r"author: '05124000' is not a well-formed DVDV key .*\(malformed\)"),
        ('[[rule]]\nname = "a"\nrecipient = "velbert.meldebehoerde"\ncopy_to = "external"\n',
         r"recipient: unknown authority"),
        ('[[rule]]\nname = "a"\ncopy_to = "external"\n[[rule]]\nname = "a"\ncopy_to = "external"\n',
         r"rule\[1\] \(a\): duplicate rule name"),
        ('[[rule]]\nname = "a"\nmesage_code = "1"\ncopy_to = "external"\n',
         r"rule\[0\] \(a\): mesage_code: unknown key"),
        ('[[rule]]\nname = "a"\nmessage_code = []\ncopy_to = "external"\n',
         r"message_code: Value error|message_code: must be a non-empty"),
        ('[[rule]]\ncopy_to = "external"\n', r"rule\[0\]: name: Field required"),
        ('[defaults]\nexternal = "yes"\n', r"defaults.external: Input should be a valid boolean"),
        ('[[rules]]\nname = "a"\n', r"rules: unknown key"),
        ("[[rule]\n", r"invalid TOML"),
    ],
)
def test_bad_routes_files_are_one_clear_line(
    region: Region, write: Callable[[str, str], Path], text: str, message: str
) -> None:
    path = write("routes.toml", text)
    with pytest.raises(ConfigError, match=message) as exc:
        Router.load(path, region)
    assert str(exc.value).startswith(str(path)) and "\n" not in str(exc.value)


def test_missing_routes_file_names_the_setting(region: Region, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="HUB_ROUTES_FILE"):
        Router.load(tmp_path / "nope.toml", region)


# -- author check ------------------------------------------------------------
@pytest.mark.parametrize(("city", "kind"), ALL)
def test_author_of_each_inbound_topic(region: Region, city: str, kind: str) -> None:
    key = f"{KINDS[kind]}:{CITIES[city]}"
    check_author(region, f"{city}.{kind}", key)
    check_author(region, f"{city}.{kind}", key.upper())


@pytest.mark.parametrize(
    ("source", "author", "code"),
    [("wuppertal.meldebehoerde", SOLINGEN_MB, "AUTHOR_MISMATCH"),
     ("wuppertal.meldebehoerde", "psw:05124000", "AUTHOR_MISMATCH"),  # same city, other office
     ("wuppertal.standesamt", WUPPERTAL_MB, "AUTHOR_MISMATCH"),
     ("wuppertal.meldebehoerde", "dbs:490010010000", "AUTHOR_MISMATCH"),
     ("wuppertal.meldebehoerde", "garbage", "AUTHOR_MISMATCH"),
     ("wuppertal.meldebehoerde", "", "AUTHOR_MISSING"),
     ("velbert.meldebehoerde", "ags:05158032", "SOURCE_UNKNOWN")],
)
def test_author_mismatch(region: Region, source: str, author: str, code: str) -> None:
    with pytest.raises(AuthorMismatchError) as exc:
        check_author(region, source, author)
    assert exc.value.code == code
    assert exc.value.stage == "authorize"


# -- a fourth municipality and a new kind: configuration only ------------------
VELBERT = """
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

[[authority]]
id = "wuppertal.gesundheitsamt"
municipality = "Wuppertal"
ags = "05124000"
kind = "gesundheitsamt"
dvdv_key = "gsa:05124000"
"""


def extended_region_text() -> str:
    from hub.settings import DEFAULT_CONFIG_DIR

    text = (DEFAULT_CONFIG_DIR / "region.toml").read_text(encoding="utf-8")
    text = text.replace('dbs = "federal', 'gsa = "Gesundheitsamt"\ndbs = "federal')
    return text + VELBERT


def test_fourth_municipality_and_new_kind_are_configuration(
    write: Callable[[str, str], Path]
) -> None:
    region = Region.load(write("region.toml", extended_region_text()))
    bundled = Region.load(Path(__file__).resolve().parents[2] / "hub" / "config" / "region.toml")
    assert len(region) == len(bundled) + 3
    velbert = region.authorities["velbert.meldebehoerde"]
    assert velbert.ags == "05158032" and velbert.municipality == "Velbert"
    rules = """
[[rule]]
name = "meldung-copy-gesundheitsamt"
standard = "XMeld"
message_code = "0201"
recipient = "*.meldebehoerde"
reader = "ags:05158032"
copy_to = ["velbert.gesundheitsamt"]
"""
    router = Router.load(write("routes.toml", rules), region)
    assert route(router, "ags:05158032") == RouteDecision(
        recipients=("velbert.meldebehoerde", "velbert.gesundheitsamt"), external=False,
        rules=("meldung-copy-gesundheitsamt",),
    )
    assert route(router, "gsa:05124000").recipients == ("wuppertal.gesundheitsamt",)
    assert route(router, "ags:05158032", code="0202").recipients == ("velbert.meldebehoerde",)
    check_author(region, "velbert.gesundheitsamt", "gsa:05158032")
    with pytest.raises(AuthorMismatchError):
        check_author(region, "velbert.gesundheitsamt", "ags:05158032")
    # and the default router now keeps Velbert inside: no external hand-over
    from hub.settings import DEFAULT_CONFIG_DIR

    default = Router.load(DEFAULT_CONFIG_DIR / "routes.toml", region)
    assert route(default, "ags:05158032").external is False


def test_decision_cache_is_bounded_and_never_caches_errors(region: Region) -> None:
    router = Router(region, cache_size=2)
    first = route(router, SOLINGEN_MB)
    assert route(router, SOLINGEN_MB) is first  # remembered
    for _ in range(2):
        with pytest.raises(MisaddressedError):
            route(router, "nonsense")
    route(router, REMSCHEID_MB)
    route(router, WUPPERTAL_MB)  # third entry: the cache was cleared, still correct
    assert route(router, SOLINGEN_MB) == first
    assert len(router._cache) <= 2
    uncached = Router(region, cache_size=0)
    assert route(uncached, SOLINGEN_MB) == first and not uncached._cache


@pytest.mark.parametrize(
    "order", [("by-standard", "any-standard"), ("any-standard", "by-standard")]
)
def test_rule_order_is_kept_across_the_standard_index(
    region: Region, write: Callable[[str, str], Path], order: tuple[str, str]
) -> None:
    rules = {
        "by-standard": '[[rule]]\nname = "by-standard"\nstandard = ["XMeld", "XFoo"]\n'
                       'redirect_to = "wuppertal.standesamt"\n',
        "any-standard": '[[rule]]\nname = "any-standard"\nstandard = "X*"\n'
                        'redirect_to = "remscheid.standesamt"\n',
    }
    router = Router.load(write("routes.toml", rules[order[0]] + rules[order[1]]), region)
    first = {"by-standard": "wuppertal.standesamt", "any-standard": "remscheid.standesamt"}
    decision = route(router, SOLINGEN_MB, standard="XMeld")
    assert decision.recipients == (first[order[0]],)
    assert decision.rules == order
    # another standard: only the glob rule applies
    other = route(router, SOLINGEN_MB, standard="XPersonenstand")
    assert other.recipients == ("remscheid.standesamt",) and other.rules == ("any-standard",)
    assert route(router, SOLINGEN_MB, standard="Y").recipients == ("solingen.meldebehoerde",)
