"""Issuing an invoice: totals, input checks, Factur-X XML, PDF/A-3b rendering, embedding.

Five documents go the whole way (totals → XML → XSD + EN 16931 + BR-FR validation → HTML
→ PDF/A-3b → Factur-X → extraction → text of the PDF): a small invoice whose amounts were
worked out by hand, fifty lines mixing every French rate with discounts and awkward
quantities, a micro-entrepreneur's invoice under art. 293 B, a credit note, and a service
sold to a German company under the reverse charge. Each refused input of
:func:`check_invoice` is then tried alone, on an otherwise valid invoice.
"""

from __future__ import annotations

import io
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal
from fractions import Fraction
from math import floor
from typing import TypeVar

import pikepdf
import pytest
from lxml import etree

from coffre.tasks.einvoice_facturx import embed_facturx, extract_facturx
from coffre.tasks.einvoice_render import render_pdf
from coffre.tasks.einvoice_validate import ValidationIssue, validate_cii, warm_up
from coffre.tasks.facturx_cii import cii_xml
from coffre.tasks.invoice_html import TEMPLATE_DIR, invoice_html
from coffre.tasks.invoice_math import (
    VatBreakdown,
    check_invoice,
    compute_totals,
    line_net,
)
from coffre.tasks.invoice_types import (
    EXEMPT,
    REVERSE_CHARGE,
    STANDARD,
    InvoiceData,
    InvoiceLineData,
    Party,
    PostalAddress,
)

D = Decimal
T = TypeVar("T")
NS = {
    "rsm": "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100",
    "ram": "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100",
    "qdt": "urn:un:unece:uncefact:data:standard:QualifiedDataType:100",
    "udt": "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100",
}
PENALTIES = "trois fois le taux d'intérêt légal"

SELLER = Party(
    name="Atelier Coffre SARL",
    address=PostalAddress("12 rue de la République", "69002", "Lyon"),
    siren="123456782",
    siret="12345678200010",
    vat_number="FR11123456782",
    email="compta@atelier-coffre.fr",
    legal_form="SARL au capital de 10 000 €",
    iban="FR76 3000 6000 0112 3456 7890 189",
    bic="BNPAFRPPXXX",
)
BUYER = Party(
    name="Boulangerie Martin SAS",
    address=PostalAddress("3 place Grenette", "38000", "Grenoble", line2="Bâtiment B"),
    siren="987654324",
    vat_number="FR14987654324",
)
MICRO_SELLER = Party(
    name="Julie Moreau EI",
    address=PostalAddress("8 impasse des Lilas", "44000", "Nantes"),
    siren="842159733",
    siret="84215973300018",
    email="julie.moreau@example.fr",
    legal_form="Entrepreneur individuel",
    trading_name="Atelier Graphique Moreau",
    iban="FR7630006000011234567890189",
)
GERMAN_BUYER = Party(
    name="Müller Maschinenbau GmbH",
    address=PostalAddress("Friedrichstraße 120", "10117", "Berlin", country="DE"),
    vat_number="DE136695976",
    email="rechnung@mueller-maschinenbau.de",
)
FRANCHISE = "TVA non applicable, art. 293 B du CGI"
TRAINING = "Exonération de TVA, art. 261-4-4° du CGI (formation professionnelle)"


def small_invoice() -> InvoiceData:
    """Two lines, 20 % and 5.5 %, one discount: the amounts below are worked by hand."""
    return InvoiceData(
        number="F-2026-0042",
        type_code="380",
        issue_date=date(2026, 9, 15),
        due_date=date(2026, 10, 15),
        currency="EUR",
        seller=SELLER,
        buyer=BUYER,
        lines=(
            InvoiceLineData(
                "Conseil en organisation comptable", D("3"), "HUR", D("150.00"), D("20")
            ),
            InvoiceLineData(
                "Guide pratique de la TVA (livre)",
                D("2"),
                "C62",
                D("12.45"),
                D("5.5"),
                discount=D("1.50"),
            ),
        ),
        payment_terms="Paiement à 30 jours par virement SEPA.",
        late_penalty_rate=PENALTIES,
        buyer_reference="ACHAT-2026-17",
        notes=("Merci de votre confiance.",),
    )


