"""The regex sampler draws strings that match XSD patterns (as translated by elementpath)."""

from __future__ import annotations

import random
import re

import pytest
from elementpath.regex import translate_pattern

from hub.tools.regex_sample import compile_sampler, sample

XSD_PATTERNS = [
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}",
    r"[a-z]{3}:[0-9A-Za-z\-]{1,30}",
    r"\d{5}",
    r"[^<>&]{2,6}",
    r"(ab|c[d-f]+)?\s?x*",
    r"\p{Lu}\p{Ll}+",
    r"[\i-[:]][\c-[:]]*",
    r"([A-Za-z&#xC0;-&#xD6;][&#x300;-&#x331;]{0,2}|[ '\-])+".replace("&#xC0;", "\u00c0")
    .replace("&#xD6;", "\u00d6").replace("&#x300;", "\u0300").replace("&#x331;", "\u0331"),
    r".+T.+(Z|[+\-][0-9]{2}:[0-9]{2})",
]


@pytest.mark.parametrize("xsd_pattern", XSD_PATTERNS)
def test_samples_match_their_pattern(xsd_pattern: str) -> None:
    python = translate_pattern(xsd_pattern, back_references=False, lazy_quantifiers=False,
                               anchors=False)
    compiled = re.compile(python)
    program = compile_sampler(python)
    rng = random.Random(5)
    drawn = [sample(program, rng) for _ in range(200)]
    assert all(compiled.match(s) for s in drawn), [s for s in drawn if not compiled.match(s)]
    assert len(set(drawn)) > 1


def test_sampling_is_deterministic_per_seed() -> None:
    program = compile_sampler(r"[A-Z]{3}[0-9]{4}")
    first = [sample(program, random.Random(1)) for _ in range(3)]
    assert first == [sample(program, random.Random(1)) for _ in range(3)]
