"""E-invoice tooling: PDF/A-3b rendering, Factur-X embedding and extraction, validation.

The sample is a hand-written French B2B invoice at the EN 16931 level: a seller and a buyer
with SIREN (scheme 0002), VAT numbers and electronic addresses (scheme 0225), one service
line at 20 % and one book at 5.5 %, the VAT breakdown, totals, due date and payment terms,
and the three notes (PMT, PMD, AAB) that French law and the BR-FR rules require. It passes
the XSD, the EN 16931 schematron and the BR-FR schematron with no issue at all; each broken
variant must be caught by the rule that the standard names for it.
"""

from __future__ import annotations

import io
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pikepdf
import pytest

from coffre.tasks.einvoice_facturx import embed_facturx, extract_facturx
from coffre.tasks.einvoice_render import RenderError, render_pdf
from coffre.tasks.einvoice_validate import ValidationIssue, validate_cii, warm_up

FX = "urn:factur-x:pdfa:CrossIndustryDocument:invoice:1p0#"
PDFAID = "http://www.aiim.org/pdfa/ns/id/"
PDF_NS = "http://ns.adobe.com/pdf/1.3/"

# Lines: 3 h × 150.00 = 450.00 at 20 % (VAT 90.00); 2 × 25.00 = 50.00 at 5.5 % (VAT 2.75).
# Totals: 500.00 without VAT + 92.75 VAT = 592.75, all of it due on 15/10/2026.
INVOICE = """<?xml version="1.0" encoding="UTF-8"?>
<rsm:CrossIndustryInvoice
    xmlns:rsm="urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100"
    xmlns:ram="urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100"
    xmlns:qdt="urn:un:unece:uncefact:data:standard:QualifiedDataType:100"
    xmlns:udt="urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100">
  <rsm:ExchangedDocumentContext>
    <ram:BusinessProcessSpecifiedDocumentContextParameter>
      <ram:ID>M1</ram:ID>
    </ram:BusinessProcessSpecifiedDocumentContextParameter>
    <ram:GuidelineSpecifiedDocumentContextParameter>
      <ram:ID>urn:cen.eu:en16931:2017</ram:ID>
    </ram:GuidelineSpecifiedDocumentContextParameter>
  </rsm:ExchangedDocumentContext>
  <rsm:ExchangedDocument>
    <ram:ID>F-2026-0042</ram:ID>
    <ram:TypeCode>380</ram:TypeCode>
    <ram:IssueDateTime>
      <udt:DateTimeString format="102">20260915</udt:DateTimeString>
    </ram:IssueDateTime>
    <ram:IncludedNote>
      <ram:Content>Indemnité forfaitaire pour frais de recouvrement : 40 €.</ram:Content>
      <ram:SubjectCode>PMT</ram:SubjectCode>
    </ram:IncludedNote>
    <ram:IncludedNote>
      <ram:Content>Pénalités de retard : trois fois le taux d'intérêt légal.</ram:Content>
      <ram:SubjectCode>PMD</ram:SubjectCode>
    </ram:IncludedNote>
    <ram:IncludedNote>
      <ram:Content>Pas d'escompte pour paiement anticipé.</ram:Content>
      <ram:SubjectCode>AAB</ram:SubjectCode>
    </ram:IncludedNote>
  </rsm:ExchangedDocument>
  <rsm:SupplyChainTradeTransaction>
    <ram:IncludedSupplyChainTradeLineItem>
      <ram:AssociatedDocumentLineDocument>
        <ram:LineID>1</ram:LineID>
      </ram:AssociatedDocumentLineDocument>
      <ram:SpecifiedTradeProduct>
        <ram:Name>Conseil en organisation comptable</ram:Name>
      </ram:SpecifiedTradeProduct>
      <ram:SpecifiedLineTradeAgreement>
        <ram:NetPriceProductTradePrice>
          <ram:ChargeAmount>150.00</ram:ChargeAmount>
        </ram:NetPriceProductTradePrice>
      </ram:SpecifiedLineTradeAgreement>
      <ram:SpecifiedLineTradeDelivery>
        <ram:BilledQuantity unitCode="HUR">3</ram:BilledQuantity>
      </ram:SpecifiedLineTradeDelivery>
      <ram:SpecifiedLineTradeSettlement>
        <ram:ApplicableTradeTax>
          <ram:TypeCode>VAT</ram:TypeCode>
          <ram:CategoryCode>S</ram:CategoryCode>
          <ram:RateApplicablePercent>20</ram:RateApplicablePercent>
        </ram:ApplicableTradeTax>
        <ram:SpecifiedTradeSettlementLineMonetarySummation>
          <ram:LineTotalAmount>450.00</ram:LineTotalAmount>
        </ram:SpecifiedTradeSettlementLineMonetarySummation>
      </ram:SpecifiedLineTradeSettlement>
    </ram:IncludedSupplyChainTradeLineItem>
    <ram:IncludedSupplyChainTradeLineItem>
      <ram:AssociatedDocumentLineDocument>
        <ram:LineID>2</ram:LineID>
      </ram:AssociatedDocumentLineDocument>
      <ram:SpecifiedTradeProduct>
        <ram:Name>Guide pratique de la TVA (livre)</ram:Name>
      </ram:SpecifiedTradeProduct>
      <ram:SpecifiedLineTradeAgreement>
        <ram:NetPriceProductTradePrice>
          <ram:ChargeAmount>25.00</ram:ChargeAmount>
        </ram:NetPriceProductTradePrice>
      </ram:SpecifiedLineTradeAgreement>
      <ram:SpecifiedLineTradeDelivery>
        <ram:BilledQuantity unitCode="C62">2</ram:BilledQuantity>
      </ram:SpecifiedLineTradeDelivery>
      <ram:SpecifiedLineTradeSettlement>
        <ram:ApplicableTradeTax>
          <ram:TypeCode>VAT</ram:TypeCode>
          <ram:CategoryCode>S</ram:CategoryCode>
          <ram:RateApplicablePercent>5.5</ram:RateApplicablePercent>
        </ram:ApplicableTradeTax>
        <ram:SpecifiedTradeSettlementLineMonetarySummation>
          <ram:LineTotalAmount>50.00</ram:LineTotalAmount>
        </ram:SpecifiedTradeSettlementLineMonetarySummation>
      </ram:SpecifiedLineTradeSettlement>
    </ram:IncludedSupplyChainTradeLineItem>
    <ram:ApplicableHeaderTradeAgreement>
      <ram:BuyerReference>ACHAT-2026-17</ram:BuyerReference>
      <ram:SellerTradeParty>
        <ram:Name>Atelier Coffre SARL</ram:Name>
        <ram:SpecifiedLegalOrganization>
          <ram:ID schemeID="0002">123456782</ram:ID>
        </ram:SpecifiedLegalOrganization>
        <ram:PostalTradeAddress>
          <ram:PostcodeCode>69002</ram:PostcodeCode>
          <ram:LineOne>12 rue de la République</ram:LineOne>
          <ram:CityName>Lyon</ram:CityName>
          <ram:CountryID>FR</ram:CountryID>
        </ram:PostalTradeAddress>
        <ram:URIUniversalCommunication>
          <ram:URIID schemeID="0225">123456782</ram:URIID>
        </ram:URIUniversalCommunication>
        <ram:SpecifiedTaxRegistration>
          <ram:ID schemeID="VA">FR11123456782</ram:ID>
        </ram:SpecifiedTaxRegistration>
      </ram:SellerTradeParty>
      <ram:BuyerTradeParty>
        <ram:Name>Boulangerie Martin SAS</ram:Name>
        <ram:SpecifiedLegalOrganization>
          <ram:ID schemeID="0002">987654324</ram:ID>
        </ram:SpecifiedLegalOrganization>
        <ram:PostalTradeAddress>
          <ram:PostcodeCode>38000</ram:PostcodeCode>
          <ram:LineOne>3 place Grenette</ram:LineOne>
          <ram:CityName>Grenoble</ram:CityName>
          <ram:CountryID>FR</ram:CountryID>
        </ram:PostalTradeAddress>
        <ram:URIUniversalCommunication>
          <ram:URIID schemeID="0225">987654324</ram:URIID>
        </ram:URIUniversalCommunication>
        <ram:SpecifiedTaxRegistration>
          <ram:ID schemeID="VA">FR14987654324</ram:ID>
        </ram:SpecifiedTaxRegistration>
      </ram:BuyerTradeParty>
    </ram:ApplicableHeaderTradeAgreement>
    <ram:ApplicableHeaderTradeDelivery>
      <ram:ActualDeliverySupplyChainEvent>
        <ram:OccurrenceDateTime>
          <udt:DateTimeString format="102">20260910</udt:DateTimeString>
        </ram:OccurrenceDateTime>
      </ram:ActualDeliverySupplyChainEvent>
    </ram:ApplicableHeaderTradeDelivery>
    <ram:ApplicableHeaderTradeSettlement>
      <ram:PaymentReference>F-2026-0042</ram:PaymentReference>
      <ram:InvoiceCurrencyCode>EUR</ram:InvoiceCurrencyCode>
      <ram:SpecifiedTradeSettlementPaymentMeans>
        <ram:TypeCode>58</ram:TypeCode>
        <ram:PayeePartyCreditorFinancialAccount>
          <ram:IBANID>FR7630006000011234567890189</ram:IBANID>
        </ram:PayeePartyCreditorFinancialAccount>
      </ram:SpecifiedTradeSettlementPaymentMeans>
      <ram:ApplicableTradeTax>
        <ram:CalculatedAmount>90.00</ram:CalculatedAmount>
        <ram:TypeCode>VAT</ram:TypeCode>
        <ram:BasisAmount>450.00</ram:BasisAmount>
        <ram:CategoryCode>S</ram:CategoryCode>
        <ram:RateApplicablePercent>20</ram:RateApplicablePercent>
      </ram:ApplicableTradeTax>
      <ram:ApplicableTradeTax>
        <ram:CalculatedAmount>2.75</ram:CalculatedAmount>
        <ram:TypeCode>VAT</ram:TypeCode>
        <ram:BasisAmount>50.00</ram:BasisAmount>
        <ram:CategoryCode>S</ram:CategoryCode>
        <ram:RateApplicablePercent>5.5</ram:RateApplicablePercent>
      </ram:ApplicableTradeTax>
      <ram:SpecifiedTradePaymentTerms>
        <ram:Description>Paiement à 30 jours par virement SEPA.</ram:Description>
        <ram:DueDateDateTime>
          <udt:DateTimeString format="102">20261015</udt:DateTimeString>
        </ram:DueDateDateTime>
      </ram:SpecifiedTradePaymentTerms>
      <ram:SpecifiedTradeSettlementHeaderMonetarySummation>
        <ram:LineTotalAmount>500.00</ram:LineTotalAmount>
        <ram:TaxBasisTotalAmount>500.00</ram:TaxBasisTotalAmount>
        <ram:TaxTotalAmount currencyID="EUR">92.75</ram:TaxTotalAmount>
        <ram:GrandTotalAmount>592.75</ram:GrandTotalAmount>
        <ram:DuePayableAmount>592.75</ram:DuePayableAmount>
      </ram:SpecifiedTradeSettlementHeaderMonetarySummation>
    </ram:ApplicableHeaderTradeSettlement>
  </rsm:SupplyChainTradeTransaction>
</rsm:CrossIndustryInvoice>
"""

