"""Powens connections: connect (the web view takes the bank credentials), sync, delete.

One Powens user per organisation; its permanent token is kept only encrypted with the
organisation's key, on each of the organisation's bank connections. A sync asks Powens
for what changed since the last one (with a few seconds of overlap, since Powens'
`last_update` is to the second) including deletions, and applies it in one database
transaction: new movements added, changed ones updated, ones deleted at the bank marked
deleted (and their matches dropped). A transaction the customer deleted stays hidden.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session, col, select

from coffre.models import append_event, session_scope, utcnow
from coffre.models.bank import (
    BankAccount,
    BankConnection,
    BankConnectionState,
    BankTransaction,
)
from coffre.models.queries import NotFound
from coffre.runtime import get_engine
from coffre.settings import get_settings
from coffre.tasks.bank_store import find_or_add_account, forget_matches, simplify
from coffre.tasks.org_secrets import open_secret, seal_secret
from coffre.tasks.powens import (
    PowensAuthError,
    PowensClient,
    PowensError,
    PowensSettings,
    PowensTransaction,
)

ACTOR = "bank-sync"
OVERLAP = timedelta(seconds=5)


@dataclass
class SyncReport:
    connection_id: str
    accounts: int = 0
    added: int = 0
    updated: int = 0
    deleted: int = 0
    waiting: bool = False  # the customer has not finished the web view yet
    discovered: list[str] = field(default_factory=list)  # other connections found

    def to_json(self) -> dict[str, Any]:
        return {
            "connection_id": self.connection_id,
            "accounts": self.accounts,
            "transactions_added": self.added,
            "transactions_updated": self.updated,
            "transactions_deleted": self.deleted,
            "waiting_for_customer": self.waiting,
            "connections_discovered": self.discovered,
        }


def powens_settings() -> PowensSettings:
    """The instance's Powens application: a PowensApp block in production, else settings."""
    settings = get_settings()
    if settings.powens_block:
        from coffre.blocks.bank import PowensApp

        block = PowensApp.load(settings.powens_block)
        assert isinstance(block, PowensApp)
        base_url, client_id = block.base_url, block.client_id
        secret = block.client_secret.get_secret_value()
    else:
        base_url, client_id = settings.powens_base_url, settings.powens_client_id
        secret = (
            settings.powens_client_secret.get_secret_value()
            if settings.powens_client_secret
            else ""
        )
    if not (base_url and client_id and secret):
        raise PowensError("No Powens application is configured (COFFRE_POWENS_*).")
    return PowensSettings(
        base_url=base_url,
        client_id=client_id,
        client_secret=secret,
        retries=settings.bank_retries,
        retry_max_seconds=settings.bank_retry_max_seconds,
    )


def _seal_token(org_id: str, token: str) -> bytes:
    return seal_secret(org_id, f"powens-user:{org_id}", token.encode())


def open_token(org_id: str, blob: bytes) -> str:
    return open_secret(org_id, f"powens-user:{org_id}", blob).decode()


def _organisation_token(session: Session, org_id: str) -> bytes | None:
    return session.exec(
        select(BankConnection.user_token).where(
            BankConnection.org_id == org_id,
            BankConnection.provider == "powens",
            col(BankConnection.user_token).is_not(None),
        )
    ).first()


def connect_bank_fn(org_id: str, redirect_uri: str) -> tuple[BankConnection, str]:
    """A new connection waiting for the customer, and the web view link to give them."""
    with session_scope(get_engine()) as session:
        blob = _organisation_token(session, org_id)
    with PowensClient(powens_settings()) as client:
        token = open_token(org_id, blob) if blob else client.create_user()
        row = BankConnection(
            org_id=org_id, provider="powens", user_token=_seal_token(org_id, token)
        )
        url = client.webview_url(token, redirect_uri, state=row.id)
    with session_scope(get_engine()) as session:
        session.add(row)
        append_event(
            session,
            org_id,
            actor=ACTOR,
            action="bank.connection_started",
            subject_type="bank_connection",
            subject_id=row.id,
        )
        session.flush()
        session.refresh(row)
        session.expunge(row)
    return row, url


