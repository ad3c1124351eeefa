"""Factur-X: the CII invoice XML embedded in its PDF/A-3 rendering, and read back.

Embedding is done by the ``factur-x`` library (Akretion): it attaches ``factur-x.xml`` as a
PDF/A-3 associated file (``/AF`` in the catalog, ``/AFRelationship`` on the file spec, MIME
subtype ``text/xml``) and replaces the XMP with one that declares PDF/A-3B and carries the
Factur-X extension schema (``fx:DocumentType``, ``fx:DocumentFileName``, ``fx:Version``,
``fx:ConformanceLevel``). Two details are then put right with pikepdf, because PDF/A wants
the document information dictionary and the XMP to agree: factur-x writes ``pdf:Producer``
as "pypdf" while keeping the renderer's ``/Producer``, puts ``/Keywords`` in the dictionary
only, and omits ``rdf:about`` on its descriptions.
"""

from __future__ import annotations

import contextlib
import io
import logging
from datetime import datetime

import pikepdf
from facturx import generate_from_binary, get_level, get_xml_from_pdf, xml_check_xsd
from lxml import etree
from pypdf.errors import PyPdfError

LEVELS = ("minimum", "basicwl", "basic", "en16931", "extended")
# Factur-X 1.0.05+ (ZUGFeRD 2.1+), "PDF/A-3 embedding": the XML of MINIMUM and BASIC WL
# only supplements the PDF ("Data"); from BASIC on it is a complete, equivalent
# representation of the invoice ("Alternative").
_AF_RELATIONSHIP = {
    "minimum": "data",
    "basicwl": "data",
    "basic": "alternative",
    "en16931": "alternative",
    "extended": "alternative",
}
# Names an incoming hybrid invoice may give its XML: Factur-X, ZUGFeRD 2.x, XRechnung in
# ZUGFeRD (matched case-insensitively).
_INCOMING_NAMES = ["factur-x.xml", "zugferd-invoice.xml", "xrechnung.xml"]


class _NoEmbeddedXmlIsNormal(logging.Filter):
    """Most supplier PDFs carry no e-invoice: that is an answer, not a warning to operators."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("No valid factur-x")


logging.getLogger("factur-x").addFilter(_NoEmbeddedXmlIsNormal())


_NS = {
    "rsm": "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100",
    "ram": "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100",
    "udt": "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100",
}
_DOCUMENT_NAMES = {
    "380": "Facture",
    "381": "Avoir",
    "384": "Facture rectificative",
    "386": "Facture d'acompte",
    "389": "Autofacture",
}


def embed_facturx(pdf: bytes, xml: bytes, *, level: str = "en16931") -> bytes:
    """Turn a PDF/A rendering (see :func:`render_pdf`) and its CII XML into a Factur-X PDF.

    The XML is embedded byte for byte. It must be valid against the XSD of ``level`` and
    declare that level (its guideline id): the XMP states the level, and a Factur-X whose
    XMP and XML disagree is rejected by receivers. Business rules are not checked here;
    run :func:`coffre.tasks.einvoice_validate.validate_cii` first. Raises ``ValueError``
    for a PDF that is not PDF/A or an XML that does not fit.
    """
    if level not in LEVELS:
        raise ValueError(f"unknown Factur-X level {level!r}; expected one of {LEVELS}")
    _require_pdfa(pdf)
    root = _parse(xml)
    declared = get_level(root, "factur-x")
    if declared != level:
        raise ValueError(f"the XML declares Factur-X level {declared!r}, not {level!r}")
    try:
        xml_check_xsd(root, flavor="factur-x", level=level)
    except Exception as error:  # factur-x raises bare Exception for XSD errors
        raise ValueError(f"the XML is not valid against the {level} XSD: {error}") from error

    facturx_pdf = generate_from_binary(
        pdf,
        xml,
        flavor="factur-x",
        level=level,
        check_xsd=False,
        pdf_metadata=_pdf_metadata(root),
        afrelationship=_AF_RELATIONSHIP[level],
    )
    return _sync_metadata(facturx_pdf)


def extract_facturx(pdf: bytes) -> bytes | None:
    """The CII XML embedded in an incoming Factur-X, ZUGFeRD 2 or XRechnung hybrid PDF.

    Returns ``None`` for a PDF with no such attachment (a plain PDF invoice). The XML is
    returned as embedded, whether or not it is valid: judging it is
    :func:`coffre.tasks.einvoice_validate.validate_cii`'s job. Raises ``ValueError`` for
    bytes that are not a readable PDF.
    """
    try:
        _name, xml = get_xml_from_pdf(pdf, check_xsd=False, filenames=list(_INCOMING_NAMES))
    except PyPdfError as error:
        raise ValueError(f"not a readable PDF: {error}") from error
    return xml if isinstance(xml, bytes) and xml else None


def _parse(xml: bytes) -> etree._Element:
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    try:
        return etree.fromstring(xml, parser)
    except etree.XMLSyntaxError as error:
        raise ValueError(f"the invoice XML is not well-formed: {error}") from error


def _require_pdfa(pdf: bytes) -> None:
    """Refuse a PDF that is not PDF/A: factur-x would label it PDF/A-3B all the same."""
    try:
        with pikepdf.open(io.BytesIO(pdf)) as document:
            status = document.open_metadata().pdfa_status
            has_output_intent = "/OutputIntents" in document.Root
    except pikepdf.PdfError as error:
        raise ValueError(f"not a readable PDF: {error}") from error
    if not status or not has_output_intent:
        raise ValueError("the PDF is not PDF/A: render it with einvoice_render.render_pdf")


def _text(root: etree._Element, path: str) -> str:
    found = root.xpath(f"string({path})", namespaces=_NS)
    return " ".join(str(found).split())


def _pdf_metadata(root: etree._Element) -> dict[str, str]:
    """Title, subject, author and keywords in French, from the invoice itself."""
    number = _text(root, "/rsm:CrossIndustryInvoice/rsm:ExchangedDocument/ram:ID")
    type_code = _text(root, "/rsm:CrossIndustryInvoice/rsm:ExchangedDocument/ram:TypeCode")
    issued = _text(
        root,
        "/rsm:CrossIndustryInvoice/rsm:ExchangedDocument/ram:IssueDateTime/udt:DateTimeString",
    )
    seller = _text(
        root,
        "/rsm:CrossIndustryInvoice/rsm:SupplyChainTradeTransaction"
        "/ram:ApplicableHeaderTradeAgreement/ram:SellerTradeParty/ram:Name",
    )
    kind = _DOCUMENT_NAMES.get(type_code, "Facture")
    with contextlib.suppress(ValueError):  # a malformed date stays as written
        issued = datetime.strptime(issued, "%Y%m%d").strftime("%d/%m/%Y")
    return {
        "author": seller,
        "keywords": f"{kind}, Factur-X",
        "title": f"{kind} {number} – {seller}",
        "subject": f"{kind} {number} du {issued} émise par {seller}",
    }


def _sync_metadata(pdf: bytes) -> bytes:
    """Make the XMP and the document information dictionary say the same thing.

    pikepdf copies every dictionary entry into the XMP (``pdf:Keywords``, the renderer's
    ``pdf:Producer``, dates) and writes the XMP back with ``rdf:about`` attributes, keeping
    the PDF/A identification and the Factur-X extension schema as they are.
    """
    with pikepdf.open(io.BytesIO(pdf)) as document:
        with document.open_metadata(set_pikepdf_as_editor=False) as metadata:
            metadata.load_from_docinfo(document.docinfo, raise_failure=True)
        out = io.BytesIO()
        document.save(out)
    return out.getvalue()
