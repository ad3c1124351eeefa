"""Wires settings to the running services (store engine, key ring, vault), once per process."""

from __future__ import annotations

from functools import lru_cache

from sqlalchemy.engine import Engine

from coffre.models.db import engine_for
from coffre.settings import Settings, get_settings
from coffre.tasks.crypto import KeyRing, load_or_create_master_key
from coffre.tasks.storage import open_object_store
from coffre.tasks.vault import Vault


@lru_cache(maxsize=1)
def get_vault() -> Vault:
    settings = get_settings()
    secret = settings.master_key.get_secret_value() if settings.master_key else None
    keyring = KeyRing(
        load_or_create_master_key(secret, settings.master_key_path),
        engine_for(settings.keys_url),
    )
    return Vault(open_object_store(settings), keyring, settings.retention_years)


def get_engine(settings: Settings | None = None) -> Engine:
    return engine_for((settings or get_settings()).store_url)


def reset_runtime() -> None:
    """Forget the wiring (tests switch COFFRE_HOME between cases)."""
    from coffre.settings import reset_settings

    get_vault.cache_clear()
    engine_for.cache_clear()
    reset_settings()
