"""Embedded state: the folders under COFFRE_HOME, the schema, the key store, Prefect's home."""

from __future__ import annotations

import os
import urllib.request
from pathlib import Path

from coffre.settings import Settings, get_settings


def configure_prefect_home(settings: Settings | None = None) -> None:
    """Keep Prefect's own state under COFFRE_HOME unless the operator chose otherwise.

    Must run before prefect is imported: Prefect reads its settings at import time.
    """
    settings = settings or get_settings()
    os.environ.setdefault("PREFECT_HOME", str(settings.resolved_home / "prefect"))
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    if "PREFECT_API_URL" not in os.environ:
        api_url = f"http://{settings.prefect_host}:{settings.prefect_port}/api"
        if _answers(f"{api_url}/health"):
            os.environ["PREFECT_API_URL"] = api_url  # `make run` is up: runs show there


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=0.5) as response:  # noqa: S310 - local URL
            return bool(response.status == 200)
    except OSError:
        return False


def prepare_home(settings: Settings | None = None) -> Path:
    """Create the folders and bring the store and the key store up to date."""
    from coffre.models.db import engine_for
    from coffre.models.keystore import create_keystore
    from coffre.models.migrate import upgrade
    from coffre.tasks.crypto import load_or_create_master_key

    settings = settings or get_settings()
    home = settings.resolved_home
    for folder in (home, settings.inbox_path, settings.work_path):
        folder.mkdir(parents=True, exist_ok=True)
    if settings.objects_backend == "local":
        settings.objects_path.mkdir(parents=True, exist_ok=True)
    upgrade(settings.store_url)
    create_keystore(engine_for(settings.keys_url))
    if not (settings.master_key or settings.master_key_block):
        load_or_create_master_key(None, settings.master_key_path)
    return home
