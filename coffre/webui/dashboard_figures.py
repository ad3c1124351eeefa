"""The dashboard's figures for one organisation."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation

from sqlalchemy import func
from sqlmodel import col, select

from coffre.models import session_scope
from coffre.models.bank import BankConnection, BankConnectionState, Match, MatchKind
from coffre.models.document import Document, DocumentKind, DocumentStatus
from coffre.models.mail import MailConnection, MailConnectionStatus
from coffre.runtime import get_engine
from coffre.webui.bank_views import reconciled_share

SPENDING_KINDS = (DocumentKind.RECEIPT, DocumentKind.INVOICE_IN)


@dataclass
class Figures:
    documents_this_month: int = 0
    reconciled_share: float | None = None
    pending_suggestions: int = 0
    needs_you: list[str] = field(default_factory=list)
    spending_by_month: dict[str, Decimal] = field(default_factory=dict)


def _months_back(today: date, count: int) -> list[str]:
    months = []
    year, month = today.year, today.month
    for _ in range(count):
        months.append(f"{year:04d}-{month:02d}")
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return list(reversed(months))


def dashboard_figures(org_id: str, months: int = 12) -> Figures:
    figures = Figures()
    now = datetime.now(UTC)
    start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    window = _months_back(now.date(), months)
    with session_scope(get_engine()) as session:
        figures.documents_this_month = int(
            session.exec(
                select(func.count())
                .select_from(Document)
                .where(col(Document.org_id) == org_id, col(Document.created_at) >= start)
            ).one()
        )
        figures.pending_suggestions = int(
            session.exec(
                select(func.count())
                .select_from(Match)
                .where(col(Match.org_id) == org_id, col(Match.kind) == MatchKind.SUGGESTED)
            ).one()
        )
        quarantined = int(
            session.exec(
                select(func.count())
                .select_from(Document)
                .where(
                    col(Document.org_id) == org_id,
                    col(Document.status) == DocumentStatus.QUARANTINED,
                )
            ).one()
        )
        if quarantined:
            figures.needs_you.append(f"{quarantined} document(s) en quarantaine")
        for bank in session.exec(
            select(BankConnection).where(
                BankConnection.org_id == org_id,
                BankConnection.state == BankConnectionState.NEEDS_REAUTH,
            )
        ):
            figures.needs_you.append(f"Banque à reconnecter : {bank.bank_name or 'connexion'}")
        for mailbox in session.exec(
            select(MailConnection).where(
                MailConnection.org_id == org_id,
                MailConnection.status == MailConnectionStatus.NEEDS_REAUTH,
            )
        ):
            figures.needs_you.append(f"Boîte mail à reconnecter : {mailbox.display_name}")
        spending: dict[str, Decimal] = defaultdict(Decimal)
        document_date = Document.__table__.c.fields["date"].as_string()  # type: ignore[attr-defined]
        rows = session.exec(
            select(Document.fields).where(
                col(Document.org_id) == org_id,
                col(Document.kind).in_(SPENDING_KINDS),
                col(Document.status) != DocumentStatus.QUARANTINED,
                document_date >= f"{window[0]}-01",
            )
        )
        for fields in rows:
            day, total = (fields or {}).get("date"), (fields or {}).get("total_ttc")
            if not day or not total or str(day)[:7] not in window:
                continue
            try:
                spending[str(day)[:7]] += Decimal(str(total))
            except InvalidOperation:
                continue
    figures.spending_by_month = {month: spending.get(month, Decimal(0)) for month in window}
    figures.reconciled_share = reconciled_share(org_id)
    return figures
