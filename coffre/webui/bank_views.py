"""What the bank page shows, read for one organisation at a time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import func
from sqlmodel import col, select

from coffre.models import session_scope
from coffre.models.bank import (
    BankConnection,
    BankConnectionState,
    BankTransaction,
    Match,
    MatchKind,
)
from coffre.models.document import Document
from coffre.runtime import get_engine

SETTLING = (MatchKind.AUTO, MatchKind.CONFIRMED, MatchKind.MANUAL)


@dataclass(frozen=True)
class TransactionRow:
    id: str
    booking_date: date
    amount_cents: int
    currency: str
    wording: str
    matched: bool


@dataclass(frozen=True)
class SuggestionRow:
    match_id: str
    transaction: str
    document: str
    amount_cents: int
    explanation: str


def connections(org_id: str) -> list[BankConnection]:
    with session_scope(get_engine()) as session:
        return list(
            session.exec(
                select(BankConnection)
                .where(
                    BankConnection.org_id == org_id,
                    BankConnection.state != BankConnectionState.DELETED,
                )
                .order_by(col(BankConnection.created_at))
            )
        )


def transactions(org_id: str, page: int, page_size: int) -> tuple[list[TransactionRow], int]:
    visible = (
        col(BankTransaction.org_id) == org_id,
        col(BankTransaction.hidden_at).is_(None),
        col(BankTransaction.deleted_at).is_(None),
    )
    with session_scope(get_engine()) as session:
        total = session.exec(select(func.count()).select_from(BankTransaction).where(*visible))
        rows = list(
            session.exec(
                select(BankTransaction)
                .where(*visible)
                .order_by(col(BankTransaction.booking_date).desc(), col(BankTransaction.id))
                .offset(max(page - 1, 0) * page_size)
                .limit(page_size)
            )
        )
        matched = set(
            session.exec(
                select(Match.transaction_id).where(
                    col(Match.transaction_id).in_([row.id for row in rows]),
                    col(Match.kind).in_(SETTLING),
                )
            )
        )
        return [
            TransactionRow(
                row.id,
                row.booking_date,
                row.amount_cents,
                row.currency,
                row.simplified_wording,
                row.id in matched,
            )
            for row in rows
        ], int(total.one())


def suggestions(org_id: str, limit: int = 100) -> list[SuggestionRow]:
    with session_scope(get_engine()) as session:
        rows = session.exec(
            select(Match, BankTransaction, Document)
            .join(BankTransaction, col(BankTransaction.id) == col(Match.transaction_id))
            .join(Document, col(Document.id) == col(Match.document_id))
            .where(Match.org_id == org_id, Match.kind == MatchKind.SUGGESTED)
            .order_by(col(Match.score).desc())
            .limit(limit)
        )
        return [
            SuggestionRow(
                match.id,
                f"{tx.booking_date:%d/%m/%Y} {tx.simplified_wording} "
                f"{tx.amount_cents / 100:.2f} {tx.currency}",
                document.filename,
                match.amount_cents,
                match.explanation,
            )
            for match, tx, document in rows
        ]


def reconciled_share(org_id: str) -> float | None:
    """Share of this organisation's visible transactions settled by a match."""
    with session_scope(get_engine()) as session:
        visible = (
            col(BankTransaction.org_id) == org_id,
            col(BankTransaction.hidden_at).is_(None),
            col(BankTransaction.deleted_at).is_(None),
        )
        total = session.exec(select(func.count()).select_from(BankTransaction).where(*visible))
        total_count = int(total.one())
        if not total_count:
            return None
        settled = session.exec(
            select(func.count(func.distinct(Match.transaction_id)))
            .join(BankTransaction, col(BankTransaction.id) == col(Match.transaction_id))
            .where(*visible, col(Match.kind).in_(SETTLING))
        )
        return int(settled.one()) / total_count
