"""Benchmark: parse + validate + convert + Avro encode per message, one core.

Compares the hub's compiled plan (lxml parse, lxml XSD validation, plan.to_record,
fastavro schemaless encoding with the single-object header) against the
straightforward baseline measured in the same run: xmlschema ``to_dict`` (which
parses and validates too) and fastavro writing a generic schema (the dict as a
JSON-like Avro map/array/string union). Then the peak memory with the plans of
every official set (and bundled package, when the registry is there) loaded.

    python bench/bench_convert.py [--file MESSAGE.xml] [--seconds 3]

Goals: >= 5,000 msgs/s, >= 10x the baseline, < 300 MB with all plans loaded.
"""

from __future__ import annotations

import argparse
import gc
import io
import os
import resource
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any

import fastavro
from lxml import etree

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from hub.avro import Envelope, OfficialSet  # noqa: E402
from hub.avro.catalog import compile_plans  # noqa: E402


def _official_dir() -> Path:
    for candidate in (REPO.parent / "shared", REPO.parent.parent / "shared"):
        if (candidate / "xoev-official").is_dir():
            return candidate / "xoev-official"
    raise SystemExit("official XÖV sets not found beside the repository")


def _bundled_xmeld() -> Any:
    """The bundled XMeld 25.11a package of the registry, if the registry is there."""
    try:
        from hub.core.schemas import SchemaRegistry
    except ImportError:
        return None
    registry = SchemaRegistry.load([REPO / "hub" / "schemas_data" / "xoev"])
    for package in registry.packages:
        if (package.standard, package.version) == ("XMeld", "25.11a"):
            return package
    return None


ENVELOPE = Envelope(
    message_id="00000000-0000-4000-8000-000000000000",
    standard="XMeld",
    version="25.11a",
    message_type_code="0201",
    message_type_name="rueckmeldung.anmeldunginland",
    author_key="ags:05124000",
    reader_keys=("ags:05122000",),
    created="2026-11-25T10:00:00+01:00",
    received="2026-11-25T09:00:00.000Z",
    trace_id="0af7651916cd43dd8448eb211c80319c",
)

#: The generic baseline schema: the flattened document as path → scalar.
GENERIC_SCHEMA = fastavro.parse_schema(
    {"type": "map", "values": ["null", "string", "boolean", "long", "double"]}
)


def _flatten_for_generic(value: Any, prefix: str, out: dict[str, Any]) -> None:
    """Flatten xmlschema's nested dict into path → scalar (a generic Avro map)."""
    if isinstance(value, dict):
        for key, item in value.items():
            _flatten_for_generic(item, f"{prefix}/{key}", out)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _flatten_for_generic(item, f"{prefix}[{index}]", out)
    elif value is None or isinstance(value, str | bool | int | float):
        out[prefix] = value
    else:
        out[prefix] = str(value)  # Decimal, dates, …


