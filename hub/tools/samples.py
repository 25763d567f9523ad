"""Sample XÖV messages that are valid against a schema package's XSDs.

Works for any package, bundled or installed (official): the generator walks the
xmlschema component model of the package (elements, sequences, choices and
``all`` groups, occurrence bounds, attributes, substitution groups, abstract
types, wildcards, simple types with enumerations, patterns, lengths, bounds,
digits, lists and unions, fixed and default values) and draws every choice
from a ``random.Random`` seeded by the caller, so the same seed gives the same
bytes. Values look real where the element's name says what it holds (names in
the DIN 91379 repertoire, streets and postcodes of the region, dates); every
value is checked against its simple type before it is used.

The header is meaningful (g2g, and the xdomea ``Kopf`` with ``ProzessID``, type,
time and the parties' ``Behoerdenkennung``): a seeded ``nachrichtenUUID``, the message code,
``erstellungszeitpunkt`` with time zone and the DVDV keys of author and reader
(``author_key``/``reader_key``, or defaults that fit the standard).

    >>> xml = generate(package, "0201", seed=7, author_key="ags:05124000")
"""

from __future__ import annotations

import datetime as dt
import random
import threading
import uuid
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from lxml import etree
from xmlschema import XMLResource
from xmlschema.validators import XsdAnyElement, XsdElement, XsdGroup
from xmlschema.validators.validation import ValidationContext

from hub.core.schemas.protocols import MessageLike as MessageTypeLike
from hub.core.schemas.protocols import PackageLike
from hub.errors import HubError
from hub.tools.regex_sample import compile_sampler, sample

__all__ = [
    "DEFAULT_KEYS",
    "MessageTypeLike",
    "PackageLike",
    "SampleError",
    "SampleGenerator",
    "generate",
    "generator_for",
    "resolve_message",
]

XSD = "http://www.w3.org/2001/XMLSchema"
XSI = "http://www.w3.org/2001/XMLSchema-instance"


class SampleError(HubError):
    """No valid sample can be produced (unknown message, unsatisfiable type)."""




#: default (author, reader) DVDV keys by standard when the caller gives none.
DEFAULT_KEYS: Mapping[str, tuple[str, str]] = {
    "XMeld": ("ags:05124000", "ags:05122000"),
    "XPersonenstand": ("psw:05124000", "ags:05122000"),
    "XAuslaender": ("ags:05124000", "abh:05124000"),
    # a registratur hands records to its Stadtarchiv (placeholder keys, hub/config/region.toml)
    "xdomea": ("reg:05124000", "arc:05124000"),
}
_FALLBACK_KEYS = ("ags:05124000", "ags:05120000")

_AUTHORITY_NAMES = {
    "05124000": "Stadt Wuppertal",
    "05122000": "Stadt Solingen",
    "05120000": "Stadt Remscheid",
}
_KIND_NAMES = {
    "ags": "Einwohnermeldeamt",
    "psw": "Standesamt",
    "azr": "Ausländerbehörde",
    "abh": "Ausländerbehörde",
    "reg": "Registratur",
    "arc": "Stadtarchiv",
}
# xdomea Kopf: the Behoerdenkennung of Absender/Empfaenger (optional in the XSD) is
# always generated, because the hub routes by it
_XDOMEA_PARTIES = ("Absender", "Empfaenger")
_XDOMEA_KEY_PARTS = ("Praefix", "Behoerdenschluessel", "Kennung")

# --------------------------------------------------------------------------- pools
# Names in the DIN 91379 repertoire: accented Latin, ligatures, combining
# sequences (u + U+0307). U+01C4 (Ǆ) is not in DIN 91379 normative Latin, so
# the name is also given as D + ž; values are only used where the type admits them.
SURNAMES = (
    "Müller", "Schmidt", "Hämäläinen", "Öztürk", "Łukasiewicz", "Nguyễn", "Ōtsuka",
    "Dąbrowski", "Kovačević", "Ĳzerman", "O’Brien", "Schäfer-Łęcka", "Wójcik", "Şahin",
    "Džaferović", "Fernández", "Becker", "Hoffmann", "Çelik", "Papadopoulou", "Zoë Lindqvist",
    "Kowalczyk", "Ǧurić", "Weiß", "van der Berg", "Ðặng", "Gu̇rbüz",
)
GIVEN_NAMES = (
    "Łukasz", "Džemal", "Ǆemal", "Aino", "Ĳsbrand", "Zoë", "Renée", "José", "Björn", "Ayşe",
    "Mehmet", "Anna-Lena", "Søren", "Đorđe", "Chloé", "Jürgen", "Hannelore", "Noah", "Emilia",
    "Şu̇krü", "Małgorzata", "Ingrid", "Jörg", "Marie-Thérèse", "Ōta", "Kübra",
)
_REGION = (
    # (municipality, AGS, postcodes, streets)
    ("Wuppertal", "05124000", ("42103", "42105", "42275", "42283", "42349", "42369"),
     ("Friedrich-Ebert-Straße", "Hofaue", "Werth", "Wall", "Neumarkt", "Kohlstraße",
      "Schloßbleiche", "Hünefeldstraße")),
    ("Solingen", "05122000", ("42651", "42653", "42697", "42719"),
     ("Kölner Straße", "Hauptstraße", "Schlagbaumer Straße", "Höhscheider Weg", "Mühlenplatz")),
    ("Remscheid", "05120000", ("42853", "42855", "42897", "42899"),
     ("Alleestraße", "Hastener Straße", "Elberfelder Straße", "Theodor-Heuss-Platz")),
)
_FOREIGN_PLACES = ("Kraków", "İzmir", "Thessaloníki", "Hämeenlinna", "Łódź", "Sarajevo",
                   "Porto", "Kyiv", "Bucureşti", "Zürich")
