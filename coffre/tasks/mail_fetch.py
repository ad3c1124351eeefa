"""One fetch of one mail connection: new matching messages → their PDFs → originals kept.

A fetch holds the connection's lease, so two runs started together do not both read
the mailbox; and every step is idempotent anyway (a PDF is one document per
organisation and content, a message id is recorded once), so a run killed half-way is
simply run again. Message ids are recorded only after the message's PDFs are stored.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlmodel import col, select

from coffre.models import Document, DocumentSource, DocumentStatus, session_scope, utcnow
from coffre.models.mail import MailConnection, MailConnectionStatus, MailProvider
from coffre.models.mail_queries import (
    claim_connection,
    get_connection,
    mark_processed,
    processed_ids,
    release_connection,
    stored_message_id,
)
from coffre.runtime import get_engine
from coffre.settings import get_settings
from coffre.tasks.capture import CaptureOutcome, outcome_of, store_original_fn
from coffre.tasks.mail_attachments import FoundPdf
from coffre.tasks.mail_criteria import MailCriteria
from coffre.tasks.mail_errors import MailAuthError, MailConfigError, MailError
from coffre.tasks.mail_imap import ImapAccount, ImapMailbox
from coffre.tasks.mail_nylas import NylasMailbox, NylasSettings
from coffre.tasks.org_secrets import open_credentials

log = logging.getLogger(__name__)
# Nylas indexes new mail with a delay: look back a little before the last message seen.
NYLAS_OVERLAP_SECONDS = 24 * 3600


@dataclass
class FetchReport:
    """What one fetch did, in numbers (no mail content)."""

    connection_id: str
    status: str = "done"  # done | busy
    messages_matching: int = 0
    messages_new: int = 0
    pdfs_found: int = 0
    bytes_downloaded: int = 0
    seconds: float = 0.0  # reading the mailbox and keeping the originals
    outcomes: list[CaptureOutcome] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        return {
            "connection_id": self.connection_id,
            "status": self.status,
            "messages_matching": self.messages_matching,
            "messages_new": self.messages_new,
            "pdfs_found": self.pdfs_found,
            "bytes_downloaded": self.bytes_downloaded,
            "seconds": round(self.seconds, 3),
            "documents": [outcome.to_json() for outcome in self.outcomes],
        }


def nylas_settings() -> NylasSettings:
    """The instance's Nylas application: a NylasApp block in production, else settings."""
    settings = get_settings()
    api_key, api_uri = None, settings.nylas_api_uri
    if settings.nylas_block:
        from coffre.blocks.mail import NylasApp

        block = NylasApp.load(settings.nylas_block)
        assert isinstance(block, NylasApp)
        api_key, api_uri = block.api_key.get_secret_value(), block.api_uri
    elif settings.nylas_api_key is not None:
        api_key = settings.nylas_api_key.get_secret_value()
    if not api_key:
        raise MailConfigError("No Nylas application is configured (COFFRE_NYLAS_API_KEY).")
    return NylasSettings(
        api_key=api_key,
        api_uri=api_uri,
        retries=settings.mail_retries,
        retry_max_seconds=settings.mail_retry_max_seconds,
        timeout=int(settings.mail_timeout_seconds),
    )


def open_mailbox(connection: MailConnection, credentials: dict[str, Any]) -> Any:
    settings = get_settings()
    if connection.provider == MailProvider.NYLAS:
        return NylasMailbox(nylas_settings(), str(credentials["grant_id"]), connection.folder)
    return ImapMailbox(
        ImapAccount.from_credentials(credentials),
        connection.folder,
        ca_file=settings.mail_ca_file,
        timeout=settings.mail_timeout_seconds,
    )