def _rate(function: Any, seconds: float) -> float:
    """Calls per second of CPU time of this process (one core; the machine is shared)."""
    function()  # warm up
    count = 0
    start = time.process_time()
    deadline = start + seconds
    while True:
        for _ in range(20):
            function()
        count += 20
        now = time.process_time()
        if now >= deadline:
            return count / (now - start)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--file", type=Path, help="message to convert (default: a Rückmeldung)")
    parser.add_argument("--seconds", type=float, default=3.0, help="time per measurement")
    parser.add_argument(
        "--official", action="store_true", help="use the official XMeld 25.11a set, not bundled"
    )
    args = parser.parse_args()

    official = _official_dir()
    xmeld: Any = OfficialSet(official / "xmeld-25.11a")
    bundled = _bundled_xmeld()
    if args.file is None and bundled is not None and not args.official:
        xmeld = bundled
        message = bundled.path / "samples" / "rueckmeldung.anmeldunginland.0201.xml"
    else:
        message = args.file or official / "xmeld-25.11a/samples/spec_test/test-template.xml"
    data = message.read_bytes()
    print(f"package: {xmeld.standard} {xmeld.version} ({type(xmeld).__name__})")
    print(f"message: {message.name}, {len(data)} bytes", flush=True)
    print(
        f"load average: {' '.join(f'{x:.1f}' for x in os.getloadavg())} (rates are per CPU second)"
    )

    plans = compile_plans(xmeld)
    lxml_schema = xmeld.lxml_schema()
    root_tag = etree.fromstring(data).tag
    plan = plans[root_tag]
    parser_ = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)

    def hub_path() -> bytes:
        root = etree.fromstring(data, parser_)
        if not lxml_schema.validate(root):
            raise SystemExit(f"{message.name} is not valid: {lxml_schema.error_log.last_error}")
        return plan.encode(plan.to_record(root, ENVELOPE, validated=True))

    xs = xmeld.xmlschema_schema()

    def baseline() -> bytes:
        decoded = xs.to_dict(data.decode("utf-8"), validation="strict")
        flat: dict[str, Any] = {}
        _flatten_for_generic(decoded, "", flat)
        out = io.BytesIO()
        fastavro.schemaless_writer(out, GENERIC_SCHEMA, flat)
        return out.getvalue()

    encoded = hub_path()
    print(f"event: {len(encoded)} bytes (single-object encoding)", flush=True)
    hub_rate = _rate(hub_path, args.seconds)
    base_rate = _rate(baseline, min(args.seconds, 3.0))

    root = etree.fromstring(data, parser_)
    parse_rate = _rate(lambda: etree.fromstring(data, parser_), args.seconds / 2)
    validate_rate = _rate(lambda: lxml_schema.validate(root), args.seconds / 2)
    record = plan.to_record(root, ENVELOPE)
    convert_rate = _rate(lambda: plan.to_record(root, ENVELOPE, validated=True), args.seconds / 2)
    checked_rate = _rate(lambda: plan.to_record(root, ENVELOPE), args.seconds / 2)
    encode_rate = _rate(lambda: plan.encode(record), args.seconds / 2)
    decoded = plan.decode(encoded)
    to_xml_rate = _rate(lambda: plan.to_xml(decoded), args.seconds / 2)

    print()
    print(f"{'step':<44} {'msgs/s':>10} {'µs/msg':>9}")
    for name, rate in [
        ("lxml parse", parse_rate),
        ("lxml XSD validate", validate_rate),
        ("plan.to_record(validated=True)", convert_rate),
        ("plan.to_record (every node checked)", checked_rate),
        ("plan.encode (fastavro + header)", encode_rate),
        ("hub: parse+validate+convert+encode", hub_rate),
        ("baseline: xmlschema to_dict + generic Avro", base_rate),
        ("reverse: plan.to_xml", to_xml_rate),
    ]:
        print(f"{name:<44} {rate:>10,.0f} {1e6 / rate:>9.1f}")
    print()
    print(f"hub / baseline: {hub_rate / base_rate:.1f}x (goal >= 10x)")
    print(f"hub throughput: {hub_rate:,.0f} msgs/s (goal >= 5,000)")

    # memory with every official set's (and the registry's) plans loaded
    del plans
    gc.collect()
    tracemalloc.start()
    loaded = 0
    for folder in sorted(official.iterdir()):
        if (folder / "set.json").is_file():
            try:
                loaded += len(compile_plans(OfficialSet(folder)))
            except Exception as exc:  # a set the derivation cannot handle: say so
                print(f"  {folder.name}: not loaded ({type(exc).__name__}: {exc})"[:160])
    try:
        from hub.core.convert import registry_packages

        for package in registry_packages():
            loaded += len(compile_plans(package))
    except Exception as exc:
        print(f"  registry: not loaded ({type(exc).__name__})")
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"plans loaded: {loaded}; tracemalloc peak {peak / 2**20:.0f} MB; "
        f"peak RSS {rss:.0f} MB (goal < 300 MB)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
