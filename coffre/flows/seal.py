"""seal_pending and renew_timestamps: the seal's lifecycle after capture."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.concurrency.sync import concurrency
from prefect.futures import PrefectFuture
from prefect.task_runners import ThreadPoolTaskRunner
from prefect.tasks import exponential_backoff

from coffre.settings import get_settings
from coffre.tasks.sealing import (
    documents_needing_renewal,
    normalized_documents,
    renew_documents_fn,
    seal_config,
    seal_documents_fn,
)


@task(name="seal-batch", cache_policy=NO_CACHE)
def seal_batch(org_id: str, document_ids: list[str]) -> dict[str, str]:
    """Seal a batch on one HSM session, within the HSM's global concurrency limit."""
    config = seal_config()
    with concurrency(config.limit_name, occupy=1, strict=False):
        outcomes = seal_documents_fn(org_id, document_ids, config)
    return {o.document_id: o.status for o in outcomes}


def seal_batch_with_retries():
    """The seal task with the operator's retry policy (HSM or TSA trouble is transient)."""
    settings = get_settings()
    return seal_batch.with_options(
        retries=settings.seal_retries,
        retry_delay_seconds=exponential_backoff(backoff_factor=settings.seal_retry_delay_seconds)
        if settings.seal_retries
        else 0,
    )


def chunks(items: list[str], size: int) -> list[list[str]]:
    return [items[start : start + size] for start in range(0, len(items), size)]


def seal_many(org_id: str, document_ids: list[str]) -> int:
    """Submit the batches and wait; returns how many batches failed after their retries."""
    task_with_retries = seal_batch_with_retries()
    futures = [
        task_with_retries.submit(org_id, chunk)
        for chunk in chunks(document_ids, get_settings().seal_batch_size)
    ]
    failed = 0
    for future in futures:
        future.wait()
        if future.state.is_failed() or future.state.is_crashed():
            failed += 1
    return failed


class SealAsReady:
    """Seals documents while others are still being converted.

    Batches go to a runner of their own (one thread: the HSM session is used by one
    thread at a time anyway), so the seals overlap the last conversions instead of all
    waiting for the slowest one and then running on a single core.
    """

    def __init__(self, org_id: str, batch_size: int) -> None:
        self.org_id = org_id
        self.batch_size = max(1, batch_size)
        self._pending: list[str] = []
        self._futures: list[PrefectFuture[dict[str, str]]] = []
        self._task = seal_batch_with_retries()
        self._runner: Any = ThreadPoolTaskRunner(max_workers=1)

    def __enter__(self) -> SealAsReady:
        self._runner.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._runner.__exit__(*exc)

    def add(self, document_id: str) -> None:
        self._pending.append(document_id)
        if len(self._pending) >= self.batch_size:
            self._submit()

    def _submit(self) -> None:
        batch, self._pending = self._pending, []
        self._futures.append(
            self._runner.submit(self._task, {"org_id": self.org_id, "document_ids": batch})
        )

    def finish(self) -> int:
        """Seal what is left and wait; returns how many batches failed after retries."""
        if self._pending:
            self._submit()
        failed = 0
        for future in self._futures:
            future.wait()
            if future.state.is_failed() or future.state.is_crashed():
                failed += 1
        return failed


@task(name="find-unsealed", cache_policy=NO_CACHE)
def find_unsealed(org: str | None) -> dict[str, list[str]]:
    return normalized_documents(org)


@flow(name="seal-pending")
def seal_pending(org: str | None = None) -> dict[str, int]:
    """Seal every NORMALIZED document (of one organisation id, or all): the catch-up run
    that completes what HSM or TSA outages left behind. Fails if any batch still fails."""
    waiting = find_unsealed(org)
    failed = sum(seal_many(org_id, ids) for org_id, ids in waiting.items())
    if failed:
        raise RuntimeError(f"{failed} seal batch(es) failed; the documents stay NORMALIZED")
    return {org_id: len(ids) for org_id, ids in waiting.items()}


@task(name="find-expiring-timestamps", cache_policy=NO_CACHE)
def find_expiring(as_of: datetime, margin_days: int) -> dict[str, list[str]]:
    return documents_needing_renewal(as_of, timedelta(days=margin_days))


@task(name="renew-batch", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=30)
def renew_batch(org_id: str, document_ids: list[str]) -> int:
    config = seal_config()
    with concurrency(config.limit_name, occupy=1, strict=False):
        return len(renew_documents_fn(org_id, document_ids, config))


@flow(name="renew-timestamps")
def renew_timestamps(margin_days: int | None = None, as_of: datetime | None = None) -> int:
    """Add a fresh document timestamp to every sealed document whose newest timestamp's
    certificate expires within ``margin_days`` of ``as_of`` (default: now), so that its
    seal stays verifiable for 10 years and more. Returns how many were renewed."""
    margin = margin_days or get_settings().timestamp_renewal_margin_days
    moment = as_of or datetime.now(UTC)
    expiring = find_expiring(moment, margin)
    renewed = 0
    for org_id, ids in expiring.items():
        for chunk in chunks(ids, get_settings().seal_batch_size):
            renewed += renew_batch(org_id, chunk)
    get_run_logger().info("renewed the archive timestamps of %d documents", renewed)
    return renewed
