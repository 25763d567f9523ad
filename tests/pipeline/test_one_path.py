"""One parse → identify → validate → read header path for every entry point.

The worker's :class:`hub.core.pipeline.Pipeline`, ``xoev-hub validate``, ``xoev-hub
convert``, the HTTP inbound pre-check, ``xoev-hub send`` and ``xoev-hub dlq`` must
give one verdict and one message id for the same bytes, with the same package
choice (an installed release wins over the bundled one of the same namespace).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from lxml import etree

from hub.adapters.precheck import default_checker, validating_checker
from hub.avro import EventCatalog
from hub.cli import main
from hub.core.convert import convert_message, registry_with_sets
from hub.core.header import read_header
from hub.core.pipeline import Pipeline
from hub.core.region import Region
from hub.core.schemas import SchemaRegistry, install
from hub.core.validation import check
from hub.core.xmlsafe import Limits
from hub.errors import ConversionError, MessageError
from hub.settings import BUNDLED_SCHEMA_DIR, Settings, load_settings
from hub.tools.dlq import DeadLetterEntry
from hub.tools.samples import generate
from hub.tools.sender import message_key

REPO = Path(__file__).resolve().parents[2]
# ../shared beside the checkout; worktrees sit one level deeper (wt/<name>)
OFFICIAL = next((p / "shared" / "xoev-official" for p in REPO.parents
                 if (p / "shared" / "xoev-official").is_dir()),
                REPO.parent / "shared" / "xoev-official")


def official_or_skip() -> Path:
    if not OFFICIAL.is_dir():
        pytest.skip(f"official XÖV sets not found at {OFFICIAL} (../shared is absent)")
    return OFFICIAL


UUID = "c4c3a5d2-7e0b-4d5e-9f41-2b6a8e1d0c37"


def _bundled_0201(message_id: str = UUID) -> tuple[bytes, str]:
    """A bundled XMeld 25.11a 0201 from Wuppertal to Solingen, and its source authority."""
    settings = load_settings(schema_dir=Path("/nonexistent"))
    registry = SchemaRegistry.from_settings(settings)
    package = registry.get("XMeld", "25.11a")
    data = generate(package, "0201", seed=4, author_key="ags:05124000",
                    reader_key="ags:05122000",
                    overrides={"nachrichtenkopf.g2g/identifikation.nachricht/nachrichtenUUID":
                               message_id})
    return data, "wuppertal.meldebehoerde"


def _split(data: bytes) -> bytes:
    """The same message with an empty comment inside the nachrichtenUUID value."""
    split = data.replace(f">{UUID}<".encode(), f">{UUID[:1]}<!---->{UUID[1:]}<".encode())
    assert split != data
    return split


def _bundled_pipeline() -> Pipeline:
    return Pipeline.from_settings(load_settings(schema_dir=Path("/nonexistent")))


def test_comment_split_nachrichten_uuid_is_read_whole() -> None:
    data, source = _bundled_0201()
    split = _split(data)
    pipeline = _bundled_pipeline()
    inspected = pipeline.inspect(split, source)  # the XSD sees the whole value: valid
    assert inspected.header.message_id == UUID
    report = check(split, pipeline.registry, pipeline.limits)
    assert report.valid and report.message_id == UUID
    # deduplication keys on this id before conversion, which refuses the comment
    with pytest.raises(ConversionError) as refused:
        pipeline.finish(inspected, trace_id="t")
    assert refused.value.code == "CONVERSION_COMMENT_OR_PI"


def test_header_values_are_xsd_string_values() -> None:
    data, _source = _bundled_0201()
    spaced = data.replace(b"<code>0201</code>", b"<code>\n  02<!-- x --><?pi y?>01\n</code>")
    assert spaced != data
    header = read_header(etree.fromstring(spaced))
    assert header.message_code == "0201"
    assert header.message_id == UUID


def test_precheck_sender_and_dlq_read_the_same_id(tmp_path: Path) -> None:
    data, _source = _bundled_0201()
    split = _split(data)
    registry = SchemaRegistry.from_settings(load_settings(schema_dir=tmp_path))
    validating = validating_checker(registry, Limits())(split)
    assert validating.valid
    entry = DeadLetterEntry(
        id="xoev.in.x:0:0", timestamp=datetime.now(UTC), partition=0, offset=0, stage="validate",
        code="SCHEMA_INVALID", detail="", source_topic="xoev.in.x", source_partition=0,
        source_offset=0, replay_of=None, headers={}, payload=split,
    )
    ids = {
        "header": read_header(etree.fromstring(split)).message_id,
        "pre-check": default_checker(1 << 20)(split).message_id,
        "validating pre-check": validating.message_id,
        "send": message_key(split),
        "dlq": entry.message_id,
    }
    assert ids == dict.fromkeys(ids, UUID)


# --- convert, validate and the worker agree on the official samples --------------------


@dataclass(frozen=True)
class Case:
    name: str
    file: Path


OFFICIAL_SETS = ("xmeld-25.11a", "xpersonenstand-25.11")


@pytest.fixture(scope="module")
def official_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """XMeld 25.11a and XPersonenstand 25.11 installed into a fresh HUB_SCHEMA_DIR."""
    official = official_or_skip()
    schema_dir = tmp_path_factory.mktemp("schemas")
    for name in OFFICIAL_SETS:
        install(official / name, schema_dir)
    return schema_dir


def _has_g2g_header(file: Path) -> bool:
    root = etree.parse(str(file)).getroot()
    return any(etree.QName(child).localname == "nachrichtenkopf.g2g"
               for child in root if isinstance(child.tag, str))


def _cases(official_dir: Path, tmp_path: Path, region: Region) -> list[Case]:
    official = official_or_skip()
    cases = []
    for name in OFFICIAL_SETS:
        meta = json.loads((official / name / "set.json").read_text(encoding="utf-8"))
        for sample in meta["samples"]:
            file = official / name / sample["file"]
            if _has_g2g_header(file):
                cases.append(Case(f"{name}/{sample['file']}", file))
    # messages of the installed official release whose root the bundled package has too:
    # the bundled package must not be picked for them
    registry = SchemaRegistry._from_dirs([(BUNDLED_SCHEMA_DIR, "bundled"),
                                          (official_dir, "installed")])
    authors = {"XMeld": "wuppertal.meldebehoerde", "XPersonenstand": "wuppertal.standesamt"}
    for package in registry.packages:
        if package.origin != "bundled" or package.standard not in authors:
            continue
        release = registry.get(package.standard, package.version)
        if release is package:  # no official set of this release installed
            continue
        author = region.authorities[authors[package.standard]].dvdv_key
        for qname in package.messages:
            file = tmp_path / f"{package.standard}-{release.messages[qname].root}.xml"
            file.write_bytes(generate(release, release.messages[qname], seed=2,
                                      author_key=author, reader_key="ags:05122000"))
            cases.append(Case(file.name, file))
    return cases


def _region_with_authors(settings: Settings, files: list[Path], target: Path) -> Path:
    """The bundled region plus one authority per unknown author key of ``files``."""
    region = Region.load(settings.region_file)
    known = {a.dvdv_key for a in region.authorities.values()}
    text = settings.region_file.read_text(encoding="utf-8")
    for n, key in enumerate(sorted({_author(f) for f in files} - known - {""})):
        text += (f'\n[[authority]]\nid = "sample{n}.meldebehoerde"\nmunicipality = "S{n}"\n'
                 f'ags = "099{n:05d}"\nkind = "meldebehoerde"\ndvdv_key = "{key}"\n'
                 'adapters = [{ type = "kafka" }]\n')
    target.write_text(text, encoding="utf-8")
    return target


def _author(file: Path) -> str:
    try:
        return read_header(etree.parse(str(file)).getroot()).author_key
    except MessageError:
        return ""


@pytest.fixture
def agreement_env(official_dir: Path, tmp_path: Path,
                  monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Settings, list[Case]]]:
    monkeypatch.setenv("HUB_SCHEMA_DIR", str(official_dir))
    settings = load_settings()
    cases = _cases(official_dir, tmp_path, Region.load(settings.region_file))
    region_file = _region_with_authors(settings, [c.file for c in cases], tmp_path / "region.toml")
    monkeypatch.setenv("HUB_REGION_FILE", str(region_file))
    yield load_settings(), cases


@pytest.mark.official
def test_convert_validate_and_worker_agree_on_official_samples(
    agreement_env: tuple[Settings, list[Case]], tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Same verdict, same message id, and convert succeeds where the worker accepts.

    ``validate`` runs as the command over all files; ``convert`` as the command on
    the first accepted and the first rejected file of each set, and for the rest
    as the function the command runs (one registry, so the plans compile once).
    """
    settings, cases = agreement_env
    assert len(cases) >= 20
    pipeline = Pipeline.from_settings(settings)
    by_key = {a.dvdv_key: a.id for a in pipeline.region.authorities.values()}
    registry = registry_with_sets(settings)
    catalog = EventCatalog(registry)
    limits = Limits.from_settings(settings)

    assert main(["validate", "--json", *(str(c.file) for c in cases)]) == 1
    reports = {r["file"]: r for r in json.loads(capsys.readouterr().out)}

    through_cli: set[tuple[str, bool]] = set()
    verdicts = {True: 0, False: 0}
    for case in cases:
        report = reports[str(case.file)]
        data = case.file.read_bytes()
        source = by_key.get(_author(case.file), "wuppertal.meldebehoerde")
        group = (case.name.split("/")[0].split("-")[0].lower(), report["valid"])
        cli = group not in through_cli
        through_cli.add(group)
        try:
            inspected = pipeline.inspect(data, source)
        except MessageError as exc:
            verdicts[False] += 1
            assert not report["valid"], (case.name, exc.code)
            assert report["problems"][0]["code"] == exc.code, case.name
            with pytest.raises(MessageError) as refused:
                convert_message(data, registry, catalog, limits)
            assert refused.value.code == exc.code, case.name
            if cli:
                assert main(["convert", str(case.file)]) == 2
                assert f"convert: error: {exc.code}:" in capsys.readouterr().err, case.name
            continue
        verdicts[True] += 1
        assert report["valid"], (case.name, report["problems"][:1])
        assert inspected.package.origin == "installed", case.name
        assert report["message_id"] == inspected.header.message_id, case.name
        worker = pipeline.finish(inspected, trace_id="t")
        worker_event = worker.plan.decode(worker.event)
        package, plan, record = convert_message(data, registry, catalog, limits)
        assert package.path == inspected.package.path, case.name
        assert plan.fingerprint == worker.plan.fingerprint, case.name
        assert record["envelope"]["message_id"] == inspected.header.message_id, case.name
        assert plan.decode(plan.encode(record))["body"] == worker_event["body"], case.name
        if cli:
            out = tmp_path / f"{case.file.stem}.json"
            assert main(["convert", str(case.file), "-o", str(out)]) == 0, case.name
            event = json.loads(out.read_text(encoding="utf-8"))
            assert event["envelope"]["message_id"] == inspected.header.message_id
            assert event["body"] == json.loads(json.dumps(worker_event["body"]))
    assert verdicts[True] >= 20 and verdicts[False] >= 3, verdicts


def test_an_unexpected_error_is_dead_lettered_by_type_only() -> None:
    """Dead-letter details quote no document value, also for errors nobody expected."""
    from hub.core.pipeline import classify

    stage, code, detail = classify(KeyError("Erika Mustermann, geb. 01.02.1980"))
    assert (stage, code) == ("internal", "INTERNAL_ERROR")
    assert "KeyError" in detail and "Mustermann" not in detail and "1980" not in detail
