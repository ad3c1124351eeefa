"""The vault's objects as files restic can back up, with their hashes, at a nightly cost
that grows with what is new.

Objects are encrypted once and never change, so an object's hash is computed the first
night it is seen and remembered in a small SQLite cache; later nights only list. With
the S3 back-end, new objects are first copied (still encrypted) into a local mirror
with the local store's layout, so that restic and the restore drill see one layout.
A backup only reads the primary store: nothing here writes to it.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from coffre.tasks.storage import LocalObjectStore, ObjectStore

_CHUNK = 1024 * 1024


@dataclass(frozen=True)
class ObjectEntry:
    key: str
    sha256: str  # of the stored (encrypted) bytes: checkable without any key
    size: int


def walk_objects(root: Path) -> Iterator[tuple[str, Path]]:
    """(key, path) of every object file under ``root``, in a stable order."""
    for directory, subdirs, files in os.walk(root):
        subdirs.sort()
        for name in sorted(files):
            if name.startswith(".~"):
                continue  # a put in progress (see LocalObjectStore)
            path = Path(directory, name)
            yield path.relative_to(root).as_posix(), path


def file_sha256(path: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


class HashCache:
    """key → (sha256, size) of objects already seen by an earlier backup."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(path)
        self._conn.execute(
            "CREATE TABLE IF NOT EXISTS object_hash "
            "(key TEXT PRIMARY KEY, sha256 TEXT NOT NULL, size INTEGER NOT NULL)"
        )

    def get(self, key: str) -> ObjectEntry | None:
        row = self._conn.execute(
            "SELECT sha256, size FROM object_hash WHERE key = ?", (key,)
        ).fetchone()
        return ObjectEntry(key, row[0], int(row[1])) if row else None

    def remember(self, entry: ObjectEntry) -> None:
        self._conn.execute(
            "INSERT OR IGNORE INTO object_hash VALUES (?, ?, ?)",
            (entry.key, entry.sha256, entry.size),
        )

    def close(self) -> None:
        self._conn.commit()
        self._conn.close()


@dataclass(frozen=True)
class Inventory:
    entries: list[ObjectEntry]
    hashed: int  # objects read tonight (new ones)
    copied: int  # objects copied from S3 into the mirror tonight


def inventory(root: Path, cache_path: Path) -> Inventory:
    cache = HashCache(cache_path)
    entries: list[ObjectEntry] = []
    hashed = 0
    try:
        for key, path in walk_objects(root):
            entry = cache.get(key)
            if entry is None:
                entry = ObjectEntry(key, *file_sha256(path))
                cache.remember(entry)
                hashed += 1
            entries.append(entry)
    finally:
        cache.close()
    return Inventory(entries, hashed, 0)


def mirror_new_objects(store: ObjectStore, mirror: Path) -> int:
    """Copy objects the mirror lacks (still encrypted, write-once); return how many."""
    local = LocalObjectStore(mirror)
    copied = 0
    for key in store.keys():  # noqa: SIM118 - an object store, not a dict
        if not local.exists(key):
            copied += int(local.put(key, store.get(key)))
    return copied
