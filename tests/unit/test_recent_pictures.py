"""The overview's just-read pictures: kept briefly, per user, by version, within a byte budget."""

from __future__ import annotations

import hashlib

import pytest

from webapp.microsoft.models import Photo
from webapp.overview import pictures
from webapp.overview.pictures import RecentPictures


def photo(data: bytes) -> Photo:
    return Photo(data, "image/jpeg", None)


def version(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:32]


def test_a_picture_is_given_back_only_for_its_user_and_version() -> None:
    recent = RecentPictures()
    recent.remember("alice", {"graph": photo(b"A" * 10)})
    assert recent.get("alice", "graph", version(b"A" * 10)) == photo(b"A" * 10)
    assert recent.get("alice", "graph", version(b"other")) is None
    assert recent.get("bob", "graph", version(b"A" * 10)) is None
    assert recent.get("alice", "sharepoint/M", version(b"A" * 10)) is None


def test_pictures_expire(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [1000.0]
    monkeypatch.setattr(pictures.time, "monotonic", lambda: now[0])
    recent = RecentPictures(ttl=60)
    recent.remember("alice", {"graph": photo(b"A")})
    now[0] += 61
    assert recent.get("alice", "graph", version(b"A")) is None


def test_the_byte_budget_evicts_the_user_seen_longest_ago() -> None:
    recent = RecentPictures(max_bytes=25)
    recent.remember("alice", {"graph": photo(b"A" * 10)})
    recent.remember("bob", {"graph": photo(b"B" * 10)})
    recent.remember("carol", {"graph": photo(b"C" * 10)})
    assert recent.get("alice", "graph", version(b"A" * 10)) is None
    assert recent.get("bob", "graph", version(b"B" * 10)) is not None
    assert recent.get("carol", "graph", version(b"C" * 10)) is not None


def test_a_picture_larger_than_the_budget_is_not_kept() -> None:
    recent = RecentPictures(max_bytes=5)
    recent.remember("alice", {"graph": photo(b"A" * 10)})
    assert recent.get("alice", "graph", version(b"A" * 10)) is None


def test_a_new_read_replaces_the_users_old_pictures() -> None:
    recent = RecentPictures(max_bytes=15)
    recent.remember("alice", {"graph": photo(b"A" * 10)})
    recent.remember("alice", {"graph": photo(b"N" * 10)})
    assert recent.get("alice", "graph", version(b"A" * 10)) is None
    assert recent.get("alice", "graph", version(b"N" * 10)) is not None