def criteria_fingerprint(criteria: MailCriteria, folder: str) -> str:
    """Changes when the customer changes what to look for: the cursor then starts over."""
    text = json.dumps([criteria.model_dump(mode="json"), folder], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


StoreFn = Callable[[FoundPdf], CaptureOutcome]


def fetch_connection_fn(org_id: str, connection_id: str) -> FetchReport:
    """Fetch what is new in one mailbox and keep its PDFs' originals (RECEIVED)."""
    settings = get_settings()
    engine = get_engine()
    report = FetchReport(connection_id)
    with session_scope(engine) as session:
        connection = get_connection(session, org_id, connection_id)
        if connection.status == MailConnectionStatus.DELETED:
            raise MailConfigError("This mail connection was deleted.")
        lease = timedelta(minutes=settings.mail_lease_minutes)
        if not claim_connection(session, org_id, connection_id, lease):
            report.status = "busy"
            return report
        session.expunge(connection)
    started = time.perf_counter()
    try:
        _fetch(connection, report)
    except MailAuthError as error:
        _record_end(org_id, connection_id, MailConnectionStatus.NEEDS_REAUTH, str(error))
        raise
    except MailError as error:
        _record_end(org_id, connection_id, MailConnectionStatus.FAILING, str(error))
        raise
    except Exception as error:
        _record_end(
            org_id,
            connection_id,
            MailConnectionStatus.FAILING,
            f"The fetch stopped on an internal error ({type(error).__name__}); it is retried.",
        )
        raise
    else:
        _record_end(org_id, connection_id, MailConnectionStatus.ACTIVE, None)
    finally:
        report.seconds = time.perf_counter() - started
    report.outcomes = report.outcomes + _left_received(org_id, connection_id, report.outcomes)
    return report


def _fetch(connection: MailConnection, report: FetchReport) -> None:
    assert connection.credentials is not None
    credentials = open_credentials(connection.org_id, connection.id, connection.credentials)
    criteria = MailCriteria.model_validate(connection.criteria)
    fingerprint = criteria_fingerprint(criteria, connection.folder)
    cursor = dict(connection.cursor) if connection.cursor.get("criteria") == fingerprint else {}

    def store(pdf: FoundPdf) -> CaptureOutcome:
        return store_original_fn(
            connection.org_id,
            data=pdf.data,
            filename=pdf.filename,
            source=DocumentSource.MAIL.value,
            source_ref=connection.id,
            kind="invoice_in",
        )

    with open_mailbox(connection, credentials) as mailbox:
        try:
            if isinstance(mailbox, ImapMailbox):
                cursor = _fetch_imap(mailbox, connection, criteria, cursor, store, report)
            else:
                cursor = _fetch_nylas(mailbox, connection, criteria, cursor, store, report)
        finally:
            report.bytes_downloaded = mailbox.bytes_downloaded
    cursor["criteria"] = fingerprint
    _save_cursor(connection, cursor)


def _fetch_imap(
    mailbox: ImapMailbox,
    connection: MailConnection,
    criteria: MailCriteria,
    cursor: dict[str, Any],
    store: StoreFn,
    report: FetchReport,
) -> dict[str, Any]:
    scope = mailbox.uidvalidity
    # A new UIDVALIDITY means the UIDs were renumbered: rescan the folder; contents
    # already captured are recognised by their hash and not captured twice.
    after_uid = cursor.get("last_uid") if cursor.get("uidvalidity") == scope else None
    candidates = mailbox.candidates(criteria, after_uid)
    report.messages_matching = len(candidates)
    with session_scope(get_engine()) as session:
        done = processed_ids(session, connection.id, scope)
    last_uid = after_uid or 0
    for candidate in candidates:
        message_id = str(candidate.uid)
        if message_id not in done:
            pdfs = mailbox.pdfs(candidate.uid) if candidate.download else []
            _keep(connection, criteria, pdfs, store, report)
            with session_scope(get_engine()) as session:
                mark_processed(session, connection.id, [message_id], scope)
            _checkpoint(
                connection,
                {"uidvalidity": scope, "last_uid": max(last_uid, candidate.uid)},
                criteria_fingerprint(criteria, connection.folder),
            )
        last_uid = max(last_uid, candidate.uid)
    return {"uidvalidity": scope, "last_uid": last_uid}


def _fetch_nylas(
    mailbox: NylasMailbox,
    connection: MailConnection,
    criteria: MailCriteria,
    cursor: dict[str, Any],
    store: StoreFn,
    report: FetchReport,
) -> dict[str, Any]:
    newest = cursor.get("newest")
    since = newest - NYLAS_OVERLAP_SECONDS if isinstance(newest, int) else None
    candidates = mailbox.candidates(criteria, since)
    report.messages_matching = len(candidates)
    with session_scope(get_engine()) as session:
        done = processed_ids(session, connection.id, 0)
    for candidate in candidates:
        if stored_message_id(candidate.message_id) not in done:
            pdfs = mailbox.pdfs(candidate) if candidate.download else []
            _keep(connection, criteria, pdfs, store, report)
            with session_scope(get_engine()) as session:
                mark_processed(session, connection.id, [candidate.message_id], 0)
        newest = max(newest or 0, candidate.received_at)
    return {"newest": newest} if newest is not None else {}


def _keep(
    connection: MailConnection,
    criteria: MailCriteria,
    pdfs: list[FoundPdf],
    store: StoreFn,
    report: FetchReport,
) -> None:
    report.messages_new += 1
    for pdf in pdfs:
        if criteria.filename_matches(pdf.filename):
            report.pdfs_found += 1
            report.outcomes.append(store(pdf))


def _checkpoint(connection: MailConnection, cursor: dict[str, Any], fingerprint: str) -> None:
    """Keep the IMAP cursor as messages are done, so a killed run resumes after them."""
    _save_cursor(connection, {**cursor, "criteria": fingerprint})


def _save_cursor(connection: MailConnection, cursor: dict[str, Any]) -> None:
    with session_scope(get_engine()) as session:
        row = get_connection(session, connection.org_id, connection.id)
        row.cursor = cursor
        session.add(row)


def _record_end(
    org_id: str, connection_id: str, status: MailConnectionStatus, error: str | None
) -> None:
    with session_scope(get_engine()) as session:
        row = get_connection(session, org_id, connection_id)
        if row.status != MailConnectionStatus.DELETED:
            row.status = status
        row.last_error = error
        row.last_run_at = utcnow()
        session.add(row)
        release_connection(session, org_id, connection_id)


def _left_received(
    org_id: str, connection_id: str, outcomes: list[CaptureOutcome]
) -> list[CaptureOutcome]:
    """Documents of this connection an earlier run stored but did not normalise."""
    known = {outcome.document_id for outcome in outcomes}
    with session_scope(get_engine()) as session:
        rows = session.exec(
            select(Document).where(
                Document.org_id == org_id,
                Document.source == DocumentSource.MAIL,
                Document.source_ref == connection_id,
                Document.status == DocumentStatus.RECEIVED,
                col(Document.id).not_in(known) if known else True,
            )
        )
        return [outcome_of(document.filename, document) for document in rows]
