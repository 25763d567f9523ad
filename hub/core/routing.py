"""Routing: which authorities receive a message, from its header and the rules.

By default a message goes to the authority of the region whose DVDV key is the
header's reader key. A well-formed reader key of a known prefix that addresses
no authority of the region (another city's ``ags:``, a federal body's ``dbs:``)
goes to ``xoev.out.external``, the hand-over to the OSCI/XTA gateway
(``RouteDecision.external``). A reader key that is missing, malformed or of an
unknown prefix makes the message misaddressed (:class:`MisaddressedError`); it
is never delivered anywhere else.

Declarative rules (the routes file, setting ``HUB_ROUTES_FILE``) select
messages by standard, version, message code, author, reader and default
recipient (exact values or globs) and add recipients (``copy_to``) or replace
the default delivery (``redirect_to``). Rules are validated at load against the
region. See docs/routing.md for the format and examples.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase, translate
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from hub.core.configfile import describe_validation_error, parse_toml, read_toml
from hub.core.region import KeyStatus, Region, normalise_key
from hub.errors import AuthorMismatchError, ConfigError, MisaddressedError

if TYPE_CHECKING:
    from hub.settings import Settings

__all__ = [
    "EXTERNAL",
    "RouteDecision",
    "Router",
    "Rule",
    "check_author",
]

#: The pseudo-recipient of ``xoev.out.external`` in rules (``copy_to``,
#: ``redirect_to``, ``recipient``). Authority ids always contain a dot, so it
#: never collides with one.
EXTERNAL = "external"

_GLOB = re.compile(r"[*?\[]")
#: Routing decisions remembered per router (cleared when full).
CACHE_SIZE = 8192


@dataclass(frozen=True)
class RouteDecision:
    """Where a message goes.

    ``recipients`` are authority ids of the region (each gets
    ``xoev.out.<id>.xml`` and ``.avro``), in a stable order; ``external`` means
    the message also goes to ``xoev.out.external``. ``rules`` names the rules
    that matched, for audit and ``routes test`` output. ``projected`` are the
    recipients (also in ``recipients``) whose kind receives projections only:
    they get the projection event on ``.avro`` and nothing else. ``legal_bases``
    are (rule, legal basis) of the matched rules that name one (audit record).
    """

    recipients: tuple[str, ...]
    external: bool
    rules: tuple[str, ...] = ()
    projected: tuple[str, ...] = ()
    legal_bases: tuple[tuple[str, str], ...] = ()


Patterns = tuple[str, ...]


def _patterns(value: object) -> object:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list | tuple):
        return tuple(value)
    return value


class Rule(BaseModel):
    """One routing rule: selectors (all given ones must match) and actions."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9._-]+$")
    description: str = ""
    # selectors: each a value or list of values, exact or glob (* ? [..]); any may match
    standard: Patterns | None = None
    version: Patterns | None = None
    message_code: Patterns | None = None
    author: Patterns | None = None
    reader: Patterns | None = None
    recipient: Patterns | None = Field(
        default=None,
        description="authority id the reader key resolves to by default, or 'external'",
    )
    # actions
    copy_to: tuple[str, ...] = ()
    redirect_to: tuple[str, ...] = ()
    copy_to_kind: tuple[str, ...] = Field(
        default=(),
        description="kinds of authority: the authority of that kind in the municipality "
        "of the default recipient receives a copy (none if there is none)",
    )
    legal_basis: str = Field(
        default="",
        description="the legal basis of the transfer, as text; carried by the audit record "
        "(required when the rule delivers to a kind that receives projections only)",
    )

    @field_validator(
        "standard", "version", "message_code", "author", "reader", "recipient",
        "copy_to", "redirect_to", "copy_to_kind", mode="before",
    )
    @classmethod
    def _listify(cls, value: object) -> object:
        return _patterns(value)

    @field_validator("standard", "version", "message_code", "author", "reader", "recipient")
    @classmethod
    def _non_empty(cls, value: Patterns | None) -> Patterns | None:
        if value is not None and (not value or any(not v for v in value)):
            raise ValueError("must be a non-empty value or list of non-empty values")
        return value

    @field_validator("author", "reader")
    @classmethod
    def _normalise_keys(cls, value: Patterns | None) -> Patterns | None:
        # keys are compared with their prefix in lower case; so are the patterns
        return None if value is None else tuple(normalise_key(v) for v in value)

    def selects(
        self, *, standard: str, version: str, message_code: str, author: str, reader: str,
        recipient: str,
    ) -> bool:
        return (
            _match(self.standard, standard)
            and _match(self.version, version)
            and _match(self.message_code, message_code)
            and _match(self.author, author)
            and _match(self.reader, reader)
            and _match(self.recipient, recipient)
        )