def fifty_lines() -> InvoiceData:
    """50 lines over 20, 10, 5.5, 2.1 % and an exempt training, with odd quantities."""
    rates = [
        (D("20"), STANDARD, None),
        (D("10"), STANDARD, None),
        (D("5.5"), STANDARD, None),
        (D("2.1"), STANDARD, None),
        (D("0"), EXEMPT, TRAINING),
    ]
    quantities = [D("0.333"), D("1"), D("2.5"), D("0.125"), D("7"), D("1.3333"), D("12"), D("0.5")]
    prices = [D("19.99"), D("0.015"), D("1234.5"), D("3.333333"), D("49.95"), D("0.99"), D("2.25")]
    lines = []
    for i in range(50):
        rate, category, reason = rates[i % len(rates)]
        quantity = quantities[i % len(quantities)]
        price = prices[(i * 3) % len(prices)]
        discount = D("1.05") if i % 4 == 1 and quantity * price > 5 else D("0")
        lines.append(
            InvoiceLineData(
                f"Article n° {i + 1} — câble & connecteur <USB-C> « {rate} % »",
                quantity,
                ["C62", "KGM", "HUR", "MTR"][i % 4],
                price,
                rate,
                vat_category=category,
                discount=discount,
                exemption_reason=reason,
            )
        )
    return replace(small_invoice(), number="F-2026-0043", lines=tuple(lines), notes=())


def micro_invoice() -> InvoiceData:
    """A micro-entrepreneur without VAT number, under the franchise en base."""
    logo = InvoiceLineData(
        "Création du logo", D("1"), "C62", D("450"), D("0"), EXEMPT, exemption_reason=FRANCHISE
    )
    return InvoiceData(
        number="2026-017",
        type_code="380",
        issue_date=date(2026, 11, 3),
        due_date=date(2026, 11, 3),
        currency="EUR",
        seller=MICRO_SELLER,
        buyer=BUYER,
        lines=(
            logo,
            replace(
                logo,
                description="Déclinaisons (carte, en-tête, réseaux)",
                quantity=D("3"),
                unit_price=D("80"),
                discount=D("20"),
            ),
        ),
        payment_terms="Paiement à réception.",
        late_penalty_rate=PENALTIES,
    )


def credit_note() -> InvoiceData:
    return InvoiceData(
        number="AV-2026-0003",
        type_code="381",
        issue_date=date(2026, 9, 30),
        due_date=None,
        currency="EUR",
        seller=SELLER,
        buyer=BUYER,
        lines=(
            InvoiceLineData(
                "Geste commercial : une heure de conseil non due", D("1"), "HUR", D("150"), D("20")
            ),
        ),
        payment_terms="Avoir à déduire de votre prochain règlement.",
        late_penalty_rate=PENALTIES,
        preceding_invoice="F-2026-0042",
        preceding_invoice_date=date(2026, 9, 15),
    )


def eu_buyer_invoice() -> InvoiceData:
    """Services to a German company: VAT due by the buyer (art. 196 of the VAT directive)."""
    return replace(
        small_invoice(),
        number="F-2026-0044",
        buyer=GERMAN_BUYER,
        buyer_reference=None,
        lines=(
            InvoiceLineData(
                "Audit comptable à distance",
                D("2"),
                "DAY",
                D("800"),
                D("0"),
                vat_category=REVERSE_CHARGE,
                exemption_reason="Autoliquidation",
            ),
        ),
        notes=(),
    )


# ------------------------------------------------------------------------- helpers


def fatal(issues: list[ValidationIssue]) -> list[ValidationIssue]:
    return [issue for issue in issues if issue.severity == "fatal"]


def pdf_text(pdf: bytes) -> str:
    """The PDF's text as pdftotext reads it, every kind of space made one plain space."""
    result = subprocess.run(
        ["pdftotext", "-layout", "-enc", "UTF-8", "-", "-"],
        input=pdf,
        capture_output=True,
        check=True,
    )
    return " ".join(result.stdout.decode("utf-8").replace("\u202f", " ").split())


def xpath(xml: bytes, path: str) -> list[str]:
    return [str(value) for value in etree.fromstring(xml).xpath(path, namespaces=NS)]


def half_up_cents(value: Fraction) -> Decimal:
    """Reference rounding, independent of the decimal module's."""
    cents = floor(abs(value) * 100 + Fraction(1, 2))
    return (D(cents if value >= 0 else -cents) / 100).quantize(D("0.01"))


