"""Searching an organisation's documents (the portal's documents page).

Always scoped to one organisation; every filter is optional. Text matches the file
name and the OCR text; supplier, amount and date match the extracted fields.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, or_, select

from coffre.models.document import Document


@dataclass(frozen=True)
class DocumentFilter:
    text: str | None = None
    supplier: str | None = None
    amount: Decimal | None = None
    date_from: date | None = None
    date_to: date | None = None
    kind: str | None = None
    status: str | None = None


def _contains(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _conditions(org_id: str, wanted: DocumentFilter) -> list[Any]:
    conditions: list[Any] = [col(Document.org_id) == org_id]
    fields: Any = Document.__table__.c.fields  # type: ignore[attr-defined]
    if wanted.text and wanted.text.strip():
        pattern = _contains(wanted.text.strip())
        conditions.append(
            or_(
                col(Document.filename).ilike(pattern, escape="\\"),
                col(Document.ocr_text).ilike(pattern, escape="\\"),
            )
        )
    if wanted.supplier and wanted.supplier.strip():
        pattern = _contains(wanted.supplier.strip())
        conditions.append(fields["supplier"].as_string().ilike(pattern, escape="\\"))
    if wanted.amount is not None:
        conditions.append(
            fields["total_ttc"].as_string() == str(wanted.amount.quantize(Decimal("0.01")))
        )
    if wanted.date_from:
        conditions.append(fields["date"].as_string() >= wanted.date_from.isoformat())
    if wanted.date_to:
        conditions.append(fields["date"].as_string() <= wanted.date_to.isoformat())
    if wanted.kind:
        conditions.append(col(Document.kind) == wanted.kind)
    if wanted.status:
        conditions.append(col(Document.status) == wanted.status)
    return conditions


def search_documents(
    session: Session, org_id: str, wanted: DocumentFilter, *, page: int = 1, page_size: int = 50
) -> tuple[list[Document], int]:
    """One page of matching documents (newest first) and how many match in all."""
    conditions = _conditions(org_id, wanted)
    total = session.exec(select(func.count()).select_from(Document).where(*conditions)).one()
    rows = session.exec(
        select(Document)
        .where(*conditions)
        .order_by(col(Document.created_at).desc(), col(Document.id).desc())
        .offset(max(page - 1, 0) * page_size)
        .limit(page_size)
    )
    return list(rows), int(total)
