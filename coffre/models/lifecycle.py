"""State changes of documents, each recorded in the audit journal in the same transaction."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, select

from coffre.models.audit import append_event
from coffre.models.document import Document, DocumentStatus
from coffre.models.organization import utcnow

ALLOWED = {
    DocumentStatus.RECEIVED: {DocumentStatus.NORMALIZED, DocumentStatus.QUARANTINED},
    DocumentStatus.NORMALIZED: {DocumentStatus.SEALED, DocumentStatus.QUARANTINED},
    DocumentStatus.SEALED: set(),
    DocumentStatus.QUARANTINED: set(),
}


class TransitionRefused(Exception):
    """The document is no longer in the state this step expects (another run moved it)."""


def lock_document(session: Session, org_id: str, document_id: str) -> Document | None:
    """Re-read a document inside the transaction, locked on PostgreSQL."""
    return session.exec(
        select(Document)
        .where(Document.org_id == org_id, Document.id == document_id)
        .with_for_update()
    ).first()


def record_created(session: Session, document: Document, *, actor: str) -> None:
    session.add(document)
    session.flush()
    append_event(
        session,
        document.org_id,
        actor=actor,
        action=f"document.{document.status.lower()}",
        subject_type="document",
        subject_id=document.id,
        details={
            "sha256": document.original_sha256,
            "size": document.original_size,
            "media_type": document.media_type,
            "source": document.source,
            "reason_code": document.reason_code,
        },
    )


def transition(
    session: Session,
    document: Document,
    to: DocumentStatus,
    *,
    actor: str,
    details: dict[str, Any] | None = None,
) -> None:
    """Move a document along its lifecycle and journal it; refuse illegal moves."""
    if to not in ALLOWED[document.status]:
        raise TransitionRefused(f"{document.id}: {document.status} → {to} is not allowed")
    previous = document.status
    document.status = to
    document.updated_at = utcnow()
    session.add(document)
    append_event(
        session,
        document.org_id,
        actor=actor,
        action=f"document.{to.lower()}",
        subject_type="document",
        subject_id=document.id,
        details={"from": str(previous), **(details or {})},
    )
