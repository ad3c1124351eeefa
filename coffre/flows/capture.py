"""capture: photos and PDFs in → originals kept → PDF/A archive copies with their fields."""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.futures import PrefectFuture, as_completed
from prefect.task_runners import TaskRunner, ThreadPoolTaskRunner

from coffre.flows.seal import SealAsReady
from coffre.settings import get_settings
from coffre.tasks.capture import (
    CaptureOutcome,
    capture_file,
    normalize_document,
    organisation_id,
    refresh_outcomes,
    store_original,
)

# Seals start after this many conversions: small batches keep the tail short.
STREAMED_SEAL_BATCH = 10
# Two cores: two conversions at a time, each with one OCR thread.
_RUNNER = cast(
    "TaskRunner[PrefectFuture[Any]]",
    ThreadPoolTaskRunner(max_workers=get_settings().capture_concurrency),
)


@task(name="list-folder", cache_policy=NO_CACHE)
def list_folder(folder: str) -> list[str]:
    """Regular files of a folder, oldest first, skipping hidden and partial files."""
    entries = [
        entry
        for entry in Path(folder).iterdir()
        if entry.is_file() and not entry.name.startswith(".") and not entry.name.endswith(".part")
    ]
    return [str(entry) for entry in sorted(entries, key=lambda e: (e.stat().st_mtime, e.name))]


def _capture_paths(
    org: str, paths: list[str], source: str, kind: str | None
) -> list[dict[str, str | None]]:
    """One task per file (original kept, then normalised) on the bounded runner."""
    return finish_capture(org, [capture_file.submit(org, path, source, kind) for path in paths])


def finish_capture(
    org: str, normalized: list[PrefectFuture[CaptureOutcome]]
) -> list[dict[str, str | None]]:
    """Seal documents as their conversions finish, and report every final state."""
    org_id = organisation_id(org)
    outcomes: dict[int, CaptureOutcome] = {}
    position = {id(future): index for index, future in enumerate(normalized)}
    with SealAsReady(org_id, min(get_settings().seal_batch_size, STREAMED_SEAL_BATCH)) as sealer:
        for future in as_completed(normalized):
            outcome = future.result()
            outcomes[position[id(future)]] = outcome
            if outcome.document_id and outcome.status == "NORMALIZED":
                sealer.add(outcome.document_id)
        failed = sealer.finish()
    if failed:
        get_run_logger().error(
            "some documents could not be sealed; they stay NORMALIZED until seal-pending runs"
        )
    ordered = [outcomes[index] for index in range(len(normalized))]
    return [outcome.to_json() for outcome in refresh_outcomes(org_id, ordered)]


@flow(name="capture", task_runner=_RUNNER, log_prints=False)
def capture(
    org: str,
    paths: list[str],
    source: str = "api",
    kind: str | None = None,
) -> list[dict[str, str | None]]:
    """Capture files already on this machine's disk.

    org: the organisation's id or SIREN. paths: files to capture. source: where they come
    from (upload, cli, inbox, mail, api). kind: receipt, invoice_in… (guessed if absent).
    Returns one outcome per file: file, document_id, status, reason, duplicate_of.
    """
    return _capture_paths(org, paths, source, kind)


@flow(name="capture-bytes", task_runner=_RUNNER)
def capture_bytes(
    org: str, data: bytes, filename: str, source: str = "api", kind: str | None = None
) -> dict[str, str | None]:
    """Capture one document given as bytes (in-process callers: the portal, the mail fetchers)."""
    stored = store_original.submit(org, data=data, filename=filename, source=source, kind=kind)
    return finish_capture(org, [normalize_document.submit(cast(Any, stored), org)])[0]


@flow(name="capture-folder", task_runner=_RUNNER)
def capture_folder(org: str, folder: str, source: str = "inbox") -> list[dict[str, str | None]]:
    """Capture every file of a folder (a batch drop, the inbox)."""
    return _capture_paths(org, list_folder(folder), source, None)
