"""From an original's bytes to the archive copy (PDF/A-2b with text) and its text.

The decisions, in order: what the bytes are (sniffed), whether they can be read at all,
whether they must be left untouched (digitally signed PDFs), whether they are already
an archive copy (PDF/A with text), and otherwise a conversion through ocrmypdf.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import pikepdf

from coffre.tasks import ocr
from coffre.tasks.errors import Rejected
from coffre.tasks.images import image_to_pdf
from coffre.tasks.pdf import inspect_pdf, looks_truncated, open_pdf, save_clean_copy
from coffre.tasks.sniff import Sniffed


@dataclass(frozen=True)
class NormalizeLimits:
    max_pages: int
    max_image_pixels: int
    languages: str
    timeout: int


@dataclass
class Normalized:
    archive: bytes
    text: str
    pages: int
    notes: list[str] = field(default_factory=list)
    kept_as_is: bool = False


def _text_on_every_page(pages: list[str], expected: int) -> bool:
    return len(pages) >= expected and all(page.strip() for page in pages[:expected])


def normalize(data: bytes, sniffed: Sniffed, limits: NormalizeLimits, workdir: Path) -> Normalized:
    """Make the archive copy of a document, or raise Rejected with the customer's reason."""
    if not data:
        raise Rejected("empty_file", "The file is empty.")
    if sniffed.family == "other":
        raise Rejected(
            "unsupported_type",
            f"This file is {sniffed.description}, not a PDF or a photo (JPEG, PNG, TIFF, "
            "WebP, HEIC).",
        )
    workdir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=workdir, prefix="normalize-") as scratch:
        folder = Path(scratch)
        if sniffed.family == "image":
            pdf_bytes = image_to_pdf(data, limits.max_image_pixels, limits.max_pages)
            return _convert(pdf_bytes, folder, limits, notes=[], ocr_text=True)
        return _normalize_pdf(data, folder, limits)


def _normalize_pdf(data: bytes, folder: Path, limits: NormalizeLimits) -> Normalized:
    if looks_truncated(data):
        raise Rejected(
            "truncated_pdf",
            "This PDF is incomplete (it was probably cut off during transfer). "
            "Send the complete file.",
        )
    pdf, repaired = open_pdf(data)
    with pdf:
        facts = inspect_pdf(pdf, repaired=repaired)
        if facts.pages == 0:
            raise Rejected("empty_pdf", "This PDF has no pages.")
        if facts.pages > limits.max_pages:
            raise Rejected(
                "too_many_pages",
                f"This PDF has {facts.pages} pages; the limit is {limits.max_pages}.",
            )
        if facts.signed:
            original = folder / "original.pdf"
            original.write_bytes(data)
            return Normalized(
                archive=data,
                text="\n\f".join(ocr.pdf_text_by_page(original)),
                pages=facts.pages,
                notes=["digitally signed: kept unaltered, the original is the legal copy"],
                kept_as_is=True,
            )
        notes = []
        if facts.repaired:
            notes.append("damaged PDF structure repaired")
        if facts.encrypted:
            notes.append("usage restrictions (owner password) removed")
        if facts.active_content:
            notes.append("active content removed: " + ", ".join(facts.active_content))
        clean = (
            data
            if not (facts.repaired or facts.encrypted or facts.active_content)
            else (save_clean_copy(pdf))
        )
    if facts.pdfa and facts.pdfa[0] in "23" and clean is data:
        candidate = folder / "candidate.pdf"
        candidate.write_bytes(data)
        pages = ocr.pdf_text_by_page(candidate)
        if _text_on_every_page(pages, facts.pages):
            notes.append(f"already PDF/A-{facts.pdfa} with text: kept as it is")
            return Normalized(data, "\n\f".join(pages), facts.pages, notes, kept_as_is=True)
    return _convert(clean, folder, limits, notes, embed_first=facts.unembedded_fonts)


def _text_kept(before: list[str], after: list[str]) -> bool:
    """Every page that had text has the same text after (spacing aside); OCR may add text
    to the pages that had none."""
    if len(after) != len(before):
        return False
    return all(
        "".join(old.split()) == "".join(new.split())
        for old, new in zip(before, after, strict=True)
        if old.strip()
    )


def _page_count(path: Path) -> int:
    with pikepdf.open(path) as pdf:
        return len(pdf.pages)


def _convert(
    pdf_bytes: bytes,
    folder: Path,
    limits: NormalizeLimits,
    notes: list[str],
    *,
    embed_first: bool = False,
    ocr_text: bool = False,
) -> Normalized:
    """ocrmypdf to PDF/A-2b; fonts are embedded first when PDF/A needs it.

    For scans (``ocr_text``), the text is Tesseract's own reading order (the sidecar),
    which keeps a receipt's label and amount on one line better than re-extracting the
    invisible text layer does.
    """
    source = folder / "input.pdf"
    target = folder / "archive.pdf"
    sidecar = folder / "ocr.txt" if ocr_text else None
    source.write_bytes(pdf_bytes)
    text_before: list[str] | None = None
    if embed_first:
        # Ghostscript rewrites the whole file: the archive copy must read as the original.
        text_before = ocr.pdf_text_by_page(source)
        embedded = folder / "embedded.pdf"
        ocr.embed_fonts(source, embedded, timeout=limits.timeout)
        source = embedded
        notes = [*notes, "fonts embedded for PDF/A"]
    try:
        notes = notes + ocr.to_pdfa(
            source, target, languages=limits.languages, timeout=limits.timeout, sidecar=sidecar
        )
    except ocr.PdfaNotConfirmed:
        if embed_first:
            raise Rejected(
                "conversion_failed",
                "This PDF could not be converted to PDF/A. Its original is kept.",
            ) from None
        # Something the font scan did not see: embed everything and try once more.
        return _convert(pdf_bytes, folder, limits, notes, embed_first=True, ocr_text=ocr_text)
    if sidecar is not None and sidecar.exists():
        # Tesseract's reading of a scan: no need to extract the text layer it wrote.
        text = sidecar.read_text(encoding="utf-8", errors="replace")
        return Normalized(target.read_bytes(), text, _page_count(target), notes)
    pages = ocr.pdf_text_by_page(target)
    if text_before is not None and not _text_kept(text_before, pages):
        raise Rejected(
            "conversion_failed",
            "This PDF could not be converted to PDF/A without altering its text. "
            "Its original is kept.",
        )
    return Normalized(target.read_bytes(), "\n\f".join(pages), len(pages), notes)
