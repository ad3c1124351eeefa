"""Every kind of input, good and bad: each ends with an outcome, nothing is lost."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pikepdf
import pytest
from sqlmodel import select

from coffre.models import AuditEvent, Document, DocumentStatus, session_scope, verify_chain
from coffre.runtime import get_vault
from coffre.tasks.capture import normalize_document_fn, store_original_fn
from coffre.tasks.pdf import find_active_content, pdfa_conformance
from tests import documents


def capture_bytes(org_id: str, data: bytes, filename: str = "scan.pdf") -> Document:
    stored = store_original_fn(org_id, data=data, filename=filename, source="cli")
    assert stored.document_id is not None
    return normalize_document_fn(org_id, stored.document_id)


def archive_of(document: Document) -> bytes:
    assert document.archive_key is not None
    return get_vault().get(document.org_id, document.archive_key)


def assert_quarantined(document: Document, code: str, words: str, original: bytes) -> None:
    assert document.status == DocumentStatus.QUARANTINED
    assert document.reason_code == code
    assert words.lower() in (document.reason or "").lower()
    assert document.archive_key is None
    assert document.original_key is not None
    assert get_vault().get(document.org_id, document.original_key) == original


def assert_pdfa_with_text(data: bytes, *words: str) -> None:
    with pikepdf.open(io.BytesIO(data)) as pdf:
        assert pdfa_conformance(pdf) == "2B"
        assert find_active_content(pdf) == []


def test_born_digital_pdf_becomes_pdfa_with_its_text(organization) -> None:  # type: ignore[no-untyped-def]
    data = documents.text_pdf(documents.INVOICE_LINES)
    document = capture_bytes(organization.id, data, "facture.pdf")
    assert document.status == DocumentStatus.NORMALIZED, document.reason
    assert document.media_type == "application/pdf"
    assert document.kind == "invoice_in"
    assert "F-2026-0042" in (document.ocr_text or "")
    assert_pdfa_with_text(archive_of(document))
    assert document.fields["invoice_number"] == "F-2026-0042"
    assert document.fields["total_ttc"] == "120.00"
    assert document.fields["siret"] == "73282932000074"
    # the original is kept untouched, and differs from the archive copy
    assert get_vault().get(organization.id, document.original_key) == data
    assert document.archive_sha256 != document.original_sha256


def test_scanned_receipt_is_ocred_in_french(organization) -> None:  # type: ignore[no-untyped-def]
    data = documents.receipt_jpeg()
    document = capture_bytes(organization.id, data, "IMG_0001.JPG")
    assert document.status == DocumentStatus.NORMALIZED, document.reason
    assert document.kind == "receipt"
    assert "PAPETERIE" in (document.ocr_text or "")
    assert document.fields["date"] == "2026-03-14"
    assert document.fields["total_ttc"] == "120.00"
    assert_pdfa_with_text(archive_of(document))


@pytest.mark.parametrize(
    ("fmt", "mode", "frames", "media_type", "pages"),
    [
        ("PNG", "RGBA", 1, "image/png", 1),
        ("TIFF", "RGB", 3, "image/tiff", 3),
        ("WEBP", "RGB", 1, "image/webp", 1),
        ("HEIF", "RGB", 1, "image/heic", 1),
    ],
)
def test_every_accepted_image_format(  # type: ignore[no-untyped-def]
    organization, fmt: str, mode: str, frames: int, media_type: str, pages: int
) -> None:
    data = documents.image_bytes(fmt, mode, frames)
    document = capture_bytes(organization.id, data, f"photo.{fmt.lower()}")
    assert document.media_type == media_type
    assert document.status == DocumentStatus.NORMALIZED, document.reason
    archive = archive_of(document)
    with pikepdf.open(io.BytesIO(archive)) as pdf:
        assert len(pdf.pages) == pages
    assert "TOTAL" in (document.ocr_text or "")


def test_pdfa_with_text_is_kept_as_it_is(organization) -> None:  # type: ignore[no-untyped-def]
    first = capture_bytes(organization.id, documents.text_pdf(documents.INVOICE_LINES))
    pdfa = archive_of(first)
    again = capture_bytes(organization.id, pdfa, "already-archived.pdf")
    assert again.status == DocumentStatus.NORMALIZED
    assert again.archive_sha256 == again.original_sha256
    assert "kept as it is" in (again.archive_note or "")


def test_same_bytes_twice_is_the_same_document(organization) -> None:  # type: ignore[no-untyped-def]
    data = documents.text_pdf(["Ticket 1", "TOTAL 3,20"])
    first = store_original_fn(organization.id, data=data, filename="a.pdf")
    second = store_original_fn(organization.id, data=data, filename="b.pdf")
    assert first.duplicate_of is None
    assert second.document_id == first.document_id == second.duplicate_of
    with session_scope() as session:
        assert len(session.exec(select(Document)).all()) == 1


def test_empty_file(organization) -> None:  # type: ignore[no-untyped-def]
    document = capture_bytes(organization.id, b"", "vide.pdf")
    assert_quarantined(document, "empty_file", "empty", b"")


def test_truncated_pdf(organization) -> None:  # type: ignore[no-untyped-def]
    data = documents.truncated_pdf()
    assert_quarantined(capture_bytes(organization.id, data), "truncated_pdf", "incomplete", data)


def test_broken_xref_is_repaired(organization) -> None:  # type: ignore[no-untyped-def]
    data = documents.broken_xref_pdf()
    document = capture_bytes(organization.id, data)
    assert document.status == DocumentStatus.NORMALIZED, document.reason
    assert "repaired" in (document.archive_note or "")
    assert "F-2026-0042" in (document.ocr_text or "")


def test_garbage_after_pdf_header_is_beyond_repair(organization) -> None:  # type: ignore[no-untyped-def]
    data = b"%PDF-1.7\n" + bytes(range(256)) * 40 + b"\n%%EOF\n"
    document = capture_bytes(organization.id, data)
    assert document.status == DocumentStatus.QUARANTINED
    assert document.reason_code in {"damaged_pdf", "empty_pdf"}


def test_password_protected_pdf(organization) -> None:  # type: ignore[no-untyped-def]
    data = documents.encrypted_pdf()
    assert_quarantined(capture_bytes(organization.id, data), "encrypted_pdf", "password", data)


def test_owner_password_only_is_lifted(organization) -> None:  # type: ignore[no-untyped-def]
    document = capture_bytes(organization.id, documents.encrypted_pdf(user_password=""))
    assert document.status == DocumentStatus.NORMALIZED, document.reason
    assert "restrictions" in (document.archive_note or "")


def test_active_content_is_removed_from_the_archive(organization) -> None:  # type: ignore[no-untyped-def]
    data = documents.pdf_with_active_content()
    with pikepdf.open(io.BytesIO(data)) as pdf:
        assert {"JavaScript", "Launch"} <= set(find_active_content(pdf))
    document = capture_bytes(organization.id, data)
    assert document.status == DocumentStatus.NORMALIZED, document.reason
    assert "active content removed" in (document.archive_note or "")
    archive = archive_of(document)
    assert_pdfa_with_text(archive)
    assert b"app.alert" not in archive and b"calc.exe" not in archive
    assert get_vault().get(organization.id, document.original_key) == data


def test_signed_pdf_is_never_altered(organization, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    data = documents.signed_pdf(tmp_path)
    document = capture_bytes(organization.id, data, "signed.pdf")
    assert document.status == DocumentStatus.NORMALIZED, document.reason
    assert archive_of(document) == data
    assert "legal copy" in (document.archive_note or "")


def test_decompression_bomb(organization) -> None:  # type: ignore[no-untyped-def]
    data = documents.decompression_bomb_png()
    assert len(data) < 1_000_000
    document = capture_bytes(organization.id, data, "bomb.png")
    assert_quarantined(document, "image_too_large", "pixels", data)


def test_file_over_the_size_limit_is_refused_unread(  # type: ignore[no-untyped-def]
    organization, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from coffre.settings import reset_settings

    monkeypatch.setenv("COFFRE_MAX_UPLOAD_BYTES", "1000")
    reset_settings()
    big = tmp_path / "big.pdf"
    big.write_bytes(documents.text_pdf(documents.INVOICE_LINES, pages=20))
    assert big.stat().st_size > 1000
    real_read_bytes = Path.read_bytes

    def forbidden(self: Path) -> bytes:
        if self == big:
            raise AssertionError("the large file was read into memory")
        return real_read_bytes(self)

    monkeypatch.setattr(Path, "read_bytes", forbidden)
    stored = store_original_fn(organization.id, path=str(big))
    assert stored.status == "QUARANTINED"
    assert "limit" in (stored.reason or "")
    assert big.exists()  # the file stays where it was
    with session_scope() as session:
        document = session.get(Document, stored.document_id)
        assert document is not None
        assert document.original_key is None
        assert document.reason_code == "file_too_large"
        assert document.original_sha256 == hashlib.sha256(real_read_bytes(big)).hexdigest()


def test_too_many_pages(organization, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    from coffre.settings import reset_settings

    monkeypatch.setenv("COFFRE_MAX_PAGES", "3")
    reset_settings()
    data = documents.text_pdf(["Relevé"], pages=5)
    assert_quarantined(capture_bytes(organization.id, data), "too_many_pages", "5 pages", data)


@pytest.mark.parametrize(
    ("make", "words"),
    [
        (documents.zip_bytes, "ZIP"),
        (lambda: documents.HTML, "HTML"),
        (documents.elf_bytes, "program"),
    ],
)
def test_not_a_pdf_despite_its_name(organization, make, words: str) -> None:  # type: ignore[no-untyped-def]
    data = make()
    document = capture_bytes(organization.id, data, "facture.pdf")
    assert_quarantined(document, "unsupported_type", words, data)


def test_corrupt_jpeg(organization) -> None:  # type: ignore[no-untyped-def]
    import coffre.tasks.einvoice_render  # noqa: F401 - WeasyPrint must not relax Pillow

    data = documents.corrupt_jpeg()
    document = capture_bytes(organization.id, data, "photo.jpg")
    assert_quarantined(document, "damaged_image", "damaged", data)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\anne\\facture.pdf", "facture.pdf"),
        ("fac\x00ture\r\n\x1b[31m.pdf", "facture[31m.pdf"),
        ("/", "document"),
        ("..", "document"),
        ("é" * 300 + ".pdf", None),
    ],
)
def test_hostile_filenames_are_sanitised(organization, given: str, expected: str | None) -> None:  # type: ignore[no-untyped-def]
    data = documents.text_pdf([given.encode("ascii", "replace").decode()[:40]])
    stored = store_original_fn(organization.id, data=data, filename=given)
    with session_scope() as session:
        document = session.get(Document, stored.document_id)
    assert document is not None
    assert "/" not in document.filename and "\\" not in document.filename
    assert not any(ord(c) < 32 for c in document.filename)
    assert len(document.filename.encode()) <= 200
    if expected is not None:
        assert document.filename == expected
    else:
        assert document.filename.endswith(".pdf")


def test_every_state_change_is_in_the_audit_chain(organization) -> None:  # type: ignore[no-untyped-def]
    capture_bytes(organization.id, documents.text_pdf(["Ticket", "TOTAL 1,00"]))
    capture_bytes(organization.id, b"", "vide.pdf")
    with session_scope() as session:
        actions = [
            e.action for e in session.exec(select(AuditEvent).order_by(AuditEvent.seq)).all()
        ]
        assert verify_chain(session, organization.id).ok
    assert actions == [
        "document.received",
        "document.normalized",
        "document.received",
        "document.quarantined",
    ]


def test_rerunning_normalisation_changes_nothing(organization) -> None:  # type: ignore[no-untyped-def]
    document = capture_bytes(organization.id, documents.text_pdf(["Ticket", "TOTAL 1,00"]))
    again = normalize_document_fn(organization.id, document.id)
    assert again.status == DocumentStatus.NORMALIZED
    assert again.archive_key == document.archive_key
    with session_scope() as session:
        assert len(session.exec(select(AuditEvent)).all()) == 2


def test_pdf_whose_text_the_conversion_alters_is_quarantined(  # type: ignore[no-untyped-def]
    organization, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Fonts are embedded for PDF/A by a Ghostscript rewrite; an archive copy that no
    longer reads as the original is refused, and the original kept."""
    from coffre.tasks import ocr

    read_text = ocr.pdf_text_by_page

    def archive_reads_otherwise(path: Path, timeout: int = 120) -> list[str]:
        pages = read_text(path, timeout)
        if path.name != "archive.pdf":
            return pages
        return [page.replace("120,00", "12,00") for page in pages]

    monkeypatch.setattr(ocr, "pdf_text_by_page", archive_reads_otherwise)
    data = documents.text_pdf(documents.INVOICE_LINES)  # Helvetica, not embedded
    document = capture_bytes(organization.id, data, "facture.pdf")
    assert_quarantined(document, "conversion_failed", "without altering its text", data)


def test_fonts_are_embedded_and_the_text_checked(organization) -> None:  # type: ignore[no-untyped-def]
    data = documents.text_pdf(documents.INVOICE_LINES)
    document = capture_bytes(organization.id, data, "facture.pdf")
    assert document.status == DocumentStatus.NORMALIZED, document.reason
    assert "fonts embedded for PDF/A" in (document.archive_note or "")
    with pikepdf.open(io.BytesIO(archive_of(document))) as pdf:
        fonts = [font for page in pdf.pages for font in page.Resources.Font.values()]
        font_files = ("/FontFile", "/FontFile2", "/FontFile3")
        assert fonts
        assert all(any(key in font.FontDescriptor for key in font_files) for font in fonts)


def test_text_kept_allows_ocr_on_pages_without_text() -> None:
    from coffre.tasks.normalize import _text_kept

    assert _text_kept(["Total  120,00", ""], ["Total 120,00", "ticket scanné"])
    assert not _text_kept(["Total 120,00", ""], ["Total 999,99", ""])
    assert not _text_kept(["Total 120,00", "Page 2"], ["Total 120,00"])
