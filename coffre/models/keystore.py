"""The key store: each organisation's data key, wrapped by the master key.

It is a database of its own (``COFFRE_KEYSTORE_URL``) rather than a table of the store,
so that it can be backed up with a short retention: once an organisation is deleted and
its key destroyed, no long-kept backup can bring the key back (crypto-shredding).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, DateTime, LargeBinary, MetaData, String, Table, insert, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from coffre.models.organization import utcnow

keystore_metadata = MetaData()

org_keys = Table(
    "org_key",
    keystore_metadata,
    Column("org_id", String(32), primary_key=True),
    Column("wrapped_key", LargeBinary, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)


def create_keystore(engine: Engine) -> None:
    keystore_metadata.create_all(engine)


def load_wrapped_key(engine: Engine, org_id: str) -> bytes | None:
    with engine.connect() as conn:
        row = conn.execute(select(org_keys.c.wrapped_key).where(org_keys.c.org_id == org_id))
        value = row.scalar_one_or_none()
        conn.rollback()
    return bytes(value) if value is not None else None


def store_wrapped_key(engine: Engine, org_id: str, wrapped: bytes) -> bytes:
    """Insert the wrapped key unless one exists; return whichever is stored (race-safe)."""
    try:
        with engine.begin() as conn:
            conn.execute(
                insert(org_keys).values(org_id=org_id, wrapped_key=wrapped, created_at=utcnow())
            )
        return wrapped
    except IntegrityError:
        existing = load_wrapped_key(engine, org_id)
        assert existing is not None
        return existing


def destroy_wrapped_key(engine: Engine, org_id: str) -> bool:
    with engine.begin() as conn:
        result = conn.execute(org_keys.delete().where(org_keys.c.org_id == org_id))
    return bool(result.rowcount)


def key_created_at(engine: Engine, org_id: str) -> datetime | None:
    with engine.connect() as conn:
        value = conn.execute(
            select(org_keys.c.created_at).where(org_keys.c.org_id == org_id)
        ).scalar_one_or_none()
        conn.rollback()
    return value
