"""State slots: one locked folder per worker process, the same one after a restart."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from hub.streams.state import take_slot


def test_two_holders_get_two_slots_and_a_released_slot_is_taken_again(tmp_path: Path) -> None:
    first = take_slot(tmp_path, "cluster-1", "xoev-hub")
    second = take_slot(tmp_path, "cluster-1", "xoev-hub")
    assert first.path != second.path
    assert first.path.name == "slot-0" and second.path.name == "slot-1"
    first.release()
    again = take_slot(tmp_path, "cluster-1", "xoev-hub")
    assert again.path == first.path  # a restarted worker finds its state
    second.release()
    again.release()


def test_slots_are_per_cluster_and_group(tmp_path: Path) -> None:
    a = take_slot(tmp_path, "cluster-1", "g")
    b = take_slot(tmp_path, "cluster-2", "g")
    c = take_slot(tmp_path, "cluster-1", "h/../x")
    assert len({a.path, b.path, c.path}) == 3
    assert c.path.is_relative_to(tmp_path / "cluster-1")  # no path tricks from names
    for slot in (a, b, c):
        slot.release()


def test_a_crashed_holder_frees_its_slot(tmp_path: Path) -> None:
    code = (
        "import os,sys; from pathlib import Path; from hub.streams.state import take_slot;"
        f"s = take_slot(Path({str(tmp_path)!r}), 'c', 'g'); print(s.path, flush=True);"
        "os._exit(0)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().endswith("slot-0")
    slot = take_slot(tmp_path, "c", "g")
    assert slot.path.name == "slot-0"
    slot.release()
