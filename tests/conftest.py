"""Shared fixtures: an isolated COFFRE_HOME per test, SQLite and PostgreSQL stores,
Prefect's test harness, and the HTTPS S3 endpoint."""

from __future__ import annotations

import json
import os
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

# Prefect and Coffre read their settings at import time: isolate them before any import.
_SESSION_HOME = Path(tempfile.mkdtemp(prefix="coffre-tests-"))
os.environ["PREFECT_HOME"] = str(_SESSION_HOME / "prefect")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
os.environ["COFFRE_HOME"] = str(_SESSION_HOME / "default")

from tests.pki import (  # noqa: E402
    SoftHsmToken,
    TestPki,
    make_softhsm_token,
    softhsm_token,  # noqa: F401
    test_pki,  # noqa: F401
)
from tests.portal import chromium  # noqa: E402, F401 - one browser per test module
from tests.s3server import s3_server  # noqa: E402, F401

POSTGRES_ADMIN_URL = os.environ.get(
    "COFFRE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def _fresh_postgres_database() -> Iterator[str]:
    """A new, empty PostgreSQL database, dropped afterwards."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"coffre_test_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        from coffre.models.db import engine_for

        engine_for(
            make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
        ).dispose()
        engine_for.cache_clear()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The store's URL, once for SQLite and once for the local PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.db'}"
    else:
        yield from _fresh_postgres_database()


@pytest.fixture(scope="session")
def session_token(
    test_pki: TestPki,  # noqa: F811
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[SoftHsmToken]:
    """One SoftHSM2 token with the test seal keys, for every capture of the session."""
    with make_softhsm_token(tmp_path_factory.mktemp("hsm"), test_pki) as token:
        yield token


@pytest.fixture
def seal_env(
    test_pki: TestPki,  # noqa: F811
    session_token: SoftHsmToken,
    monkeypatch: pytest.MonkeyPatch,
) -> dict[str, str]:
    """Coffre configured as in production: HSM through PKCS#11, a TSA over HTTP, with
    OCSP and CRLs (the test PKI). Set in os.environ and returned for subprocesses."""
    values = {
        "COFFRE_SEAL_MODULE_PATH": session_token.module_path,
        "COFFRE_SEAL_TOKEN_LABEL": session_token.token_label,
        "COFFRE_SEAL_KEY_LABEL": session_token.key("seal-ec").key_label,
        "COFFRE_SEAL_PIN": session_token.user_pin,
        "COFFRE_TSA_URL": test_pki.tsa_url,
        "COFFRE_TRUST_ROOT_PATHS": json.dumps([str(test_pki.root_cert_path)]),
        "COFFRE_SEAL_CHAIN_PATHS": json.dumps([str(test_pki.intermediate_cert_path)]),
        "COFFRE_SEAL_REVOCATION_MODE": "hard-fail",
        "COFFRE_SEAL_RETRIES": "0",
        "SOFTHSM2_CONF": str(session_token.conf_path),
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return values


def _use_home(monkeypatch: pytest.MonkeyPatch, home: Path, database_url: str | None) -> Path:
    from coffre.bootstrap import prepare_home
    from coffre.runtime import reset_runtime

    monkeypatch.setenv("COFFRE_HOME", str(home))
    if database_url:
        monkeypatch.setenv("COFFRE_DATABASE_URL", database_url)
    else:
        monkeypatch.delenv("COFFRE_DATABASE_URL", raising=False)
    reset_runtime()
    prepare_home()
    return home


@pytest.fixture
def coffre_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, seal_env: dict[str, str]
) -> Iterator[Path]:
    """An embedded Coffre (SQLite, local objects) in a fresh folder."""
    from coffre.runtime import reset_runtime

    yield _use_home(monkeypatch, tmp_path / "home", None)
    reset_runtime()


@pytest.fixture
def coffre_home_any_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, store_url: str, seal_env: dict[str, str]
) -> Iterator[Path]:
    """The same, once on SQLite and once on PostgreSQL."""
    from coffre.runtime import reset_runtime

    yield _use_home(monkeypatch, tmp_path / "home", store_url)
    reset_runtime()


@pytest.fixture
def organization(coffre_home: Path):  # type: ignore[no-untyped-def]
    from coffre.models import Organization, session_scope

    org = Organization(name="Boulangerie Martin", siren="732829320")
    with session_scope() as session:
        session.add(org)
    return org


@pytest.fixture(scope="session")
def prefect_harness() -> Iterator[None]:
    """One temporary Prefect API for the whole session."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield
