"""Documents: one row per original received, following RECEIVED → NORMALIZED → SEALED."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from coffre.models.organization import new_id, utcnow
from coffre.models.types import EnumString


class DocumentStatus(StrEnum):
    RECEIVED = "RECEIVED"
    NORMALIZED = "NORMALIZED"
    SEALED = "SEALED"
    QUARANTINED = "QUARANTINED"


class DocumentKind(StrEnum):
    RECEIPT = "receipt"
    INVOICE_IN = "invoice_in"
    INVOICE_OUT = "invoice_out"
    BANK_STATEMENT = "bank_statement"
    OTHER = "other"


class DocumentSource(StrEnum):
    UPLOAD = "upload"
    CLI = "cli"
    INBOX = "inbox"
    MAIL = "mail"
    API = "api"
    INVOICING = "invoicing"  # an invoice the business issued from Coffre


class Document(SQLModel, table=True):
    """A supporting document. The original is immutable; the archive is what users get."""

    __table_args__ = (UniqueConstraint("org_id", "original_sha256", name="uq_document_content"),)

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    org_id: str = Field(foreign_key="organization.id", index=True, max_length=32)
    kind: DocumentKind = Field(sa_type=EnumString(DocumentKind, 20))
    source: DocumentSource = Field(sa_type=EnumString(DocumentSource, 20))
    source_ref: str | None = Field(default=None, max_length=200)
    filename: str = Field(max_length=255)

    original_sha256: str = Field(max_length=64)
    original_size: int = Field(sa_type=BigInteger)
    media_type: str = Field(max_length=100)
    original_key: str | None = Field(
        default=None, max_length=200, description="None when the file was refused unread."
    )

    archive_key: str | None = Field(default=None, max_length=200)
    archive_sha256: str | None = Field(default=None, max_length=64)
    archive_note: str | None = Field(default=None, sa_column=Column(Text))

    status: DocumentStatus = Field(
        default=DocumentStatus.RECEIVED, sa_type=EnumString(DocumentStatus, 16), index=True
    )
    reason: str | None = Field(default=None, sa_column=Column(Text))
    reason_code: str | None = Field(default=None, max_length=40)
    ocr_text: str | None = Field(default=None, sa_column=Column(Text))
    fields: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))

    sealed_at: datetime | None = Field(default=None)
    seal_level: str | None = Field(default=None, max_length=8)
    timestamp_expires_at: datetime | None = Field(
        default=None, index=True, description="When the newest timestamp's TSA cert expires."
    )
    last_error: str | None = Field(
        default=None, sa_column=Column(Text), description="Why the last step failed, in words."
    )

    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
