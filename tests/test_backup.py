"""Nightly backups to three real restic repositories (two folders and S3 over HTTPS),
age encryption, retention, checks, stale locks, and restore drills."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy import create_engine, text

from coffre.blocks.backup import BackupIdentity, BackupRepository
from coffre.models import Organization, session_scope
from coffre.models.keystore import destroy_wrapped_key
from coffre.runtime import get_vault, reset_runtime
from coffre.settings import get_settings
from coffre.tasks.age_crypt import generate_identity
from coffre.tasks.backup_config import DATA_TAG, KEYS_TAG, configured_repositories
from coffre.tasks.backup_drill import drill_inputs, run_drill
from coffre.tasks.restic import Restic
from tests import documents
from tests.conftest import POSTGRES_ADMIN_URL
from tests.s3server import S3Server, start_s3_server

pytestmark = pytest.mark.usefixtures("prefect_harness")


@dataclass(frozen=True)
class Operators:
    identity: str
    recipient: str


@pytest.fixture
def operators(tmp_path: Path) -> Operators:
    """The operators' age key pair; the identity never goes where backups are made."""
    path = tmp_path / "operators" / "identity.txt"
    recipient = generate_identity(path)
    return Operators(path.read_text(), recipient)


def _capture(org_id: str, folder: Path, *texts: str) -> list[dict[str, Any]]:
    from coffre.flows.capture import capture

    paths = []
    for text_line in texts:
        path = folder / f"{uuid.uuid4().hex[:8]}.pdf"
        path.write_bytes(documents.text_pdf([text_line, "Total TTC 12,00 EUR"]))
        paths.append(str(path))
    outcomes = capture(org=org_id, paths=paths)
    assert all(outcome["status"] == "SEALED" for outcome in outcomes), outcomes
    return outcomes


def _configure(
    monkeypatch: pytest.MonkeyPatch,
    repositories: dict[str, str],
    operators: Operators,
    s3: S3Server | None = None,
) -> dict[str, str]:
    """Save one BackupRepository block per repository; return display name → block name."""
    suffix = uuid.uuid4().hex[:6]
    names = {}
    for name, url in repositories.items():
        block_name = f"{name}-{suffix}"
        fields: dict[str, Any] = {"repository": url, "password": SecretStr(f"pw-{name}-{suffix}")}
        if url.startswith("s3:") and s3 is not None:
            fields |= {
                "access_key_id": SecretStr(s3.access_key),
                "secret_access_key": SecretStr(s3.secret_key),
                "region": s3.region,
                "ca_bundle_pem": s3.ca_bundle.read_text(),
                "timeout_seconds": 120,
            }
        BackupRepository(**fields).save(block_name)
        names[name] = block_name
    identity_block = f"drill-{suffix}"
    BackupIdentity(identity=SecretStr(operators.identity)).save(identity_block)
    monkeypatch.setenv("COFFRE_BACKUP_REPOSITORY_BLOCKS", json.dumps(list(names.values())))
    monkeypatch.setenv("COFFRE_BACKUP_RECIPIENTS", json.dumps([operators.recipient]))
    monkeypatch.setenv("COFFRE_BACKUP_IDENTITY_BLOCK", identity_block)
    reset_runtime()
    return names


