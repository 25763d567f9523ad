"""Deduplication by (author, nachrichtenUUID) with payload check and retention."""

from __future__ import annotations

import hashlib

from hub.streams.dedupe import Dedupe, Entry, Verdict, dedupe_key

A = "ags:05124000"
B = "ags:05122000"
ID = "6f1c2b8e-4f7a-4a53-9d3c-2b4f0c9e8a11"
SHA1 = hashlib.sha256(b"one").hexdigest()
SHA2 = hashlib.sha256(b"two").hexdigest()


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def test_the_same_id_from_two_authorities_is_two_messages() -> None:
    store: dict[bytes, bytes] = {}
    dedupe = Dedupe(store, 3600, Clock())
    store[dedupe_key(A, ID)] = dedupe.entry(SHA1, "in.a:0:5")
    assert dedupe.check(dedupe_key(B, ID), SHA1, "in.b:0:9")[0] is Verdict.NEW


def test_replay_duplicate_and_conflict() -> None:
    store: dict[bytes, bytes] = {}
    dedupe = Dedupe(store, 3600, Clock())
    key = dedupe_key(A, ID)
    assert dedupe.check(key, SHA1, "in.a:0:5")[0] is Verdict.NEW
    store[key] = dedupe.entry(SHA1, "in.a:0:5")
    assert dedupe.check(key, SHA1, "in.a:0:5")[0] is Verdict.REPLAY  # same record
    assert dedupe.check(key, SHA1, "in.a:1:7")[0] is Verdict.DUPLICATE
    assert dedupe.check(key, SHA2, "in.a:1:8")[0] is Verdict.CONFLICT


def test_entries_expire_after_the_retention_window() -> None:
    store: dict[bytes, bytes] = {}
    clock = Clock()
    dedupe = Dedupe(store, 60, clock)
    key = dedupe_key(A, ID)
    store[key] = dedupe.entry(SHA1, "in.a:0:5")
    clock.now += 59
    assert dedupe.check(key, SHA2, "in.a:0:6")[0] is Verdict.CONFLICT
    assert dedupe.expired(store.items()) == []
    clock.now += 2
    assert dedupe.check(key, SHA2, "in.a:0:6")[0] is Verdict.NEW
    assert dedupe.expired(store.items()) == [key]


def test_entries_hold_no_personal_data_and_old_formats_are_unreadable() -> None:
    entry = Entry(SHA1, "xoev.in.x:2:40", 12.5)
    assert Entry.decode(entry.encode()) == entry
    assert entry.encode() == f"{SHA1}|xoev.in.x:2:40|12.500".encode()
    # the value format of earlier releases (topic:partition:offset|iso time) reads as absent
    assert Entry.decode(b"xoev.in.x:0:1|2026-01-01T00:00:00.000+00:00") is None
    assert Entry.decode(None) is None
    assert Dedupe({b"k": b"junk"}, 60, Clock()).expired([(b"k", b"junk")]) == [b"k"]