_FOREIGN_LINES = ("ul. Długa 12", "00-950 Warszawa", "Atatürk Cad. 41", "35210 Konak/İzmir",
                  "Rua das Flores 7", "4050-265 Porto", "Mannerheimintie 5 A 12", "00100 Helsinki")
_STAATEN = ("000", "000", "000", "163", "152", "137", "134", "129", "125", "165", "475")
_TEXTS = ("Angaben laut Melderegister", "Rückfrage beim Bürgerbüro erfolgt",
          "Person unter der angegebenen Anschrift nicht bekannt",
          "Geburtsdatum weicht vom Register ab", "Nachweis liegt vor")


@dataclass
class _Message:
    """Per-message state while one instance is generated."""

    rng: random.Random
    code: str
    uuid: str
    created: str
    author_key: str
    reader_key: str
    overrides: Mapping[str, str]
    ids: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Simple:
    """A simple type prepared for value generation (computed once per type)."""

    xsd_type: Any
    kind: str  # primitive local name, "integer", "list" or "union"
    enumeration: tuple[str, ...]
    patterns: tuple[Any, ...]  # sampler programs, one per derivation step with patterns
    min_length: int | None
    max_length: int | None
    min_value: Any
    max_value: Any
    fraction_digits: int | None
    total_digits: int | None
    members: tuple[_Simple, ...] = ()


_GENERATORS: weakref.WeakKeyDictionary[Any, SampleGenerator] = weakref.WeakKeyDictionary()
_GENERATORS_LOCK = threading.Lock()


def generator_for(package: PackageLike) -> SampleGenerator:
    """The generator of a package, built once and kept as long as the package lives."""
    with _GENERATORS_LOCK:
        gen = _GENERATORS.get(package)
        if gen is None:
            gen = SampleGenerator(
                package.xmlschema_schema(),
                standard=package.standard,
                version=package.version,
                messages=list(package.messages.values()),
            )
            _GENERATORS[package] = gen
    return gen


def resolve_message(messages: Sequence[MessageTypeLike], ident: str) -> MessageTypeLike:
    """A message type by root name, ``{namespace}root`` or code."""
    for message in messages:
        if ident in (message.root, message.code, f"{{{message.namespace}}}{message.root}"):
            return message
    known = ", ".join(sorted(m.root for m in messages)) or "none"
    raise SampleError(f"unknown message type {ident!r} (known: {known})")


def generate(
    package: PackageLike,
    message_type: str | MessageTypeLike,
    *,
    seed: int,
    author_key: str | None = None,
    reader_key: str | None = None,
    overrides: Mapping[str, str] | None = None,
) -> bytes:
    """One valid instance of ``message_type`` (root name, code or MessageType) as UTF-8 XML.

    ``overrides`` maps paths of local names below the root (``"a/b/c"``, or
    ``"a/@attr"`` for an attribute) to the text to use there; they win over the
    header values too (e.g. a current ``erstellungszeitpunkt``:
    ``"nachrichtenkopf.g2g/identifikation.nachricht/erstellungszeitpunkt"``).
    Thread-safe; one generator per package is cached.
    """
    return generator_for(package).generate(
        message_type, seed=seed, author_key=author_key, reader_key=reader_key, overrides=overrides
    )