def _match(patterns: Patterns | None, value: str) -> bool:
    return patterns is None or any(fnmatchcase(value, p) for p in patterns)


Matcher = Callable[[str], object]


def _compile(patterns: Patterns | None) -> Matcher | None:
    """One compiled regular expression for a selector's globs (None: matches all)."""
    if patterns is None:
        return None
    return re.compile("|".join(f"(?:{translate(p)})" for p in patterns)).match


@dataclass(frozen=True)
class _CompiledRule:
    rule: Rule
    matchers: tuple[tuple[int, Matcher], ...]  # (index into the message fields, matcher)

    @classmethod
    def of(cls, rule: Rule) -> _CompiledRule:
        selectors = (rule.standard, rule.version, rule.message_code, rule.author,
                     rule.reader, rule.recipient)
        matchers = tuple(
            (index, matcher) for index, selector in enumerate(selectors)
            if (matcher := _compile(selector)) is not None
        )
        return cls(rule, matchers)

    def selects(self, fields: tuple[str, str, str, str, str, str]) -> bool:
        # a loop, not all(<generator>): measurably cheaper on the hot path
        for index, matcher in self.matchers:  # noqa: SIM110
            if not matcher(fields[index]):
                return False
        return True


class Defaults(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    external: bool = Field(
        default=True,
        strict=True,
        description="Well-formed reader keys outside the region go to xoev.out.external; "
        "false: they are misaddressed (READER_OUTSIDE_REGION).",
    )


class RoutesFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    defaults: Defaults = Defaults()
    rule: list[Rule] = Field(default_factory=list)


class Router:
    """Routes messages of a region by its default rule and the declared rules."""

    def __init__(
        self, region: Region, rules: Sequence[Rule] = (), *, external: bool = True,
        source: str = "<routes>", cache_size: int = CACHE_SIZE,
    ) -> None:
        self.region = region
        self.rules = tuple(rules)
        self.external = external
        self.source = source
        _validate_rules(self.rules, region, source)
        compiled = tuple(_CompiledRule.of(rule) for rule in self.rules)
        # Rules naming exact standards are only tried for those standards: with
        # many rules most are skipped by one dictionary lookup. Order is kept.
        exact = {
            rule.name: set(rule.standard)
            for rule in self.rules
            if rule.standard is not None and not any(_GLOB.search(p) for p in rule.standard)
        }
        standards = set().union(*exact.values()) if exact else set()
        self._generic = tuple(c for c in compiled if c.rule.name not in exact)
        self._by_standard = {
            standard: tuple(
                c for c in compiled
                if c.rule.name not in exact or standard in exact[c.rule.name]
            )
            for standard in standards
        }
        self._cache: dict[tuple[str, str, str, str, tuple[str, ...]], RouteDecision] = {}
        self._cache_size = cache_size
        #: authorities whose kind receives projections only
        self._projected = frozenset(a.id for a in region if region.kinds[a.kind].projected)
        self._legal_bases = {rule.name: rule.legal_basis for rule in self.rules if rule.legal_basis}

    @classmethod
    def load(cls, path: Path, region: Region) -> Router:
        """Read and validate a routes file; ConfigError with one line naming the rule."""
        path = Path(path)
        raw = read_toml(path, "routes file", "HUB_ROUTES_FILE")
        return cls.from_dict(raw, region, source=str(path))

    @classmethod
    def from_toml(cls, text: str, region: Region, source: str = "<routes>") -> Router:
        return cls.from_dict(parse_toml(text, source), region, source=source)

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any], region: Region, source: str = "<routes>") -> Router:
        try:
            data = RoutesFile.model_validate(raw)
        except ValidationError as exc:
            raise ConfigError(
                f"{source}: {describe_validation_error(exc, raw, 'rule', 'name')}"
            ) from exc
        return cls(region, data.rule, external=data.defaults.external, source=source)

    @classmethod
    def from_settings(cls, settings: Settings, region: Region | None = None) -> Router:
        region = region if region is not None else Region.from_settings(settings)
        return cls.load(settings.routes_file, region)

    def route(
        self,
        *,
        standard: str,
        version: str,
        message_code: str,
        author_key: str,
        reader_keys: Sequence[str],
    ) -> RouteDecision:
        """The recipients of a message; MisaddressedError if any reader key is unusable.

        Every reader key must be usable: a message with one good and one
        malformed reader is misaddressed as a whole and delivered to nobody.
        """
        if isinstance(reader_keys, str):  # a bare string would be read as characters
            reader_keys = (reader_keys,)
        # Decisions depend only on these fields and are immutable: repeated
        # traffic (the same codes between the same authorities) is a lookup.
        cache_key = (standard, version, message_code, author_key, tuple(reader_keys))
        cached = self._cache.get(cache_key)
        if cached is not None:
            return cached
        decision = self._route(standard, version, message_code, author_key, cache_key[4])
        if self._cache_size > 0:
            if len(self._cache) >= self._cache_size:
                self._cache.clear()
            self._cache[cache_key] = decision
        return decision

    def _route(
        self, standard: str, version: str, message_code: str, author_key: str,
        reader_keys: tuple[str, ...],
    ) -> RouteDecision:
        if not reader_keys:
            raise MisaddressedError("the header names no reader", code="READER_MISSING")
        blank = sum(1 for k in reader_keys if k is None or not k.strip())
        if blank:
            raise MisaddressedError(
                f"{blank} of {len(reader_keys)} reader(s) in the header have no key",
                code="READER_MISSING",
            )
        readers = [normalise_key(k) for k in reader_keys]
        for key in readers:
            status = self.region.key_status(key)
            if status is KeyStatus.MALFORMED:
                raise MisaddressedError(
                    f"reader key {key!r} is not a DVDV organisation key (prefix:id)",
                    code="READER_MALFORMED",
                )
            if status is KeyStatus.UNKNOWN_PREFIX:
                raise MisaddressedError(
                    f"reader key {key!r} has an unknown prefix "
                    f"(known: {', '.join(self.region.dvdv_prefixes)})",
                    code="READER_UNKNOWN_PREFIX",
                )
        author = normalise_key(author_key or "")
        targets: dict[str, None] = {}
        matched: dict[str, None] = {}
        for key in readers:
            authority = self.region.by_dvdv_key(key)
            default = authority.id if authority is not None else EXTERNAL
            fields = (standard, version, message_code, author, key, default)
            candidates = self._by_standard.get(standard, self._generic)
            selected = [c.rule for c in candidates if c.selects(fields)]
            redirect = next((r.redirect_to for r in selected if r.redirect_to), None)
            destinations: list[str] = list(redirect) if redirect else [default]
            for rule in selected:
                destinations.extend(rule.copy_to)
                if rule.copy_to_kind and authority is not None:
                    for kind in rule.copy_to_kind:
                        local = self.region.local(authority.id, kind)
                        if local is not None:
                            destinations.append(local.id)
                matched[rule.name] = None
            if EXTERNAL in destinations and not self.external:
                raise MisaddressedError(
                    f"reader key {key!r} addresses no authority of the region and "
                    "external delivery is off",
                    code="READER_OUTSIDE_REGION",
                )
            targets.update(dict.fromkeys(destinations))
        recipients = tuple(t for t in targets if t != EXTERNAL)
        projected = tuple(r for r in recipients if r in self._projected)
        for recipient in projected:
            kind = self.region.authorities[recipient].kind
            if self.region.kinds[kind].projection_for(standard, message_code) is None:
                # only default routing gets here: rules are checked at load
                raise MisaddressedError(
                    f"{recipient} receives projections only (kind {kind}) and no "
                    f"projection is configured for {standard} {message_code}",
                    code="READER_PROJECTION_MISSING",
                )
        legal = self._legal_bases
        return RouteDecision(
            recipients=recipients,
            external=EXTERNAL in targets,
            rules=tuple(matched),
            projected=projected,
            legal_bases=tuple((n, legal[n]) for n in matched if n in legal),
        )