@pytest.fixture(scope="module", autouse=True)
def saxon_ready() -> None:
    warm_up()


# -------------------------------------------------------------------------- totals


def test_small_invoice_totals_worked_by_hand() -> None:
    totals = compute_totals(small_invoice())
    # 3 × 150.00 = 450.00; 2 × 12.45 − 1.50 = 23.40.
    assert totals.line_nets == (D("450.00"), D("23.40"))
    # 450.00 × 20 % = 90.00; 23.40 × 5.5 % = 1.287 → 1.29.
    assert totals.breakdown == (
        VatBreakdown(STANDARD, D("20"), D("450.00"), D("90.00"), None),
        VatBreakdown(STANDARD, D("5.5"), D("23.40"), D("1.29"), None),
    )
    assert totals.line_total == totals.tax_basis_total == D("473.40")
    assert totals.tax_total == D("91.29")
    assert totals.grand_total == totals.due_payable == D("564.69")
    assert str(totals.grand_total) == "564.69"


def test_rounding_half_up_per_line_and_once_per_vat_group() -> None:
    line = InvoiceLineData("x", D("0.5"), "C62", D("2.25"), D("20"))
    assert line_net(line) == D("1.13")  # 1.125: half up, not half even
    assert line_net(replace(line, quantity=D("0.333"), unit_price=D("19.99"))) == D("6.66")
    # Three lines of 6.66 at 20 %: the VAT of the group is 19.98 × 20 % = 3.996 → 4.00,
    # where rounding each line (1.332 → 1.33) would have given 3.99.
    lines = (replace(line, quantity=D("0.333"), unit_price=D("19.99")),) * 3
    totals = compute_totals(replace(small_invoice(), lines=lines))
    assert totals.breakdown == (VatBreakdown(STANDARD, D("20"), D("19.98"), D("4.00"), None),)
    assert totals.grand_total == D("23.98")


def test_rates_written_differently_are_one_group() -> None:
    line = InvoiceLineData("x", D("1"), "C62", D("10"), D("20"))
    totals = compute_totals(
        replace(small_invoice(), lines=(line, replace(line, vat_rate=D("20.00"))))
    )
    assert [(group.rate, group.taxable_amount) for group in totals.breakdown] == [
        (D("20"), D("20.00"))
    ]


def test_fifty_lines_against_an_exact_reference() -> None:
    invoice = fifty_lines()
    totals = compute_totals(invoice)
    nets = [
        half_up_cents(Fraction(line.quantity) * Fraction(line.unit_price) - Fraction(line.discount))
        for line in invoice.lines
    ]
    assert list(totals.line_nets) == nets
    assert sum(1 for line in invoice.lines if line.discount) >= 5
    groups: dict[tuple[str, Decimal], Decimal] = {}
    for line, net in zip(invoice.lines, nets, strict=True):
        key = (line.vat_category, line.vat_rate)
        groups[key] = groups.get(key, D("0")) + net
    assert {(g.category, g.rate): g.taxable_amount for g in totals.breakdown} == groups
    for group in totals.breakdown:
        expected = half_up_cents(Fraction(group.taxable_amount) * Fraction(group.rate) / 100)
        assert group.tax_amount == expected
    assert [group.rate for group in totals.breakdown] == [D("20"), D("10"), D("5.5"), D("2.1"), 0]
    assert totals.line_total == sum(nets)
    assert totals.tax_total == sum(group.tax_amount for group in totals.breakdown)
    assert totals.grand_total == totals.line_total + totals.tax_total


def test_credit_note_amounts_are_positive() -> None:
    totals = compute_totals(credit_note())
    assert (totals.line_total, totals.tax_total, totals.grand_total) == (
        D("150.00"),
        D("30.00"),
        D("180.00"),
    )


# ---------------------------------------------------------------- the whole chain


@dataclass(frozen=True)
class Case:
    build: Callable[[], InvoiceData]
    in_pdf: tuple[str, ...]
    not_in_pdf: tuple[str, ...] = ()


