"""Child process of test_hostile.py: run every hostile input through the hub.

    python probe.py SCHEMA_DIR DATA_DIR [--control]

``--control`` (negative control): inside the window, parse ``xxe-file.xml``
with an *unsafe* lxml parser instead; the trace must then show the read of
``/etc/passwd`` — proof that the observation would catch a leak.

Everything that may legitimately touch the file system (imports, reading the
corpus into memory, compiling the schema package, glibc/libxml2 lazy loading on
benign input) happens first. Then the probe opens the non-existent path
``MARKER/START``, checks every hostile input, opens ``MARKER/END`` and prints
the results as JSON. Under ``strace`` the two failed ``openat`` calls frame the
window in which no file may be opened and no socket created or connected.
Memory is capped (RLIMIT_AS) so that an expansion bomb would fail loudly.
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import sys
import time
from pathlib import Path

MARKER = "/nonexistent-xoev-hub-strace-marker"
MEMORY_CAP = 1024 * 1024 * 1024


def _mark(name: str) -> None:
    with contextlib.suppress(OSError):
        os.open(f"{MARKER}/{name}", os.O_RDONLY)


def main() -> int:
    schema_dir, data_dir = Path(sys.argv[1]), Path(sys.argv[2])
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP))
    from hub.core.schemas import SchemaRegistry
    from hub.core.validation import check
    from hub.core.xmlsafe import Limits, parse_xml

    registry = SchemaRegistry.load([schema_dir])
    for package in registry.packages:
        package.lxml_schema()
    limits = Limits()
    corpus = {p.name: p.read_bytes() for p in sorted(data_dir.iterdir()) if p.is_file()}
    corpus["(generated) oversized"] = b"<r>" + b"a" * limits.max_bytes + b"</r>"
    # benign warm-up: the same code paths (valid, malformed, unknown, UTF-16,
    # an encoding name libxml2 hands to iconv) without any hostile content
    benign = [
        (data_dir.parent.parent / "schemas" / "data" / "valid-0101.xml").read_bytes(),
        b"<a><b></a>",
        b"<x:r xmlns:x='urn:example:warm-up'/>",
        "<?xml version='1.0' encoding='UTF-16'?><r>warm</r>".encode("utf-16"),
        b"<?xml version='1.0' encoding='X-WARM-UP'?><r/>",
        b"not xml",
    ]
    for data in benign:
        check(data, registry, limits)
    results: dict[str, dict[str, object]] = {}
    if "--control" in sys.argv:
        from lxml import etree

        unsafe = etree.XMLParser(resolve_entities=True, load_dtd=True, no_network=False)
        _mark("START")
        etree.fromstring(corpus["xxe-file.xml"], unsafe)
        _mark("END")
        print(json.dumps({"results": {}, "peak_rss_kib": 0}))
        return 0
    _mark("START")
    for name, data in corpus.items():
        started = time.perf_counter()
        report = check(data, registry, limits)
        parsed_text = None
        if report.code in (None, "UNKNOWN_NAMESPACE", "UNKNOWN_VERSION"):
            root = parse_xml(data, limits)
            parsed_text = "".join(root.itertext())
        results[name] = {
            "valid": report.valid,
            "code": report.code,
            "message": report.problems[0].message if report.problems else None,
            "seconds": round(time.perf_counter() - started, 4),
            "text": parsed_text,
        }
    _mark("END")
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"results": results, "peak_rss_kib": peak_kib}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