class SampleGenerator:
    """Generates instances of the message types of one compiled xmlschema schema."""

    #: elements deeper than this get only their required content
    max_depth = 18

    def __init__(
        self,
        schema: Any,
        *,
        standard: str,
        version: str,
        messages: Sequence[MessageTypeLike],
    ) -> None:
        self.schema = schema
        self.standard = standard
        self.version = version
        self.messages = list(messages)
        self._simple: dict[int, _Simple] = {}
        self._valid: dict[tuple[int, str], bool] = {}
        self._concrete: dict[int, list[Any]] = {}
        self._codelike: dict[int, bool] = {}
        #: one reusable context: simple values are checked with raw_decode (cheap)
        self._context = ValidationContext(XMLResource("<sample/>"))
        self._lock = threading.Lock()  # the caches and the context are shared state
        self._prefixes: dict[str, str] = {}
        for prefix, uri in schema.namespaces.items():
            if prefix and uri and uri not in self._prefixes:
                self._prefixes[uri] = prefix

    # ------------------------------------------------------------------ public
    def generate(
        self,
        message_type: str | MessageTypeLike,
        *,
        seed: int,
        author_key: str | None = None,
        reader_key: str | None = None,
        overrides: Mapping[str, str] | None = None,
    ) -> bytes:
        message = (
            resolve_message(self.messages, message_type)
            if isinstance(message_type, str)
            else message_type
        )
        qname = f"{{{message.namespace}}}{message.root}"
        try:
            xsd_element = self.schema.maps.elements[qname]
        except KeyError:
            raise SampleError(f"the package's schemas declare no element {qname}") from None
        rng = random.Random(f"{seed}:{qname}")
        default_author, default_reader = DEFAULT_KEYS.get(self.standard, _FALLBACK_KEYS)
        base = dt.datetime(2025, 11, 3, 8, 0, tzinfo=dt.timezone(dt.timedelta(hours=1)))
        created = base + dt.timedelta(
            seconds=rng.randrange(0, 90 * 86400), milliseconds=rng.randrange(1000)
        )
        ctx = _Message(
            rng=rng,
            code=message.code,
            uuid=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            created=created.isoformat(timespec="milliseconds"),
            author_key=author_key or default_author,
            reader_key=reader_key or default_reader,
            overrides=dict(overrides or {}),
        )
        prefix = self._prefixes.get(message.namespace, "ns")
        root = etree.Element(qname, nsmap={prefix: message.namespace})
        with self._lock:
            self._fill(root, xsd_element, xsd_element.type, (), 0, ctx)
        return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)

    # ------------------------------------------------------------------ structure
    def _child(self, parent: Any, xsd_element: Any, path: tuple[str, ...], depth: int,
               ctx: _Message, scope: dict[str, Any] | None = None) -> None:
        if xsd_element.abstract:
            substitutes = [e for e in self._substitutes(xsd_element) if not e.abstract]
            if not substitutes:
                return
            xsd_element = ctx.rng.choice(substitutes)
        xsd_type = xsd_element.type
        if xsd_type.is_complex() and xsd_type.abstract:
            concrete = self._concrete_types(xsd_type)
            if not concrete:
                raise SampleError(f"no concrete type derived from {xsd_type.name}")
            xsd_type = ctx.rng.choice(concrete)
            namespace, _, local = xsd_type.name[1:].partition("}")
            prefix = self._prefixes.get(namespace, "t")
            node = etree.SubElement(parent, xsd_element.name, nsmap={prefix: namespace, "xsi": XSI})
            node.set(f"{{{XSI}}}type", f"{prefix}:{local}")
        else:
            node = etree.SubElement(parent, xsd_element.name)
        self._fill(node, xsd_element, xsd_type, (*path, xsd_element.local_name), depth + 1, ctx,
                   scope)

    def _fill(self, node: Any, xsd_element: Any, xsd_type: Any, path: tuple[str, ...],
              depth: int, ctx: _Message, scope: dict[str, Any] | None = None) -> None:
        """Fill ``node``; ``scope`` is shared by siblings (one address, one place)."""
        if scope is None:
            scope = {}
        override = ctx.overrides.get("/".join(path)) if path else None
        if xsd_type.is_simple():
            node.text = override if override is not None else self._element_text(
                xsd_element, xsd_type, path, ctx, scope)
            return
        self._attributes(node, xsd_type, path, ctx, scope)
        if xsd_type.has_simple_content():
            node.text = override if override is not None else self._element_text(
                xsd_element, xsd_type.content, path, ctx, scope)
            return
        content = xsd_type.content
        if content is None or not hasattr(content, "model"):
            return
        # one place (municipality, AGS, postcodes, streets) per address subtree
        local = path[-1].lower() if path else ""
        fresh = not path or any(w in local for w in ("anschrift", "wohnung", "gebaeude"))
        box = {} if fresh or "box" not in scope else scope["box"]
        children: dict[str, Any] = {"codelike": self._is_codelike(xsd_type), "box": box}
        for particle in self._particles(content, depth, ctx):
            self._particle(node, particle, path, depth, ctx, children)

    def _particle(self, node: Any, particle: Any, path: tuple[str, ...], depth: int,
                  ctx: _Message, scope: dict[str, Any]) -> None:
        for _ in range(self._count(particle, depth, ctx, path, scope)):
            if isinstance(particle, XsdGroup):
                for inner in self._particles(particle, depth, ctx):
                    self._particle(node, inner, path, depth, ctx, scope)
            elif isinstance(particle, XsdElement):
                self._child(node, particle, path, depth, ctx, scope)
            elif isinstance(particle, XsdAnyElement):
                self._wildcard(node, particle, path, depth, ctx)

    def _is_codelike(self, xsd_type: Any) -> bool:
        """A code-list value (xoev-code style: ``code`` first): its optional parts are left out."""
        key = id(xsd_type)
        known = self._codelike.get(key)
        if known is None:
            first = next(iter(xsd_type.content.iter_elements()), None) if hasattr(
                xsd_type.content, "iter_elements") else None
            known = first is not None and getattr(first, "local_name", None) == "code"
            self._codelike[key] = known
        return known

    def _particles(self, group: Any, depth: int, ctx: _Message) -> Iterator[Any]:
        if group.model != "choice":
            yield from group
            return
        alternatives = list(group)
        if not alternatives:
            return
        if depth >= self.max_depth:
            simple = [a for a in alternatives if isinstance(a, XsdElement) and a.type.is_simple()]
            yield (simple or alternatives)[0]
            return
        # the first alternative is the usual case in XÖV models (full date, inland address)
        if len(alternatives) == 1 or ctx.rng.random() < 0.6:
            yield alternatives[0]
        else:
            yield ctx.rng.choice(alternatives[1:])

    def _count(self, particle: Any, depth: int, ctx: _Message, path: tuple[str, ...],
               scope: dict[str, Any]) -> int:
        low: int = particle.min_occurs
        high: int | None = particle.max_occurs
        name = getattr(particle, "local_name", None)
        if name is not None and path and "/".join((*path, name)) in ctx.overrides:
            return max(low, 1)
        if name is not None and path and path[0] == "Kopf":
            xdomea = _xdomea_address(path, name)
            if xdomea is not None:
                return xdomea if high is None else min(max(low, xdomea), high)
        if depth >= self.max_depth:
            return low
        rng = ctx.rng
        count = low
        if low == 0:
            keep = 0.55 if depth < 4 else 0.4 if depth < 8 else 0.2
            if name == "test" or scope.get("codelike"):
                keep = 0.0
            count = 1 if rng.random() < keep else 0
        more = 0.15 if depth < 6 else 0.08
        if count and (high is None or high > count) and rng.random() < more:
            count += 1
        return count if high is None else min(count, high)

    def _wildcard(self, node: Any, wildcard: Any, path: tuple[str, ...], depth: int,
                  ctx: _Message) -> None:
        if wildcard.process_contents == "strict":
            candidates = [
                e for qn, e in self.schema.maps.elements.items()
                if isinstance(e, XsdElement) and wildcard.is_matching(qn) and not e.abstract
                and not qn.startswith(f"{{{XSD}}}")  # never the meta-schema's own elements
            ]
            if candidates:
                candidates.sort(key=lambda e: e.name)
                chosen = ctx.rng.choice(candidates[:20])
                self._child(node, chosen, path, depth + 2, ctx)
            return
        allowed = list(wildcard.namespace)
        if "##any" in allowed or "##other" in allowed:
            target = "urn:xoev-hub:sample"
        else:
            listed = [ns for ns in allowed if not ns.startswith("##")]
            target = listed[0] if listed else ""
        if wildcard.is_matching(f"{{{target}}}zusatz" if target else "zusatz"):
            extra = etree.SubElement(node, f"{{{target}}}zusatz" if target else "zusatz")
            extra.text = "Beispiel"

    def _attributes(self, node: Any, xsd_type: Any, path: tuple[str, ...], ctx: _Message,
                    scope: dict[str, Any]) -> None:
        for name, attribute in xsd_type.attributes.items():
            if name is None or attribute.use == "prohibited":
                continue
            local = attribute.local_name
            key = "/".join((*path, "@" + local))
            if key in ctx.overrides:
                node.set(attribute.name, ctx.overrides[key])
                continue
            if attribute.fixed is not None:
                node.set(attribute.name, str(attribute.fixed))
                continue
            if attribute.use != "required":
                chance = 0.0 if local == "test" else 0.9 if local == "listVersionID" else 0.5
                if ctx.rng.random() >= chance:
                    continue
            if attribute.default is not None and ctx.rng.random() < 0.5:
                node.set(attribute.name, str(attribute.default))
                continue
            node.set(attribute.name, self._value(attribute.type, (*path, "@" + local), ctx, scope))

    def _element_text(self, xsd_element: Any, simple_type: Any, path: tuple[str, ...],
                      ctx: _Message, scope: dict[str, Any]) -> str:
        if xsd_element.fixed is not None:
            return str(xsd_element.fixed)
        forced = self._header_value(path, ctx)
        if forced is not None and self._is_valid(simple_type, forced):
            return forced
        return self._value(simple_type, path, ctx, scope)

    # ------------------------------------------------------------------ header
    def _header_value(self, path: tuple[str, ...], ctx: _Message) -> str | None:
        if path and path[0] == "Kopf":
            return _xdomea_header_value(path, ctx)
        if "nachrichtenkopf.g2g" not in path:
            return None
        tail = path[-3:]
        last = path[-1]
        if last == "nachrichtenUUID":
            return ctx.uuid
        if last == "erstellungszeitpunkt":
            return ctx.created
        if last == "code" and "nachrichtentyp" in tail:
            return ctx.code
        if last == "code" and "verzeichnisdienst" in tail:
            return "DVDV"
        role = path[-2] if len(path) >= 2 else ""
        if role in ("autor", "leser"):
            key = ctx.author_key if role == "autor" else ctx.reader_key
            if last == "kennung":
                return key
            if last == "name":
                return _authority_name(key)
        return None

    # ------------------------------------------------------------------ simple values
    def _value(self, simple_type: Any, path: tuple[str, ...], ctx: _Message,
               scope: dict[str, Any]) -> str:
        spec = self._spec(simple_type)
        rng = ctx.rng
        if spec.enumeration:
            return str(rng.choice(spec.enumeration))
        if spec.kind == "ID":  # unique in the document
            value = f"id{len(ctx.ids) + 1}"
            if self._is_valid(simple_type, value):
                ctx.ids.append(value)
                return value
        if spec.kind == "IDREF" and ctx.ids:  # refer to an ID emitted before
            value = rng.choice(ctx.ids)
            if self._is_valid(simple_type, value):
                return value
        for candidate in _hinted(spec, path, rng, scope, ctx):
            if self._is_valid(simple_type, candidate):
                return candidate
        for attempt in range(40):
            drawn = self._draw(spec, rng, attempt, scope)
            if drawn is not None and self._is_valid(simple_type, drawn):
                return drawn
        raise SampleError(
            f"cannot generate a value for type {simple_type.name or 'anonymous'}"
            f" at /{'/'.join(path)}"
        )

    def _draw(self, spec: _Simple, rng: random.Random, attempt: int,
              scope: dict[str, Any]) -> str | None:
        if spec.kind == "union":
            return self._draw(rng.choice(spec.members), rng, attempt, scope)
        if spec.kind == "list":
            item = spec.members[0]
            low = spec.min_length or 1
            high = max(low, min(spec.max_length or low + 2, low + 2))
            items = [self._draw(item, rng, attempt, scope) for _ in range(rng.randint(low, high))]
            return " ".join(i for i in items if i is not None)
        if spec.enumeration:
            return str(rng.choice(spec.enumeration))
        maker = _PRIMITIVES.get(spec.kind)
        if maker is not None and spec.kind in _NAMES and attempt % 2 == 0:
            return maker(spec, rng)
        if spec.patterns and maker is not None and spec.kind not in _STRINGS and attempt % 2 == 0:
            return maker(spec, rng)  # dates, numbers: the lexical form usually fits the pattern
        if spec.patterns:
            size = 8 if attempt < 10 else 2 + attempt
            if spec.max_length is not None:
                size = max(1, min(size, spec.max_length))
            drawn = sample(spec.patterns[attempt % len(spec.patterns)], rng, size)
            if not drawn.strip() and attempt < 10:
                return None  # an empty or blank value is legal but says nothing: retry
            return drawn
        if maker is None:
            return None
        return maker(spec, rng)

    def _is_valid(self, simple_type: Any, text: str) -> bool:
        key = (id(simple_type), text)
        known = self._valid.get(key)
        if known is None:
            context = self._context
            context.errors.clear()
            try:
                simple_type.raw_decode(text, "lax", context)
                known = not context.errors
            except Exception:  # any decoding failure means "not valid"
                known = False
            if len(self._valid) > 200_000:
                self._valid.clear()
            self._valid[key] = known
        return known

    def _spec(self, simple_type: Any) -> _Simple:
        spec = self._simple.get(id(simple_type))
        if spec is None:
            spec = _prepare_simple(simple_type)
            self._simple[id(simple_type)] = spec
        return spec

    # ------------------------------------------------------------------ helpers
    def _substitutes(self, head: Any) -> list[Any]:
        found: list[Any] = []
        for member in self.schema.maps.substitution_groups.get(head.name, ()):
            found.append(member)
            found.extend(self._substitutes(member))
        return found

    def _concrete_types(self, base: Any) -> list[Any]:
        cached = self._concrete.get(id(base))
        if cached is None:
            cached = sorted(
                (t for t in self.schema.maps.types.values()
                 if t.is_complex() and not t.abstract and t.is_derived(base)),
                key=lambda t: t.name or "",
            )
            self._concrete[id(base)] = cached
        return cached


