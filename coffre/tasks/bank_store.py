"""Writing bank data into the store: accounts, transactions, and their identities.

A statement file has no stable transaction ids, so each movement gets one derived from
its content (account, date, amount, bank reference or wording) plus its rank among
identical movements of the same file: importing a file twice, or two statements that
overlap, adds each movement once, while two identical coffees on the same day stay two.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable
from datetime import datetime

from schwifty import IBAN
from schwifty.exceptions import SchwiftyException
from sqlmodel import Session, col, select

from coffre.models.bank import BankAccount, BankTransaction, Match
from coffre.models.organization import utcnow
from coffre.tasks.bank_types import StatementAccount, StatementTransaction
from coffre.tasks.statements import simplify_wording as simplify


class InvalidIban(ValueError):
    pass


def checked_iban(value: str) -> str:
    """The IBAN in compact form, or InvalidIban saying why (checksum, length, country)."""
    try:
        return str(IBAN(value).compact)
    except SchwiftyException as error:
        raise InvalidIban(f"IBAN invalide « {value} » : {error}") from error


def account_key(account: StatementAccount, fallback: str | None = None) -> str:
    if account.iban:
        return checked_iban(account.iban)
    numbers = [account.bank_code, account.branch_code, account.account_number]
    if account.account_number:
        return "RIB:" + "-".join(part or "" for part in numbers)
    if fallback:
        return fallback
    raise InvalidIban("le relevé ne dit pas de quel compte il s'agit : indiquez l'IBAN")


def content_ids(key: str, transactions: Iterable[StatementTransaction]) -> list[str]:
    """Ids derived from the content, with the rank among identical movements."""
    seen: Counter[str] = Counter()
    ids = []
    for transaction in transactions:
        identity = "|".join(
            [
                key,
                transaction.booking_date.isoformat(),
                str(transaction.amount_cents),
                transaction.currency,
                transaction.bank_reference or simplify(transaction.wording),
            ]
        )
        rank = seen[identity]
        seen[identity] += 1
        digest = hashlib.sha256(f"{identity}|{rank}".encode()).hexdigest()[:40]
        ids.append(f"file:{digest}")
    return ids


def find_or_add_account(
    session: Session,
    org_id: str,
    key: str,
    *,
    iban: str | None,
    currency: str,
    name: str = "",
    connection_id: str | None = None,
    provider_account_id: str | None = None,
) -> BankAccount:
    account = session.exec(
        select(BankAccount).where(BankAccount.org_id == org_id, BankAccount.account_key == key)
    ).first()
    if account is None:
        account = BankAccount(
            org_id=org_id,
            account_key=key,
            iban=iban,
            currency=currency,
            name=name,
            connection_id=connection_id,
            provider_account_id=provider_account_id,
        )
        session.add(account)
        session.flush()
    return account


def known_provider_ids(session: Session, account_id: str, ids: list[str]) -> set[str]:
    found: set[str] = set()
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        found.update(
            session.exec(
                select(BankTransaction.provider_id).where(
                    BankTransaction.account_id == account_id,
                    col(BankTransaction.provider_id).in_(chunk),
                )
            )
        )
    return found


def transaction_row(
    org_id: str,
    account_id: str,
    provider_id: str,
    source: str,
    movement: StatementTransaction,
) -> BankTransaction:
    return BankTransaction(
        org_id=org_id,
        account_id=account_id,
        provider_id=provider_id,
        source=source,
        booking_date=movement.booking_date,
        value_date=movement.value_date,
        amount_cents=movement.amount_cents,
        currency=movement.currency,
        original_wording=movement.wording,
        simplified_wording=simplify(movement.wording),
        counterparty_name=movement.counterparty_name,
        counterparty_iban=movement.counterparty_iban,
        end_to_end_id=movement.end_to_end_id,
        remittance=movement.remittance,
    )


def forget_matches(session: Session, transaction_ids: list[str]) -> int:
    """Matches of transactions that are gone (hidden, deleted at the bank, deleted)."""
    removed = 0
    for start in range(0, len(transaction_ids), 500):
        for match in session.exec(
            select(Match).where(col(Match.transaction_id).in_(transaction_ids[start : start + 500]))
        ):
            session.delete(match)
            removed += 1
    return removed


def hide_transaction(
    session: Session, org_id: str, transaction_id: str, when: datetime | None = None
) -> bool:
    """The customer deletes a transaction: hidden for good (a sync never brings it back)."""
    row = session.exec(
        select(BankTransaction).where(
            BankTransaction.org_id == org_id, BankTransaction.id == transaction_id
        )
    ).first()
    if row is None:
        return False
    row.hidden_at = when or utcnow()
    row.updated_at = row.hidden_at
    session.add(row)
    forget_matches(session, [row.id])
    return True