CASES = {
    "small": Case(
        small_invoice,
        (
            "FACTURE",
            "F-2026-0042",
            "SIREN 123 456 782",
            "SIREN 987 654 324",
            "FR11123456782",
            "SARL au capital de 10 000 €",
            "564,69 €",
            "1,29 €",
            "FR76 3000 6000 0112 3456 7890 189",
            "15/10/2026",
            "40 €",
            f"Pénalités de retard : {PENALTIES}",
            "Pas d'escompte pour paiement anticipé",
        ),
        ("293 B",),
    ),
    "fifty-lines": Case(fifty_lines, ("Article n° 50", "câble & connecteur <USB-C>", TRAINING)),
    "micro": Case(
        micro_invoice,
        (FRANCHISE, "SIREN 842 159 733", "Entrepreneur individuel", "670,00 €", "40 €"),
    ),
    "credit-note": Case(
        credit_note,
        ("AVOIR", "Avoir sur la facture n° F-2026-0042 du 15/09/2026", "180,00 €", "40 €"),
        ("IBAN",),
    ),
    "eu-buyer": Case(
        eu_buyer_invoice,
        ("Autoliquidation", "DE136695976", "Berlin, DE", "1 600,00 €", "40 €"),
    ),
}


def timed(timings: dict[str, float], step: str, function: Callable[[], T]) -> T:
    started = time.perf_counter()
    result = function()
    timings[step] = (time.perf_counter() - started) * 1000
    return result


@pytest.mark.parametrize("name", list(CASES))
def test_issue_render_embed_extract(name: str) -> None:
    case = CASES[name]
    invoice = case.build()
    assert check_invoice(invoice) == []
    timings: dict[str, float] = {}
    totals = timed(timings, "totals", lambda: compute_totals(invoice))
    xml = timed(timings, "xml", lambda: cii_xml(invoice, totals))
    issues = timed(timings, "validation", lambda: validate_cii(xml))
    assert fatal(issues) == []
    # The one remark left: the delivery block is required by the schema but nothing is
    # known to put in it (no delivery date in the invoice data).
    assert {issue.rule for issue in issues} <= {"PEPPOL-EN16931-R008"}
    html = timed(timings, "html", lambda: invoice_html(invoice, totals))
    rendered = timed(timings, "pdf", lambda: render_pdf(html, base_url=str(TEMPLATE_DIR)))
    facturx = timed(timings, "embed", lambda: embed_facturx(rendered, xml))
    print(name, ", ".join(f"{step} {ms:.1f} ms" for step, ms in timings.items()))

    assert extract_facturx(facturx) == xml
    with pikepdf.open(io.BytesIO(facturx)) as pdf:
        assert pdf.open_metadata().pdfa_status == "3B"
        fonts = {str(font.BaseFont) for page in pdf.pages for font in page.Resources.Font.values()}
        assert fonts and all("DejaVu-Sans" in font for font in fonts), fonts
    text = pdf_text(facturx)
    for expected in case.in_pdf:
        assert expected in text, expected
    for unexpected in case.not_in_pdf:
        assert unexpected not in text, unexpected


def test_small_invoice_xml_content() -> None:
    invoice = small_invoice()
    xml = cii_xml(invoice, compute_totals(invoice))
    assert xml == cii_xml(invoice, compute_totals(invoice))  # deterministic
    agreement = "//ram:ApplicableHeaderTradeAgreement"
    seller = f"{agreement}/ram:SellerTradeParty"
    assert xpath(xml, "//rsm:ExchangedDocumentContext//ram:ID/text()") == [
        "M1",
        "urn:cen.eu:en16931:2017",
    ]
    assert xpath(
        xml, f"{seller}/ram:SpecifiedLegalOrganization/ram:ID[@schemeID='0002']/text()"
    ) == ["123456782"]
    assert xpath(xml, f"{seller}/ram:GlobalID[@schemeID='0009']/text()") == ["12345678200010"]
    assert xpath(
        xml, f"{seller}/ram:URIUniversalCommunication/ram:URIID[@schemeID='0225']/text()"
    ) == ["123456782"]
    assert xpath(xml, f"{seller}/ram:SpecifiedTaxRegistration/ram:ID[@schemeID='VA']/text()") == [
        "FR11123456782"
    ]
    assert xpath(xml, f"{seller}/ram:Description/text()") == ["SARL au capital de 10 000 €"]
    assert xpath(xml, "//ram:IncludedNote/ram:SubjectCode/text()") == ["PMT", "PMD", "AAB", "AAI"]
    assert "40 €" in xpath(xml, "//ram:IncludedNote[ram:SubjectCode='PMT']/ram:Content/text()")[0]
    assert xpath(xml, "//ram:SpecifiedTradeSettlementPaymentMeans/ram:TypeCode/text()") == ["58"]
    assert xpath(xml, "//ram:IBANID/text()") == ["FR7630006000011234567890189"]
    assert xpath(xml, "//ram:DueDateDateTime/udt:DateTimeString/text()") == ["20261015"]
    assert xpath(xml, "//ram:NetPriceProductTradePrice/ram:ChargeAmount/text()") == [
        "150.00",
        "12.45",
    ]
    assert xpath(xml, "//ram:SpecifiedLineTradeSettlement//ram:ActualAmount/text()") == ["1.50"]
    assert xpath(
        xml,
        "//ram:ApplicableHeaderTradeSettlement/ram:ApplicableTradeTax/ram:CalculatedAmount/text()",
    ) == [
        "90.00",
        "1.29",
    ]
    assert xpath(xml, "//ram:GrandTotalAmount/text()") == ["564.69"]