# A 1×1 PNG, for a logo that needs no file.
PIXEL = (
    "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQ"
    "DwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)
HTML = f"""<!DOCTYPE html>
<html lang="fr"><head><meta charset="utf-8"><title>Facture F-2026-0042</title>
<link rel="stylesheet" href="facture.css"></head>
<body><img src="{PIXEL}" alt="logo"><h1>Facture F-2026-0042</h1>
<p>Atelier Coffre SARL — SIREN 123 456 782</p>
<table><tr><td>Conseil en organisation comptable</td><td>450,00 €</td></tr>
<tr><td>Guide pratique de la TVA (livre)</td><td>50,00 €</td></tr></table>
<p class="total">Total TTC : 592,75 € — échéance le 15/10/2026</p></body></html>
"""


def mutate(old: str, new: str) -> bytes:
    """The sample with one exact change (which must apply exactly once)."""
    assert INVOICE.count(old) == 1, old
    return INVOICE.replace(old, new).encode("utf-8")


def rules(issues: list[ValidationIssue]) -> set[str]:
    return {issue.rule for issue in issues if issue.severity == "fatal"}


@pytest.fixture(scope="module", autouse=True)
def saxon_ready() -> None:
    """Compile the schematrons once for the module (and time it)."""
    started = time.perf_counter()
    warm_up()
    print(f"warm-up: {time.perf_counter() - started:.2f} s")


@pytest.fixture
def template_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "template"
    folder.mkdir()
    (folder / "facture.css").write_text(
        "h1 { color: #234; } td { padding: 2mm; } .total { font-weight: bold; }"
    )
    return folder


# ------------------------------------------------------------------------ validation


def test_sample_invoice_is_valid() -> None:
    assert validate_cii(INVOICE.encode("utf-8")) == []


@pytest.mark.parametrize(
    ("xml", "expected"),
    [
        pytest.param(
            mutate(
                "<ram:GrandTotalAmount>592.75</ram:GrandTotalAmount>",
                "<ram:GrandTotalAmount>600.00</ram:GrandTotalAmount>",
            ),
            {"BR-CO-15", "BR-CO-16"},
            id="grand-total-not-basis-plus-vat",
        ),
        pytest.param(
            mutate(
                "<ram:LineTotalAmount>500.00</ram:LineTotalAmount>",
                "<ram:LineTotalAmount>510.00</ram:LineTotalAmount>",
            ),
            {"BR-CO-10"},
            id="sum-of-lines-wrong",
        ),
        pytest.param(
            mutate("        <ram:Name>Boulangerie Martin SAS</ram:Name>\n", ""),
            {"BR-07"},
            id="buyer-name-missing",
        ),
        pytest.param(
            mutate(
                "<ram:BasisAmount>450.00</ram:BasisAmount>",
                "<ram:BasisAmount>400.00</ram:BasisAmount>",
            ),
            {"BR-S-08", "BR-S-09", "BR-CO-17"},
            id="vat-breakdown-not-matching-lines",
        ),
        pytest.param(
            mutate(
                '<ram:TaxTotalAmount currencyID="EUR">92.75</ram:TaxTotalAmount>',
                '<ram:TaxTotalAmount currencyID="EUR">90.00</ram:TaxTotalAmount>',
            ),
            {"BR-CO-14", "BR-CO-15"},
            id="vat-total-not-sum-of-breakdown",
        ),
        pytest.param(
            mutate(
                '<ram:ID schemeID="0002">123456782</ram:ID>',
                '<ram:ID schemeID="0002">12345678</ram:ID>',
            ),
            {"BR-FR-10_BT-30", "BR-FR-32-LEGALID"},
            id="seller-siren-not-9-digits",
        ),
        pytest.param(
            mutate(
                "<ram:SubjectCode>PMT</ram:SubjectCode>", "<ram:SubjectCode>AAI</ram:SubjectCode>"
            ),
            {"BR-FR-05_BT-22_PMT"},
            id="recovery-fee-mention-missing",
        ),
        pytest.param(
            mutate(
                "<ram:BasisAmount>50.00</ram:BasisAmount>",
                "<ram:BasisAmount>50,00</ram:BasisAmount>",
            ),
            {"XSD"},
            id="decimal-comma",
        ),
        pytest.param(
            mutate("<ram:ID>F-2026-0042</ram:ID>", '<ram:ID schemeID="X">F-2026-0042</ram:ID>'),
            {"FX-SCH"},
            id="attribute-outside-the-profile",
        ),
    ],
)
def test_broken_invoices_are_caught_by_the_named_rule(xml: bytes, expected: set[str]) -> None:
    issues = validate_cii(xml)
    assert expected <= rules(issues), issues
    for issue in issues:
        if issue.rule in expected and issue.rule != "XSD":
            assert issue.location and issue.location.startswith("/rsm:CrossIndustryInvoice")
            assert issue.message


def test_french_rules_can_be_left_out() -> None:
    xml = mutate(
        '<ram:ID schemeID="0002">123456782</ram:ID>', '<ram:ID schemeID="0002">12345678</ram:ID>'
    )
    assert validate_cii(xml, french_rules=False) == []
    assert "BR-FR-10_BT-30" in rules(validate_cii(xml))


def test_not_an_invoice() -> None:
    assert rules(validate_cii(b"<rsm:CrossIndustryInvoice")) == {"XML"}
    with_dtd = (
        b'<?xml version="1.0"?><!DOCTYPE a [<!ENTITY e SYSTEM "file:///etc/hostname">]><a>&e;</a>'
    )
    assert rules(validate_cii(with_dtd)) == {"XML-DTD"}


def test_validation_is_fast_once_warm() -> None:
    xml = INVOICE.encode("utf-8")
    started = time.perf_counter()
    for _ in range(10):
        validate_cii(xml)
    average = (time.perf_counter() - started) / 10
    print(f"validate_cii: {average * 1000:.0f} ms per invoice")
    assert average < 0.5


def test_validation_from_worker_threads() -> None:
    """Prefect runs tasks in threads: one Saxon processor must serve them all."""
    good = INVOICE.encode("utf-8")
    bad = mutate(
        "<ram:GrandTotalAmount>592.75</ram:GrandTotalAmount>",
        "<ram:GrandTotalAmount>600.00</ram:GrandTotalAmount>",
    )
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(validate_cii, [good, bad] * 4))
    assert results[0::2] == [[]] * 4
    assert all("BR-CO-15" in rules(issues) for issues in results[1::2])


