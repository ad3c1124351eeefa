"""Mail connections and the identifiers of the messages already processed.

The promise to customers is that nothing of their mail is kept but the identifiers of
the messages Coffre has looked at: a ProcessedMessage holds the connection, the
provider's message id (and, for IMAP, the folder's UIDVALIDITY) and nothing else. The
credentials are encrypted with the organisation's data key (see tasks/mail_secrets.py).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Column, LargeBinary, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from coffre.models.organization import new_id, utcnow
from coffre.models.types import EnumString


class MailProvider(StrEnum):
    NYLAS = "nylas"
    IMAP = "imap"


class MailConnectionStatus(StrEnum):
    ACTIVE = "active"
    NEEDS_REAUTH = "needs_reauth"  # the provider refused the credentials (401, login failed)
    FAILING = "failing"  # the last run failed for another reason; the next one retries
    DELETED = "deleted"  # credentials and processed ids gone; kept so documents say where from


class MailConnection(SQLModel, table=True):
    """A customer's mailbox, read-only, with the criteria that pick supplier invoices."""

    __tablename__ = "mail_connection"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    org_id: str = Field(foreign_key="organization.id", index=True, max_length=32)
    provider: MailProvider = Field(sa_type=EnumString(MailProvider, 10))
    display_name: str = Field(max_length=200)
    criteria: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    folder: str = Field(default="INBOX", max_length=200)
    credentials: bytes | None = Field(
        default=None,
        sa_column=Column(LargeBinary, nullable=True),
        description="Encrypted with the organisation's data key; None once deleted.",
    )
    grant_lookup: str | None = Field(
        default=None,
        max_length=64,
        index=True,
        description="SHA-256 of the Nylas grant id, so that a webhook finds its connection "
        "without the grant id being stored in clear.",
    )
    cursor: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    status: MailConnectionStatus = Field(
        default=MailConnectionStatus.ACTIVE, sa_type=EnumString(MailConnectionStatus, 16)
    )
    last_error: str | None = Field(default=None, sa_column=Column(Text))
    last_run_at: datetime | None = Field(default=None)
    lease_until: datetime | None = Field(
        default=None, description="A fetch holds the connection until then (one at a time)."
    )
    created_at: datetime = Field(default_factory=utcnow)
    deleted_at: datetime | None = Field(default=None)


class ProcessedMessage(SQLModel, table=True):
    """A message already looked at: its identifier, and nothing else from the mail."""

    __tablename__ = "processed_message"
    __table_args__ = (
        UniqueConstraint("connection_id", "uidvalidity", "message_id", name="uq_processed_message"),
    )

    id: int | None = Field(default=None, primary_key=True)
    connection_id: str = Field(foreign_key="mail_connection.id", index=True, max_length=32)
    uidvalidity: int = Field(default=0, description="IMAP folder UIDVALIDITY; 0 for Nylas.")
    message_id: str = Field(max_length=200)
    processed_at: datetime = Field(default_factory=utcnow)
