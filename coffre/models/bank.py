"""Bank connections, accounts, transactions and their matches with documents.

Bank credentials never reach Coffre (the aggregator's web view takes them); what is kept
is a copy of the transactions, which the customer can delete one by one or with their
connection. Amounts are integer cents, negative for debits.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import BigInteger, Column, Index, LargeBinary, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from coffre.models.organization import new_id, utcnow
from coffre.models.types import EnumString


class BankConnectionState(StrEnum):
    ACTIVE = "active"
    NEEDS_REAUTH = "needs_reauth"  # the bank or the aggregator wants the customer again
    FAILING = "failing"  # the last sync failed for another reason; the next one retries
    DELETED = "deleted"


class BankConnection(SQLModel, table=True):
    """A Powens connection (one bank login of the customer), or a folder of statements."""

    __tablename__ = "bank_connection"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    org_id: str = Field(foreign_key="organization.id", index=True, max_length=32)
    provider: str = Field(default="powens", max_length=16)  # powens | files
    powens_connection_id: int | None = Field(default=None, index=True)
    user_token: bytes | None = Field(
        default=None,
        sa_column=Column(LargeBinary, nullable=True),
        description="The Powens permanent user token, encrypted with the organisation's key.",
    )
    bank_name: str | None = Field(default=None, max_length=200)
    state: BankConnectionState = Field(
        default=BankConnectionState.ACTIVE, sa_type=EnumString(BankConnectionState, 16)
    )
    state_reason: str | None = Field(default=None, sa_column=Column(Text))
    last_update: datetime | None = Field(
        default=None, description="Powens last_update of the newest change synced (cursor)."
    )
    last_sync_at: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)
    deleted_at: datetime | None = None


class BankAccount(SQLModel, table=True):
    __tablename__ = "bank_account"
    __table_args__ = (
        UniqueConstraint("org_id", "iban", name="uq_bank_account_iban"),
        UniqueConstraint("org_id", "account_key", name="uq_bank_account_key"),
    )

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    org_id: str = Field(foreign_key="organization.id", index=True, max_length=32)
    connection_id: str | None = Field(
        default=None, foreign_key="bank_connection.id", index=True, max_length=32
    )
    provider_account_id: str | None = Field(default=None, max_length=64)
    account_key: str = Field(
        max_length=64,
        description="What identifies the account across sources: the IBAN, else the "
        "bank/branch/account numbers, else the provider's id.",
    )
    iban: str | None = Field(default=None, max_length=34)
    name: str = Field(default="", max_length=200)
    currency: str = Field(default="EUR", max_length=3)
    balance_cents: int | None = Field(default=None, sa_type=BigInteger)
    balance_date: date | None = None
    created_at: datetime = Field(default_factory=utcnow)


class BankTransaction(SQLModel, table=True):
    __tablename__ = "bank_transaction"
    __table_args__ = (
        UniqueConstraint("account_id", "provider_id", name="uq_bank_transaction_provider_id"),
        Index("ix_bank_transaction_org_date", "org_id", "booking_date"),
    )

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    org_id: str = Field(foreign_key="organization.id", index=True, max_length=32)
    account_id: str = Field(foreign_key="bank_account.id", index=True, max_length=32)
    provider_id: str = Field(
        max_length=80,
        description="Powens' id, or for statement files an id derived from the content, so "
        "that importing a file twice (or two overlapping statements) adds nothing twice.",
    )
    source: str = Field(max_length=16)  # powens | ofx | camt053 | cfonb120 | csv
    booking_date: date
    value_date: date | None = None
    amount_cents: int = Field(sa_type=BigInteger)
    currency: str = Field(default="EUR", max_length=3)
    original_wording: str = Field(sa_column=Column(Text, nullable=False))
    simplified_wording: str = Field(sa_column=Column(Text, nullable=False))
    counterparty_name: str | None = Field(default=None, max_length=200)
    counterparty_iban: str | None = Field(default=None, max_length=34)
    end_to_end_id: str | None = Field(default=None, max_length=100)
    remittance: str | None = Field(default=None, sa_column=Column(Text))
    coming: bool = False
    deleted_at: datetime | None = Field(default=None, description="Deleted at the bank.")
    hidden_at: datetime | None = Field(
        default=None, description="Deleted by the customer: hidden for good, never re-synced."
    )
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class StatementImport(SQLModel, table=True):
    """A statement file imported: the same bytes again are recognised and add nothing."""

    __tablename__ = "statement_import"
    __table_args__ = (UniqueConstraint("org_id", "sha256", name="uq_statement_import_content"),)

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    org_id: str = Field(foreign_key="organization.id", index=True, max_length=32)
    sha256: str = Field(max_length=64)
    filename: str = Field(max_length=255)
    format: str = Field(max_length=16)
    transactions_added: int = 0
    transactions_known: int = 0
    created_at: datetime = Field(default_factory=utcnow)


class MatchKind(StrEnum):
    AUTO = "auto"  # the engine was sure
    SUGGESTED = "suggested"  # the engine proposes; a human decides
    CONFIRMED = "confirmed"  # a human accepted a suggestion (or an automatic match)
    REJECTED = "rejected"  # a human said no: never proposed again
    MANUAL = "manual"  # a human matched it by hand

    @property
    def decided(self) -> bool:
        """Decided by a human: a later run never changes it."""
        return self in (MatchKind.CONFIRMED, MatchKind.REJECTED, MatchKind.MANUAL)


class Match(SQLModel, table=True):
    """A transaction paying (part of) a document."""

    __tablename__ = "bank_match"
    __table_args__ = (UniqueConstraint("transaction_id", "document_id", name="uq_bank_match_pair"),)

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    org_id: str = Field(foreign_key="organization.id", index=True, max_length=32)
    transaction_id: str = Field(foreign_key="bank_transaction.id", index=True, max_length=32)
    document_id: str = Field(foreign_key="document.id", index=True, max_length=32)
    amount_cents: int = Field(sa_type=BigInteger)
    kind: MatchKind = Field(sa_type=EnumString(MatchKind, 12), index=True)
    score: float = 0.0
    explanation: str = Field(default="", sa_column=Column(Text, nullable=False))
    group_key: str | None = Field(
        default=None, max_length=32, description="Shared by the pairs of one grouped payment."
    )
    decided_by: str | None = Field(default=None, max_length=100)
    decided_at: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)
