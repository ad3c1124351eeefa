"""The night's backup: stage what must be kept, then send it to each repository.

Staging happens once (one consistent dump, one manifest, one key-store export, all
age-encrypted); each repository then gets its own restic run, so that one provider
being down never keeps the others from tonight's backup. Nothing here writes to the
primary store: the dump reads a snapshot, objects are only listed and read.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from coffre.settings import Settings
from coffre.tasks.backup_config import (
    DATA_TAG,
    KEYS_TAG,
    BackupPolicy,
    backup_policy,
    recipients,
)
from coffre.tasks.backup_dump import StoreSnapshot, dump_store
from coffre.tasks.backup_manifest import export_keys, write_manifest
from coffre.tasks.backup_objects import inventory, mirror_new_objects
from coffre.tasks.restic import BackupSummary, Restic, ResticError, ResticRepository
from coffre.tasks.storage import ObjectStore

DUMP_NAME = "store.dump.age"
MANIFEST_NAME = "manifest.jsonl.gz.age"
KEYS_NAME = "keys.json.age"
T = TypeVar("T")


@dataclass(frozen=True)
class Staged:
    """Tonight's files: the data snapshot's folders and the key store's."""

    data_dir: Path
    keys_dir: Path
    objects_root: Path
    snapshot: StoreSnapshot
    objects: int
    new_objects: int
    keys: int

    @property
    def data_paths(self) -> list[Path]:
        return [self.data_dir, self.objects_root]


def stage(
    settings: Settings, store: ObjectStore, recipients: Sequence[str], keystore: Any
) -> Staged:
    """Dump the store, take stock of the objects, export the key store (all encrypted)."""
    base = settings.backup_path
    data_dir, keys_dir = base / "staging" / "data", base / "staging" / "keys"
    for folder in (data_dir, keys_dir):
        folder.mkdir(parents=True, exist_ok=True)
        for leftover in folder.iterdir():
            leftover.unlink()
    snapshot = dump_store(
        settings.store_url, recipients, data_dir / DUMP_NAME, settings.backup_lock_wait_seconds
    )
    # Objects are listed after the dump: every object a dumped row names is already there.
    if settings.objects_backend == "local" and not settings.storage_block:
        objects_root = settings.objects_path
        copied = 0
    else:
        objects_root = base / "objects-mirror"
        copied = mirror_new_objects(store, objects_root)
    stock = inventory(objects_root, base / "object-hashes.db")
    write_manifest(snapshot, stock.entries, objects_root, recipients, data_dir / MANIFEST_NAME)
    keys = export_keys(keystore, recipients, keys_dir / KEYS_NAME)
    return Staged(
        data_dir,
        keys_dir,
        objects_root,
        snapshot,
        len(stock.entries),
        max(stock.hashed, copied),
        keys,
    )


def stage_tonight(settings: Settings) -> Staged:
    """`stage` with this instance's vault, the operators' recipients and the key store."""
    from coffre.models.db import engine_for
    from coffre.runtime import get_vault

    return stage(settings, get_vault().store, recipients(settings), engine_for(settings.keys_url))


def back_up_tonight(
    repository: ResticRepository,
    staged: Staged,
    settings: Settings,
    *,
    at: datetime,
    run_check: bool,
) -> RepositoryOutcome:
    """`back_up_to` with this instance's retention policy and restic cache."""
    return back_up_to(
        repository,
        staged,
        backup_policy(settings),
        at=at,
        run_check=run_check,
        cache_dir=settings.backup_path / "restic-cache",
    )


@dataclass
class RepositoryOutcome:
    """One row of the night's report."""

    repository: str
    ok: bool = False
    snapshot_id: str | None = None
    keys_snapshot_id: str | None = None
    bytes_added: int = 0
    files_new: int = 0
    duration_seconds: float = 0.0
    forgotten: int = 0
    check: str = "not due"
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def check_subset(at: datetime, subsets: int) -> str:
    """Rotate through the data: week n reads subset (n mod N) + 1 of N."""
    week = at.isocalendar().week + 53 * at.isocalendar().year
    return f"{week % subsets + 1}/{subsets}"


def back_up_to(
    repository: ResticRepository,
    staged: Staged,
    policy: BackupPolicy,
    *,
    at: datetime,
    run_check: bool,
    cache_dir: Path | None,
) -> RepositoryOutcome:
    """Back up, apply retention and (when due) check one repository; never raises.

    Every restic command pays the repository key's derivation (scrypt, about half a
    second by restic's design), so nothing is run just in case: the repository is
    created when the first backup finds none, and stale locks are removed when a
    command meets one.
    """
    outcome = RepositoryOutcome(repository.name)
    restic = Restic(repository, cache_dir)
    started = time.monotonic()
    try:
        data = _recovering(restic, lambda: _backup(restic, staged.data_paths, DATA_TAG, at), True)
        keys = _recovering(restic, lambda: _backup(restic, [staged.keys_dir], KEYS_TAG, at))
        outcome.snapshot_id, outcome.keys_snapshot_id = data.snapshot_id, keys.snapshot_id
        outcome.bytes_added = data.data_added + keys.data_added
        outcome.files_new = data.files_new
        outcome.forgotten = _recovering(restic, lambda: restic.forget(DATA_TAG, policy.data))
        outcome.forgotten += _recovering(restic, lambda: restic.forget(KEYS_TAG, policy.keys))
        if outcome.forgotten:
            _recovering(restic, restic.prune)  # nothing forgotten, nothing to reclaim
        if run_check:
            subset = check_subset(at, policy.check_subsets)
            outcome.check = f"running (subset {subset})"
            _recovering(restic, lambda: restic.check(read_data_subset=subset))
            outcome.check = f"ok (subset {subset})"
        outcome.ok = True
    except ResticError as error:
        outcome.error = str(error)
        if outcome.check.startswith("running"):
            outcome.check = "FAILED"
    finally:
        outcome.duration_seconds = round(time.monotonic() - started, 2)
    return outcome


def _backup(restic: Restic, paths: list[Path], tag: str, at: datetime) -> BackupSummary:
    # Objects and dumps are encrypted already: compressing them would only cost time.
    return restic.backup(paths, tags=[tag], at=at, extra=["--compression", "off"])


def _recovering(restic: Restic, action: Callable[[], T], may_create: bool = False) -> T:
    """Run ``action``; create a missing repository, or clear a stale lock, and retry once."""
    try:
        return action()
    except ResticError as error:
        if may_create and error.missing_repository:
            restic.init()
        elif error.locked:
            restic.unlock_stale()  # restic removes only locks whose process is gone
        else:
            raise
    return action()
