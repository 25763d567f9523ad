"""Canonical XML for comparing messages: C14N 2.0 without prefix choices.

``canonical_xml`` canonicalizes with ``rewrite_prefixes=True`` (prefixes become
``n0``, ``n1``, … in order of use, so the choice of prefixes and unused namespace
declarations do not matter) and ``strip_text=True`` (insignificant whitespace
around text is dropped). Comments are dropped; only the root element is compared.
"""

from __future__ import annotations

from lxml import etree


def canonical_xml(message: bytes | etree._Element) -> str:
    """C14N 2.0 of a message's root element, prefixes rewritten, text stripped."""
    root = etree.fromstring(message) if isinstance(message, bytes) else message
    text: str = etree.canonicalize(
        root, strip_text=True, rewrite_prefixes=True, with_comments=False
    )
    return text
