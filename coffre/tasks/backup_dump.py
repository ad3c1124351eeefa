"""A consistent, age-encrypted dump of the store, and the facts the manifest needs.

PostgreSQL: ``pg_dump -Fc`` runs on a snapshot exported by a repeatable-read
transaction, and the row counts and document states are read in that same
transaction, so the manifest describes exactly what the dump holds. SQLite (the
embedded default): the online backup API copies the database into memory, and the
serialised copy is piped to age. Neither writes the clear dump to disk.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.pool import NullPool

from coffre.tasks.age_crypt import encrypt_command_output, encrypting_writer

DOCUMENT_COLUMNS = ("id", "org_id", "status", "original_key", "archive_key")
_DOCUMENTS_SQL = f"SELECT {', '.join(DOCUMENT_COLUMNS)} FROM document ORDER BY id"  # noqa: S608


@dataclass(frozen=True)
class StoreSnapshot:
    """What the dump contains: rows per table and every document's state and objects."""

    backend: str  # "postgresql" or "sqlite"
    row_counts: dict[str, int]
    documents: list[dict[str, Any]]


def libpq_environment(url: str) -> dict[str, str]:
    """PG* variables for pg_dump / pg_restore (keeps the password off the command line)."""
    parsed = make_url(url)
    env = {name: os.environ[name] for name in ("PATH", "HOME", "LANG") if name in os.environ}
    for variable, value in (
        ("PGHOST", parsed.host),
        ("PGPORT", parsed.port),
        ("PGUSER", parsed.username),
        ("PGPASSWORD", parsed.password),
        ("PGDATABASE", parsed.database),
    ):
        if value is not None:
            env[variable] = str(value)
    return env


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def sqlite_path(url: str) -> Path:
    database = make_url(url).database
    if not database or database == ":memory:":
        raise ValueError("an in-memory SQLite store cannot be backed up")
    return Path(database)


def dump_store(
    url: str, recipients: Sequence[str], output: Path, lock_wait_seconds: float = 300
) -> StoreSnapshot:
    """Dump the store to ``output``; ``lock_wait_seconds`` bounds pg_dump's wait for locks
    (a migration holding a table must make the backup fail, not hang the night)."""
    if is_sqlite(url):
        return _dump_sqlite(sqlite_path(url), recipients, output)
    return _dump_postgresql(url, recipients, output, lock_wait_seconds)


def _dump_postgresql(
    url: str, recipients: Sequence[str], output: Path, lock_wait_seconds: float
) -> StoreSnapshot:
    engine = create_engine(url, poolclass=NullPool)
    try:
        snapshot_reader = engine.connect().execution_options(isolation_level="REPEATABLE READ")
        with snapshot_reader as conn, conn.begin():
            conn.execute(text("SET TRANSACTION READ ONLY"))
            snapshot_id = conn.execute(text("SELECT pg_export_snapshot()")).scalar_one()
            encrypt_command_output(
                [
                    "pg_dump",
                    "--format=custom",
                    "--no-owner",
                    f"--snapshot={snapshot_id}",
                    f"--lock-wait-timeout={lock_wait_seconds * 1000:.0f}",
                ],
                recipients,
                output,
                libpq_environment(url),
            )
            return StoreSnapshot("postgresql", row_counts_sql(conn), documents_sql(conn.execute))
    finally:
        engine.dispose()


def row_counts_sql(conn: Connection) -> dict[str, int]:
    tables = sorted(inspect(conn).get_table_names())
    return {
        table: int(conn.execute(text(f'SELECT count(*) FROM "{table}"')).scalar_one())  # noqa: S608
        for table in tables
    }


def documents_sql(execute: Callable[..., Any]) -> list[dict[str, Any]]:
    return [dict(zip(DOCUMENT_COLUMNS, row, strict=True)) for row in execute(text(_DOCUMENTS_SQL))]


def _dump_sqlite(path: Path, recipients: Sequence[str], output: Path) -> StoreSnapshot:
    source = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=60)
    copy = sqlite3.connect(":memory:")
    try:
        source.backup(copy)
        snapshot = StoreSnapshot("sqlite", sqlite_row_counts(copy), sqlite_documents(copy))
        data = _rollback_journal_header(copy.serialize())
    finally:
        source.close()
        copy.close()
    with encrypting_writer(recipients, output) as pipe:
        pipe.write(data)
    return snapshot


def _rollback_journal_header(image: bytes) -> bytes:
    """Mark the image as a rollback-journal database (header bytes 18-19).

    The store runs in WAL mode and the copy keeps that flag, but a WAL database cannot
    be opened from memory or without its -wal file: a restore would fail to open it.
    """
    header = bytearray(image[:100])
    if len(header) == 100 and header[18] == 2 and header[19] == 2:
        return bytes(header[:18]) + b"\x01\x01" + image[20:]
    return image


def sqlite_row_counts(conn: sqlite3.Connection) -> dict[str, int]:
    tables = [
        row[0]
        for row in conn.execute(
            "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'"
        )
    ]
    return {
        table: int(conn.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0])  # noqa: S608
        for table in sorted(tables)
    }


def sqlite_documents(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    return [dict(zip(DOCUMENT_COLUMNS, row, strict=True)) for row in conn.execute(_DOCUMENTS_SQL)]