# ====================================================================== simple-type specs
def _prepare_simple(simple_type: Any) -> _Simple:
    from xmlschema.validators import XsdList, XsdUnion

    if isinstance(simple_type, XsdUnion):
        return _Simple(simple_type, "union", (), (), None, None, None, None, None, None,
                       tuple(_prepare_simple(m) for m in simple_type.member_types))
    if isinstance(simple_type, XsdList):
        item = _prepare_simple(simple_type.item_type)
        return _Simple(simple_type, "list", _enumeration(simple_type), (),
                       simple_type.min_length, simple_type.max_length, None, None, None, None,
                       (item,))
    base = simple_type
    patterns: list[Any] = []
    fraction: int | None = None
    total: int | None = None
    integer = False
    name_kind: str | None = None
    while base is not None:
        facets = getattr(base, "patterns", None)
        if facets:
            patterns.extend(compile_sampler(p.pattern) for p in facets.patterns)
        for facet_name, facet in getattr(base, "facets", {}).items():
            if facet_name == f"{{{XSD}}}fractionDigits" and fraction is None:
                fraction = int(facet.value)
            elif facet_name == f"{{{XSD}}}totalDigits" and total is None:
                total = int(facet.value)
        base_name = getattr(base, "name", None) or ""
        if base_name == f"{{{XSD}}}integer":
            integer = True
        if name_kind is None and base_name.removeprefix(f"{{{XSD}}}") in _NAMES:
            name_kind = base_name.removeprefix(f"{{{XSD}}}")
        if isinstance(base, (XsdList, XsdUnion)):
            inner = _prepare_simple(base)
            return _Simple(simple_type, inner.kind, _enumeration(simple_type), inner.patterns,
                           simple_type.min_length, simple_type.max_length, None, None, None, None,
                           inner.members)
        base = getattr(base, "base_type", None)
    primitive = getattr(simple_type, "primitive_type", None) or simple_type.root_type
    kind = "integer" if integer else name_kind or (primitive.local_name or "string")
    return _Simple(
        simple_type,
        kind,
        _enumeration(simple_type),
        tuple(patterns),
        getattr(simple_type, "min_length", None),
        getattr(simple_type, "max_length", None),
        getattr(simple_type, "min_value", None),
        getattr(simple_type, "max_value", None),
        fraction,
        total,
    )


