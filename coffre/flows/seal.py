"""seal_pending and renew_timestamps: the seal's lifecycle after capture."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.concurrency.sync import concurrency
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
