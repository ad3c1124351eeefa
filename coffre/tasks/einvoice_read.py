"""Fields of an incoming e-invoice, read from its embedded CII XML instead of OCR.

A Factur-X (or ZUGFeRD) PDF carries the invoice as structured data: number, dates,
totals, VAT lines and the parties are taken from there, exactly, in the same shape as
`ExtractedFields.to_json()` plus what the XML adds (due date, customer, seller IBAN).
"""

from __future__ import annotations

import logging
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from lxml import etree

from coffre.tasks.einvoice_facturx import extract_facturx

log = logging.getLogger(__name__)
NS = {
    "rsm": "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100",
    "ram": "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100",
    "udt": "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100",
}
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)


def fields_from_einvoice(pdf: bytes) -> dict[str, Any] | None:
    """The invoice's fields if the PDF embeds a CII e-invoice, else None."""
    try:
        xml = extract_facturx(pdf)
    except ValueError:
        return None
    if not xml:
        return None
    try:
        return fields_from_cii(xml)
    except (etree.XMLSyntaxError, ValueError, InvalidOperation) as error:
        log.warning("an embedded e-invoice could not be read (%s); falling back to text", error)
        return None


def fields_from_cii(xml: bytes) -> dict[str, Any]:
    root = etree.fromstring(xml, parser=_PARSER)
    if b"<!DOCTYPE" in xml[:2048]:
        raise ValueError("DTD in an e-invoice")

    def text(path: str) -> str | None:
        found = root.xpath(f"string({path})", namespaces=NS)
        value = str(found).strip()
        return value or None

    def amount(path: str) -> str | None:
        value = text(path)
        return str(Decimal(value).quantize(Decimal("0.01"))) if value else None

    transaction = "/rsm:CrossIndustryInvoice/rsm:SupplyChainTradeTransaction"
    settlement = f"{transaction}/ram:ApplicableHeaderTradeSettlement"
    agreement = f"{transaction}/ram:ApplicableHeaderTradeAgreement"
    seller = f"{agreement}/ram:SellerTradeParty"
    vat = []
    for tax in root.xpath(f"{settlement}/ram:ApplicableTradeTax", namespaces=NS):
        rate = tax.findtext("ram:RateApplicablePercent", namespaces=NS)
        calculated = tax.findtext("ram:CalculatedAmount", namespaces=NS)
        if rate is not None and calculated is not None:
            vat.append(
                {
                    "rate": _rate(Decimal(rate)),
                    "amount": str(Decimal(calculated).quantize(Decimal("0.01"))),
                }
            )
    vat.sort(key=lambda line: Decimal(line["rate"]), reverse=True)
    siret = text(f"{seller}/ram:GlobalID[@schemeID='0009']")
    siren = text(f"{seller}/ram:SpecifiedLegalOrganization/ram:ID")
    return {
        "date": _date(
            text(
                "/rsm:CrossIndustryInvoice/rsm:ExchangedDocument/ram:IssueDateTime/udt:DateTimeString"
            )
        ),
        "total_ttc": amount(
            f"{settlement}/ram:SpecifiedTradeSettlementHeaderMonetarySummation/ram:GrandTotalAmount"
        ),
        "vat": vat,
        "supplier": text(f"{seller}/ram:Name"),
        "invoice_number": text("/rsm:CrossIndustryInvoice/rsm:ExchangedDocument/ram:ID"),
        "siret": siret or siren,
        "due_date": _date(
            text(
                f"{settlement}/ram:SpecifiedTradePaymentTerms/ram:DueDateDateTime/udt:DateTimeString"
            )
        ),
        "customer": text(f"{agreement}/ram:BuyerTradeParty/ram:Name"),
        "currency": text(f"{settlement}/ram:InvoiceCurrencyCode"),
        "iban": text(
            f"{settlement}/ram:SpecifiedTradeSettlementPaymentMeans/ram:PayeePartyCreditorFinancialAccount/ram:IBANID"
        ),
        "type_code": text("/rsm:CrossIndustryInvoice/rsm:ExchangedDocument/ram:TypeCode"),
        "from": "e-invoice",
    }


def _date(value: str | None) -> str | None:
    """CII dates are written 20261128 (format 102)."""
    if not value or len(value) != 8 or not value.isdigit():
        return None
    return date(int(value[:4]), int(value[4:6]), int(value[6:])).isoformat()


def _rate(value: Decimal) -> str:
    """Shortest exact form ("20", "5.5"), as ExtractedFields writes rates."""
    return format(value.normalize(), "f")
