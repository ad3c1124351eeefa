"""Matching by hand: the customer says which document a transaction pays."""

from __future__ import annotations

from sqlmodel import col, select

from coffre.models import append_event, session_scope
from coffre.models.bank import BankTransaction, Match, MatchKind
from coffre.models.document import Document
from coffre.models.organization import utcnow
from coffre.runtime import get_engine
from coffre.tasks.reconcile import amount_to_cents, mark_paid_invoices


def match_by_hand(org_id: str, transaction_id: str, document_id: str, *, decided_by: str) -> Match:
    """A MANUAL match (never changed by later runs); both ids must be this organisation's."""
    with session_scope(get_engine()) as session:
        transaction = session.exec(
            select(BankTransaction).where(
                BankTransaction.org_id == org_id,
                BankTransaction.id == transaction_id,
                col(BankTransaction.hidden_at).is_(None),
            )
        ).first()
        document = session.exec(
            select(Document).where(Document.org_id == org_id, Document.id == document_id)
        ).first()
        if transaction is None or document is None:
            raise LookupError("no such transaction or document in this organisation")
        total = amount_to_cents((document.fields or {}).get("total_ttc"))
        amount = abs(transaction.amount_cents)
        if total is not None and total > 0:
            amount = min(amount, total)
        existing = session.exec(
            select(Match).where(
                Match.transaction_id == transaction_id, Match.document_id == document_id
            )
        ).first()
        match = existing or Match(
            org_id=org_id,
            transaction_id=transaction_id,
            document_id=document_id,
            amount_cents=amount,
            kind=MatchKind.MANUAL,
        )
        match.kind, match.amount_cents, match.score = MatchKind.MANUAL, amount, 1.0
        match.explanation = "Rapproché à la main."
        match.decided_by, match.decided_at = decided_by, utcnow()
        session.add(match)
        session.flush()
        mark_paid_invoices(session, org_id)
        append_event(
            session,
            org_id,
            actor=decided_by,
            action="bank.match_manual",
            subject_type="bank_match",
            subject_id=match.id,
            details={"transaction_id": transaction_id, "document_id": document_id},
        )
        session.flush()
        session.refresh(match)
        session.expunge(match)
    return match
