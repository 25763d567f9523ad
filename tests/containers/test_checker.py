"""The container checker (hub.xdomea.containers), pure: a valid hand-over passes; each
hostile or broken ZIP is refused with its own code and a reason without file names."""

from __future__ import annotations

import io
import stat
import struct
import zipfile
from pathlib import Path
from typing import Any

import pytest

from hub.errors import ParseError
from hub.xdomea.containers import (
    H_CONTAINER_BYTES,
    H_CONTAINER_REF,
    H_CONTAINER_SHA256,
    ContainerError,
    ContainerLimits,
    check_container,
    claim_headers,
)
from tests.conftest import official_or_skip

from .build import Message, container, file_info, make_zip, message, xdomea_package


@pytest.fixture(scope="module")
def package(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return xdomea_package(official_or_skip(), tmp_path_factory.mktemp("xdomea"))


@pytest.fixture(scope="module")
def handover(package: Any) -> Message:
    return message(package, "0401", seed=2)


def refused(data: bytes, limits: ContainerLimits | None = None) -> ContainerError:
    with pytest.raises(ContainerError) as caught:
        check_container(io.BytesIO(data), limits or ContainerLimits())
    return caught.value


def names_quoted(error: ContainerError, msg: Message) -> bool:
    return any(n in error.detail for n in [msg.name, *msg.declared])


def test_a_valid_handover_and_archive_transfer_pass(package: Any) -> None:
    for code in ("0401", "0503"):
        msg = message(package, code, seed=5)
        data = container(msg)
        checked = check_container(io.BytesIO(data))
        assert checked.message == msg.xml
        assert checked.message_index == 0
        assert checked.message_type.endswith(code)
        assert checked.files == len(msg.declared) >= 1
        assert checked.entries == len(msg.declared) + 1
        assert checked.size == len(data)


def test_directory_entries_are_tolerated(handover: Message) -> None:
    folder = file_info("anlagen/", stat.S_IFDIR | 0o755)
    checked = check_container(io.BytesIO(container(handover, [(folder, b"")])))
    assert checked.entries == len(handover.declared) + 2


def test_zip_bomb_by_ratio(handover: Message) -> None:
    bomb = file_info(handover.declared[0])
    data = make_zip([(handover.name, handover.xml), (bomb, b"\0" * (4 * 1024 * 1024)),
                     *[(n, b"x") for n in handover.declared[1:]]])
    error = refused(data)
    assert error.code == "CONTAINER_BOMB" and "entry 1 is compressed" in error.detail
    assert not names_quoted(error, handover)


def test_zip_bomb_by_total_size(handover: Message) -> None:
    data = container(handover, [("padding.bin", b"y" * 5000)])
    error = refused(data, ContainerLimits(max_uncompressed_bytes=4096))
    assert error.code == "CONTAINER_BOMB" and "unpack to more than 4096" in error.detail


def test_lying_sizes_are_corrupt(handover: Message) -> None:
    """A central directory that understates an entry's size: zipfile stops at the
    declared size and the CRC fails."""
    data = bytearray(container(handover))
    at = data.rfind(b"PK\x01\x02")  # the last central directory entry
    struct.pack_into("<I", data, at + 24, 3)  # its uncompressed size: 3 bytes
    error = refused(bytes(data))
    assert error.code == "CONTAINER_INVALID" and "corrupt" in error.detail


@pytest.mark.parametrize("name, reason", [
    ("../../etc/cron.d/evil", "'..' path component"),
    ("docs/../../evil.pdf", "'..' path component"),
    ("/etc/passwd", "absolute path"),
    ("C:/Windows/evil.dll", "absolute path"),
    ("..\\evil.pdf", "backslash"),
    ("a//b.pdf", "empty or '.' path component"),
])
def test_paths(handover: Message, name: str, reason: str) -> None:
    error = refused(container(handover, [(name, b"evil")]))
    assert error.code == "CONTAINER_PATH" and reason in error.detail
    assert name not in error.detail


def test_symlink_and_special_files(handover: Message) -> None:
    link = file_info(handover.declared[0], stat.S_IFLNK | 0o777)
    data = make_zip([(handover.name, handover.xml), (link, b"/etc/shadow"),
                     *[(n, b"x") for n in handover.declared[1:]]])
    error = refused(data)
    assert error.code == "CONTAINER_LINK" and error.detail == "entry 1 is a symbolic link"
    fifo = file_info("pipe", stat.S_IFIFO | 0o644)
    assert refused(container(handover, [(fifo, b"")])).code == "CONTAINER_LINK"


def test_duplicate_names(handover: Message) -> None:
    upper = handover.declared[0].upper()
    with pytest.warns(UserWarning):  # zipfile warns about the duplicate name itself
        same = container(handover, [(handover.declared[0], b"again")])
    assert refused(same).code == "CONTAINER_DUPLICATE"
    error = refused(container(handover, [(upper, b"case-folded")]))
    assert error.code == "CONTAINER_DUPLICATE"
    assert not names_quoted(error, handover)


def test_undeclared_file(handover: Message) -> None:
    error = refused(container(handover, [("payload.exe", b"MZ")]))
    assert error.code == "CONTAINER_UNDECLARED_FILE"
    assert error.detail == f"entry {len(handover.declared) + 1} is not declared by the message"


def test_missing_file(handover: Message) -> None:
    error = refused(container(handover, skip=[handover.declared[-1]]))
    assert error.code == "CONTAINER_MISSING_FILE"
    n = len(handover.declared)
    assert error.detail == f"declared file {n} of {n} is not in the container"


def test_too_many_entries(handover: Message) -> None:
    data = container(handover, [(f"f{n}.txt", b"") for n in range(30)])
    error = refused(data, ContainerLimits(max_entries=20))
    assert error.code == "CONTAINER_TOO_MANY_ENTRIES"


def test_too_large(handover: Message) -> None:
    data = container(handover)
    error = refused(data, ContainerLimits(max_bytes=len(data) - 1))
    assert error.code == "CONTAINER_TOO_LARGE"


def test_no_message_or_two_or_a_wrong_one(handover: Message) -> None:
    documents = [(n, b"x") for n in handover.declared]
    assert refused(make_zip(documents)).code == "CONTAINER_NO_MESSAGE"
    second = handover.name.replace(handover.process_id, "0" * 8 + handover.process_id[8:])
    twice = make_zip([(handover.name, handover.xml), (second, handover.xml), *documents])
    assert refused(twice).code == "CONTAINER_NO_MESSAGE"
    # named as a 0503 but it is a 0401
    wrong = handover.name.replace("Abgabe.Abgabe.0401", "Aussonderung.Aussonderung.0503")
    error = refused(make_zip([(wrong, handover.xml), *documents]))
    assert error.code == "CONTAINER_NO_MESSAGE" and "root element" in error.detail
    other_pid = "f" * 8 + handover.name[8:]
    error = refused(make_zip([(other_pid, handover.xml), *documents]))
    assert error.code == "CONTAINER_NO_MESSAGE" and "ProzessID" in error.detail
    # in a folder, not at the root
    nested = make_zip([(f"x/{handover.name}", handover.xml), *documents])
    assert refused(nested).code == "CONTAINER_NO_MESSAGE"


def test_hostile_message_inside(handover: Message) -> None:
    evil = (b'<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x "y">]>'
            b'<a xmlns="urn:xoev-de:xdomea:schema:3.0.0">&x;</a>')
    with pytest.raises(ParseError) as caught:
        check_container(io.BytesIO(make_zip([(handover.name, evil)])))
    assert caught.value.code.startswith("XML_")
    big = container(handover)
    error = refused(big, ContainerLimits(max_message_bytes=1024))
    assert error.code == "XML_TOO_LARGE"


def test_not_a_zip_encrypted_or_other_methods(handover: Message, tmp_path: Path) -> None:
    assert refused(handover.xml).code == "CONTAINER_INVALID"
    data = bytearray(container(handover))
    data[6] |= 0x1  # the encryption flag, in the local header ...
    at = data.find(b"PK\x01\x02")
    data[at + 8] |= 0x1  # ... and in the central directory
    assert "encrypted" in refused(bytes(data)).detail
    bz = file_info(handover.declared[0], compress=zipfile.ZIP_BZIP2)
    other = make_zip([(handover.name, handover.xml), (bz, b"x"),
                      *[(n, b"x") for n in handover.declared[1:]]])
    assert "compression method 12" in refused(other).detail
    truncated = container(handover)[:-30]
    assert refused(truncated).code == "CONTAINER_INVALID"


def test_claim_headers_name_the_senders_own_blob() -> None:
    digest = "a" * 64
    good = {H_CONTAINER_REF: f"solingen.registratur/{digest}".encode(),
            H_CONTAINER_SHA256: digest.encode(), H_CONTAINER_BYTES: b"1234"}
    assert claim_headers({}, "solingen.registratur") == []
    assert dict(claim_headers(good, "solingen.registratur")) == good
    for bad in (
        {**good, H_CONTAINER_REF: f"wuppertal.registratur/{digest}".encode()},
        {**good, H_CONTAINER_SHA256: b"b" * 64},
        {**good, H_CONTAINER_BYTES: b"-1"},
        {H_CONTAINER_REF: good[H_CONTAINER_REF]},
    ):
        with pytest.raises(ContainerError) as caught:
            claim_headers(bad, "solingen.registratur")
        assert caught.value.code == "CONTAINER_REF_INVALID"
