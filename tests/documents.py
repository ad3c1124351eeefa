"""Small documents made by the tests: born-digital PDFs, photos, and hostile files."""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from pathlib import Path
from typing import Any

import pikepdf
from PIL import Image, ImageDraw, ImageFont

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"


def text_pdf(lines: list[str], pages: int = 1) -> bytes:
    """A born-digital PDF (Helvetica, WinAnsi) with the lines on each page."""
    pdf = pikepdf.new()
    font = pdf.make_indirect(
        pikepdf.Dictionary(
            Type=pikepdf.Name.Font,
            Subtype=pikepdf.Name.Type1,
            BaseFont=pikepdf.Name.Helvetica,
            Encoding=pikepdf.Name.WinAnsiEncoding,
        )
    )
    for page_number in range(pages):
        ops = [b"BT /F1 12 Tf 50 780 Td 16 TL"]
        for line in [*lines, f"Page {page_number + 1}"]:
            escaped = line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
            ops.append(b"(" + escaped.encode("cp1252") + b") '")
        ops.append(b"ET")
        page = pdf.add_blank_page(page_size=(595, 842))
        page.obj.Resources = pikepdf.Dictionary(Font=pikepdf.Dictionary(F1=font))
        page.obj.Contents = pdf.make_stream(b"\n".join(ops))
    out = io.BytesIO()
    pdf.save(out)
    return out.getvalue()


INVOICE_LINES = [
    "PAPETERIE DU CENTRE SARL",
    "SIRET 732 829 320 00074",
    "Facture n° F-2026-0042",
    "Date : 14/03/2026",
    "Total HT 100,00 EUR",
    "TVA 20% 20,00 EUR",
    "TOTAL TTC 120,00 EUR",
]


def receipt_jpeg(lines: list[str] | None = None, size: tuple[int, int] = (1240, 1754)) -> bytes:
    """A scanned-looking receipt at 300 DPI."""
    image = Image.new("L", size, 250)
    draw = ImageDraw.Draw(image)
    font = ImageFont.truetype(FONT, 44)
    for index, line in enumerate(lines or INVOICE_LINES):
        draw.text((90, 120 + index * 80), line, fill=10, font=font)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90, dpi=(300, 300))
    return out.getvalue()


def image_bytes(fmt: str, mode: str = "RGB", frames: int = 1) -> bytes:
    """A small photo-like picture of text in the given format (PNG, TIFF, WEBP, HEIF)."""
    pictures = []
    for index in range(frames):
        image = Image.new(mode, (900, 600), "white" if mode != "RGBA" else (255, 255, 255, 255))
        draw = ImageDraw.Draw(image)
        draw.text(
            (60, 80),
            f"Ticket {index + 1} TOTAL 9,90 EUR",
            fill="black",
            font=ImageFont.truetype(FONT, 48),
        )
        pictures.append(image)
    out = io.BytesIO()
    if frames > 1:
        pictures[0].save(out, fmt, save_all=True, append_images=pictures[1:], dpi=(200, 200))
    else:
        if fmt == "HEIF":
            from pillow_heif import register_heif_opener

            register_heif_opener()
        pictures[0].save(out, fmt)
    return out.getvalue()


def encrypted_pdf(user_password: str = "secret") -> bytes:  # noqa: S107
    pdf = pikepdf.open(io.BytesIO(text_pdf(INVOICE_LINES)))
    out = io.BytesIO()
    pdf.save(out, encryption=pikepdf.Encryption(user=user_password, owner="owner-pw"))
    return out.getvalue()


def pdf_with_active_content() -> bytes:
    """JavaScript on open, a named script, and a launch action on a link."""
    pdf = pikepdf.open(io.BytesIO(text_pdf(INVOICE_LINES)))
    script = pikepdf.Dictionary(S=pikepdf.Name.JavaScript, JS=pikepdf.String("app.alert(1)"))
    pdf.Root.OpenAction = pdf.make_indirect(script)
    pdf.Root.Names = pikepdf.Dictionary(
        JavaScript=pikepdf.Dictionary(Names=pikepdf.Array([pikepdf.String("x"), script]))
    )
    launch = pikepdf.Dictionary(S=pikepdf.Name.Launch, F=pikepdf.String("calc.exe"))
    pdf.pages[0].obj.Annots = pdf.make_indirect(
        pikepdf.Array(
            [
                pikepdf.Dictionary(
                    Type=pikepdf.Name.Annot,
                    Subtype=pikepdf.Name.Link,
                    Rect=pikepdf.Array([0, 0, 100, 100]),
                    A=launch,
                )
            ]
        )
    )
    out = io.BytesIO()
    pdf.save(out)
    return out.getvalue()


def broken_xref_pdf() -> bytes:
    """A complete PDF whose cross-reference table points to the wrong offsets."""
    data = bytearray(text_pdf(INVOICE_LINES))
    start = data.rfind(b"startxref")
    xref_offset = int(data[start + 10 :].split()[0])
    body = bytes(data[:xref_offset]).replace(b"obj", b"obj ", 3)  # shift every object
    return body + bytes(data[xref_offset:])


def truncated_pdf() -> bytes:
    data = text_pdf(INVOICE_LINES, pages=3)
    return data[: len(data) // 2]


def decompression_bomb_png() -> bytes:
    """25,000 × 25,000 pixels (625 megapixels) in a few kilobytes."""
    out = io.BytesIO()
    Image.new("1", (25_000, 25_000), 1).save(out, "PNG", optimize=True)
    return out.getvalue()


def zip_bytes() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("facture.pdf", text_pdf(INVOICE_LINES))
    return out.getvalue()


HTML = (
    b"<!DOCTYPE html><html><head><title>Facture</title></head>"
    b"<body><script>alert(1)</script></body></html>"
)


def elf_bytes() -> bytes:
    return Path("/bin/true").read_bytes()


def corrupt_jpeg() -> bytes:
    data = receipt_jpeg()
    return data[: len(data) // 3]


def signed_pdf(tmp: Path) -> bytes:
    """A PDF signed with a throw-away certificate (pyHanko, PAdES)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import signers

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Fournisseur Signataire")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    key_path, cert_path = tmp / "signer.key", tmp / "signer.pem"
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    signer = signers.SimpleSigner.load(str(key_path), str(cert_path))
    assert signer is not None
    writer = IncrementalPdfFileWriter(io.BytesIO(text_pdf(INVOICE_LINES)))
    out = io.BytesIO()
    signers.sign_pdf(
        writer, signers.PdfSignatureMetadata(field_name="Signature1"), signer=signer, output=out
    )
    return out.getvalue()


def document_row(
    org_id: str,
    name: str,
    *,
    kind: str = "receipt",
    status: str = "SEALED",
    source: str = "upload",
    text: str = "",
    **fields: object,
) -> Any:
    """A Document row without objects (search, dashboard, reconciliation tests); the
    keyword arguments left over are its extracted fields."""
    from coffre.models import Document
    from coffre.models.document import DocumentKind, DocumentSource, DocumentStatus

    return Document(
        org_id=org_id,
        kind=DocumentKind(kind),
        source=DocumentSource(source),
        filename=name,
        original_sha256=name.ljust(64, "0")[:64],
        original_size=100,
        media_type="application/pdf",
        status=DocumentStatus(status),
        ocr_text=text,
        fields=dict(fields),
    )
