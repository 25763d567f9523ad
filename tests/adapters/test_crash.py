"""kill -9 of a process running the directory inbound: nothing is lost."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hub.kafka.topics import TopicNames
from hub.settings import Settings
from hub.testing.builtin import drop_file
from tests.adapters.conftest import xoev_message
from tests.adapters.test_end_to_end import read_to_end
from tests.conftest import REPO

pytestmark = [pytest.mark.kafka, pytest.mark.slow]
AUTHORITY = "solingen.meldebehoerde"


def start(settings: Settings, inbox: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    env.update(HUB_BOOTSTRAP_SERVERS=settings.bootstrap, HUB_TOPIC_PREFIX=settings.topic_prefix)
    with open(inbox.parent / "process.log", "ab") as log:  # the child keeps its own copy
        return subprocess.Popen(
            [sys.executable, "-m", "tests.adapters.inbox_process", AUTHORITY, str(inbox)],
            cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=log,
        )


def wait(condition: object, timeout: float, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        if proc.poll() is not None:
            raise AssertionError(f"process died with {proc.returncode}; see process.log")
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_kill_minus_nine_mid_stream_loses_nothing(kafka_settings: Settings,
                                                  tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    payloads = {f"m{n:04d}.xml": xoev_message(AUTHORITY, "wuppertal.meldebehoerde")
                for n in range(300)}
    for name, payload in payloads.items():
        drop_file(inbox, name, payload)
    done = inbox / "done"

    def done_count() -> int:
        return len(list(done.iterdir())) if done.is_dir() else 0

    proc = start(kafka_settings, inbox)
    try:
        wait(lambda: done_count() >= 40, 60, proc)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    killed_at = done_count()
    assert 40 <= killed_at < len(payloads), "the kill came too late to prove anything"

    proc = start(kafka_settings, inbox)
    try:
        wait(lambda: done_count() == len(payloads), 90, proc)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()

    assert not list(inbox.glob("*.xml"))
    assert not (inbox / "failed").exists() or not list((inbox / "failed").iterdir())
    topic = TopicNames(kafka_settings.topic_prefix).inbound(AUTHORITY)
    records = asyncio.run(read_to_end(kafka_settings, topic))  # every file is acked by now
    produced = {r.value for r in records}
    assert produced == set(payloads.values())  # every file, byte for byte
    # at-least-once: a file produced just before the kill may be produced again
    assert len(records) - len(produced) <= 2
