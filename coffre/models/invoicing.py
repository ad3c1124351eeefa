"""Invoices the business issues: customers, drafts, gapless numbers, credit notes.

A credit note is an invoice of kind `credit_note` that names the invoice it corrects:
the same lines, numbering and document path (EN 16931 type code 381 instead of 380).
An issued invoice never changes; only its payment state moves, and a credit note
cancels it. Amounts are stored as decimal strings (exact), computed by
tasks/invoice_math.py.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import Column, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from coffre.models.organization import new_id, utcnow
from coffre.models.types import EnumString


class InvoiceState(StrEnum):
    DRAFT = "draft"
    ISSUED = "issued"
    PAID = "paid"
    CANCELLED = "cancelled"  # by a credit note


class InvoiceKind(StrEnum):
    INVOICE = "invoice"
    CREDIT_NOTE = "credit_note"


class Customer(SQLModel, table=True):
    __tablename__ = "customer"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    org_id: str = Field(foreign_key="organization.id", index=True, max_length=32)
    name: str = Field(max_length=200)
    siren: str | None = Field(default=None, max_length=9)
    siret: str | None = Field(default=None, max_length=14)
    vat_number: str | None = Field(default=None, max_length=20)
    address_line1: str = Field(default="", max_length=200)
    address_line2: str | None = Field(default=None, max_length=200)
    postcode: str = Field(default="", max_length=20)
    city: str = Field(default="", max_length=100)
    country: str = Field(default="FR", max_length=2)
    email: str | None = Field(default=None, max_length=320)
    is_business: bool = True  # the €40 recovery indemnity applies to businesses
    created_at: datetime = Field(default_factory=utcnow)


class SellerProfile(SQLModel, table=True):
    """What the organisation's invoices say about it (legal mentions, where to pay)."""

    __tablename__ = "seller_profile"

    org_id: str = Field(foreign_key="organization.id", primary_key=True, max_length=32)
    legal_name: str = Field(max_length=200)
    legal_form: str | None = Field(default=None, max_length=200)
    vat_number: str | None = Field(default=None, max_length=20)
    siret: str | None = Field(default=None, max_length=14)
    address_line1: str = Field(max_length=200)
    address_line2: str | None = Field(default=None, max_length=200)
    postcode: str = Field(max_length=20)
    city: str = Field(max_length=100)
    country: str = Field(default="FR", max_length=2)
    email: str | None = Field(default=None, max_length=320)
    iban: str | None = Field(default=None, max_length=34)
    bic: str | None = Field(default=None, max_length=11)
    payment_terms: str = Field(default="Paiement à 30 jours date de facture.", max_length=500)
    late_penalty_rate: str = Field(default="trois fois le taux d'intérêt légal", max_length=200)
    vat_exemption: str | None = Field(
        default=None,
        max_length=200,
        description="Set for businesses under the VAT franchise: 'TVA non applicable, "
        "art. 293 B du CGI'.",
    )


class InvoiceCounter(SQLModel, table=True):
    """The next number of a series; locked while a number is taken."""

    __tablename__ = "invoice_counter"
    __table_args__ = (UniqueConstraint("org_id", "series", name="uq_invoice_counter"),)

    id: int | None = Field(default=None, primary_key=True)
    org_id: str = Field(foreign_key="organization.id", max_length=32)
    series: str = Field(max_length=20)
    next_number: int = 1


class Invoice(SQLModel, table=True):
    __tablename__ = "invoice"
    __table_args__ = (UniqueConstraint("org_id", "series", "number", name="uq_invoice_number"),)

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    org_id: str = Field(foreign_key="organization.id", index=True, max_length=32)
    customer_id: str = Field(foreign_key="customer.id", index=True, max_length=32)
    kind: InvoiceKind = Field(default=InvoiceKind.INVOICE, sa_type=EnumString(InvoiceKind, 12))
    corrects_id: str | None = Field(default=None, foreign_key="invoice.id", max_length=32)
    series: str = Field(default="F", max_length=20)
    sequence: int | None = Field(default=None, description="Set when issued: 1, 2, 3…")
    number: str | None = Field(default=None, max_length=40, description="F-2026-0001")
    state: InvoiceState = Field(
        default=InvoiceState.DRAFT, sa_type=EnumString(InvoiceState, 12), index=True
    )
    issue_date: date | None = None
    due_date: date | None = None
    currency: str = Field(default="EUR", max_length=3)
    buyer_reference: str | None = Field(default=None, max_length=100)
    notes: str | None = Field(default=None, sa_column=Column(Text))
    total_net: str | None = Field(default=None, max_length=24)
    total_vat: str | None = Field(default=None, max_length=24)
    total_gross: str | None = Field(default=None, max_length=24)
    document_id: str | None = Field(
        default=None, foreign_key="document.id", max_length=32, description="The sealed PDF."
    )
    created_at: datetime = Field(default_factory=utcnow)
    issued_at: datetime | None = None


class InvoiceLine(SQLModel, table=True):
    __tablename__ = "invoice_line"

    id: int | None = Field(default=None, primary_key=True)
    invoice_id: str = Field(foreign_key="invoice.id", index=True, max_length=32)
    position: int
    description: str = Field(sa_column=Column(Text, nullable=False))
    quantity: str = Field(max_length=24)  # decimals as text: exact on every database
    unit_code: str = Field(default="C62", max_length=3)
    unit_price: str = Field(max_length=24)
    discount: str = Field(default="0", max_length=24)
    vat_rate: str = Field(max_length=8)
    vat_category: str = Field(default="S", max_length=2)
    exemption_reason: str | None = Field(default=None, max_length=200)