def _enumeration(simple_type: Any) -> tuple[str, ...]:
    values = getattr(simple_type, "enumeration", None)
    if not values:
        return ()
    return tuple(str(v) for v in values if v is not None)


# ====================================================================== value makers
def _rand_date(rng: random.Random, start: int, end: int) -> dt.date:
    first = dt.date(start, 1, 1).toordinal()
    return dt.date.fromordinal(rng.randint(first, dt.date(end, 12, 31).toordinal()))


def _tz(rng: random.Random) -> str:
    return rng.choice(("+01:00", "+02:00", "Z"))


def _string(spec: _Simple, rng: random.Random) -> str:
    low = spec.min_length or 1
    high = spec.max_length if spec.max_length is not None else max(low, 12)
    length = rng.randint(low, max(low, min(high, low + 12)))
    return "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(length))


def _number(spec: _Simple, rng: random.Random) -> str:
    low = spec.min_value if spec.min_value is not None else 0
    high = spec.max_value if spec.max_value is not None else max(Decimal(low) + 999, Decimal(999))
    low_i, high_i = int(Decimal(str(low))), int(Decimal(str(high)))
    if spec.total_digits is not None:
        bound = 10 ** (spec.total_digits - (spec.fraction_digits or 0)) - 1
        high_i = min(high_i, bound)
        low_i = max(low_i, -bound)
    if high_i < low_i:
        high_i = low_i
    value = rng.randint(low_i, high_i)
    if spec.kind == "integer" or spec.fraction_digits == 0:
        return str(value)
    if spec.kind in ("float", "double"):
        return f"{value}.{rng.randint(0, 9)}"
    digits = spec.fraction_digits if spec.fraction_digits is not None else 2
    digits = min(digits, 2)
    if digits == 0 or value == high_i:
        return str(value)
    return f"{value}.{rng.randint(0, 10**digits - 1):0{digits}d}"


