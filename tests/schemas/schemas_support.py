"""Paths shared by the schema tests (imported by conftest.py and the tests)."""

from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
MINI = DATA / "mini"

#: the official sets of ../shared/xoev-official the conformance tests install
OFFICIAL_SETS = (
    "xmeld-25.11a",
    "xpersonenstand-25.11",
    "xdomea-2.4.0",
    "xdomea-3.0.0",
    "xwasser-1.0.0",
)


def _official() -> Path:
    # ../shared beside the checkout; worktrees sit one level deeper (wt/<name>)
    for parent in HERE.parents:
        if (parent / "shared" / "xoev-official").is_dir():
            return parent / "shared" / "xoev-official"
    return HERE.parents[2] / "shared" / "xoev-official"


OFFICIAL = _official()
