"""OCR and PDF/A conversion through ocrmypdf, and text extraction.

ocrmypdf runs in child processes kept warm by the pool (ocr_pool.py): its Python API is
not meant to share a worker's threads, and a hostile file that makes Ghostscript or
Tesseract hang or balloon must not take the worker with it.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

from coffre.tasks.errors import Rejected
from coffre.tasks.ocr_pool import ConversionRequest, shared_pool

# ocrmypdf's documented exit codes that mean "the input is the problem".
_INPUT_ERRORS = {
    2: ("damaged_pdf", "This PDF could not be read for conversion."),
    8: ("encrypted_pdf", "This PDF is protected by a password. Send it without the password."),
}


def conversion_options(languages: str, sidecar: Path | None = None) -> dict[str, Any]:
    """The one definition of how Coffre converts, as ``ocrmypdf.ocr()`` keywords."""
    options: dict[str, Any] = {
        "language": languages.split("+"),
        "output_type": "pdfa-2",
        # pikepdf writes the PDF/A declarations and validates them; Debian 12's
        # Ghostscript 10.0.0 corrupts PDFs that already have text and ocrmypdf refuses it.
        "pdfa_backend": "internal",
        "rasterizer": "pypdfium",
        "skip_text": True,
        "deskew": True,
        "rotate_pages": True,
        "jobs": 1,
    }
    if sidecar is not None:
        options["sidecar"] = sidecar
    return options


def ocrmypdf_command(
    source: Path, target: Path, languages: str, sidecar: Path | None = None
) -> list[str]:
    """The same conversion as the ``ocrmypdf`` command (the benchmark's baseline)."""
    arguments = [sys.executable, "-m", "ocrmypdf", "--quiet"]
    for name, value in conversion_options(languages, sidecar).items():
        option = "--" + name.replace("_", "-")
        if value is True:
            arguments.append(option)
        elif isinstance(value, list):
            arguments += [option, "+".join(value)]
        else:
            arguments += [option, str(value)]
    return [*arguments, str(source), str(target)]


class PdfaNotConfirmed(Exception):
    """ocrmypdf made the file but its PDF/A validator did not approve it (exit 10)."""


def to_pdfa(
    source: Path, target: Path, *, languages: str, timeout: int, sidecar: Path | None = None
) -> list[str]:
    """Convert to PDF/A-2b with a text layer; pages that already have text are not OCRed.

    Returns notes worth keeping on the document. Raises PdfaNotConfirmed when the
    result cannot be confirmed as PDF/A (typically: fonts that are not embedded).
    """
    try:
        reply = shared_pool().convert(
            ConversionRequest(source, target, languages, sidecar), timeout=timeout
        )
    except TimeoutError as error:
        raise Rejected(
            "conversion_timeout", f"Converting this document took longer than {timeout} s."
        ) from error
    if reply.exit_code == 0 and target.exists():
        return []
    if reply.exit_code == 10:
        raise PdfaNotConfirmed(reply.detail)
    if reply.exit_code in _INPUT_ERRORS:
        raise Rejected(*_INPUT_ERRORS[reply.exit_code])
    raise Rejected(
        "conversion_failed",
        f"This document could not be converted to PDF/A (ocrmypdf exit {reply.exit_code}"
        f": {reply.detail[:200]}).",
    )


def pdf_text_by_page(path: Path, timeout: int = 120) -> list[str]:
    """The text of each page, in reading layout (poppler's pdftotext)."""
    completed = subprocess.run(
        ["pdftotext", "-layout", "-enc", "UTF-8", str(path), "-"],
        capture_output=True,
        timeout=timeout,
        check=False,
    )
    if completed.returncode != 0:
        return []
    pages = completed.stdout.decode("utf-8", errors="replace").split("\f")
    if pages and not pages[-1].strip():
        pages.pop()
    return pages


def embed_fonts(source: Path, target: Path, *, timeout: int) -> None:
    """Rewrite a PDF with every font embedded (PDF/A forbids non-embedded fonts).

    Ghostscript's legacy interpreter is used: Debian 12's Ghostscript 10.0.0 has known
    regressions in the new one on PDFs that carry text. Callers compare the text before
    and after, so a damaged rewrite is never archived.
    """
    command = [
        "gs",
        "-q",
        "-dBATCH",
        "-dNOPAUSE",
        "-dSAFER",
        "-dNEWPDF=false",
        "-sDEVICE=pdfwrite",
        "-dCompatibilityLevel=1.7",
        "-dAutoRotatePages=/None",
        "-dEmbedAllFonts=true",
        "-dSubsetFonts=true",
        "-sColorConversionStrategy=LeaveColorUnchanged",
        "-o",
        str(target),
        "-c",
        "<</NeverEmbed [ ]>> setdistillerparams",
        "-f",
        str(source),
    ]
    try:
        completed = subprocess.run(command, capture_output=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as error:
        raise Rejected(
            "conversion_timeout", f"Converting this document took longer than {timeout} s."
        ) from error
    if completed.returncode != 0 or not target.exists():
        raise Rejected("conversion_failed", "The fonts of this PDF could not be embedded.")
