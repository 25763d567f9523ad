"""Hostile input: every case gets its own code, reads no file, opens no connection.

The corpus lives in ``data/`` (``expected.json`` maps each file to the code
the hub must give; the oversized input is generated). The proof runs
``probe.py`` in a child process under ``strace -f -e trace=%file,%network``:
system calls are observed at the kernel boundary, so they cover libxml2's C
code as well as Python (an audit hook would miss C-level ``open()``). Inside
the window framed by the probe's two marker ``openat`` calls there must be no
file-opening call (``open``, ``openat``, ``stat`` of a target, ...) and no
``socket``/``connect``. The entity targets are ``file:///etc/passwd``,
``/etc/hostname`` and ``http://127.0.0.1:9``; any attempt would show up.
Bounded memory: the child runs with a 1 GiB address-space limit; bounded
time: the child must finish within the subprocess timeout.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from hub.core.schemas import install
from hub.testing.tools import require_tool

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
DATA = HERE / "data"
MINI = HERE.parent / "schemas" / "data" / "mini"
EXPECTED: dict[str, str] = json.loads((HERE / "expected.json").read_text("utf-8"))
PROBE_MARKER = "/nonexistent-xoev-hub-strace-marker"

# system calls that name a path or create/connect a socket
_FILE_OR_NET = re.compile(
    r"\b(open|openat|openat2|creat|stat|lstat|newfstatat|statx|access|faccessat2?|readlink"
    r"|execve|socket|connect|sendto|bind)\("
)


def _run_probe(
    tmp_path_factory: pytest.TempPathFactory, *extra: str
) -> tuple[dict[str, object], list[str]]:
    strace = require_tool("strace")
    schema_dir = tmp_path_factory.mktemp("hostile-schemas")
    install(MINI, schema_dir)
    log = tmp_path_factory.mktemp("strace") / "trace.log"
    result = subprocess.run(
        [strace, "-f", "-qq", "-e", "trace=%file,%network", "-o", str(log),
         sys.executable, str(HERE / "probe.py"), str(schema_dir), str(DATA), *extra],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},  # this checkout's hub
    )
    if "ptrace" in result.stderr and result.returncode != 0:
        pytest.skip(f"strace cannot trace here: {result.stderr.strip()[:200]}")
    assert result.returncode == 0, result.stderr[-2000:]
    lines = log.read_text(errors="replace").splitlines()
    starts = [i for i, line in enumerate(lines) if f"{PROBE_MARKER}/START" in line]
    ends = [i for i, line in enumerate(lines) if f"{PROBE_MARKER}/END" in line]
    assert len(starts) == 1 and len(ends) == 1, "markers missing from the trace"
    window = lines[starts[0] + 1 : ends[0]]
    return json.loads(result.stdout), window


@pytest.fixture(scope="module")
def probe_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, object], list[str]]:
    return _run_probe(tmp_path_factory)


def test_negative_control_the_trace_sees_a_leak(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """An unsafe parser on xxe-file.xml inside the window is caught by the detector."""
    _output, window = _run_probe(tmp_path_factory, "--control")
    offending = [line for line in window if _FILE_OR_NET.search(line)]
    assert any("/etc/passwd" in line for line in offending), window[:20]


def test_corpus_is_complete() -> None:
    files = {p.name for p in DATA.iterdir() if p.is_file()}
    assert files == {name for name in EXPECTED if not name.startswith("(generated)")}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_hostile_input_gets_its_code(
    probe_run: tuple[dict[str, object], list[str]], name: str
) -> None:
    output, _window = probe_run
    results = output["results"]
    assert isinstance(results, dict)
    result = results[name]
    assert result["valid"] is False
    assert result["code"] == EXPECTED[name], result


def test_no_file_read_and_no_connection(probe_run: tuple[dict[str, object], list[str]]) -> None:
    _output, window = probe_run
    offending = [line for line in window if _FILE_OR_NET.search(line)]
    assert offending == [], "\n".join(offending[:20])


def test_no_entity_content_leaks(probe_run: tuple[dict[str, object], list[str]]) -> None:
    output, _window = probe_run
    results = output["results"]
    assert isinstance(results, dict)
    passwd_marker = "root:"
    for name, result in results.items():
        assert passwd_marker not in json.dumps(result), name


def test_utf16_with_bom_is_accepted_by_parsing(
    probe_run: tuple[dict[str, object], list[str]],
) -> None:
    output, _window = probe_run
    results = output["results"]
    assert isinstance(results, dict)
    # parsed fine, text decoded correctly; rejected only because no package knows <r>
    assert results["utf16-bom.xml"]["text"] == "Müller-Lüdenscheidt ß"
    assert results["xinclude.xml"]["text"] == ""  # XInclude is never processed


def test_memory_stays_bounded(probe_run: tuple[dict[str, object], list[str]]) -> None:
    output, _window = probe_run
    peak = output["peak_rss_kib"]
    assert isinstance(peak, int)
    # a bomb expansion would need gigabytes; the whole probe stays far below the cap
    assert peak < 512 * 1024
