"""Building hand-over containers for the tests: a generated xdomea message whose
``Dateiname`` and ``SignaturSiegelDatei`` elements name files we put beside it."""

from __future__ import annotations

import io
import random
import stat
import uuid
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from lxml import etree

from hub.core.schemas import SchemaRegistry, install
from hub.tools.samples import generate
from hub.xdomea.containers import DECLARING

NAMES = {"0401": "Abgabe.Abgabe.0401", "0503": "Aussonderung.Aussonderung.0503"}


def xdomea_package(official: Path, target: Path):  # type: ignore[no-untyped-def]
    install(official / "xdomea-3.0.0", target)
    return SchemaRegistry.load([target]).get("xdomea", "3.0.0")


@dataclass
class Message:
    xml: bytes
    name: str  # <ProzessID>_<Nachrichtentyp>.xml
    declared: list[str]
    process_id: str


def message(package, code: str = "0401", seed: int = 2,  # type: ignore[no-untyped-def]
            author: str = "reg:05122000", reader: str = "reg:05124000") -> Message:
    """A valid message with at least one declared file, the files renamed ``<uuid>_<n>.pdf``."""
    for attempt in range(seed, seed + 50):
        xml = generate(package, code, seed=attempt, author_key=author, reader_key=reader)
        root = etree.fromstring(xml)
        ns = etree.QName(root).namespace
        elements = list(root.iter(*(f"{{{ns}}}{n}" for n in DECLARING)))
        if elements:
            break
    else:  # pragma: no cover - the generator always finds some within 50 seeds
        raise AssertionError("no generated message declares a file")
    rng = random.Random(seed)
    declared = []
    for n, element in enumerate(elements):
        name = f"{uuid.UUID(int=rng.getrandbits(128), version=4)}_{n}.pdf"
        element.text = name
        declared.append(name)
    pid = root.findtext(f"{{{ns}}}Kopf/{{{ns}}}ProzessID").strip()  # type: ignore[union-attr]
    data = etree.tostring(root, xml_declaration=True, encoding="UTF-8")
    return Message(data, f"{pid}_{NAMES[code]}.xml", declared, pid)


def file_info(name: str, mode: int = stat.S_IFREG | 0o644,
              compress: int = zipfile.ZIP_DEFLATED) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=(2026, 1, 2, 3, 4, 5))
    info.create_system = 3
    info.external_attr = mode << 16
    info.compress_type = compress
    return info


def make_zip(entries: Iterable[tuple[str | zipfile.ZipInfo, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in entries:
            info = file_info(name) if isinstance(name, str) else name
            archive.writestr(info, data)
    return buffer.getvalue()


def container(msg: Message, extra: Iterable[tuple[str | zipfile.ZipInfo, bytes]] = (),
              skip: Iterable[str] = ()) -> bytes:
    """The message and one small document per declared file (minus ``skip``), plus ``extra``."""
    left_out = set(skip)
    entries: list[tuple[str | zipfile.ZipInfo, bytes]] = [(msg.name, msg.xml)]
    entries += [(n, f"%PDF-1.7 document {i}\n".encode() * 20)
                for i, n in enumerate(msg.declared) if n not in left_out]
    return make_zip([*entries, *extra])
