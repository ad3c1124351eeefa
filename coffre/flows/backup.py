"""nightly_backup and restore_drill: encrypted copies in three places, and proof they restore."""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.events import emit_event

from coffre.settings import get_settings
from coffre.tasks.backup_config import (
    configured_repositories,
    drill_identity,
)
from coffre.tasks.backup_drill import DrillReport, drill_inputs, run_drill
from coffre.tasks.backup_run import (
    RepositoryOutcome,
    Staged,
    back_up_tonight,
    stage_tonight,
)
from coffre.tasks.restic import ResticRepository


class BackupFailed(RuntimeError):
    """At least one repository did not get the night's backup, or a check failed."""


class DrillFailed(RuntimeError):
    """The restored snapshot disagrees with its manifest, or could not be restored."""


@contextmanager
def _exclusive(lock_path: Path) -> Iterator[None]:
    """One backup at a time on this machine: they share the staging folder."""
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with lock_path.open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise BackupFailed("another backup is running on this machine") from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@task(name="stage-backup", cache_policy=NO_CACHE)
def stage_backup() -> Staged:
    return stage_tonight(get_settings())


@task(name="back-up-repository", cache_policy=NO_CACHE)
def back_up_repository(
    repository: ResticRepository, staged: Staged, at: datetime, run_check: bool
) -> RepositoryOutcome:
    return back_up_tonight(repository, staged, get_settings(), at=at, run_check=run_check)


@flow(name="nightly-backup")
def nightly_backup(
    repositories: list[str] | None = None,
    check: bool | None = None,
    at: datetime | None = None,
) -> dict[str, Any]:
    """Back up the store, the objects and the key store to every repository.

    Args:
        repositories: names of the repositories to back up to (default: all configured).
        check: run `restic check --read-data-subset` (default: on the weekly check day).
        at: the snapshots' time (default: now).
    """
    settings = get_settings()
    logger = get_run_logger()
    moment = (at or datetime.now().astimezone()).astimezone()
    run_check = moment.weekday() == settings.backup_check_weekday if check is None else check
    targets = configured_repositories(settings, repositories)
    with _exclusive(settings.backup_path / "backup.lock"):
        staged = stage_backup()
        logger.info(
            "staged: %d documents, %d objects (%d new), %d organisation keys",
            len(staged.snapshot.documents),
            staged.objects,
            staged.new_objects,
            staged.keys,
        )
        outcomes = [back_up_repository(target, staged, moment, run_check) for target in targets]
    for outcome in outcomes:
        if outcome.ok:
            logger.info("%s: snapshot %s", outcome.repository, outcome.snapshot_id)
        else:
            logger.error("%s: %s", outcome.repository, outcome.error)
    _report_backup(outcomes, staged)
    failed = [outcome for outcome in outcomes if not outcome.ok]
    if failed:
        succeeded = [outcome.repository for outcome in outcomes if outcome.ok] or ["none"]
        raise BackupFailed(
            f"backup failed on {', '.join(o.repository for o in failed)} "
            f"(succeeded on {', '.join(succeeded)}): "
            + "; ".join(str(outcome.error) for outcome in failed)
        )
    return {"repositories": [outcome.to_dict() for outcome in outcomes]}


def _report_backup(outcomes: list[RepositoryOutcome], staged: Staged) -> None:
    rows = [
        {
            "repository": outcome.repository,
            "result": "ok" if outcome.ok else "FAILED",
            "snapshot": (outcome.snapshot_id or "")[:8],
            "bytes added": outcome.bytes_added,
            "new files": outcome.files_new,
            "duration (s)": outcome.duration_seconds,
            "forgotten snapshots": outcome.forgotten,
            "check": outcome.check,
            "error": outcome.error or "",
        }
        for outcome in outcomes
    ]
    create_table_artifact(
        rows, key="nightly-backup", description="Tonight's backup, one row per repository."
    )
    failed = [outcome.repository for outcome in outcomes if not outcome.ok]
    emit_event(
        event="coffre.backup.failed" if failed else "coffre.backup.succeeded",
        resource={"prefect.resource.id": f"coffre.backup.{get_settings().backup_host}"},
        payload={
            "failed": failed,
            "succeeded": [outcome.repository for outcome in outcomes if outcome.ok],
            "documents": len(staged.snapshot.documents),
            "objects": staged.objects,
            "repositories": [outcome.to_dict() for outcome in outcomes],
        },
    )


@flow(name="restore-drill")
def restore_drill(
    repository: str | None = None, snapshot: str | None = None, sample: int | None = None
) -> dict[str, Any]:
    """Restore a snapshot into scratch space and verify it against its manifest.

    Args:
        repository: the repository to restore from (default: the first configured).
        snapshot: a data snapshot id or prefix (default: the latest).
        sample: how many sealed documents to decrypt and verify (default: settings).
    """
    settings = get_settings()
    names = [repository] if repository else None
    target = configured_repositories(settings, names)[0]
    inputs = drill_inputs(settings, drill_identity(settings), sample)
    report = run_drill(target, inputs, snapshot)
    _report_drill(report)
    if not report.ok:
        raise DrillFailed(
            f"restore drill from {report.repository} failed: " + "; ".join(report.problems[:5])
        )
    return report.to_dict()


def _report_drill(report: DrillReport) -> None:
    lines = [
        f"# Restore drill — {report.repository}: {'passed' if report.ok else 'FAILED'}",
        "",
        "| check | result |",
        "|---|---|",
        f"| snapshot | {report.snapshot_id or '—'} ({report.snapshot_time or '—'}) |",
        f"| key-store snapshot | {report.keys_snapshot_id or '—'} |",
        f"| tables / rows | {report.tables} / {report.rows} |",
        f"| documents | {report.documents} |",
        f"| objects (SHA-256 checked) | {report.objects} |",
        f"| sealed documents verified | {report.seals_verified} |",
        f"| documents of deleted organisations (unreadable) | {report.shredded_documents} |",
    ]
    if report.problems:
        lines += ["", "## Problems", ""] + [f"- {problem}" for problem in report.problems]
    create_markdown_artifact("\n".join(lines), key="restore-drill")
    emit_event(
        event="coffre.backup.drill.passed" if report.ok else "coffre.backup.drill.failed",
        resource={"prefect.resource.id": f"coffre.backup.{get_settings().backup_host}"},
        payload=report.to_dict(),
    )
