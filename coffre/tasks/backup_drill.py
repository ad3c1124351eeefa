"""The restore drill: restore a snapshot into scratch space and prove it is whole.

It restores the data snapshot and the newest key-store snapshot, decrypts them with
the drill's identity, loads the dump into a fresh database, and checks that the row
counts, the documents and every object's SHA-256 agree with the manifest, and that a
sample of sealed documents still decrypts and validates. Anything that disagrees is a
problem in the report, and any problem fails the drill.
"""

from __future__ import annotations

import random
import shutil
import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.pool import NullPool, StaticPool

from coffre.models.keystore import create_keystore, store_wrapped_key
from coffre.settings import Settings
from coffre.tasks.age_crypt import AgeError, decrypt_into_command, decrypt_to_bytes
from coffre.tasks.backup_config import DATA_TAG, KEYS_TAG
from coffre.tasks.backup_dump import (
    DOCUMENT_COLUMNS,
    documents_sql,
    libpq_environment,
    row_counts_sql,
    sqlite_documents,
    sqlite_row_counts,
)
from coffre.tasks.backup_manifest import Manifest, read_keys, read_manifest
from coffre.tasks.backup_objects import file_sha256
from coffre.tasks.backup_run import DUMP_NAME, KEYS_NAME, MANIFEST_NAME
from coffre.tasks.crypto import DecryptionError, KeyDestroyed, KeyRing, SecretKey
from coffre.tasks.restic import Restic, ResticError, ResticRepository, Snapshot
from coffre.tasks.storage import LocalObjectStore
from coffre.tasks.vault import IntegrityError, Vault

MAX_LISTED_PROBLEMS = 20


@dataclass
class DrillReport:
    repository: str
    snapshot_id: str | None = None
    snapshot_time: str | None = None
    keys_snapshot_id: str | None = None
    tables: int = 0
    rows: int = 0
    documents: int = 0
    objects: int = 0
    seals_verified: int = 0
    shredded_documents: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ok": self.ok}

    def problem(self, message: str) -> None:
        if len(self.problems) < MAX_LISTED_PROBLEMS:
            self.problems.append(message)
        elif len(self.problems) == MAX_LISTED_PROBLEMS:
            self.problems.append("… more problems not listed")


@dataclass(frozen=True)
class DrillInputs:
    identity: str
    master_key: SecretKey
    trust_roots: list[Any]
    sample: int
    scratch_root: Path
    drill_database_url: str | None  # a PostgreSQL server for scratch databases
    cache_dir: Path | None = None


def run_drill(
    repository: ResticRepository, inputs: DrillInputs, snapshot_id: str | None = None
) -> DrillReport:
    report = DrillReport(repository.name)
    scratch = inputs.scratch_root / f"drill-{uuid.uuid4().hex[:12]}"
    scratch.mkdir(parents=True)
    try:
        _drill(repository, inputs, snapshot_id, scratch, report)
    except (ResticError, AgeError, ValueError, LookupError, OSError) as error:
        report.problem(f"{type(error).__name__}: {error}")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return report


def _drill(
    repository: ResticRepository,
    inputs: DrillInputs,
    snapshot_id: str | None,
    scratch: Path,
    report: DrillReport,
) -> None:
    restic = Restic(repository, inputs.cache_dir)
    data_snapshot = _choose(restic.snapshots(DATA_TAG), snapshot_id, "data")
    keys_snapshot = _choose(restic.snapshots(KEYS_TAG), None, "key-store")
    report.snapshot_id, report.keys_snapshot_id = data_snapshot.id, keys_snapshot.id
    report.snapshot_time = data_snapshot.time.isoformat()
    restic.restore(data_snapshot.id, scratch / "data")
    restic.restore(keys_snapshot.id, scratch / "keys")

    manifest_path = _restored_file(scratch / "data", data_snapshot, MANIFEST_NAME)
    manifest = read_manifest(manifest_path, inputs.identity)
    dump_path = manifest_path.with_name(DUMP_NAME)
    objects_root = _restored(scratch / "data", manifest.objects_root)
    wrapped_keys = read_keys(
        _restored_file(scratch / "keys", keys_snapshot, KEYS_NAME), inputs.identity
    )

    object_hashes = _check_objects(manifest, objects_root, report)
    with _restored_database(manifest.backend, dump_path, inputs, scratch) as database:
        counts, documents = database
        _check_rows(manifest, counts, report)
        _check_documents(manifest, documents, object_hashes, report)
        sealed = [row for row in documents if row["status"] == "SEALED" and row["archive_key"]]
    _check_seals(sealed, objects_root, wrapped_keys, inputs, report)


def _choose(snapshots: list[Snapshot], wanted: str | None, what: str) -> Snapshot:
    if not snapshots:
        raise LookupError(f"the repository holds no {what} snapshot")
    if wanted is None:
        return snapshots[-1]
    for snapshot in snapshots:
        if snapshot.id.startswith(wanted):
            return snapshot
    raise LookupError(f"no {what} snapshot {wanted}")


def _restored(target: Path, original: str) -> Path:
    return target / original.lstrip("/")


def _restored_file(target: Path, snapshot: Snapshot, name: str) -> Path:
    for path in snapshot.paths:
        candidate = _restored(target, path) / name
        if candidate.is_file():
            return candidate
    raise LookupError(f"{name} is missing from snapshot {snapshot.id[:8]}")