def check_author(region: Region, source_authority_id: str, author_key: str) -> None:
    """Raise AuthorMismatchError unless ``author_key`` is the sending authority's key.

    ``source_authority_id`` is the authority whose inbound topic carried the
    message. Codes: ``AUTHOR_MISSING`` (no author key), ``AUTHOR_MISMATCH`` (the
    key, well-formed or not, is not that authority's), ``SOURCE_UNKNOWN`` (the
    inbound topic names no authority of the region).
    """
    authority = region.authorities.get(source_authority_id)
    if authority is None:
        raise AuthorMismatchError(
            f"inbound authority {source_authority_id!r} is not in the region",
            code="SOURCE_UNKNOWN",
        )
    if author_key is None or not author_key.strip():
        raise AuthorMismatchError(
            f"the header names no author (inbound authority {authority.id})",
            code="AUTHOR_MISSING",
        )
    if normalise_key(author_key) != authority.dvdv_key:
        raise AuthorMismatchError(
            f"author key {normalise_key(author_key)!r} is not the key of {authority.id} "
            f"({authority.dvdv_key}), whose inbound topic carried the message",
            code="AUTHOR_MISMATCH",
        )


def _validate_rules(rules: Iterable[Rule], region: Region, source: str) -> None:
    seen: set[str] = set()
    for index, rule in enumerate(rules):
        where = f"{source}: rule[{index}] ({rule.name})"
        if rule.name in seen:
            raise ConfigError(f"{where}: duplicate rule name")
        seen.add(rule.name)
        if not rule.copy_to and not rule.redirect_to and not rule.copy_to_kind:
            raise ConfigError(f"{where}: a rule needs copy_to or redirect_to (or copy_to_kind)")
        for kind in rule.copy_to_kind:
            if kind not in region.kinds:
                raise ConfigError(
                    f"{where}: copy_to_kind: unknown kind {kind!r} "
                    f"(known: {', '.join(region.kinds)})"
                )
        for field in ("copy_to", "redirect_to"):
            for target in getattr(rule, field):
                if target != EXTERNAL and target not in region.authorities:
                    raise ConfigError(
                        f"{where}: {field}: unknown authority {target!r} "
                        f"(known: {', '.join(region.authorities)}, {EXTERNAL})"
                    )
        for field in ("author", "reader"):
            for pattern in getattr(rule, field) or ():
                if _GLOB.search(pattern):
                    continue
                status = region.key_status(pattern)
                if status is not KeyStatus.OK:
                    raise ConfigError(
                        f"{where}: {field}: {pattern!r} is not a well-formed DVDV key of a "
                        f"known prefix ({status.value}); use a key or a glob such as 'ags:*'"
                    )
        for pattern in rule.recipient or ():
            if not _GLOB.search(pattern) and pattern != EXTERNAL and pattern not in region:
                raise ConfigError(
                    f"{where}: recipient: unknown authority {pattern!r} "
                    f"(known: {', '.join(region.authorities)}, {EXTERNAL})"
                )
        _check_projected_targets(rule, region, where)