def test_other_xml_content() -> None:
    micro = micro_invoice()
    xml = cii_xml(micro, compute_totals(micro))
    assert xpath(xml, "//ram:SellerTradeParty/ram:SpecifiedTaxRegistration/ram:ID/@schemeID") == [
        "FC"
    ]
    tax = "//ram:ApplicableHeaderTradeSettlement/ram:ApplicableTradeTax"
    assert xpath(xml, f"{tax}/ram:ExemptionReason/text()") == [FRANCHISE]
    assert xpath(xml, f"{tax}/ram:ExemptionReasonCode/text()") == ["VATEX-FR-FRANCHISE"]

    note = credit_note()
    xml = cii_xml(note, compute_totals(note))
    reference = "//ram:ApplicableHeaderTradeSettlement/ram:InvoiceReferencedDocument"
    assert xpath(xml, f"{reference}/ram:IssuerAssignedID/text()") == ["F-2026-0042"]
    assert xpath(xml, f"{reference}//qdt:DateTimeString/text()") == ["20260915"]
    assert xpath(xml, "//ram:DuePayableAmount/text()") == ["180.00"]
    assert xpath(xml, "//ram:SpecifiedTradeSettlementPaymentMeans") == []

    eu = eu_buyer_invoice()
    xml = cii_xml(eu, compute_totals(eu))
    buyer = "//ram:BuyerTradeParty"
    assert xpath(xml, f"{buyer}/ram:URIUniversalCommunication/ram:URIID/@schemeID") == ["EM"]
    assert xpath(xml, f"{buyer}/ram:SpecifiedLegalOrganization") == []
    assert xpath(xml, f"{tax}/ram:ExemptionReasonCode/text()") == ["VATEX-EU-AE"]

    fifty = fifty_lines()
    xml = cii_xml(fifty, compute_totals(fifty))
    names = xpath(xml, "//ram:SpecifiedTradeProduct/ram:Name/text()")
    assert names[0] == "Article n° 1 — câble & connecteur <USB-C> « 20 % »"
    assert b"&lt;USB-C&gt;" in xml and b"&amp;" in xml
    assert xpath(xml, "//ram:BilledQuantity/text()")[:2] == ["0.333", "1"]


def test_private_buyer_and_spaced_identifiers() -> None:
    """A private customer: no 40 € indemnity, addressed by email; identifiers as typed."""
    private = Party(
        name="Claire Dubois",
        address=PostalAddress("5 rue Victor Hugo", "69003", "Lyon"),
        email="claire.dubois@example.fr",
    )
    seller = replace(
        SELLER, siren="123 456 782", siret="123 456 782 00010", vat_number="FR 11 123456782"
    )
    invoice = replace(small_invoice(), seller=seller, buyer=private, buyer_reference=None)
    assert check_invoice(invoice) == []
    totals = compute_totals(invoice)
    xml = cii_xml(invoice, totals)
    assert fatal(validate_cii(xml)) == []
    assert xpath(xml, "//ram:SellerTradeParty/ram:SpecifiedLegalOrganization/ram:ID/text()") == [
        "123456782"
    ]
    assert xpath(xml, "//ram:SellerTradeParty/ram:SpecifiedTaxRegistration/ram:ID/text()") == [
        "FR11123456782"
    ]
    recovery = xpath(xml, "//ram:IncludedNote[ram:SubjectCode='PMT']/ram:Content/text()")
    assert "sans objet" in recovery[0]
    html = invoice_html(invoice, totals)
    assert "frais de recouvrement" not in html
    assert "Pénalités de retard" in html


