"""An invoice as the renderer and the e-invoice writer see it: plain values, Decimals.

Built from the store (organisation, customer, invoice, lines) by the issuing task; the
number is already assigned. Amounts are Decimals in the invoice's currency, never
floats; quantities and prices keep the precision they were typed with.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

# EN 16931 VAT category codes used by French businesses.
STANDARD = "S"  # taxed at a positive rate
EXEMPT = "E"  # exempt (e.g. art. 293 B du CGI, franchise en base)
REVERSE_CHARGE = "AE"
ZERO_RATED = "Z"

FRENCH_RATES = (Decimal("20"), Decimal("10"), Decimal("5.5"), Decimal("2.1"), Decimal("0"))


@dataclass(frozen=True)
class PostalAddress:
    line1: str
    postcode: str
    city: str
    country: str = "FR"  # ISO 3166-1 alpha-2
    line2: str | None = None


@dataclass(frozen=True)
class Party:
    name: str  # legal name
    address: PostalAddress
    siren: str | None = None  # 9 digits (BT-30 / BT-47 with scheme 0002)
    siret: str | None = None  # 14 digits
    vat_number: str | None = None  # FR + 11 characters
    email: str | None = None
    trading_name: str | None = None
    legal_form: str | None = None  # "SARL au capital de 10 000 €"
    iban: str | None = None  # seller only: where to pay
    bic: str | None = None


@dataclass(frozen=True)
class InvoiceLineData:
    description: str
    quantity: Decimal
    unit_code: str  # UN/ECE rec. 20: C62 (unit), HUR (hour), DAY, KGM…
    unit_price: Decimal  # net of VAT, before the line discount
    vat_rate: Decimal  # one of FRENCH_RATES
    vat_category: str = STANDARD
    discount: Decimal = Decimal("0")  # amount taken off the line, net of VAT
    exemption_reason: str | None = None  # required when the rate is 0


@dataclass(frozen=True)
class InvoiceData:
    number: str  # F-2026-0001
    type_code: str  # "380" invoice, "381" credit note
    issue_date: date
    due_date: date | None
    currency: str
    seller: Party
    buyer: Party
    lines: tuple[InvoiceLineData, ...]
    payment_terms: str  # "Paiement à 30 jours…"
    late_penalty_rate: str  # "3 fois le taux d'intérêt légal"
    recovery_indemnity: Decimal = Decimal("40")  # € owed by businesses paying late
    buyer_reference: str | None = None  # the buyer's order or service reference
    preceding_invoice: str | None = None  # a credit note names the invoice it corrects
    preceding_invoice_date: date | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)
