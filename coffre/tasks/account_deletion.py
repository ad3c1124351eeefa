"""Account deletion, step by step; every step is idempotent so a rerun finishes the job.

Order matters. Third-party access goes first, while the credentials can still be
decrypted: the Powens user and its connections are deleted at Powens (hard delete) and
the Nylas grants revoked, and the credentials are erased in the same step. Then the
organisation's data key is destroyed — objects under Object Lock and copies inside
backups become unreadable (crypto-shredding) — and its rows are removed. The
organisation row stays as a tombstone that carries the audit journal, where every
step is recorded.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, update
from sqlmodel import Session, col, select

from coffre.models import Organization, session_scope
from coffre.models.audit import append_event
from coffre.models.bank import (
    BankAccount,
    BankConnection,
    BankConnectionState,
    BankTransaction,
    Match,
    StatementImport,
)
from coffre.models.document import Document
from coffre.models.invoicing import (
    Customer,
    Invoice,
    InvoiceCounter,
    InvoiceLine,
    SellerProfile,
)
from coffre.models.keystore import destroy_wrapped_key
from coffre.models.mail import MailConnection, MailConnectionStatus, ProcessedMessage
from coffre.models.organization import User, utcnow
from coffre.models.queries import find_organization
from coffre.runtime import get_engine, get_vault

ACTOR = "account-deletion"


def _log(session: Session, org_id: str, action: str, details: dict[str, Any]) -> None:
    append_event(
        session,
        org_id,
        actor=ACTOR,
        action=action,
        subject_type="organization",
        subject_id=org_id,
        details=details,
    )


def request_deletion(org_ref: str, requested_by: str) -> tuple[str, bool]:
    """Mark the account as being deleted; (organisation id, already fully deleted)."""
    with session_scope(get_engine()) as session:
        org = find_organization(session, org_ref, include_deleted=True)
        if org.deleted_at is not None:
            return org.id, True
        if org.deletion_requested_at is None:
            org.deletion_requested_at = utcnow()
            session.add(org)
            _log(session, org.id, "account.deletion_requested", {"requested_by": requested_by})
        return org.id, False


def close_bank_access(org_id: str) -> dict[str, Any]:
    """Delete the Powens connections and user at Powens, then erase the token here."""
    from coffre.tasks.bank_sync import open_token, powens_settings
    from coffre.tasks.powens import PowensAuthError, PowensClient

    with session_scope(get_engine()) as session:
        connections = list(
            session.exec(select(BankConnection).where(BankConnection.org_id == org_id))
        )
        blobs = [c.user_token for c in connections if c.user_token is not None]
        remote_ids = [
            c.powens_connection_id
            for c in connections
            if c.powens_connection_id is not None and c.state != BankConnectionState.DELETED
        ]
    deleted_remote, user_deleted = 0, False
    if blobs:
        token = open_token(org_id, blobs[0])
        with PowensClient(powens_settings()) as client:
            try:
                for remote_id in remote_ids:
                    deleted_remote += int(client.delete_connection(token, remote_id))
                client.delete_user(token)
                user_deleted = True
            except PowensAuthError:
                user_deleted = True  # the token no longer opens anything: the user is gone
    with session_scope(get_engine()) as session:
        session.execute(
            update(BankConnection)
            .where(col(BankConnection.org_id) == org_id)
            .values(
                user_token=None,
                state=BankConnectionState.DELETED,
                deleted_at=utcnow(),
            )
        )
        details = {
            "connections": len(connections),
            "deleted_at_powens": deleted_remote,
            "powens_user_deleted": user_deleted,
        }
        _log(session, org_id, "account.bank_access_closed", details)
    return details


def close_mail_access(org_id: str) -> dict[str, Any]:
    """Revoke every Nylas grant and forget every mailbox's credentials."""
    from coffre.tasks.mail_connections import delete_connection

    with session_scope(get_engine()) as session:
        ids = list(
            session.exec(
                select(MailConnection.id).where(
                    MailConnection.org_id == org_id,
                    MailConnection.status != MailConnectionStatus.DELETED,
                )
            )
        )
    for connection_id in ids:
        delete_connection(org_id, connection_id)
    with session_scope(get_engine()) as session:
        details = {"mailboxes_closed": len(ids)}
        _log(session, org_id, "account.mail_access_closed", details)
    return details


def destroy_data_key(org_id: str) -> dict[str, Any]:
    """Destroy the organisation's data key: its objects, wherever they are, are noise."""
    vault = get_vault()
    existed = destroy_wrapped_key(vault.keyring.keystore, org_id)
    vault.keyring.forget(org_id)
    with session_scope(get_engine()) as session:
        details = {"key_destroyed": existed}
        _log(session, org_id, "account.data_key_destroyed", details)
    return details


def remove_data(org_id: str) -> dict[str, int]:
    """Delete the organisation's rows, children first; the audit journal stays."""
    counts: dict[str, int] = {}
    with session_scope(get_engine()) as session:

        def purge(model: Any, *conditions: Any) -> None:
            result = session.execute(delete(model).where(*conditions))
            counts[model.__tablename__] = int(getattr(result, "rowcount", 0) or 0)

        invoices = select(Invoice.id).where(Invoice.org_id == org_id)
        mailboxes = select(MailConnection.id).where(MailConnection.org_id == org_id)
        purge(Match, col(Match.org_id) == org_id)
        purge(BankTransaction, col(BankTransaction.org_id) == org_id)
        purge(BankAccount, col(BankAccount.org_id) == org_id)
        purge(StatementImport, col(StatementImport.org_id) == org_id)
        purge(BankConnection, col(BankConnection.org_id) == org_id)
        purge(ProcessedMessage, col(ProcessedMessage.connection_id).in_(mailboxes))
        purge(MailConnection, col(MailConnection.org_id) == org_id)
        purge(InvoiceLine, col(InvoiceLine.invoice_id).in_(invoices))
        session.execute(
            update(Invoice).where(col(Invoice.org_id) == org_id).values(corrects_id=None)
        )
        purge(Invoice, col(Invoice.org_id) == org_id)
        purge(InvoiceCounter, col(InvoiceCounter.org_id) == org_id)
        purge(Customer, col(Customer.org_id) == org_id)
        purge(SellerProfile, col(SellerProfile.org_id) == org_id)
        purge(Document, col(Document.org_id) == org_id)
        purge(User, col(User.org_id) == org_id)
        _log(session, org_id, "account.data_removed", dict(counts))
    return counts


def finish_deletion(org_id: str) -> None:
    with session_scope(get_engine()) as session:
        org = session.get(Organization, org_id)
        assert org is not None
        if org.deleted_at is None:
            org.deleted_at = utcnow()
            session.add(org)
            _log(session, org_id, "account.deleted", {})