def _date(spec: _Simple, rng: random.Random) -> str:
    return _rand_date(rng, 1950, 2025).isoformat()


def _datetime(spec: _Simple, rng: random.Random) -> str:
    day = _rand_date(rng, 2024, 2025)
    return (f"{day.isoformat()}T{rng.randint(7, 18):02d}:{rng.randint(0, 59):02d}:"
            f"{rng.randint(0, 59):02d}{_tz(rng)}")


_STRINGS = frozenset({"string", "normalizedString", "token", "language", "Name", "NCName",
                      "NMTOKEN", "ID", "IDREF", "ENTITY"})

#: XML name types: validators disagree on non-ASCII name characters (XML 1.0 4th vs
#: 5th edition), so their values are ASCII; ID/IDREF are handled per message.
_NAMES = frozenset({"ID", "IDREF", "ENTITY", "NCName", "NMTOKEN", "Name", "language"})


def _ascii_name(spec: _Simple, rng: random.Random) -> str:
    first = rng.choice("abcdefghijklmnopqrstuvwxyz")
    return first + "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789")
                           for _ in range(rng.randint(3, 8)))


_PRIMITIVES: dict[str, Callable[[_Simple, random.Random], str]] = {
    "string": _string,
    "normalizedString": _string,
    "token": _string,
    "anyURI": lambda s, r: f"urn:xoev-hub:beispiel:{r.randint(1, 999)}",
    "boolean": lambda s, r: r.choice(("true", "false")),
    "decimal": _number,
    "integer": _number,
    "float": _number,
    "double": _number,
    "date": _date,
    "dateTime": _datetime,
    "time": lambda s, r: f"{r.randint(0, 23):02d}:{r.randint(0, 59):02d}:00",
    "gYear": lambda s, r: str(r.randint(1950, 2025)),
    "gYearMonth": lambda s, r: f"{r.randint(1950, 2025)}-{r.randint(1, 12):02d}",
    "gMonthDay": lambda s, r: f"--{r.randint(1, 12):02d}-{r.randint(1, 28):02d}",
    "gMonth": lambda s, r: f"--{r.randint(1, 12):02d}",
    "gDay": lambda s, r: f"---{r.randint(1, 28):02d}",
    "duration": lambda s, r: f"P{r.randint(1, 30)}D",
    "base64Binary": lambda s, r: "eG9ldi1odWI=",
    "hexBinary": lambda s, r: "".join(r.choice("0123456789ABCDEF") for _ in range(8)),
    "NCName": _ascii_name,
    "Name": _ascii_name,
    "NMTOKEN": _ascii_name,
    "ENTITY": _ascii_name,
    "ID": _ascii_name,
    "IDREF": _ascii_name,
    "language": lambda s, r: r.choice(("de", "de-DE", "en")),
    "QName": lambda s, r: "beispiel",  # unprefixed: needs no namespace declaration
}


