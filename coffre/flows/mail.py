"""fetch_mail: a mailbox's new supplier invoices → capture; and the scheduled sweep.

A fetch that finds the connection busy (another run holds it) ends at once: the run
holding it captures what there is. A refused login marks the connection as needing
re-authorisation and fails that run; the sweep goes on with the other connections and
ends Failed if any of them failed, so the operator sees it.
"""

from __future__ import annotations

from typing import Any, cast

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.futures import PrefectFuture
from prefect.task_runners import TaskRunner, ThreadPoolTaskRunner

from coffre.flows.capture import finish_capture
from coffre.flows.sweeps import run_for_each
from coffre.models import session_scope
from coffre.models.mail_queries import connections_to_sweep
from coffre.runtime import get_engine
from coffre.settings import get_settings
from coffre.tasks.capture import normalize_document, organisation_id
from coffre.tasks.mail_fetch import FetchReport, fetch_connection_fn

_RUNNER = cast(
    "TaskRunner[PrefectFuture[Any]]",
    ThreadPoolTaskRunner(max_workers=get_settings().capture_concurrency),
)

fetch_mailbox = task(name="fetch-mailbox", cache_policy=NO_CACHE)(fetch_connection_fn)


@task(name="connections-to-sweep", cache_policy=NO_CACHE)
def list_connections_to_sweep() -> list[tuple[str, str]]:
    with session_scope(get_engine()) as session:
        return connections_to_sweep(session)


@flow(name="fetch-mail", task_runner=_RUNNER)
def fetch_mail(org: str, connection_id: str) -> dict[str, Any]:
    """Fetch one mail connection: matching messages since the last run → their PDF
    attachments → captured (PDF/A, sealed). org: the organisation's id or SIREN.
    Returns counts and one outcome per PDF; nothing of the mail itself."""
    org_id = organisation_id(org)
    report: FetchReport = fetch_mailbox(org_id, connection_id)
    logger = get_run_logger()
    if report.status == "busy":
        logger.info("another fetch of connection %s is running; nothing to do", connection_id)
        return report.summary()
    logger.info(
        "connection %s: %d matching messages, %d new, %d PDFs, %d bytes downloaded",
        connection_id,
        report.messages_matching,
        report.messages_new,
        report.pdfs_found,
        report.bytes_downloaded,
    )
    if report.outcomes:
        normalized = [normalize_document.submit(outcome, org_id) for outcome in report.outcomes]
        documents = finish_capture(org_id, normalized)
    else:
        documents = []
    return {**report.summary(), "documents": documents}


@flow(name="fetch-mail-sweep")
def fetch_mail_sweep() -> dict[str, str]:
    """Fetch every active mail connection, one after the other (the 15-minute schedule).

    A connection that fails does not stop the others; the sweep fails at the end if
    any did, naming them, so that the dashboard shows it.
    """
    return run_for_each(fetch_mail, list_connections_to_sweep(), "mail connection")