def _primary_state(home: Path) -> dict[str, str]:
    """SHA-256 of every object and the store's row counts: a backup must change neither."""
    settings = get_settings()
    state = {
        str(path.relative_to(settings.objects_path)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(settings.objects_path.rglob("*"))
        if path.is_file()
    }
    engine = create_engine(settings.store_url)
    with engine.connect() as conn:
        for table in ("document", "audit_event", "organization"):
            count = conn.execute(text(f"SELECT count(*) FROM {table}")).scalar()  # noqa: S608
            state[f"rows:{table}"] = str(count)
    engine.dispose()
    return state


def _rows(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {row["repository"]: row for row in result["repositories"]}


def test_full_and_incremental_backups_to_three_repositories_then_drills(
    organization: Organization,
    coffre_home: Path,
    s3_server: S3Server,
    operators: Operators,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from prefect.artifacts import Artifact

    from coffre.flows.backup import nightly_backup, restore_drill

    names = _configure(
        monkeypatch,
        {
            "local-a": str(tmp_path / "repos" / "a"),
            "eu-s3": f"s3:https://{s3_server.endpoint}/{s3_server.unique_bucket('restic')}/coffre",
            "local-b": str(tmp_path / "repos" / "b"),
        },
        operators,
        s3_server,
    )
    _capture(organization.id, tmp_path, "Facture 1 Papeterie", "Facture 2 Boulangerie")
    before = _primary_state(coffre_home)

    # The machine making backups holds no identity: backups are made without one.
    monkeypatch.delenv("COFFRE_BACKUP_IDENTITY_BLOCK")
    reset_runtime()
    first = _rows(nightly_backup(check=False))
    assert set(first) == set(names.values())
    assert all(row["ok"] and row["snapshot_id"] for row in first.values())
    assert all(row["bytes_added"] > 0 for row in first.values())

    staging = get_settings().backup_path / "staging"
    for staged in staging.rglob("*.age"):
        assert staged.read_bytes().startswith(b"age-encryption.org/v1"), staged
    for path in get_settings().backup_path.rglob("*"):
        if path.is_file():
            content = path.read_bytes()
            assert b"Boulangerie Martin" not in content and b"Facture 1" not in content, path

    _capture(organization.id, tmp_path, "Facture 3 Quincaillerie")
    second = _rows(nightly_backup(check=False))
    for name, row in second.items():
        assert row["ok"], row
        assert row["snapshot_id"] != first[name]["snapshot_id"]
        assert row["files_new"] <= 4  # two new objects, tonight's dump and manifest
        assert row["bytes_added"] < first[name]["bytes_added"]

    after = _primary_state(coffre_home)
    assert {k: v for k, v in after.items() if k in before and not k.startswith("rows:")} == {
        k: v for k, v in before.items() if not k.startswith("rows:")
    }

    artifact = Artifact.get("nightly-backup")
    assert artifact is not None and artifact.data and "eu-s3" in str(artifact.data)

    monkeypatch.setenv("COFFRE_BACKUP_IDENTITY_BLOCK", f"drill-{names['eu-s3'][-6:]}")
    reset_runtime()
    for block_name in names.values():
        report = restore_drill(repository=block_name, sample=10)
        assert report["ok"], report
        assert report["documents"] == 3
        assert report["objects"] == sum(1 for k in after if not k.startswith("rows:"))
        assert report["seals_verified"] == 3
        assert report["rows"] > 0 and report["tables"] > 10


@pytest.mark.parametrize("store_url", ["postgresql"], indirect=True)
def test_backup_and_drill_on_postgresql_with_the_embedded_default(
    coffre_home_any_store: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No repository configured: one restic folder and one age identity under home."""
    from coffre.flows.backup import nightly_backup, restore_drill

    monkeypatch.setenv("COFFRE_BACKUP_DRILL_DATABASE_URL", POSTGRES_ADMIN_URL)
    org = Organization(name="Garage Dupont", siren="732829320")
    with session_scope() as session:
        session.add(org)
    _capture(org.id, tmp_path, "Facture garage")

    [row] = nightly_backup(check=True)["repositories"]
    assert row["repository"] == "local" and row["ok"] and row["check"].startswith("ok")
    report = restore_drill()
    assert report["ok"] and report["documents"] == 1 and report["seals_verified"] == 1, report

    admin = create_engine(POSTGRES_ADMIN_URL)
    with admin.connect() as conn:
        leftovers = conn.execute(
            text("SELECT datname FROM pg_database WHERE datname LIKE 'coffre_drill_%'")
        ).all()
    admin.dispose()
    assert leftovers == []

    # A dump that cannot finish (a table locked by a migration) makes no snapshot.
    monkeypatch.setenv("COFFRE_BACKUP_LOCK_WAIT_SECONDS", "1")
    reset_runtime()
    [repository] = configured_repositories(get_settings())
    before = len(Restic(repository).snapshots(DATA_TAG))
    locker = create_engine(get_settings().store_url)
    with locker.connect() as conn, conn.begin():
        conn.execute(text("LOCK TABLE document IN ACCESS EXCLUSIVE MODE"))
        state = nightly_backup(return_state=True)
    locker.dispose()
    assert state.is_failed()
    assert "pg_dump failed" in str(state.message) or "lock" in str(state.message).lower()
    assert len(Restic(repository).snapshots(DATA_TAG)) == before
    assert not list((get_settings().backup_path / "staging" / "data").glob("store.dump.age"))


def test_a_repository_lost_in_the_middle_fails_the_run_but_not_the_others(
    organization: Organization,
    coffre_home: Path,
    operators: Operators,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import coffre.flows.backup as backup_flows
    import coffre.tasks.backup_run as backup_run

    (tmp_path / "s3").mkdir()
    server, wsgi, thread = start_s3_server(tmp_path / "s3")
    try:
        names = _configure(
            monkeypatch,
            {
                "local-a": str(tmp_path / "repos" / "a"),
                "eu-s3": f"s3:https://{server.endpoint}/restic-down/coffre",
                "local-b": str(tmp_path / "repos" / "b"),
            },
            operators,
            server,
        )
        _capture(organization.id, tmp_path, "Facture avant panne")
        first = {row["repository"]: row["snapshot_id"] for row in nightly_backup_rows()}

        real_back_up_to = backup_run.back_up_to

        def provider_goes_down_after_the_first(repository, *args, **kwargs):  # type: ignore[no-untyped-def]
            outcome = real_back_up_to(repository, *args, **kwargs)
            if repository.name == names["local-a"]:
                wsgi.shutdown()
                wsgi.server_close()
            return outcome

        monkeypatch.setattr(backup_run, "back_up_to", provider_goes_down_after_the_first)
        state = backup_flows.nightly_backup(check=False, return_state=True)
    finally:
        wsgi.shutdown()
        thread.join(timeout=10)
    assert state.is_failed()
    message = str(state.message)
    assert f"backup failed on {names['eu-s3']}" in message
    assert names["local-a"] in message and names["local-b"] in message  # succeeded there
    assert "connection refused" in message and "init" not in message
    for name in ("local-a", "local-b"):
        [repository] = configured_repositories(get_settings(), [names[name]])
        latest = Restic(repository).snapshots(DATA_TAG)[-1]
        assert latest.id != first[names[name]]  # tonight's backup is there


def nightly_backup_rows() -> list[dict[str, Any]]:
    from coffre.flows.backup import nightly_backup

    return list(nightly_backup(check=False)["repositories"])


def _embedded_repository() -> Restic:
    [repository] = configured_repositories(get_settings())
    return Restic(repository)


def test_a_stale_lock_from_a_killed_run_is_removed(
    organization: Organization, coffre_home: Path, tmp_path: Path
) -> None:
    _capture(organization.id, tmp_path, "Facture verrou")
    assert nightly_backup_rows()[0]["ok"]
    restic = _embedded_repository()
    big = tmp_path / "big"
    big.mkdir()
    (big / "random.bin").write_bytes(os.urandom(256 * 1024 * 1024))
    locks = Path(restic.repository.url) / "locks"
    with restic._password_file() as password_file:
        process = subprocess.Popen(
            restic._command(password_file, ["backup", str(big)]),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        while not any(locks.iterdir()) and time.monotonic() < deadline:
            time.sleep(0.02)
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
    assert any(locks.iterdir()), "the killed run left no lock"

    [row] = nightly_backup_rows()
    assert row["ok"], row
    assert not any(locks.iterdir())


def test_check_finds_a_corrupted_pack_and_fails_the_run(
    organization: Organization,
    coffre_home: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from prefect.artifacts import Artifact

    from coffre.flows.backup import nightly_backup

    _capture(organization.id, tmp_path, "Facture controle")
    assert nightly_backup_rows()[0]["ok"]
    packs = sorted(
        (Path(_embedded_repository().repository.url) / "data").rglob("*"),
        key=lambda path: path.stat().st_size if path.is_file() else 0,
    )
    pack = packs[-1]
    pack.chmod(0o644)
    content = bytearray(pack.read_bytes())
    content[len(content) // 2] ^= 0xFF
    pack.write_bytes(bytes(content))

    monkeypatch.setenv("COFFRE_BACKUP_CHECK_SUBSETS", "1")  # read all the data
    reset_runtime()
    tomorrow = datetime.now().astimezone() + timedelta(days=1)  # nothing to forget tonight
    state = nightly_backup(check=True, at=tomorrow, return_state=True)
    assert state.is_failed()
    assert "restic check on local failed" in str(state.message)
    artifact = Artifact.get("nightly-backup")
    assert artifact is not None and "FAILED" in str(artifact.data)


def test_drill_fails_loudly_on_a_tampered_object(
    organization: Organization, coffre_home: Path, tmp_path: Path
) -> None:
    from coffre.flows.backup import restore_drill

    _capture(organization.id, tmp_path, "Facture intacte")
    assert nightly_backup_rows()[0]["ok"]
    assert restore_drill(sample=5)["ok"]

    # Bit rot in the primary store: the object changes after its hash was recorded.
    settings = get_settings()
    victim = next(path for path in sorted(settings.objects_path.rglob("*")) if path.is_file())
    victim.chmod(0o644)
    content = bytearray(victim.read_bytes())
    content[-5] ^= 0x01
    victim.write_bytes(bytes(content))
    assert nightly_backup_rows()[0]["ok"]

    state = restore_drill(sample=5, return_state=True)
    assert state.is_failed()
    key = victim.relative_to(settings.objects_path).as_posix()
    assert f"object {key} does not match the manifest" in str(state.message)


def test_restoring_an_old_backup_after_an_account_deletion_leaves_its_documents_unreadable(
    organization: Organization, coffre_home: Path, tmp_path: Path
) -> None:
    from coffre.flows.backup import nightly_backup

    other = Organization(name="Fleuriste Lenoir", siren="552100554")
    with session_scope() as session:
        session.add(other)
    _capture(organization.id, tmp_path, "Facture boulangerie")
    _capture(other.id, tmp_path, "Facture fleuriste")

    now = datetime.now().astimezone()
    nightly_backup(check=False, at=now - timedelta(days=41))
    # The account is deleted: its data key is destroyed (crypto-shredding).
    destroy_wrapped_key(get_vault().keyring._keystore, organization.id)
    get_vault().keyring.forget(organization.id)
    nightly_backup(check=False, at=now - timedelta(days=40))
    nightly_backup(check=False, at=now)

    restic = _embedded_repository()
    key_snapshots = restic.snapshots(KEYS_TAG)
    assert [s.time.date() for s in key_snapshots] == [now.date()]  # older ones forgotten
    old_data = restic.snapshots(DATA_TAG)[0]
    assert old_data.time.date() == (now - timedelta(days=41)).date()  # data kept for years

    from coffre.tasks.backup_config import drill_identity

    settings = get_settings()
    report = run_drill(
        restic.repository, drill_inputs(settings, drill_identity(settings), 10), old_data.id
    )
    assert report.ok, report.problems
    assert report.documents == 2
    assert report.shredded_documents == 1  # the deleted organisation's document
    assert report.seals_verified == 1  # the other organisation's


def test_backup_commands(tmp_path: Path, seal_env: dict[str, str]) -> None:
    from tests.test_cli import json_lines, run

    home = tmp_path / "var"
    run(home, "org", "create", "Papeterie", "--siren", "732829320")
    pdf = tmp_path / "facture.pdf"
    pdf.write_bytes(documents.text_pdf(["Facture papeterie", "Total TTC 10,00 EUR"]))
    run(home, "capture", str(pdf), "--org", "732829320", "--json")

    [row] = json_lines(run(home, "backup", "run", "--no-check").stdout)
    assert row["repository"] == "local" and row["ok"]
    listed = json_lines(run(home, "backup", "list").stdout)
    assert {tuple(item["tags"]) for item in listed} == {(DATA_TAG,), (KEYS_TAG,)}
    report = json_lines(run(home, "backup", "drill", "--repo", "local").stdout)[0]
    assert report["ok"] and report["documents"] == 1
    failed = run(home, "backup", "drill", "--repo", "elsewhere", check=False)
    assert failed.returncode == 1 and "no backup repository named elsewhere" in failed.stderr


@pytest.fixture(autouse=True)
def _no_leftover_identity_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in (
        "COFFRE_BACKUP_REPOSITORY_BLOCKS",
        "COFFRE_BACKUP_RECIPIENTS",
        "COFFRE_BACKUP_IDENTITY_BLOCK",
    ):
        monkeypatch.delenv(name, raising=False)
    yield