# ------------------------------------------------------------------------- rendering


def embedded_fonts(pdf: pikepdf.Pdf) -> list[str]:
    """Base font names of every font on every page, failing on any font not embedded."""
    names = []
    for page in pdf.pages:
        for font in page.Resources.Font.values():
            descriptor = (
                font.DescendantFonts[0].FontDescriptor
                if "/DescendantFonts" in font
                else font.FontDescriptor
            )
            assert any(key in descriptor for key in ("/FontFile", "/FontFile2", "/FontFile3"))
            names.append(str(font.BaseFont))
    return names


def test_render_pdf_a_3b_with_embedded_dejavu(template_dir: Path) -> None:
    started = time.perf_counter()
    data = render_pdf(HTML, base_url=str(template_dir))
    print(f"render_pdf: {time.perf_counter() - started:.2f} s")
    with pikepdf.open(io.BytesIO(data)) as pdf:
        assert pdf.open_metadata().pdfa_status == "3B"
        assert pdf.Root.OutputIntents[0].S == "/GTS_PDFA1"
        fonts = embedded_fonts(pdf)
        assert fonts and all("DejaVu" in name for name in fonts)


@pytest.mark.parametrize(
    "reference",
    [
        '<img src="http://127.0.0.1:9/logo.png">',
        '<link rel="stylesheet" href="https://fonts.example.invalid/f.css">',
        '<style>@import url("ftp://127.0.0.1/x.css");</style>',
        '<img src="/etc/hostname">',
        '<img src="../outside.png">',
        '<img src="link.png">',
        '<img src="missing.png">',
    ],
)
def test_render_refuses_what_is_not_data_or_template_files(
    template_dir: Path, reference: str
) -> None:
    (template_dir.parent / "outside.png").write_bytes(b"")
    (template_dir / "link.png").symlink_to("/etc/hostname")
    with pytest.raises(RenderError):
        render_pdf(f"<html><body>{reference}<p>x</p></body></html>", base_url=str(template_dir))


