"""Tenant-scoped queries: every read of customer data names the organisation."""

from __future__ import annotations

from sqlmodel import Session, col, select

from coffre.models.document import Document
from coffre.models.organization import Organization


class NotFound(LookupError):
    """The row does not exist for this organisation (whether or not it exists elsewhere)."""


def find_organization(session: Session, ref: str, *, include_deleted: bool = False) -> Organization:
    """An organisation by id or SIREN (spaces allowed in the SIREN).

    An account being deleted, or deleted, is not found unless ``include_deleted``: no
    capture, fetch or sync may write to it again (a new upload would otherwise create
    a fresh data key for an organisation whose key was destroyed).
    """
    compact = ref.replace(" ", "")
    org = (
        session.get(Organization, ref)
        or session.exec(select(Organization).where(Organization.siren == compact)).first()
    )
    if org is None:
        raise NotFound(f"no organisation {ref!r}")
    if org.deletion_requested_at is not None and not include_deleted:
        raise NotFound(f"the account of organisation {ref!r} is deleted")
    return org


def get_document(session: Session, org_id: str, document_id: str) -> Document:
    document = session.exec(
        select(Document).where(Document.org_id == org_id, Document.id == document_id)
    ).first()
    if document is None:
        raise NotFound(f"no document {document_id!r} in this organisation")
    return document


def find_document_by_content(session: Session, org_id: str, sha256: str) -> Document | None:
    return session.exec(
        select(Document).where(Document.org_id == org_id, Document.original_sha256 == sha256)
    ).first()


def list_documents(
    session: Session, org_id: str, *, limit: int = 50, offset: int = 0
) -> list[Document]:
    return list(
        session.exec(
            select(Document)
            .where(Document.org_id == org_id)
            .order_by(col(Document.created_at).desc(), col(Document.id))
            .offset(offset)
            .limit(limit)
        )
    )
