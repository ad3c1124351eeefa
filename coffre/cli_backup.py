"""`coffre backup run|drill|list`: the nightly backup and its restore drill, by hand."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from coffre.bootstrap import configure_prefect_home

backup_app = typer.Typer(
    help="Encrypted backups (restic + age) and restore drills.", no_args_is_help=True
)


def _outcome(state: Any) -> Any:
    """The flow's result, or its error in words with exit status 1."""
    from coffre.cli import _fail

    if state.is_completed():
        return state.result()
    try:
        state.result()
    except Exception as error:  # noqa: BLE001 - the flow's error, in words
        _fail(str(error), 1)
    _fail(f"the run ended {state.name}", 1)


@backup_app.command("run")
def backup_run(
    repo: Annotated[
        list[str] | None, typer.Option("--repo", help="Only this repository (repeatable).")
    ] = None,
    check: Annotated[
        bool | None,
        typer.Option("--check/--no-check", help="Read a subset of the data (default: weekly)."),
    ] = None,
) -> None:
    """Back up now, to every configured repository; prints one JSON line per repository."""
    from coffre.cli import _print_json

    configure_prefect_home()
    from coffre.flows.backup import nightly_backup

    state = nightly_backup(repositories=repo or None, check=check, return_state=True)
    result = _outcome(state)  # a partial failure names what succeeded where
    for row in result["repositories"]:
        _print_json(row)


@backup_app.command("drill")
def backup_drill(
    repo: Annotated[str | None, typer.Option("--repo", help="Repository to restore from.")] = None,
    snapshot: Annotated[
        str | None, typer.Option("--snapshot", help="Snapshot id (default: latest).")
    ] = None,
    sample: Annotated[
        int | None, typer.Option("--sample", help="Sealed documents to verify.")
    ] = None,
) -> None:
    """Restore into scratch space and verify against the manifest; exit 1 on any mismatch."""
    from coffre.cli import _print_json

    configure_prefect_home()
    from coffre.flows.backup import restore_drill

    state = restore_drill(repository=repo, snapshot=snapshot, sample=sample, return_state=True)
    _print_json(_outcome(state))


@backup_app.command("list")
def backup_list(
    repo: Annotated[str | None, typer.Option("--repo", help="Only this repository.")] = None,
) -> None:
    """The snapshots of every repository, one JSON line each (newest last)."""
    from coffre.cli import _fail, _print_json
    from coffre.settings import get_settings
    from coffre.tasks.backup_config import configured_repositories
    from coffre.tasks.restic import Restic, ResticError

    configure_prefect_home()
    settings = get_settings()
    failed = False
    for repository in configured_repositories(settings, [repo] if repo else None):
        try:
            snapshots = Restic(repository).snapshots()
        except ResticError as error:
            typer.echo(f"error: {error}", err=True)
            failed = True
            continue
        for snapshot in snapshots:
            _print_json(
                {
                    "repository": repository.name,
                    "snapshot": snapshot.id,
                    "time": snapshot.time.isoformat(),
                    "tags": list(snapshot.tags),
                    "paths": list(snapshot.paths),
                }
            )
    if failed:
        _fail("some repositories could not be listed", 1)
