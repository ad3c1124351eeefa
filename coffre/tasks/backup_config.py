"""Where backups go and who can read them: from blocks in production, else the
embedded default (one restic repository and one age identity under COFFRE_HOME)."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from coffre.settings import Settings
from coffre.tasks.age_crypt import generate_identity, recipient_of
from coffre.tasks.restic import ResticRepository, RetentionPolicy

DATA_TAG = "coffre-data"
KEYS_TAG = "coffre-keys"
EMBEDDED_REPOSITORY = "local"


@dataclass(frozen=True)
class BackupPolicy:
    data: RetentionPolicy
    keys: RetentionPolicy
    check_weekday: int
    check_subsets: int


def backup_policy(settings: Settings) -> BackupPolicy:
    return BackupPolicy(
        data=RetentionPolicy(
            daily=settings.backup_keep_daily,
            weekly=settings.backup_keep_weekly,
            monthly=settings.backup_keep_monthly,
            yearly=settings.backup_keep_yearly,
        ),
        keys=RetentionPolicy(within_days=settings.backup_keys_keep_days),
        check_weekday=settings.backup_check_weekday,
        check_subsets=settings.backup_check_subsets,
    )


def configured_repositories(
    settings: Settings, names: list[str] | None = None
) -> list[ResticRepository]:
    """The repositories named (default: all configured), each one a Prefect block."""
    block_names = settings.backup_repository_blocks
    if not block_names:
        repositories = [_embedded_repository(settings)]
    else:
        from coffre.blocks.backup import BackupRepository

        repositories = []
        for name in block_names:
            block = BackupRepository.load(name)
            assert isinstance(block, BackupRepository)
            repositories.append(
                block.to_repository(name, settings.resolved_home / "pki", settings.backup_host)
            )
    if names:
        unknown = sorted(set(names) - {repository.name for repository in repositories})
        if unknown:
            raise LookupError(f"no backup repository named {', '.join(unknown)}")
        repositories = [repository for repository in repositories if repository.name in names]
    return repositories


def _embedded_repository(settings: Settings) -> ResticRepository:
    password_file = settings.resolved_home / "secrets" / "restic-local.pass"
    if not password_file.exists():
        _write_private(password_file, secrets.token_urlsafe(32))
    return ResticRepository(
        name=EMBEDDED_REPOSITORY,
        url=str(settings.resolved_home / "backups" / EMBEDDED_REPOSITORY),
        password=password_file.read_text().strip(),
        timeout_seconds=settings.backup_timeout_seconds,
        host=settings.backup_host,
    )


def _embedded_identity_path(settings: Settings) -> Path:
    return settings.resolved_home / "secrets" / "backup-identity.txt"


def recipients(settings: Settings) -> list[str]:
    """Public keys the backups are encrypted to."""
    if settings.backup_recipients:
        return list(settings.backup_recipients)
    path = _embedded_identity_path(settings)
    if not path.exists():
        return [generate_identity(path)]
    return [recipient_of(path.read_text())]


def drill_identity(settings: Settings) -> str:
    """The identity that decrypts backups: a block in production, else the embedded file."""
    if settings.backup_identity_block:
        from coffre.blocks.backup import BackupIdentity

        block = BackupIdentity.load(settings.backup_identity_block)
        assert isinstance(block, BackupIdentity)
        return block.identity.get_secret_value()
    path = _embedded_identity_path(settings)
    if not path.exists():
        raise LookupError(
            "no backup identity: set COFFRE_BACKUP_IDENTITY_BLOCK to the drill's BackupIdentity"
        )
    return path.read_text()


def _write_private(path: Path, content: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return  # another process created it first: use theirs
    with os.fdopen(fd, "w") as handle:
        handle.write(content + "\n")