def _get(session: Session, org_id: str, connection_id: str) -> BankConnection:
    row = session.exec(
        select(BankConnection).where(
            BankConnection.org_id == org_id, BankConnection.id == connection_id
        )
    ).first()
    if row is None:
        raise NotFound(f"no bank connection {connection_id!r} in this organisation")
    return row


def sync_connection_fn(org_id: str, connection_id: str) -> SyncReport:
    report = SyncReport(connection_id)
    with session_scope(get_engine()) as session:
        row = _get(session, org_id, connection_id)
        if row.state == BankConnectionState.DELETED or row.user_token is None:
            raise PowensError("This bank connection was deleted.")
        token = open_token(org_id, row.user_token)
        powens_id, since = row.powens_connection_id, row.last_update
    try:
        with PowensClient(powens_settings()) as client:
            remote = {connection.id: connection for connection in client.connections(token)}
            if powens_id is None:
                powens_id = _adopt(org_id, connection_id, sorted(remote), report)
                if powens_id is None:
                    report.waiting = True
                    return report
            if powens_id not in remote:
                raise PowensError("Powens no longer has this connection; connect the bank again.")
            accounts = client.accounts(token, powens_id)
            changes = list(
                client.transactions(
                    token, connection_id=powens_id, last_update=since - OVERLAP if since else None
                )
            )
        state_reason = None
        state = BankConnectionState.ACTIVE
        if remote[powens_id].needs_user_action:
            state = BankConnectionState.NEEDS_REAUTH
            state_reason = (
                "La banque demande une nouvelle authentification du client "
                f"({remote[powens_id].state}) : reconnectez la banque."
            )
        with session_scope(get_engine()) as session:
            row = _get(session, org_id, connection_id)
            by_remote_id = {}
            for account in accounts:
                local = find_or_add_account(
                    session,
                    org_id,
                    account.iban or f"powens:{account.id}",
                    iban=account.iban,
                    currency=account.currency,
                    name=account.name,
                    connection_id=row.id,
                    provider_account_id=str(account.id),
                )
                local.balance_cents, local.balance_date = account.balance_cents, utcnow().date()
                local.connection_id = row.id
                local.provider_account_id = str(account.id)
                session.add(local)
                by_remote_id[account.id] = local
            report.accounts = len(accounts)
            newest = _apply(session, org_id, by_remote_id, changes, report)
            row.bank_name = remote[powens_id].bank_name or row.bank_name
            row.last_update = max(filter(None, [since, newest]), default=None)
            row.last_sync_at = utcnow()
            row.state, row.state_reason = state, state_reason
            session.add(row)
            append_event(
                session,
                org_id,
                actor=ACTOR,
                action="bank.synced",
                subject_type="bank_connection",
                subject_id=row.id,
                details={k: v for k, v in report.to_json().items() if isinstance(v, int)},
            )
    except PowensAuthError as error:
        _record_failure(org_id, connection_id, BankConnectionState.NEEDS_REAUTH, str(error))
        raise
    except PowensError as error:
        _record_failure(org_id, connection_id, BankConnectionState.FAILING, str(error))
        raise
    return report


def _adopt(
    org_id: str, connection_id: str, remote_ids: list[int], report: SyncReport
) -> int | None:
    """After the web view: give this row the first Powens connection not yet known here,
    and a row of its own to each other new one."""
    with session_scope(get_engine()) as session:
        known = set(
            session.exec(
                select(BankConnection.powens_connection_id).where(
                    BankConnection.org_id == org_id,
                    col(BankConnection.powens_connection_id).is_not(None),
                )
            )
        )
        fresh = [remote_id for remote_id in remote_ids if remote_id not in known]
        if not fresh:
            return None
        row = _get(session, org_id, connection_id)
        row.powens_connection_id = fresh[0]
        session.add(row)
        for remote_id in fresh[1:]:
            sibling = BankConnection(
                org_id=org_id,
                provider="powens",
                powens_connection_id=remote_id,
                user_token=row.user_token,
            )
            session.add(sibling)
            report.discovered.append(sibling.id)
        return fresh[0]