# ====================================================================== hints
_Place = tuple[str, str, tuple[str, ...], tuple[str, ...]]


def _place(scope: dict[str, Any], rng: random.Random) -> _Place:
    box: dict[str, Any] = scope.setdefault("box", {})
    place: _Place | None = box.get("place")
    if place is None:
        place = box["place"] = rng.choice(_REGION)
    return place


_TEXT_KINDS = frozenset({"string", "normalizedString", "token", "union"})
_SURNAME_CONTEXT = ("familienname", "nachname", "geburtsname", "ehename",
                    "lebenspartnerschaftsname")
_SURNAME_LAST = frozenset({"name", "nachname", "familienname", "geburtsname", "ehename",
                           "nachnamepass"})
_SIMPLE_TAGS = {
    "produkt": "produkt", "produkthersteller": "produkthersteller",
    "produktversion": "produktversion",
    "ordensname": "surname", "kuenstlername": "surname", "gemeinsamername": "surname",
    "wert.rueckmelder": "surname", "wert.auswerter": "surname",
    "strasse": "street", "strassenname": "street",
    "wohnort": "city", "ort": "city", "gemeinde": "city", "gemeindename": "city",
    "postleitzahl": "postcode", "plz": "postcode",
    "gemeindeschluessel": "ags", "ags": "ags", "amtlichergemeindeschluessel": "ags",
    "geburtsort": "birthplace", "sterbeort": "birthplace", "hausnummer": "housenumber",
    "anschriftzeile": "foreignline", "listversionid": "listversion", "zusatz": "zusatz",
    "hinweis": "text", "zusatzangaben": "text", "dokumentbeschreibung": "text",
    "ansprechpartner": "contact",
}
_HINT_TAGS: dict[tuple[tuple[str, ...], str], tuple[str, ...]] = {}


def _hint_tags(tail: tuple[str, ...], kind: str) -> tuple[str, ...]:
    """What the element at a path (its last three names) holds; computed once per path."""
    key = (tail, kind)
    tags = _HINT_TAGS.get(key)
    if tags is not None:
        return tags
    last = tail[-1].lstrip("@").lower() if tail else ""
    context = "/".join(tail).lower()
    found: list[str] = []
    if tail and kind in _TEXT_KINDS:
        if any(w in context for w in _SURNAME_CONTEXT) and last in _SURNAME_LAST:
            found.append("surname")
        if "vorname" in context or last in ("rufname", "vornamen"):
            found.append("given")
        if last in _SIMPLE_TAGS:
            found.append(_SIMPLE_TAGS[last])
        elif last.startswith("wohnort") or last.endswith("gemeindename"):
            found.append("city")
        elif last == "wohnungsinhaber":
            found.append("surname")
        elif last.startswith("stockwerk"):
            found.append("floor")
        if last in ("behoerde", "behoerdenname", "ausstellendebehoerde", "name") and (
                "nachweis" in context or "behoerde" in last or "eintrag" in context):
            found.append("office")
        if last.startswith("aktenzeichen"):
            found.append("fileref")
        if last == "kennung" and "erreichbarkeit" in context:
            found.append("contactkey")
        elif last == "kennung" and ("autor" in context or "leser" in context):
            found.append("author" if "autor" in context else "reader")
    if last == "code":
        if "staat" in context or "staatsangehoerigkeit" in context:
            found.append("state")
        elif "kanal" in context:
            found.append("channel")
        elif "gemeindeschluessel" in context:
            found.append("ags")
        elif "geschlecht" in context:
            found.append("sex")
    if kind == "date":
        if "geburt" in context:
            found.append("birthdate")
        elif any(w in last for w in ("gueltig", "frist", "befristet")):
            found.append("futuredate")
        else:
            found.append("recentdate")
    if kind == "gYear" and "geburt" in context:
        found.append("birthyear")
    tags = tuple(found)
    if len(_HINT_TAGS) < 50_000:
        _HINT_TAGS[key] = tags
    return tags


