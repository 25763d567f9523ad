from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from hub.adapters import AdapterContext, InboundMessage, OutboundMessage
from hub.adapters.directory import DirectorySink, DirectorySource
from hub.errors import MessageError
from hub.testing import run, sample_payload, wait_for
from hub.testing.builtin import drop_file

CTX = AdapterContext("solingen.meldebehoerde", "inbox", 2048)


def test_incomplete_and_hidden_files_are_ignored_bad_ones_fail_with_reason(
    tmp_path: Path,
) -> None:
    inbox = tmp_path / "inbox"
    source = DirectorySource.create({"path": str(inbox), "poll_seconds": 0.05}, CTX)
    got: list[InboundMessage] = []

    async def emit(message: InboundMessage) -> None:
        if b"refuse-me" in message.payload:
            raise MessageError("the hub refuses it", code="SOMETHING_PERMANENT")
        got.append(message)

    async def scenario() -> None:
        await source.start(emit)
        (inbox / "half.xml.tmp").write_bytes(b"<a>")
        (inbox / ".hidden.xml").write_bytes(sample_payload(0))
        (inbox / "notes.txt").write_bytes(b"hello")
        drop_file(inbox, "broken.xml", b"<a><b></a>")
        drop_file(inbox, "huge.xml", b"<a>" + b"x" * 3000 + b"</a>")
        drop_file(inbox, "refused.xml", b"<a>refuse-me</a>")
        good = sample_payload(1, "6f1c4e2a-0000-4000-8000-000000000001")
        drop_file(inbox, "good.xml", good)
        await wait_for(lambda: not source.pending())
        await asyncio.sleep(0.2)
        await source.stop()
        assert [(m.payload, m.key, m.metadata["file"]) for m in got] == [
            (good, "6f1c4e2a-0000-4000-8000-000000000001", "good.xml")
        ]

    run(scenario())
    assert sorted(p.name for p in inbox.iterdir() if p.is_file()) == [
        ".hidden.xml", "half.xml.tmp", "notes.txt"
    ]
    assert [p.name for p in (inbox / "done").iterdir()] == ["good.xml"]
    reasons = {p.name: p.read_text() for p in (inbox / "failed").glob("*.reason.txt")}
    assert reasons["broken.xml.reason.txt"].startswith("XML_MALFORMED\n")
    assert reasons["huge.xml.reason.txt"].startswith("XML_TOO_LARGE\n")
    assert reasons["refused.xml.reason.txt"] == "SOMETHING_PERMANENT\nthe hub refuses it\n"
    assert (inbox / "failed" / "broken.xml").read_bytes() == b"<a><b></a>"


def test_a_name_dropped_twice_keeps_both_in_done(tmp_path: Path) -> None:
    inbox = tmp_path / "in"
    source = DirectorySource.create({"path": str(inbox), "poll_seconds": 0.05}, CTX)
    got: list[bytes] = []

    async def emit(message: InboundMessage) -> None:
        got.append(message.payload)

    async def scenario() -> None:
        await source.start(emit)
        for n in range(2):
            drop_file(inbox, "same.xml", sample_payload(n))
            await wait_for(lambda n=n: len(got) == n + 1)
        await source.stop()

    run(scenario())
    assert len(list((inbox / "done").iterdir())) == 2


def test_sink_writes_atomically_and_refuses_unsafe_names(tmp_path: Path) -> None:
    sink = DirectorySink.create({"path": str(tmp_path / "out")}, CTX)
    good = OutboundMessage("w.m", "abc-123", b"<x/>")
    evil = OutboundMessage("w.m", "../../etc/passwd", b"<x/>")

    async def scenario() -> None:
        await sink.start()
        await sink.deliver([good])
        with pytest.raises(MessageError) as info:
            await sink.deliver([evil])
        assert info.value.code == "BAD_MESSAGE_ID"
        await sink.stop()

    run(scenario())
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["abc-123.xml"]


def test_symlinks_are_refused_sizes_checked_before_reading_and_files_are_0640(
    tmp_path: Path,
) -> None:
    import os
    import stat

    inbox = tmp_path / "inbox"
    secret = tmp_path / "secret.xml"
    original = sample_payload(5)
    secret.write_bytes(original)
    source = DirectorySource.create({"path": str(inbox), "poll_seconds": 0.05}, CTX)
    got: list[InboundMessage] = []
    read_sizes: list[int] = []
    real_read = os.read

    async def emit(message: InboundMessage) -> None:
        got.append(message)

    def counting_read(fd: int, n: int) -> bytes:
        read_sizes.append(n)
        return real_read(fd, n)

    async def scenario() -> None:
        os.umask(0o000)  # the files' modes must not come from the umask
        await source.start(emit)
        inbox.mkdir(exist_ok=True)
        (inbox / "link.xml").symlink_to(secret)
        drop_file(inbox, "huge.xml", b"<a>" + b"x" * 3000 + b"</a>")
        os.read = counting_read  # type: ignore[assignment]
        try:
            await wait_for(lambda: not source.pending())
            await asyncio.sleep(0.2)
        finally:
            os.read = real_read
        await source.stop()

    old = os.umask(0o022)
    try:
        run(scenario())
    finally:
        os.umask(old)
    assert got == []
    failed = inbox / "failed"
    reasons = {p.name: p.read_text() for p in failed.glob("*.reason.txt")}
    assert reasons["link.xml.reason.txt"].startswith("FILE_SYMLINK\n")
    assert reasons["huge.xml.reason.txt"].startswith("XML_TOO_LARGE\n")
    assert all(n <= CTX.max_message_bytes + 1 for n in read_sizes)
    assert 3007 not in read_sizes  # the huge file was not read whole
    assert secret.read_bytes() == original  # the link target is untouched
    for path in failed.iterdir():
        if not path.is_symlink():
            assert stat.S_IMODE(path.stat().st_mode) == 0o640, path

    sink = DirectorySink.create({"path": str(tmp_path / "out")}, CTX)
    run(sink.start())
    run(sink.deliver([OutboundMessage("w.m", "6f1c4e2a-0000-4000-8000-000000000009", b"<a/>")]))
    written = tmp_path / "out" / "6f1c4e2a-0000-4000-8000-000000000009.xml"
    assert stat.S_IMODE(written.stat().st_mode) == 0o640