def test_html_escapes_every_value() -> None:
    invoice = replace(
        small_invoice(),
        buyer=replace(BUYER, name='<script>alert("x")</script> & Fils'),
        notes=("<b>gras</b>",),
    )
    html = invoice_html(invoice, compute_totals(invoice))
    assert "<script>" not in html and "<b>" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; Fils" in html
    assert "&lt;b&gt;gras&lt;/b&gt;" in html


@pytest.mark.parametrize(
    ("old", "new", "rules"),
    [
        (
            "<ram:GrandTotalAmount>564.69<",
            "<ram:GrandTotalAmount>564.70<",
            {"BR-CO-15", "BR-CO-16"},
        ),
        ("<ram:LineTotalAmount>23.40<", "<ram:LineTotalAmount>23.41<", {"BR-CO-10"}),
        ("<ram:CalculatedAmount>1.29<", "<ram:CalculatedAmount>1.28<", {"BR-CO-14"}),
    ],
)
def test_corrupted_xml_is_caught(old: str, new: str, rules: set[str]) -> None:
    invoice = small_invoice()
    xml = cii_xml(invoice, compute_totals(invoice))
    assert xml.count(old.encode()) == 1
    issues = validate_cii(xml.replace(old.encode(), new.encode()))
    assert rules <= {issue.rule for issue in fatal(issues)}


# ------------------------------------------------------------------- input checks


def line(**changes: object) -> InvoiceLineData:
    return replace(small_invoice().lines[0], **changes)  # type: ignore[arg-type]


def with_lines(*lines: InvoiceLineData) -> InvoiceData:
    return replace(small_invoice(), lines=lines)


def with_seller(**changes: object) -> InvoiceData:
    return replace(small_invoice(), seller=replace(SELLER, **changes))  # type: ignore[arg-type]


def with_buyer(**changes: object) -> InvoiceData:
    return replace(small_invoice(), buyer=replace(BUYER, **changes))  # type: ignore[arg-type]


