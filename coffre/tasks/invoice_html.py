"""The human-readable side of an issued invoice: HTML for :func:`render_pdf`, in French.

The page shows the same computed totals as the Factur-X XML (never recomputed here) and
every mention French law puts on a business invoice: the parties' identities (SIREN, VAT
numbers, legal form and capital), dates, lines, VAT per rate, payment terms, the
late-payment penalty rate, the 40 € recovery indemnity for professional customers, the
absence of early-payment discount, the legal ground of any VAT exemption, and for a
credit note the invoice it corrects.

The template and its stylesheet live in :data:`TEMPLATE_DIR`; render with
``render_pdf(invoice_html(invoice, totals), base_url=str(TEMPLATE_DIR))`` so that the
stylesheet is read from there, and from nowhere else.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from coffre.tasks.facturx_cii import NO_EARLY_PAYMENT_DISCOUNT
from coffre.tasks.invoice_math import (
    CENT,
    CREDIT_NOTE,
    InvoiceTotals,
    VatBreakdown,
    compact_id,
    is_business,
    plain,
)
from coffre.tasks.invoice_types import (
    EXEMPT,
    REVERSE_CHARGE,
    STANDARD,
    ZERO_RATED,
    InvoiceData,
    InvoiceLineData,
)

TEMPLATE_DIR = Path(__file__).with_name("templates")
TEMPLATE = "invoice.html"

NBSP = "\u00a0"
NNBSP = "\u202f"  # French thousands separator

# UN/ECE rec. 20 codes as a French reader expects them; others are shown as they are.
UNITS = {
    "C62": "u.",
    "H87": "pièce",
    "XPP": "pièce",
    "HUR": "h",
    "MIN": "min",
    "DAY": "jour",
    "WEE": "semaine",
    "MON": "mois",
    "ANN": "an",
    "KGM": "kg",
    "GRM": "g",
    "TNE": "t",
    "MTR": "m",
    "MTK": "m²",
    "MTQ": "m³",
    "KMT": "km",
    "LTR": "L",
    "KWH": "kWh",
    "LS": "forfait",
    "E48": "service",
}
CATEGORY_LABELS = {
    EXEMPT: "Exonération",
    REVERSE_CHARGE: "Autoliquidation",
    ZERO_RATED: "Taux zéro",
}


@dataclass(frozen=True)
class _Row:
    line: InvoiceLineData
    net: Decimal


def invoice_html(invoice: InvoiceData, totals: InvoiceTotals) -> str:
    """The invoice (or credit note) as a complete HTML document, values escaped."""
    credit_note = invoice.type_code == CREDIT_NOTE
    mentions = _exemption_mentions(totals.breakdown)
    context: dict[str, Any] = {
        "invoice": invoice,
        "totals": totals,
        "seller": invoice.seller,
        "buyer": invoice.buyer,
        "credit_note": credit_note,
        "title": "Avoir" if credit_note else "Facture",
        "rows": [
            _Row(line, net) for line, net in zip(invoice.lines, totals.line_nets, strict=True)
        ],
        "taxed": [group for group in totals.breakdown if group.category == STANDARD],
        "untaxed": [group for group in totals.breakdown if group.category != STANDARD],
        "has_discount": any(line.discount for line in invoice.lines),
        "exemption_mentions": mentions,
        "business_buyer": is_business(invoice.buyer),
        "no_discount": NO_EARLY_PAYMENT_DISCOUNT,
        "category_labels": CATEGORY_LABELS,
        "footer": _footer(invoice),
    }
    return _environment().get_template(TEMPLATE).render(context)


def _footer(invoice: InvoiceData) -> str:
    """The seller's identity repeated at the foot of every page."""
    seller = invoice.seller
    parts = [seller.name]
    if seller.legal_form:
        parts.append(seller.legal_form)
    if seller.siren:
        parts.append(f"SIREN {siren(seller.siren)}")
    if seller.vat_number:
        parts.append(f"TVA {compact_id(seller.vat_number)}")
    return " · ".join(parts)


def _exemption_mentions(breakdown: tuple[VatBreakdown, ...]) -> list[str]:
    """The legal grounds for untaxed amounts, each once, in breakdown order."""
    reasons = [group.exemption_reason for group in breakdown if group.category != STANDARD]
    return list(dict.fromkeys(reason.strip() for reason in reasons if reason and reason.strip()))


@cache
def _environment() -> Environment:
    environment = Environment(
        loader=FileSystemLoader(TEMPLATE_DIR),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters.update(
        money=money,
        whole_money=whole_money,
        quantity=quantity,
        price=price,
        rate=rate,
        day=day,
        siren=siren,
        siret=siret,
        iban=iban,
        unit=unit,
        compact_id=compact_id,
    )
    return environment


# ------------------------------------------------------------------------- filters


def _group(text: str) -> str:
    """Digits of an integer part grouped by three with narrow no-break spaces."""
    sign = "-" if text.startswith("-") else ""
    digits = text.lstrip("-")
    groups: list[str] = []
    while len(digits) > 3:
        groups.insert(0, digits[-3:])
        digits = digits[:-3]
    groups.insert(0, digits)
    return sign + NNBSP.join(groups)


def _french(value: Decimal, decimals: int) -> str:
    text = f"{value:.{decimals}f}"
    whole, _, fraction = text.partition(".")
    return _group(whole) + ("," + fraction if fraction else "")


def money(value: Decimal) -> str:
    """1234.5 → "1 234,50 €"."""
    return _french(value.quantize(CENT), 2) + NBSP + "€"


def whole_money(value: Decimal) -> str:
    """An amount stated in a mention: 40 → "40 €", 12.5 → "12,50 €"."""
    decimals = 0 if value == value.to_integral_value() else 2
    return _french(value, decimals) + NBSP + "€"


def _decimals(value: Decimal) -> int:
    exponent = plain(value).as_tuple().exponent
    return -exponent if isinstance(exponent, int) and exponent < 0 else 0


def quantity(value: Decimal) -> str:
    """As typed, without trailing zeros: 3, 0,333, 1 250."""
    return _french(value, _decimals(value))


def price(value: Decimal) -> str:
    """Unit prices keep their precision, with at least cents: 150,00 ; 0,125 ; 19,99."""
    return _french(value, max(2, _decimals(value))) + NBSP + "€"


def rate(value: Decimal) -> str:
    """20 → "20 %", 5.5 → "5,5 %"."""
    return _french(value, _decimals(value)) + NBSP + "%"


def day(value: date) -> str:
    return value.strftime("%d/%m/%Y")


def siren(value: str) -> str:
    """123456782 → "123 456 782"."""
    digits = compact_id(value)
    return NBSP.join((digits[:3], digits[3:6], digits[6:])) if len(digits) == 9 else value


def siret(value: str) -> str:
    """12345678200010 → "123 456 782 00010"."""
    digits = compact_id(value)
    return siren(digits[:9]) + NBSP + digits[9:] if len(digits) == 14 else value


def iban(value: str) -> str:
    """Groups of four, as printed on a RIB."""
    compact = compact_id(value)
    return NBSP.join(compact[i : i + 4] for i in range(0, len(compact), 4))


def unit(code: str) -> str:
    return UNITS.get(code, code)
