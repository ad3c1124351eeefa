"""Wires settings to the running services (store engine, key ring, vault), once per process."""

from __future__ import annotations

from functools import lru_cache

from sqlalchemy.engine import Engine

from coffre.models.db import engine_for
from coffre.settings import Settings, get_settings
from coffre.tasks.crypto import KeyRing, SecretKey, load_or_create_master_key
from coffre.tasks.storage import ObjectStore, open_object_store
from coffre.tasks.vault import Vault


@lru_cache(maxsize=1)
def get_vault() -> Vault:
    settings = get_settings()
    keyring = KeyRing(master_key(settings), engine_for(settings.keys_url))
    return Vault(_object_store(settings), keyring, settings.retention_years)


def master_key(settings: Settings) -> SecretKey:
    """The key that wraps every organisation's data key (also what a restore drill needs)."""
    return load_or_create_master_key(_master_key_value(settings), settings.master_key_path)


def _master_key_value(settings: Settings) -> str | None:
    """Production: a MasterKey block; else COFFRE_MASTER_KEY; else a file under home."""
    if settings.master_key_block:
        from coffre.blocks.storage import MasterKey

        block = MasterKey.load(settings.master_key_block)
        assert isinstance(block, MasterKey)
        return block.value.get_secret_value()
    return settings.master_key.get_secret_value() if settings.master_key else None


def _object_store(settings: Settings) -> ObjectStore:
    """Production: an ObjectStorage block; else the COFFRE_OBJECTS_* / COFFRE_S3_* values."""
    if not settings.storage_block:
        return open_object_store(settings)
    from coffre.blocks.storage import ObjectStorage

    block = ObjectStorage.load(settings.storage_block)
    assert isinstance(block, ObjectStorage)
    ca_path = None
    if block.ca_bundle_pem:
        path = settings.resolved_home / "pki" / "storage-ca.pem"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(block.ca_bundle_pem)
        ca_path = str(path)
    return block.open(ca_path)


def get_engine(settings: Settings | None = None) -> Engine:
    return engine_for((settings or get_settings()).store_url)


def reset_runtime() -> None:
    """Forget the wiring (tests switch COFFRE_HOME between cases)."""
    from coffre.settings import reset_settings

    get_vault.cache_clear()
    engine_for.cache_clear()
    reset_settings()