def _hinted(spec: _Simple, path: tuple[str, ...], rng: random.Random, scope: dict[str, Any],
            ctx: _Message) -> Iterator[str]:
    """Realistic candidates for the element at ``path`` (checked by the caller)."""
    for tag in _hint_tags(path[-3:], spec.kind):
        if tag == "surname":
            yield from _picks(SURNAMES, rng, 4)
        elif tag == "given":
            first = _picks(GIVEN_NAMES, rng, 4)
            if rng.random() < 0.3:
                yield f"{first[0]} {first[1]}"
            yield from first
        elif tag == "street":
            yield from _picks(_place(scope, rng)[3], rng, 3)
        elif tag == "city":
            yield _place(scope, rng)[0]
        elif tag == "postcode":
            yield rng.choice(_place(scope, rng)[2])
        elif tag == "ags":
            yield _place(scope, rng)[1]
        elif tag == "birthplace":
            yield rng.choice(_PLACES)
        elif tag == "housenumber":
            yield str(rng.randint(1, 180))
        elif tag == "foreignline":
            yield from _picks(_FOREIGN_LINES, rng, 2)
        elif tag == "office":
            place = rng.choice(_REGION)[0]
            yield rng.choice((f"Standesamt {place}", f"Stadt {place}, Bürgerbüro"))
        elif tag == "fileref":
            office = rng.choice(("StA", "MB", "ABH"))
            yield f"{office}-{rng.randint(2019, 2025)}/{rng.randint(1, 9999):04d}"
        elif tag == "contactkey":
            yield rng.choice(("buergerbuero@stadt.example", "+49 202 563-0", "+49 212 290-0"))
        elif tag == "author":
            yield ctx.author_key
        elif tag == "reader":
            yield ctx.reader_key
        elif tag == "listversion":
            yield rng.choice(("1", "2", "3"))
        elif tag == "zusatz":
            yield rng.choice(("Bürgerbüro", "Zentrale", "Sachgebiet Meldewesen"))
        elif tag == "text":
            yield rng.choice(_TEXTS)
        elif tag == "contact":
            yield f"{rng.choice(('Frau', 'Herr'))} {rng.choice(SURNAMES)}"
        elif tag == "state":
            yield rng.choice(_STAATEN)
        elif tag == "floor":
            yield rng.choice(("EG", "1. OG links", "2. OG rechts", "3. OG Mitte", "DG"))
        elif tag == "channel":
            yield rng.choice(("01", "02", "04"))
        elif tag == "sex":
            yield rng.choice(("m", "w", "d", "x"))
        elif tag == "birthdate":
            yield _rand_date(rng, 1938, 2024).isoformat()
        elif tag == "futuredate":
            yield _rand_date(rng, 2026, 2035).isoformat()
        elif tag == "recentdate":
            yield _rand_date(rng, 2024, 2025).isoformat()
        elif tag == "birthyear":
            yield str(rng.randint(1938, 2024))
        elif tag in _FIXED_HINTS:
            yield _FIXED_HINTS[tag]


_PLACES = (*(p[0] for p in _REGION), *_FOREIGN_PLACES)
_FIXED_HINTS = {
    "produkt": "xoev-hub Simulator",
    "produkthersteller": "xoev-hub Projekt, Bergisches Städtedreieck",
    "produktversion": "0.1.0",
}


def _xdomea_address(path: tuple[str, ...], name: str) -> int | None:
    """How often an element of the xdomea ``Kopf`` must occur (None: as the XSD says).

    One ``Empfaenger`` (the reader key), and each party's ``Behoerdenkennung`` with
    ``Praefix`` and ``Behoerdenschluessel`` (3.0.0) or ``Kennung`` (2.4.0)."""
    if len(path) == 1 and name == "Empfaenger":
        return 1
    if len(path) == 2 and path[1] in _XDOMEA_PARTIES and name == "Behoerdenkennung":
        return 1
    if len(path) == 3 and path[1] in _XDOMEA_PARTIES and path[2] == "Behoerdenkennung" and (
        name in _XDOMEA_KEY_PARTS
    ):
        return 1
    return None


def _xdomea_header_value(path: tuple[str, ...], ctx: _Message) -> str | None:
    """Values of the xdomea ``Kopf``: ProzessID, type, time and the parties' keys."""
    last = path[-1]
    if path == ("Kopf", "ProzessID"):
        return ctx.uuid
    if path == ("Kopf", "Erstellungszeitpunkt"):
        return ctx.created
    if path == ("Kopf", "Nachrichtentyp", "code"):
        return ctx.code
    if len(path) == 5 and path[1] in _XDOMEA_PARTIES and path[2] == "Behoerdenkennung" and (
        last == "code"
    ):
        key = ctx.author_key if path[1] == "Absender" else ctx.reader_key
        prefix, _, ident = key.partition(":")
        return prefix if path[3] == "Praefix" else ident if path[3] in _XDOMEA_KEY_PARTS else None
    return None


def _picks(pool: Sequence[str], rng: random.Random, n: int) -> list[str]:
    return rng.sample(list(pool), min(n, len(pool)))


def _authority_name(key: str) -> str:
    prefix, _, ident = key.partition(":")
    city = _AUTHORITY_NAMES.get(ident[:8])
    kind = _KIND_NAMES.get(prefix, "Behörde")
    return f"{city}, {kind}" if city else f"{kind} {ident}"