INVALID = {
    "unknown-rate": (with_lines(line(vat_rate=D("19.6"))), {"lines[0].vat_rate"}),
    "rate-0-no-reason": (
        with_lines(line(vat_rate=D("0"), vat_category=EXEMPT)),
        {"lines[0].exemption_reason"},
    ),
    "rate-0-standard": (
        with_lines(line(vat_rate=D("0"), exemption_reason=FRANCHISE)),
        {"lines[0].vat_category"},
    ),
    "exempt-with-rate": (
        with_lines(line(vat_category=EXEMPT, exemption_reason=FRANCHISE)),
        {"lines[0].vat_rate"},
    ),
    "unknown-category": (
        with_lines(line(vat_category="K", vat_rate=D("0"), exemption_reason="x")),
        {"lines[0].vat_category"},
    ),
    "two-exemption-texts": (
        with_lines(
            line(vat_rate=D("0"), vat_category=EXEMPT, exemption_reason=FRANCHISE),
            line(vat_rate=D("0"), vat_category=EXEMPT, exemption_reason=TRAINING),
        ),
        {"lines[1].exemption_reason"},
    ),
    "no-lines": (with_lines(), {"lines"}),
    "negative-quantity": (with_lines(line(quantity=D("-1"))), {"lines[0].quantity"}),
    "negative-quantity-credit-note": (
        replace(credit_note(), lines=(line(quantity=D("-1")),)),
        {"lines[0].quantity"},
    ),
    "negative-price": (with_lines(line(unit_price=D("-150"))), {"lines[0].unit_price"}),
    "empty-description": (with_lines(line(description="  ")), {"lines[0].description"}),
    "unknown-unit": (with_lines(line(unit_code="HEURE")), {"lines[0].unit_code"}),
    "quantity-5-decimals": (with_lines(line(quantity=D("1.23456"))), {"lines[0].quantity"}),
    "price-7-decimals": (with_lines(line(unit_price=D("1.2345678"))), {"lines[0].unit_price"}),
    "discount-3-decimals": (with_lines(line(discount=D("1.005"))), {"lines[0].discount"}),
    "discount-over-line": (with_lines(line(discount=D("450.01"))), {"lines[0].discount"}),
    "seller-postcode": (
        with_seller(address=replace(SELLER.address, postcode="")),
        {"seller.address.postcode"},
    ),
    "buyer-street-and-city": (
        with_buyer(address=replace(BUYER.address, line1="", city=" ")),
        {"buyer.address.line1", "buyer.address.city"},
    ),
    "buyer-country": (
        with_buyer(address=replace(BUYER.address, country="FRA")),
        {"buyer.address.country"},
    ),
    "seller-siren-checksum": (
        with_seller(siren="123456789", siret=None, vat_number=None),
        {"seller.siren", "seller.vat_number"},
    ),
    "seller-siren-missing": (with_seller(siren=None), {"seller.siren"}),
    "seller-siret-checksum": (with_seller(siret="12345678200011"), {"seller.siret"}),
    "seller-siret-other-siren": (with_seller(siret="51234567900017"), {"seller.siret"}),
    "seller-vat-checksum": (with_seller(vat_number="FR12123456782"), {"seller.vat_number"}),
    "seller-vat-other-siren": (with_seller(vat_number="FR14987654324"), {"seller.vat_number"}),
    "seller-without-vat-number-charging-vat": (with_seller(vat_number=None), {"seller.vat_number"}),
    "buyer-siren": (with_buyer(siren="98765432", vat_number=None), {"buyer.siren"}),
    "buyer-eu-vat": (
        replace(eu_buyer_invoice(), buyer=replace(GERMAN_BUYER, vat_number="DE136695977")),
        {"buyer.vat_number"},
    ),
    "buyer-vat-not-eu": (with_buyer(vat_number="CHE116281710"), {"buyer.vat_number"}),
    "reverse-charge-without-buyer-vat": (
        replace(eu_buyer_invoice(), buyer=replace(GERMAN_BUYER, vat_number=None)),
        {"buyer.vat_number"},
    ),
    "buyer-without-address-for-e-invoices": (
        replace(eu_buyer_invoice(), buyer=replace(GERMAN_BUYER, email=None)),
        {"buyer.email"},
    ),
    "seller-iban": (with_seller(iban="FR7630006000011234567890188"), {"seller.iban"}),
    "due-before-issue": (
        replace(small_invoice(), due_date=date(2026, 9, 14)),
        {"due_date"},
    ),
    "currency-not-iso": (replace(small_invoice(), currency="EUX"), {"currency"}),
    "currency-not-euro": (replace(small_invoice(), currency="USD"), {"currency"}),
    "number-with-space": (replace(small_invoice(), number="F 2026 42"), {"number"}),
    "number-too-long": (replace(small_invoice(), number="F" * 36), {"number"}),
    "credit-note-without-invoice": (
        replace(credit_note(), preceding_invoice=None, preceding_invoice_date=None),
        {"preceding_invoice", "preceding_invoice_date"},
    ),
    "no-penalty-rate": (replace(small_invoice(), late_penalty_rate=" "), {"late_penalty_rate"}),
    "unknown-type": (replace(small_invoice(), type_code="386"), {"type_code"}),
}


@pytest.mark.parametrize("name", list(INVALID))
def test_check_invoice_refuses(name: str) -> None:
    invoice, fields = INVALID[name]
    errors = check_invoice(invoice)
    assert {error.field for error in errors} == fields, errors
    assert all(error.message for error in errors)


def test_check_invoice_accepts_what_the_standards_allow() -> None:
    # Unit prices may have up to 6 decimals (BR-FR-DEC-03), quantities up to 4, and
    # trailing zeros are not decimals.
    invoice = with_lines(
        line(unit_price=D("0.123456"), quantity=D("1.2500")), line(discount=D("1.500"))
    )
    assert check_invoice(invoice) == []
    for build in (small_invoice, fifty_lines, micro_invoice, credit_note, eu_buyer_invoice):
        assert check_invoice(build()) == []