def test_render_without_base_url_allows_only_data_uris(template_dir: Path) -> None:
    assert render_pdf(f'<p><img src="{PIXEL}">x</p>').startswith(b"%PDF-")
    with pytest.raises(RenderError):
        render_pdf('<p><img src="facture.css">x</p>')


# -------------------------------------------------------------------------- Factur-X


def test_embed_then_extract_factur_x(template_dir: Path, caplog: pytest.LogCaptureFixture) -> None:
    xml = INVOICE.encode("utf-8")
    rendered = render_pdf(HTML, base_url=str(template_dir))
    started = time.perf_counter()
    facturx = embed_facturx(rendered, xml)
    print(f"embed_facturx: {time.perf_counter() - started:.3f} s")

    assert extract_facturx(facturx) == xml
    with caplog.at_level(logging.INFO):
        assert extract_facturx(rendered) is None
    assert not caplog.records  # a PDF without an e-invoice is not worth a warning

    with pikepdf.open(io.BytesIO(facturx)) as pdf:
        meta = pdf.open_metadata()
        assert meta.pdfa_status == "3B"
        assert meta[f"{{{PDFAID}}}part"] == "3"
        assert meta[f"{{{FX}}}ConformanceLevel"] == "EN 16931"
        assert meta[f"{{{FX}}}DocumentType"] == "INVOICE"
        assert meta[f"{{{FX}}}DocumentFileName"] == "factur-x.xml"
        assert meta[f"{{{FX}}}Version"] == "1.0"
        xmp = bytes(pdf.Root.Metadata.read_bytes())
        assert b"<pdfaSchema:namespaceURI>" + FX.encode() + b"</pdfaSchema:namespaceURI>" in xmp
        assert b"<pdfaSchema:prefix>fx</pdfaSchema:prefix>" in xmp
        # The information dictionary and the XMP agree (PDF/A).
        assert str(pdf.docinfo.Producer) == meta[f"{{{PDF_NS}}}Producer"]
        assert str(pdf.docinfo.Keywords) == meta[f"{{{PDF_NS}}}Keywords"]
        assert (
            str(pdf.docinfo.Title)
            == meta["dc:title"]
            == "Facture F-2026-0042 – Atelier Coffre SARL"
        )

        (filespec,) = pdf.Root.AF
        assert filespec.F == filespec.UF == "factur-x.xml"
        assert filespec.AFRelationship == "/Alternative"
        assert filespec.EF.F.Subtype == "/text/xml"
        assert "/OutputIntents" in pdf.Root
        assert embedded_fonts(pdf)

    assert validate_cii(extract_facturx(facturx) or b"") == []


def test_embed_refuses_what_would_be_mislabelled(template_dir: Path) -> None:
    xml = INVOICE.encode("utf-8")
    rendered = render_pdf(HTML, base_url=str(template_dir))
    with pytest.raises(ValueError, match="level"):
        embed_facturx(rendered, xml, level="basic")
    with pytest.raises(ValueError, match="XSD"):
        embed_facturx(
            rendered,
            mutate(
                "<ram:TypeCode>380</ram:TypeCode>", "<ram:TypeCode>380</ram:TypeCode><ram:Note/>"
            ),
        )
    plain = pikepdf.new()
    plain.add_blank_page()
    buffer = io.BytesIO()
    plain.save(buffer)
    with pytest.raises(ValueError, match="not PDF/A"):
        embed_facturx(buffer.getvalue(), xml)


def test_extract_from_what_is_not_a_pdf() -> None:
    with pytest.raises(ValueError):
        extract_facturx(b"this is not a PDF")