def _check_projected_targets(rule: Rule, region: Region, where: str) -> None:
    """A rule may deliver to a kind that receives projections only when every message it
    can select has a projection for that kind, and it names its legal basis; otherwise it
    would send the XML (and the full event) to that recipient."""
    targets: list[tuple[str, str]] = [
        (f"{field} {target}", region.authorities[target].kind)
        for field in ("copy_to", "redirect_to")
        for target in getattr(rule, field)
        if target != EXTERNAL and region.projected(target)
    ]
    targets += [
        (f"copy_to_kind {kind}", kind) for kind in rule.copy_to_kind if region.kinds[kind].projected
    ]
    for target, kind in targets:
        prefix = (
            f"{where}: {target}: kind {kind!r} receives projections only; the rule would "
            "send the XML to it"
        )
        exact = [
            values for values in (rule.standard, rule.message_code)
            if values is None or any(_GLOB.search(v) for v in values)
        ]
        if exact:
            raise ConfigError(
                f"{prefix} unless it selects exact standards and message codes that all "
                f"have a projection of {kind!r} (give standard and message_code without globs)"
            )
        assert rule.standard is not None and rule.message_code is not None
        missing = [
            f"{standard} {code}"
            for standard in rule.standard
            for code in rule.message_code
            if region.kinds[kind].projection_for(standard, code) is None
        ]
        if missing:
            raise ConfigError(
                f"{prefix} for {', '.join(missing)}, which has no projection of {kind!r} "
                f"(add one under [[kinds.{kind}.projection]] in {region.source})"
            )
        if not rule.legal_basis:
            raise ConfigError(
                f"{where}: {target}: a rule that delivers to {kind!r} (projections only) "
                "must name its legal_basis"
            )

