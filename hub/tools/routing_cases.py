"""Golden routing cases: message in, expected recipients out (``xoev-hub routes test``).

A folder holds TOML files (searched recursively, in name order), each with one
or more ``[[case]]`` tables::

    [[case]]
    name = "rueckmeldung-wuppertal-to-solingen"
    standard = "XMeld"              # header fields of the message ...
    version = "25.11a"
    message_code = "0201"
    author = "ags:05124000"
    reader = "ags:05122000"         # a key or a list of keys
    # input = "messages/m.xml"      # ... or an XÖV file (relative to this TOML file);
    #                               #     fields given above override what it says
    source = "wuppertal.meldebehoerde"  # optional: inbound authority, checks the author
    expect = { recipients = ["solingen.meldebehoerde"], external = false }
    # expect = { error = "READER_MALFORMED" }
    # expect = { ..., rules = ["name-of-rule"] }   # optional: rules that must match
    # expect = { ..., projected = ["wuppertal.jugendamt"] }  # optional: projection only

Each case routes the message with the configured region and rules and compares
the outcome with ``expect``: recipients as a set, the external flag, the
matched rules (when given), or the error code.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from hub.core.configfile import describe_validation_error, read_toml
from hub.core.region import Region
from hub.core.routing import RouteDecision, Router, check_author
from hub.errors import ConfigError, HubError, MessageError

if TYPE_CHECKING:
    from hub.core.schemas import SchemaRegistry

__all__ = ["Case", "CaseResult", "load_cases", "run_case", "run_cases"]


class Expect(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    recipients: tuple[str, ...] | None = None
    external: bool = Field(default=False, strict=True)
    rules: tuple[str, ...] | None = None
    #: recipients (among ``recipients``) that receive only their projection
    projected: tuple[str, ...] | None = None
    error: str | None = None

    @model_validator(mode="after")
    def _one_outcome(self) -> Expect:
        if self.error is not None and (self.recipients is not None or self.external):
            raise ValueError("expect either error, or recipients/external")
        if self.error is None and self.recipients is None:
            raise ValueError("expect needs recipients (may be []) or error")
        return self


class CaseSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    description: str = ""
    input: str | None = None
    standard: str | None = None
    version: str | None = None
    message_code: str | None = None
    author: str | None = None
    reader: tuple[str, ...] | None = None
    source: str | None = None
    expect: Expect

    @model_validator(mode="before")
    @classmethod
    def _listify_reader(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("reader"), str):
            data = {**data, "reader": (data["reader"],)}
        return data


class CasesFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    case: list[CaseSpec] = Field(min_length=1)


@dataclass(frozen=True)
class Case:
    """One golden case, ready to run."""

    name: str
    file: Path
    spec: CaseSpec

    @property
    def label(self) -> str:
        return f"{self.name} ({self.file.name})"


@dataclass(frozen=True)
class CaseResult:
    case: Case
    passed: bool
    diff: str = ""
    decision: RouteDecision | None = None
    error: str | None = None


def load_cases(directory: Path) -> list[Case]:
    """Every case under ``directory``; ConfigError for a bad file or duplicate name."""
    directory = Path(directory)
    if not directory.is_dir():
        raise ConfigError(f"{directory}: no such folder of golden routing cases")
    files = sorted(directory.rglob("*.toml"))
    if not files:
        raise ConfigError(f"{directory}: no golden routing cases (*.toml)")
    cases: list[Case] = []
    seen: dict[str, Path] = {}
    for path in files:
        raw = read_toml(path, "golden case file")
        try:
            data = CasesFile.model_validate(raw)
        except ValidationError as exc:
            raise ConfigError(
                f"{path}: {describe_validation_error(exc, raw, 'case', 'name')}"
            ) from exc
        for spec in data.case:
            if spec.name in seen:
                raise ConfigError(
                    f"{path}: case {spec.name!r} is already defined in {seen[spec.name]}"
                )
            seen[spec.name] = path
            cases.append(Case(spec.name, path, spec))
    return cases


@dataclass(frozen=True)
class _Message:
    standard: str
    version: str
    message_code: str
    author: str
    readers: tuple[str, ...]


def _message(case: Case, registry: Callable[[], SchemaRegistry] | None) -> _Message:
    spec = case.spec
    fields: dict[str, Any] = {}
    if spec.input is not None:
        if registry is None:
            raise ConfigError(f"{case.file}: case {case.name!r}: XML inputs need a schema registry")
        fields = _read_input(case.file.parent / spec.input, registry())
    for name, value in (
        ("standard", spec.standard), ("version", spec.version),
        ("message_code", spec.message_code), ("author", spec.author),
        ("readers", spec.reader),
    ):
        if value is not None:
            fields[name] = value
    missing = [n for n in ("standard", "version", "message_code") if not fields.get(n)]
    if missing:
        raise ConfigError(f"{case.file}: case {case.name!r}: missing {', '.join(missing)}")
    return _Message(
        standard=fields["standard"], version=fields["version"],
        message_code=fields["message_code"], author=fields.get("author") or "",
        readers=tuple(fields.get("readers") or ()),
    )


def _read_input(path: Path, registry: SchemaRegistry) -> dict[str, Any]:
    """Header fields of an XÖV file, read as the worker reads them.

    Parse (hardened), identify the package and message type (standard,
    version, code), read the g2g header (author, readers). Their MessageErrors
    (XML_*, UNKNOWN_*, HEADER_*) are outcomes a case can expect.
    """
    from hub.core.header import read_header
    from hub.core.xmlsafe import parse_xml

    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read golden input: {exc.strerror or exc}") from exc
    root = parse_xml(data)
    package, message_type = registry.identify(root)
    header = read_header(root)
    return {  # as hub.core.pipeline routes: code of the identified message type
        "standard": package.standard,
        "version": package.version,
        "message_code": message_type.code,
        "author": header.author_key,
        "readers": tuple(header.reader_keys),
    }


def run_case(
    case: Case, region: Region, router: Router,
    registry: Callable[[], SchemaRegistry] | None = None,
) -> CaseResult:
    """Route one case and compare with its expectation.

    ``registry`` supplies the schema registry for cases with an XML ``input``
    (called only when such a case runs).
    """
    expect = case.spec.expect
    try:
        message = _message(case, registry)
        if case.spec.source is not None:
            check_author(region, case.spec.source, message.author)
        decision = router.route(
            standard=message.standard, version=message.version,
            message_code=message.message_code, author_key=message.author,
            reader_keys=message.readers,
        )
    except MessageError as exc:
        if expect.error == exc.code:
            return CaseResult(case, True, error=exc.code)
        wanted = (f"error {expect.error}" if expect.error
                  else _describe(expect.recipients or (), expect.external))
        return CaseResult(case, False, f"expected {wanted}, got error {exc}", error=exc.code)
    except HubError as exc:
        return CaseResult(case, False, f"cannot run: {exc}")
    if expect.error is not None:
        got = _describe(decision.recipients, decision.external)
        return CaseResult(case, False, f"expected error {expect.error}, got {got}", decision)
    problems: list[str] = []
    want, got_set = set(expect.recipients or ()), set(decision.recipients)
    if want != got_set:
        parts = []
        if want - got_set:
            parts.append(f"missing {sorted(want - got_set)}")
        if got_set - want:
            parts.append(f"unexpected {sorted(got_set - want)}")
        problems.append("recipients: " + ", ".join(parts))
    if expect.external != decision.external:
        problems.append(
            f"external: expected {str(expect.external).lower()}, "
            f"got {str(decision.external).lower()}"
        )
    if expect.rules is not None and set(expect.rules) != set(decision.rules):
        problems.append(f"rules: expected {sorted(expect.rules)}, got {sorted(decision.rules)}")
    if expect.projected is not None and set(expect.projected) != set(decision.projected):
        problems.append(
            f"projected: expected {sorted(expect.projected)}, got {sorted(decision.projected)}"
        )
    return CaseResult(case, not problems, "; ".join(problems), decision)


def run_cases(
    cases: Sequence[Case], region: Region, router: Router,
    registry: SchemaRegistry | None = None,
) -> list[CaseResult]:
    """Run every case; the schema registry is loaded from the settings on first need."""
    loaded: list[SchemaRegistry] = [registry] if registry is not None else []

    def get_registry() -> SchemaRegistry:
        if not loaded:
            from hub.core.schemas import SchemaRegistry
            from hub.settings import load_settings

            loaded.append(SchemaRegistry.from_settings(load_settings()))
        return loaded[0]

    return [run_case(case, region, router, get_registry) for case in cases]


def _describe(recipients: Sequence[str], external: bool) -> str:
    return f"recipients {sorted(recipients)} external={str(external).lower()}"
