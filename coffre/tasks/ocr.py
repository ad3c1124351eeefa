"""OCR and PDF/A conversion through the ocrmypdf command, and text extraction.

ocrmypdf runs in a child process: its Python API is not thread-safe, and a hostile file
that makes Ghostscript or Tesseract hang or balloon must not take the worker with it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from coffre.tasks.errors import Rejected

# ocrmypdf's documented exit codes that mean "the input is the problem".
_INPUT_ERRORS = {
    2: ("damaged_pdf", "This PDF could not be read for conversion."),
    8: ("encrypted_pdf", "This PDF is protected by a password. Send it without the password."),
}


def ocrmypdf_command(
    source: Path, target: Path, languages: str, sidecar: Path | None = None
) -> list[str]:
    """The exact command Coffre runs, shared with the benchmark's baseline."""
    extra = ["--sidecar", str(sidecar)] if sidecar is not None else []
    return [*_base_command(languages), *extra, str(source), str(target)]


def _base_command(languages: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "ocrmypdf",
        "--quiet",
        "--language",
        languages,
        "--output-type",
        "pdfa-2",
        # pikepdf writes the PDF/A declarations and validates them; Debian 12's
        # Ghostscript 10.0.0 corrupts PDFs that already have text and ocrmypdf refuses it.
        "--pdfa-backend",
        "internal",
        "--rasterizer",
        "pypdfium",
        "--skip-text",
        "--deskew",
        "--rotate-pages",
        "--jobs",
        "1",
    ]


class PdfaNotConfirmed(Exception):
    """ocrmypdf made the file but its PDF/A validator did not approve it (exit 10)."""


def ocr_environment() -> dict[str, str]:
    env = dict(os.environ)
    env["OMP_THREAD_LIMIT"] = "1"  # one Tesseract thread per job; parallelism is ours
    return env


def to_pdfa(
    source: Path, target: Path, *, languages: str, timeout: int, sidecar: Path | None = None
) -> list[str]:
    """Convert to PDF/A-2b with a text layer; pages that already have text are not OCRed.

    Returns notes worth keeping on the document. Raises PdfaNotConfirmed when the
    result cannot be confirmed as PDF/A (typically: fonts that are not embedded).
    """
    try:
        completed = subprocess.run(
            ocrmypdf_command(source, target, languages, sidecar),
            capture_output=True,
            timeout=timeout,
            env=ocr_environment(),
            check=False,
        )
    except subprocess.TimeoutExpired as error:
        raise Rejected(
            "conversion_timeout", f"Converting this document took longer than {timeout} s."
        ) from error
    if completed.returncode == 0 and target.exists():
        return []
    if completed.returncode == 10:
        raise PdfaNotConfirmed(completed.stderr.decode(errors="replace")[-500:])
    if completed.returncode in _INPUT_ERRORS:
        raise Rejected(*_INPUT_ERRORS[completed.returncode])
    detail = completed.stderr.decode(errors="replace").strip().splitlines()[-1:] or [""]
    raise Rejected(
        "conversion_failed",
        f"This document could not be converted to PDF/A (ocrmypdf exit {completed.returncode}"
        f": {detail[0][:200]}).",
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
