"""Deterministic Avro names for XML names.

XÖV names contain dots and hyphens (``anschrift.inland``, ``type.basisnachricht``);
Avro names must match ``[A-Za-z_][A-Za-z0-9_]*``. :func:`avro_name` maps every other
character to ``_`` (letters with diacritics lose them first); a :class:`NameScope`
resolves collisions by appending ``_2``, ``_3``, … in the order names are
allocated, which is the deterministic schema order.
"""

from __future__ import annotations

import re
import unicodedata

_INVALID = re.compile(r"[^A-Za-z0-9_]")


def local_name(clark: str) -> str:
    """``{ns}local`` → ``local``; a name without namespace is returned unchanged."""
    return clark.rsplit("}", 1)[-1]


def namespace_of(clark: str) -> str:
    """``{ns}local`` → ``ns``; ``""`` for a name without namespace."""
    return clark[1:].split("}", 1)[0] if clark.startswith("{") else ""


def avro_name(xml_name: str) -> str:
    """A valid Avro name for an XML local name (not yet collision free)."""
    ascii_name = (
        unicodedata.normalize("NFKD", xml_name.replace("ß", "ss"))
        .encode("ascii", "ignore")
        .decode("ascii")
    )
    name = _INVALID.sub("_", ascii_name) or "_"
    if name[0].isdigit():
        name = "_" + name
    return name


def avro_namespace(standard: str, version: str) -> str:
    """Namespace of a package's named types, e.g. ``de.xoev.xmeld.v25_11a``."""
    return f"de.xoev.{avro_name(standard.lower())}.v{_INVALID.sub('_', version)}"


class NameScope:
    """Hands out unique names; the first claimant of a base name keeps it."""

    def __init__(self, reserved: tuple[str, ...] = ()) -> None:
        self._taken: set[str] = set(reserved)

    def claim(self, base: str) -> str:
        name = base
        counter = 2
        while name in self._taken:
            name = f"{base}_{counter}"
            counter += 1
        self._taken.add(name)
        return name
