"""Reconciliation against the store: open transactions and documents in, matches out.

What a human decided (confirmed, rejected, manual) is never changed: those pairs are
given to the engine as fixed or forbidden. Automatic matches are kept from run to run
(they settle their amounts) until a human rejects one; suggestions are recomputed on
every run, so they always reflect the latest transactions and documents.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlmodel import Session, col, delete, select

from coffre.models import (
    Document,
    DocumentKind,
    DocumentStatus,
    Invoice,
    InvoiceKind,
    InvoiceState,
    append_event,
    session_scope,
)
from coffre.models.bank import BankTransaction, Match, MatchKind
from coffre.models.organization import new_id, utcnow
from coffre.runtime import get_engine
from coffre.tasks.bank_types import DocumentView, Proposal, TransactionView
from coffre.tasks.reconcile_engine import ReconcileSettings, reconcile

ACTOR = "reconcile"
_SETTLING = (MatchKind.AUTO, MatchKind.CONFIRMED, MatchKind.MANUAL)
_CARD = re.compile(r"^(CB|CARTE|PAIEMENT CB|FACTURE CARTE)\b")
_MATCHABLE_KINDS = (DocumentKind.INVOICE_IN, DocumentKind.INVOICE_OUT, DocumentKind.RECEIPT)


@dataclass
class ReconcileReport:
    transactions_open: int = 0
    documents_open: int = 0
    automatic: int = 0
    suggested: int = 0

    def to_json(self) -> dict[str, int]:
        return {
            "transactions_open": self.transactions_open,
            "documents_open": self.documents_open,
            "automatic": self.automatic,
            "suggested": self.suggested,
        }


def amount_to_cents(value: Any) -> int | None:
    try:
        return int((Decimal(str(value)) * 100).to_integral_value())
    except (InvalidOperation, ValueError, TypeError):
        return None


def _settled(session: Session, org_id: str) -> tuple[dict[str, int], dict[str, int]]:
    """Cents already settled, per transaction and per document."""
    by_transaction: dict[str, int] = defaultdict(int)
    by_document: dict[str, int] = defaultdict(int)
    rows = session.exec(
        select(Match.transaction_id, Match.document_id, Match.amount_cents).where(
            Match.org_id == org_id, col(Match.kind).in_(_SETTLING)
        )
    )
    for transaction_id, document_id, cents in rows:
        by_transaction[transaction_id] += cents
        by_document[document_id] += cents
    return by_transaction, by_document


def open_transactions(
    session: Session, org_id: str, settled: dict[str, int]
) -> list[TransactionView]:
    views = []
    rows = session.exec(
        select(BankTransaction).where(
            BankTransaction.org_id == org_id,
            col(BankTransaction.deleted_at).is_(None),
            col(BankTransaction.hidden_at).is_(None),
            BankTransaction.coming == False,  # noqa: E712 - SQL comparison
        )
    )
    for row in rows:
        remaining = abs(row.amount_cents) - settled.get(row.id, 0)
        if remaining <= 0:
            continue
        sign = 1 if row.amount_cents > 0 else -1
        views.append(
            TransactionView(
                id=row.id,
                booking_date=row.booking_date,
                amount_cents=sign * remaining,
                currency=row.currency,
                wording=row.simplified_wording,
                remittance=" ".join(filter(None, [row.remittance, row.end_to_end_id])),
                counterparty_name=row.counterparty_name,
                counterparty_iban=row.counterparty_iban,
                is_card=bool(_CARD.match(row.simplified_wording)),
            )
        )
    return views


def open_documents(session: Session, org_id: str, settled: dict[str, int]) -> list[DocumentView]:
    views = []
    rows = session.exec(
        select(Document).where(
            Document.org_id == org_id,
            col(Document.kind).in_(_MATCHABLE_KINDS),
            col(Document.status).in_([DocumentStatus.NORMALIZED, DocumentStatus.SEALED]),
        )
    )
    for document in rows:
        fields = document.fields or {}
        total = amount_to_cents(fields.get("total_ttc"))
        if total is None or total <= 0:
            continue  # nothing to match a payment against
        remaining = total - settled.get(document.id, 0)
        if remaining <= 0:
            continue
        issued = fields.get("date")
        due = fields.get("due_date")
        views.append(
            DocumentView(
                id=document.id,
                kind=str(document.kind),
                currency=str(fields.get("currency") or "EUR"),
                total_cents=total,
                open_cents=remaining,
                issue_date=date.fromisoformat(issued) if issued else None,
                due_date=date.fromisoformat(due) if due else None,
                number=fields.get("invoice_number"),
                counterparty_name=fields.get("supplier") or fields.get("customer"),
                counterparty_iban=fields.get("iban"),
            )
        )
    return views


def reconcile_org_fn(org_id: str, settings: ReconcileSettings | None = None) -> ReconcileReport:
    engine = get_engine()
    report = ReconcileReport()
    with session_scope(engine) as session:
        settled_tx, settled_doc = _settled(session, org_id)
        transactions = open_transactions(session, org_id, settled_tx)
        documents = open_documents(session, org_id, settled_doc)
        decided = session.exec(
            select(Match.transaction_id, Match.document_id, Match.kind).where(
                Match.org_id == org_id, col(Match.kind).in_([*_SETTLING, MatchKind.REJECTED])
            )
        ).all()
    report.transactions_open, report.documents_open = len(transactions), len(documents)
    fixed = [(t, d) for t, d, kind in decided if kind != MatchKind.REJECTED]
    rejected = [(t, d) for t, d, kind in decided if kind == MatchKind.REJECTED]
    proposals = reconcile(
        transactions,
        documents,
        settings=settings or ReconcileSettings(),
        fixed=fixed,
        rejected=rejected,
    )
    with session_scope(engine) as session:
        session.exec(
            delete(Match).where(col(Match.org_id) == org_id, col(Match.kind) == MatchKind.SUGGESTED)
        )
        taken = {(t, d) for t, d, _ in decided}
        for proposal in proposals:
            _record(session, org_id, proposal, taken, report)
        session.flush()
        mark_paid_invoices(session, org_id)
        append_event(
            session,
            org_id,
            actor=ACTOR,
            action="bank.reconciled",
            subject_type="organization",
            subject_id=org_id,
            details=report.to_json(),
        )
    return report


def _record(
    session: Session,
    org_id: str,
    proposal: Proposal,
    taken: set[tuple[str, str]],
    report: ReconcileReport,
) -> None:
    kind = MatchKind.AUTO if proposal.automatic else MatchKind.SUGGESTED
    group = new_id() if len(proposal.allocations) > 1 else None
    for allocation in proposal.allocations:
        pair = (allocation.transaction_id, allocation.document_id)
        if pair in taken:
            continue  # a human decided this pair; a suggestion never overrides it
        taken.add(pair)
        session.add(
            Match(
                org_id=org_id,
                transaction_id=allocation.transaction_id,
                document_id=allocation.document_id,
                amount_cents=allocation.amount_cents,
                kind=kind,
                score=proposal.score,
                explanation=proposal.explanation,
                group_key=group,
            )
        )
    if proposal.automatic:
        report.automatic += 1
    else:
        report.suggested += 1


def decide_match(org_id: str, match_id: str, kind: str, *, decided_by: str) -> Match:
    """A human confirms or rejects a match; no later run changes that decision.

    Confirming one suggestion of a transaction withdraws its other suggestions.
    """
    decision = MatchKind(kind)
    if not decision.decided:
        raise ValueError(f"{kind} is not a decision")
    with session_scope(get_engine()) as session:
        match = session.exec(
            select(Match).where(Match.org_id == org_id, Match.id == match_id)
        ).first()
        if match is None:
            raise LookupError(f"no match {match_id!r} in this organisation")
        match.kind, match.decided_by, match.decided_at = decision, decided_by, utcnow()
        session.add(match)
        if decision == MatchKind.CONFIRMED:
            session.exec(
                delete(Match).where(
                    col(Match.transaction_id) == match.transaction_id,
                    col(Match.kind) == MatchKind.SUGGESTED,
                    col(Match.id) != match.id,
                )
            )
        session.flush()
        mark_paid_invoices(session, org_id)
        append_event(
            session,
            org_id,
            actor=decided_by,
            action=f"bank.match_{decision.value}",
            subject_type="bank_match",
            subject_id=match.id,
            details={"transaction_id": match.transaction_id, "document_id": match.document_id},
        )
        session.flush()
        session.refresh(match)
        session.expunge(match)
    return match


def mark_paid_invoices(session: Session, org_id: str) -> int:
    """Issued invoices whose document is settled in full by matches become paid."""
    _, settled = _settled(session, org_id)
    paid = 0
    issued = session.exec(
        select(Invoice).where(
            Invoice.org_id == org_id,
            Invoice.state == InvoiceState.ISSUED,
            Invoice.kind == InvoiceKind.INVOICE,
            col(Invoice.document_id).is_not(None),
        )
    )
    for invoice in issued:
        total = amount_to_cents(invoice.total_gross)
        if (
            total is not None
            and invoice.document_id
            and settled.get(invoice.document_id, 0) >= total
        ):
            invoice.state = InvoiceState.PAID
            session.add(invoice)
            paid += 1
    return paid
