"""Looking inside PDFs with pikepdf: damage, encryption, signatures, active content, PDF/A."""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from typing import TypeGuard

import pikepdf
from pikepdf import Name

from coffre.tasks.errors import Rejected

_ACTIVE_ACTIONS = {"/JavaScript", "/Launch", "/ImportData", "/SubmitForm", "/Rendition"}


@dataclass
class PdfFacts:
    pages: int
    repaired: bool
    encrypted: bool
    signed: bool
    pdfa: str | None  # e.g. "2B"
    active_content: list[str] = field(default_factory=list)
    unembedded_fonts: bool = False


def looks_truncated(data: bytes) -> bool:
    """A complete PDF ends with %%EOF (give or take trailing junk)."""
    return b"%%EOF" not in data[-2048:]


def open_pdf(data: bytes) -> tuple[pikepdf.Pdf, bool]:
    """Open a PDF, letting qpdf repair a damaged cross-reference table.

    Returns the document and whether a repair was needed. Password-protected files and
    files beyond repair are rejected with a reason.
    """
    try:
        pdf = pikepdf.open(io.BytesIO(data))
    except pikepdf.PasswordError as error:
        raise Rejected(
            "encrypted_pdf",
            "This PDF is protected by a password. Send it again without the password.",
        ) from error
    except pikepdf.PdfError as error:
        raise Rejected(
            "damaged_pdf", "This PDF is damaged beyond repair and cannot be read."
        ) from error
    repaired = any("reconstruct" in w or "xref" in w.lower() for w in pdf.get_warnings())
    return pdf, repaired


def inspect_pdf(pdf: pikepdf.Pdf, *, repaired: bool) -> PdfFacts:
    try:
        pages = len(pdf.pages)
        if pages:
            pdf.pages[0].mediabox  # noqa: B018 - touch the page tree: broken trees raise here
    except (pikepdf.PdfError, KeyError, AttributeError) as error:
        raise Rejected("damaged_pdf", "This PDF's pages cannot be read.") from error
    return PdfFacts(
        pages=pages,
        repaired=repaired or bool(pdf.get_warnings()),
        encrypted=pdf.is_encrypted,
        signed=is_signed(pdf),
        pdfa=pdfa_conformance(pdf),
        active_content=find_active_content(pdf),
        unembedded_fonts=has_unembedded_fonts(pdf),
    )


def is_signed(pdf: pikepdf.Pdf) -> bool:
    """True when a signature field holds a value, or the document has certification perms."""
    root = pdf.Root
    if "/Perms" in root:
        return True
    acroform = root.get("/AcroForm")
    if acroform is None:
        return False
    stack = list(acroform.get("/Fields", []))
    seen = 0
    while stack and seen < 10_000:
        seen += 1
        node = stack.pop()
        if node.get("/FT") == Name.Sig and "/V" in node:
            return True
        stack.extend(node.get("/Kids", []))
    return False


_FONT_FILES = ("/FontFile", "/FontFile2", "/FontFile3")


def has_unembedded_fonts(pdf: pikepdf.Pdf, max_fonts: int = 2000) -> bool:
    """True when a page uses a font whose program is not in the file (PDF/A forbids it)."""
    seen = 0
    for page in pdf.pages:
        resources = page.obj.get("/Resources")
        fonts = resources.get("/Font") if resources is not None else None
        if fonts is None:
            continue
        for _name, font in fonts.items():
            seen += 1
            if seen > max_fonts:
                return False
            if font.get("/Subtype") == Name.Type3:
                continue
            descendants = font.get("/DescendantFonts")
            target = descendants[0] if descendants else font
            descriptor = target.get("/FontDescriptor")
            if descriptor is None or not any(key in descriptor for key in _FONT_FILES):
                return True
    return False


def pdfa_conformance(pdf: pikepdf.Pdf) -> str | None:
    try:
        meta = pdf.open_metadata()
        part = meta.get("pdfaid:part")
        conformance = meta.get("pdfaid:conformance") or ""
    except Exception:  # noqa: BLE001
        return None
    return f"{part}{conformance.upper()}" if part else None


def _is_active_action(action: object) -> TypeGuard[pikepdf.Dictionary]:
    return isinstance(action, pikepdf.Dictionary) and str(action.get("/S")) in _ACTIVE_ACTIONS


# The structured invoice of a Factur-X / ZUGFeRD / XRechnung PDF: data, not active
# content; it is kept in the archive copy so that the invoice stays machine-readable.
EINVOICE_ATTACHMENTS = {"factur-x.xml", "zugferd-invoice.xml", "xrechnung.xml"}


def _foreign_attachments(pdf: pikepdf.Pdf) -> list[str]:
    """Embedded files other than an e-invoice's XML."""
    try:
        names = list(pdf.attachments)
    except (pikepdf.PdfError, KeyError, TypeError, ValueError):
        return ["(unreadable)"]
    return [name for name in names if name.lower() not in EINVOICE_ATTACHMENTS]


def find_active_content(pdf: pikepdf.Pdf) -> list[str]:
    """Name the kinds of active content present (JavaScript, launch actions, ...)."""
    found: set[str] = set()
    root = pdf.Root
    names = root.get("/Names")
    if names is not None and "/JavaScript" in names:
        found.add("JavaScript")
    if names is not None and "/EmbeddedFiles" in names and _foreign_attachments(pdf):
        found.add("embedded files")
    open_action = root.get("/OpenAction")
    if _is_active_action(open_action):
        found.add(str(open_action.get("/S")).lstrip("/"))
    if "/AA" in root:
        found.add("automatic actions")
    for page in pdf.pages:
        if "/AA" in page.obj:
            found.add("automatic actions")
        for annot in page.obj.get("/Annots", []):
            action = annot.get("/A")
            if _is_active_action(action):
                found.add(str(action.get("/S")).lstrip("/"))
            if "/AA" in annot:
                found.add("automatic actions")
    return sorted(found)


def strip_active_content(pdf: pikepdf.Pdf) -> None:
    """Remove scripts, launch and other active actions, and embedded files (but an
    e-invoice's XML), in place."""
    root = pdf.Root
    names = root.get("/Names")
    if names is not None:
        if "/JavaScript" in names:
            del names["/JavaScript"]
        if "/EmbeddedFiles" in names:
            foreign = _foreign_attachments(pdf)
            if "(unreadable)" in foreign or len(foreign) == len(pdf.attachments):
                del names["/EmbeddedFiles"]
            else:
                for name in foreign:
                    del pdf.attachments[name]
    if _is_active_action(root.get("/OpenAction")):
        del root["/OpenAction"]
    if "/AA" in root:
        del root["/AA"]
    acroform = root.get("/AcroForm")
    if acroform is not None and "/XFA" in acroform:
        del acroform["/XFA"]
    for page in pdf.pages:
        if "/AA" in page.obj:
            del page.obj["/AA"]
        for annot in page.obj.get("/Annots", []):
            if _is_active_action(annot.get("/A")):
                del annot["/A"]
            if "/AA" in annot:
                del annot["/AA"]


def save_clean_copy(pdf: pikepdf.Pdf) -> bytes:
    """A decrypted, repaired, active-content-free copy for the archive pipeline."""
    strip_active_content(pdf)
    out = io.BytesIO()
    pdf.save(out, encryption=False)
    return out.getvalue()
