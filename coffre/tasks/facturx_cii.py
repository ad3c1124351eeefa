"""The Factur-X EN 16931 CII XML of an issued invoice, built with lxml.

What goes where, and why (the French rules are the BR-FR "Flux 2" schematron that
:func:`coffre.tasks.einvoice_validate.validate_cii` runs):

* BT-23, the billing framework, is mandatory (BR-FR-08). The invoice does not say whether
  it bills goods, services or both, so it is always ``M1``: an ordinary invoice (neither
  already paid nor final after a deposit) for goods and services mixed.
* The seller's SIREN is its legal registration identifier, scheme 0002 (BR-FR-10); a
  SIRET is the party's global identifier, scheme 0009, and must start with the SIREN
  (BR-FR-09). The same goes for a French buyer.
* Both parties need an electronic address (BT-34, BT-49: BR-FR-12/13). A French party's
  address in the public directory is its SIREN under scheme 0225 (BR-FR-21/23); a party
  without SIREN (a foreign or private buyer) is addressed by email, scheme EM.
* The VAT number is the tax registration with scheme VA. A seller without one (franchise
  en base, art. 293 B du CGI) states its SIREN as tax registration identifier (BT-32,
  scheme FC), which BR-E-02 accepts in place of a VAT number.
* Three notes are mandatory, each once (BR-FR-05/06): PMT, the 40 € recovery indemnity;
  PMD, the late-payment penalties; AAB, the (absence of) early-payment discount. The
  invoice's free notes follow with subject AAI (general information).
* A credit note names the invoice it corrects, with its date (BT-25/26, BR-FR-CO-05).
* Amounts are written with two decimals, quantities with at most four and prices with at
  most six (BR-DEC-*, BR-FR-DEC-01/02/03), rates as the BR-FR-16 list spells them.

Every value goes through lxml, which escapes it; the output depends on the invoice only.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

from lxml import etree

from coffre.tasks.invoice_math import (
    CENT,
    CREDIT_NOTE,
    PRICE_DECIMALS,
    QUANTITY_DECIMALS,
    InvoiceTotals,
    compact_id,
    is_business,
    plain,
)
from coffre.tasks.invoice_types import (
    EXEMPT,
    REVERSE_CHARGE,
    InvoiceData,
    InvoiceLineData,
    Party,
)

GUIDELINE = "urn:cen.eu:en16931:2017"  # Factur-X EN 16931 (COMFORT) profile
BILLING_FRAMEWORK = "M1"  # BT-23: ordinary invoice, goods and services mixed

RSM = "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100"
RAM = "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100"
QDT = "urn:un:unece:uncefact:data:standard:QualifiedDataType:100"
UDT = "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100"
_NSMAP = {"rsm": RSM, "ram": RAM, "qdt": QDT, "udt": UDT}

SIREN_SCHEME = "0002"  # ISO 6523 ICD: SIRENE
SIRET_SCHEME = "0009"  # ISO 6523 ICD: SIRET-CODE
DIRECTORY_SCHEME = "0225"  # EAS: French e-invoicing directory (SIREN-based addresses)
EMAIL_SCHEME = "EM"
SEPA_CREDIT_TRANSFER = "58"  # UNTDID 4461
DISCOUNT_REASON = "95"  # UNTDID 5189: discount
FRANCHISE = re.compile(r"293\s*B", re.IGNORECASE)

RECOVERY_NOTE = "PMT"
PENALTY_NOTE = "PMD"
DISCOUNT_NOTE = "AAB"
GENERAL_NOTE = "AAI"
NO_EARLY_PAYMENT_DISCOUNT = "Pas d'escompte pour paiement anticipé."


def cii_xml(invoice: InvoiceData, totals: InvoiceTotals) -> bytes:
    """The CII XML of ``invoice`` with ``totals`` (from :func:`compute_totals`), UTF-8.

    Does not validate: run :func:`check_invoice` before and
    :func:`coffre.tasks.einvoice_validate.validate_cii` after.
    """
    root = etree.Element(f"{{{RSM}}}CrossIndustryInvoice", nsmap=_NSMAP)

    context = _sub(root, "rsm:ExchangedDocumentContext")
    process = _sub(context, "ram:BusinessProcessSpecifiedDocumentContextParameter")
    _sub(process, "ram:ID", BILLING_FRAMEWORK)
    _sub(_sub(context, "ram:GuidelineSpecifiedDocumentContextParameter"), "ram:ID", GUIDELINE)

    document = _sub(root, "rsm:ExchangedDocument")
    _sub(document, "ram:ID", invoice.number)
    _sub(document, "ram:TypeCode", invoice.type_code)
    _date(_sub(document, "ram:IssueDateTime"), invoice.issue_date)
    for subject, content in legal_notes(invoice):
        note = _sub(document, "ram:IncludedNote")
        _sub(note, "ram:Content", content)
        _sub(note, "ram:SubjectCode", subject)

    transaction = _sub(root, "rsm:SupplyChainTradeTransaction")
    for index, (line, net) in enumerate(zip(invoice.lines, totals.line_nets, strict=True)):
        _line(transaction, index + 1, line, net)

    agreement = _sub(transaction, "ram:ApplicableHeaderTradeAgreement")
    if invoice.buyer_reference:
        _sub(agreement, "ram:BuyerReference", invoice.buyer_reference)
    _party(_sub(agreement, "ram:SellerTradeParty"), invoice.seller, seller=True)
    _party(_sub(agreement, "ram:BuyerTradeParty"), invoice.buyer, seller=False)

    _sub(transaction, "ram:ApplicableHeaderTradeDelivery")  # required, nothing known to put

    _settlement(_sub(transaction, "ram:ApplicableHeaderTradeSettlement"), invoice, totals)

    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def legal_notes(invoice: InvoiceData) -> list[tuple[str, str]]:
    """The notes (subject code, text) that French law and BR-FR-05 put on every invoice."""
    indemnity = euros_text(invoice.recovery_indemnity)
    if is_business(invoice.buyer):
        recovery = (
            "En cas de retard de paiement, indemnité forfaitaire pour frais de recouvrement "
            f"de {indemnity} (art. L441-10 et D441-5 du code de commerce)."
        )
    else:
        recovery = "Indemnité forfaitaire pour frais de recouvrement : sans objet (particulier)."
    notes = [
        (RECOVERY_NOTE, recovery),
        (PENALTY_NOTE, f"Pénalités de retard : {invoice.late_penalty_rate.strip().rstrip('.')}."),
        (DISCOUNT_NOTE, NO_EARLY_PAYMENT_DISCOUNT),
    ]
    notes.extend((GENERAL_NOTE, text) for text in invoice.notes if text.strip())
    return notes


def euros_text(amount: Decimal) -> str:
    """40 → "40 €", 12.5 → "12,50 €" (plain spaces: this text also goes into the XML)."""
    whole = amount == amount.to_integral_value()
    text = f"{amount:,.0f}" if whole else f"{amount.quantize(CENT):,.2f}"
    return text.replace(",", " ").replace(".", ",") + " €"


def exemption_code(category: str, reason: str | None, buyer: Party) -> str | None:
    """BT-121 (VATEX) when the category or the legal mention says it without doubt."""
    if category == REVERSE_CHARGE:
        return "VATEX-FR-AE" if buyer.address.country == "FR" else "VATEX-EU-AE"
    if category == EXEMPT and reason and FRANCHISE.search(reason):
        return "VATEX-FR-FRANCHISE"
    return None


# ------------------------------------------------------------------------- helpers


def _qname(name: str) -> str:
    prefix, local = name.split(":")
    return f"{{{_NSMAP[prefix]}}}{local}"


def _sub(
    parent: etree._Element, name: str, text: str | None = None, **attributes: str
) -> etree._Element:
    element = etree.SubElement(parent, _qname(name), attributes)
    if text is not None:
        element.text = text
    return element


def _date(parent: etree._Element, day: date, *, qualified: bool = False) -> None:
    name = "qdt:DateTimeString" if qualified else "udt:DateTimeString"
    _sub(parent, name, day.strftime("%Y%m%d"), format="102")


def _amount(value: Decimal) -> str:
    """Two decimals, never "-0.00"."""
    rounded = value.quantize(CENT)
    return f"{rounded if rounded else rounded.copy_abs():f}"


def _number(value: Decimal, places: int = 0) -> str:
    """A quantity or price as typed (150.00 stays 150.00) if it has at most ``places``
    decimals, else without its trailing zeros (checked to fit by :func:`check_invoice`)."""
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and -places <= exponent <= 0:
        return f"{value:f}"
    return f"{plain(value):f}"


def _rate(value: Decimal) -> str:
    """A VAT rate as the BR-FR-16 list spells it: 20, 5.5, 2.1, 0."""
    return f"{plain(value):f}"


# --------------------------------------------------------------------------- parts


def _line(transaction: etree._Element, number: int, line: InvoiceLineData, net: Decimal) -> None:
    item = _sub(transaction, "ram:IncludedSupplyChainTradeLineItem")
    _sub(_sub(item, "ram:AssociatedDocumentLineDocument"), "ram:LineID", str(number))
    _sub(_sub(item, "ram:SpecifiedTradeProduct"), "ram:Name", line.description)
    price = _sub(_sub(item, "ram:SpecifiedLineTradeAgreement"), "ram:NetPriceProductTradePrice")
    _sub(price, "ram:ChargeAmount", _number(line.unit_price, PRICE_DECIMALS))
    delivery = _sub(item, "ram:SpecifiedLineTradeDelivery")
    _sub(
        delivery,
        "ram:BilledQuantity",
        _number(line.quantity, QUANTITY_DECIMALS),
        unitCode=line.unit_code,
    )

    settlement = _sub(item, "ram:SpecifiedLineTradeSettlement")
    tax = _sub(settlement, "ram:ApplicableTradeTax")
    _sub(tax, "ram:TypeCode", "VAT")
    _sub(tax, "ram:CategoryCode", line.vat_category)
    _sub(tax, "ram:RateApplicablePercent", _rate(line.vat_rate))
    if line.discount:
        allowance = _sub(settlement, "ram:SpecifiedTradeAllowanceCharge")
        _sub(_sub(allowance, "ram:ChargeIndicator"), "udt:Indicator", "false")
        _sub(allowance, "ram:ActualAmount", _amount(line.discount))
        _sub(allowance, "ram:ReasonCode", DISCOUNT_REASON)
        _sub(allowance, "ram:Reason", "Remise")
    summation = _sub(settlement, "ram:SpecifiedTradeSettlementLineMonetarySummation")
    _sub(summation, "ram:LineTotalAmount", _amount(net))


def _party(element: etree._Element, party: Party, *, seller: bool) -> None:
    """BG-4 or BG-7, in the element order of the CII schema."""
    if party.siret:
        _sub(element, "ram:GlobalID", compact_id(party.siret), schemeID=SIRET_SCHEME)
    _sub(element, "ram:Name", party.name)
    if seller and party.legal_form:
        _sub(element, "ram:Description", party.legal_form)  # BT-33: legal form, capital
    if party.siren or party.trading_name:
        legal = _sub(element, "ram:SpecifiedLegalOrganization")
        if party.siren:
            _sub(legal, "ram:ID", compact_id(party.siren), schemeID=SIREN_SCHEME)
        if party.trading_name:
            _sub(legal, "ram:TradingBusinessName", party.trading_name)
    if party.email:
        contact = _sub(element, "ram:DefinedTradeContact")
        _sub(_sub(contact, "ram:EmailURIUniversalCommunication"), "ram:URIID", party.email)

    address = _sub(element, "ram:PostalTradeAddress")
    _sub(address, "ram:PostcodeCode", party.address.postcode)
    _sub(address, "ram:LineOne", party.address.line1)
    if party.address.line2:
        _sub(address, "ram:LineTwo", party.address.line2)
    _sub(address, "ram:CityName", party.address.city)
    _sub(address, "ram:CountryID", party.address.country)

    endpoint = electronic_address(party)
    if endpoint is not None:
        scheme, value = endpoint
        _sub(_sub(element, "ram:URIUniversalCommunication"), "ram:URIID", value, schemeID=scheme)

    if party.vat_number:
        registration = _sub(element, "ram:SpecifiedTaxRegistration")
        _sub(registration, "ram:ID", compact_id(party.vat_number), schemeID="VA")
    elif seller and party.siren:
        registration = _sub(element, "ram:SpecifiedTaxRegistration")
        _sub(registration, "ram:ID", compact_id(party.siren), schemeID="FC")


def electronic_address(party: Party) -> tuple[str, str] | None:
    """(scheme, value) of BT-34/BT-49: the SIREN in the directory, else the email."""
    if party.siren:
        return DIRECTORY_SCHEME, compact_id(party.siren)
    if party.email:
        return EMAIL_SCHEME, party.email
    return None


def _settlement(settlement: etree._Element, invoice: InvoiceData, totals: InvoiceTotals) -> None:
    credit_note = invoice.type_code == CREDIT_NOTE
    if not credit_note:
        _sub(settlement, "ram:PaymentReference", invoice.number)  # BT-83
    _sub(settlement, "ram:InvoiceCurrencyCode", invoice.currency)
    if invoice.seller.iban and not credit_note:
        means = _sub(settlement, "ram:SpecifiedTradeSettlementPaymentMeans")
        _sub(means, "ram:TypeCode", SEPA_CREDIT_TRANSFER)
        account = _sub(means, "ram:PayeePartyCreditorFinancialAccount")
        _sub(account, "ram:IBANID", compact_id(invoice.seller.iban))
        if invoice.seller.bic:
            institution = _sub(means, "ram:PayeeSpecifiedCreditorFinancialInstitution")
            _sub(institution, "ram:BICID", compact_id(invoice.seller.bic))

    for group in totals.breakdown:
        tax = _sub(settlement, "ram:ApplicableTradeTax")
        _sub(tax, "ram:CalculatedAmount", _amount(group.tax_amount))
        _sub(tax, "ram:TypeCode", "VAT")
        # BR-S-10, BR-Z-10: only exempt and reverse-charge groups state a reason.
        reason = group.exemption_reason if group.category in (EXEMPT, REVERSE_CHARGE) else None
        if reason:
            _sub(tax, "ram:ExemptionReason", reason)
        _sub(tax, "ram:BasisAmount", _amount(group.taxable_amount))
        _sub(tax, "ram:CategoryCode", group.category)
        code = exemption_code(group.category, reason, invoice.buyer)
        if code:
            _sub(tax, "ram:ExemptionReasonCode", code)
        _sub(tax, "ram:RateApplicablePercent", _rate(group.rate))

    terms = _sub(settlement, "ram:SpecifiedTradePaymentTerms")
    if invoice.payment_terms.strip():
        _sub(terms, "ram:Description", invoice.payment_terms)
    if invoice.due_date is not None:
        _date(_sub(terms, "ram:DueDateDateTime"), invoice.due_date)

    summation = _sub(settlement, "ram:SpecifiedTradeSettlementHeaderMonetarySummation")
    _sub(summation, "ram:LineTotalAmount", _amount(totals.line_total))
    _sub(summation, "ram:TaxBasisTotalAmount", _amount(totals.tax_basis_total))
    _sub(summation, "ram:TaxTotalAmount", _amount(totals.tax_total), currencyID=invoice.currency)
    _sub(summation, "ram:GrandTotalAmount", _amount(totals.grand_total))
    _sub(summation, "ram:DuePayableAmount", _amount(totals.due_payable))

    if invoice.preceding_invoice:
        reference = _sub(settlement, "ram:InvoiceReferencedDocument")
        _sub(reference, "ram:IssuerAssignedID", invoice.preceding_invoice)
        if invoice.preceding_invoice_date is not None:
            issued = _sub(reference, "ram:FormattedIssueDateTime")
            _date(issued, invoice.preceding_invoice_date, qualified=True)