def _apply(
    session: Session,
    org_id: str,
    accounts: dict[int, BankAccount],
    changes: list[PowensTransaction],
    report: SyncReport,
) -> datetime | None:
    newest: datetime | None = None
    for change in changes:
        newest = max(filter(None, [newest, change.last_update]), default=None)
        account = accounts.get(change.account_id)
        if account is None:
            continue  # an account the customer turned off
        existing = session.exec(
            select(BankTransaction).where(
                BankTransaction.account_id == account.id,
                BankTransaction.provider_id == str(change.id),
            )
        ).first()
        if existing is not None and existing.hidden_at is not None:
            continue  # deleted by the customer: stays deleted
        if change.deleted is not None:
            if existing is not None and existing.deleted_at is None:
                existing.deleted_at = change.deleted
                existing.updated_at = utcnow()
                session.add(existing)
                forget_matches(session, [existing.id])
                report.deleted += 1
            continue
        movement = change.to_statement_transaction(account.currency)
        if existing is None:
            session.add(
                BankTransaction(
                    org_id=org_id,
                    account_id=account.id,
                    provider_id=str(change.id),
                    source="powens",
                    booking_date=movement.booking_date,
                    value_date=movement.value_date,
                    amount_cents=movement.amount_cents,
                    currency=movement.currency,
                    original_wording=change.original_wording or change.wording,
                    simplified_wording=simplify(change.simplified_wording or change.wording),
                    counterparty_name=movement.counterparty_name,
                    counterparty_iban=movement.counterparty_iban,
                    end_to_end_id=movement.end_to_end_id,
                    remittance=movement.remittance,
                    coming=change.coming,
                )
            )
            report.added += 1
            continue
        fresh = {
            "booking_date": movement.booking_date,
            "value_date": movement.value_date,
            "amount_cents": movement.amount_cents,
            "original_wording": change.original_wording or change.wording,
            "simplified_wording": simplify(change.simplified_wording or change.wording),
            "coming": change.coming,
            "counterparty_name": movement.counterparty_name,
            "counterparty_iban": movement.counterparty_iban,
        }
        if all(getattr(existing, name) == value for name, value in fresh.items()):
            continue  # seen again through the overlap, unchanged
        for name, value in fresh.items():
            setattr(existing, name, value)
        existing.updated_at = utcnow()
        session.add(existing)
        report.updated += 1
    return newest


def _record_failure(
    org_id: str, connection_id: str, state: BankConnectionState, reason: str
) -> None:
    with session_scope(get_engine()) as session:
        row = _get(session, org_id, connection_id)
        if row.state != BankConnectionState.DELETED:
            row.state, row.state_reason = state, reason
            session.add(row)


def delete_bank_connection_fn(org_id: str, connection_id: str) -> dict[str, int]:
    """Delete at Powens (hard delete), then here: matches, transactions, accounts."""
    with session_scope(get_engine()) as session:
        row = _get(session, org_id, connection_id)
        blob, powens_id, state = row.user_token, row.powens_connection_id, row.state
    if state == BankConnectionState.DELETED:
        return {"transactions": 0, "accounts": 0}
    if blob is not None and powens_id is not None:
        with PowensClient(powens_settings()) as client:
            client.delete_connection(open_token(org_id, blob), powens_id)
    with session_scope(get_engine()) as session:
        row = _get(session, org_id, connection_id)
        accounts = list(
            session.exec(select(BankAccount).where(BankAccount.connection_id == row.id))
        )
        transactions = (
            list(
                session.exec(
                    select(BankTransaction).where(
                        col(BankTransaction.account_id).in_([a.id for a in accounts])
                    )
                )
            )
            if accounts
            else []
        )
        forget_matches(session, [t.id for t in transactions])
        session.flush()
        for transaction in transactions:
            session.delete(transaction)
        session.flush()
        for account in accounts:
            session.delete(account)
        row.state, row.state_reason = BankConnectionState.DELETED, None
        row.user_token, row.deleted_at = None, utcnow()
        session.add(row)
        append_event(
            session,
            org_id,
            actor=ACTOR,
            action="bank.connection_deleted",
            subject_type="bank_connection",
            subject_id=row.id,
            details={"transactions": len(transactions), "accounts": len(accounts)},
        )
    return {"transactions": len(transactions), "accounts": len(accounts)}