def _check_objects(manifest: Manifest, root: Path, report: DrillReport) -> dict[str, str]:
    hashes: dict[str, str] = {}
    for entry in manifest.objects:
        hashes[entry.key] = entry.sha256
        path = root.joinpath(*entry.key.split("/"))
        if not path.is_file():
            report.problem(f"object {entry.key} is missing from the restore")
            continue
        sha256, size = file_sha256(path)
        if sha256 != entry.sha256 or size != entry.size:
            report.problem(
                f"object {entry.key} does not match the manifest "
                f"(SHA-256 {sha256[:12]}… instead of {entry.sha256[:12]}…)"
            )
        report.objects += 1
    return hashes


def _check_rows(manifest: Manifest, counts: dict[str, int], report: DrillReport) -> None:
    report.tables = len(counts)
    report.rows = sum(counts.values())
    for table, expected in sorted(manifest.row_counts.items()):
        found = counts.get(table)
        if found != expected:
            report.problem(f"table {table}: {found} rows restored, {expected} in the manifest")
    for table in sorted(set(counts) - set(manifest.row_counts)):
        report.problem(f"table {table} is in the dump but not in the manifest")


def _check_documents(
    manifest: Manifest,
    documents: list[dict[str, Any]],
    object_hashes: dict[str, str],
    report: DrillReport,
) -> None:
    restored = {row["id"]: row for row in documents}
    report.documents = len(restored)
    for expected in manifest.documents:
        found = restored.get(expected["id"])
        if found is None:
            report.problem(f"document {expected['id']} is missing from the restored store")
        elif any(str(found[column]) != str(expected[column]) for column in DOCUMENT_COLUMNS):
            report.problem(f"document {expected['id']} differs from the manifest")
    for row in documents:
        for column in ("original_key", "archive_key"):
            key = row[column]
            if key and key not in object_hashes:
                report.problem(f"document {row['id']}: its {column} {key} was not backed up")


def _check_seals(
    sealed: list[dict[str, Any]],
    objects_root: Path,
    wrapped_keys: dict[str, bytes],
    inputs: DrillInputs,
    report: DrillReport,
) -> None:
    from coffre.tasks.verify import verify_pdf

    vault = Vault(LocalObjectStore(objects_root), _keyring(wrapped_keys, inputs.master_key), 0)
    for row in random.sample(sealed, min(inputs.sample, len(sealed))):
        try:
            archive = vault.get(row["org_id"], row["archive_key"])
        except KeyDestroyed:
            report.shredded_documents += 1  # the organisation was deleted: unreadable, as meant
            continue
        except (DecryptionError, IntegrityError, KeyError) as error:
            report.problem(f"document {row['id']}: archive copy unreadable ({error})")
            continue
        verdict = verify_pdf(archive, inputs.trust_roots)
        if verdict.ok:
            report.seals_verified += 1
        else:
            report.problem(f"document {row['id']}: seal not valid ({'; '.join(verdict.reasons)})")


def _keyring(wrapped_keys: dict[str, bytes], master_key: SecretKey) -> KeyRing:
    engine = create_engine(
        "sqlite://", poolclass=StaticPool, connect_args={"check_same_thread": False}
    )
    create_keystore(engine)
    for org_id, wrapped in wrapped_keys.items():
        store_wrapped_key(engine, org_id, wrapped)
    return KeyRing(master_key, engine)


Restored = tuple[dict[str, int], list[dict[str, Any]]]


@contextmanager
def _restored_database(
    backend: str, dump_path: Path, inputs: DrillInputs, scratch: Path
) -> Iterator[Restored]:
    if backend == "sqlite":
        connection = sqlite3.connect(":memory:")
        try:
            connection.deserialize(decrypt_to_bytes(dump_path, inputs.identity))
            yield sqlite_row_counts(connection), sqlite_documents(connection)
        except sqlite3.DatabaseError as error:
            raise ValueError(f"the restored SQLite store is not readable: {error}") from error
        finally:
            connection.close()
        return
    if not inputs.drill_database_url:
        raise LookupError("no PostgreSQL server for the drill (COFFRE_BACKUP_DRILL_DATABASE_URL)")
    with _scratch_postgres(inputs.drill_database_url) as url:
        decrypt_into_command(
            dump_path,
            inputs.identity,
            [
                "pg_restore",
                "--no-owner",
                "--no-privileges",
                "--exit-on-error",
                f"--dbname={make_url(url).database}",  # host and password: PG* variables
            ],
            libpq_environment(url),
        )
        engine = create_engine(url, poolclass=NullPool)
        try:
            with engine.connect() as conn:
                yield row_counts_sql(conn), documents_sql(conn.execute)
        finally:
            engine.dispose()


@contextmanager
def _scratch_postgres(server_url: str) -> Iterator[str]:
    """A fresh database on the drill's server, dropped afterwards."""
    name = f"coffre_drill_{uuid.uuid4().hex[:12]}"
    admin: Engine = create_engine(server_url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            url = make_url(server_url).set(database=name)
            yield url.render_as_string(hide_password=False)
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


def drill_inputs(settings: Settings, identity: str, sample: int | None = None) -> DrillInputs:
    """What the drill needs from this instance: the master key and the trusted roots."""
    from coffre.runtime import master_key
    from coffre.tasks.pki import load_certificates
    from coffre.tasks.sealing import seal_config

    drill_url = settings.backup_drill_database_url
    if drill_url is None and not settings.store_url.startswith("sqlite"):
        drill_url = settings.store_url
    return DrillInputs(
        identity=identity,
        master_key=master_key(settings),
        trust_roots=load_certificates(list(seal_config(settings).trust_root_paths)),
        sample=settings.backup_drill_sample if sample is None else sample,
        scratch_root=settings.backup_path / "scratch",
        drill_database_url=drill_url,
        cache_dir=settings.backup_path / "restic-cache",
    )
