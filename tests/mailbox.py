"""Test e-mails as RFC 5322 bytes: invoices, forwards, decoys and broken MIME.

Every builder returns CRLF bytes (``email.policy.SMTP``) with its own Message-ID and
From, To, Date and Subject headers; dates default to "now", one second apart from the
previous message's so that no two messages of a run share a Date. PDFs come from
``make_pdf`` (small, hand-written, a different file at every call) or ``large_pdf``.

``bulk_mailbox`` fills a folder of a ``tests.dovecot.Dovecot`` server with a thousand
messages in a fraction of a second and returns the SHA-256 of the PDFs a correct fetch
must find.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import io
import random
import struct
import uuid
import zipfile
import zlib
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tests.dovecot import Dovecot

SENDER = "Papeterie du Centre <factures@papeterie-centre.example>"
RECIPIENT = "Comptabilité <compta@coffre.example>"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

_last_date: dt.datetime | None = None


def _next_date() -> dt.datetime:
    """Now, or one second after the previous default date, whichever is later."""
    global _last_date
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    if _last_date is None or now > _last_date:
        _last_date = now
    else:
        _last_date += dt.timedelta(seconds=1)
    return _last_date


def message_id(domain: str = "coffre.example") -> str:
    """A unique Message-ID, short enough never to be folded (``make_msgid``'s can be)."""
    return f"<{uuid.uuid4().hex}@{domain}>"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# -- documents ------------------------------------------------------------------------------


def _pdf_string(text: str) -> bytes:
    escaped = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
    return b"(" + escaped.encode("cp1252", "replace") + b")"


def make_pdf(text: str = "Facture", *, nonce: str | None = None) -> bytes:
    """A one-page PDF 1.4 showing ``text`` (one line per line, Helvetica, WinAnsi).

    Written by hand, so a thousand cost milliseconds. The trailer /ID and /Info carry a
    random nonce (or the given one): two calls never give the same bytes, even for the
    same text, while the visible text stays exactly ``text``."""
    nonce = nonce or uuid.uuid4().hex
    lines = text.splitlines() or [""]
    ops = [b"BT /F1 12 Tf 50 780 Td 16 TL"]
    ops += [_pdf_string(line) + b" '" for line in lines]
    ops.append(b"ET")
    content = b"\n".join(ops)
    identifier = hashlib.md5(nonce.encode(), usedforsecurity=False).hexdigest().upper()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842]"
        b" /Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
        b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
        b"<< /Producer (Coffre tests) /Subject " + _pdf_string(nonce) + b" >>",
    ]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R /Info 6 0 R /ID [<%s> <%s>] >>\n" % (
        len(objects) + 1,
        identifier.encode(),
        identifier.encode(),
    )
    out += b"startxref\n%d\n%%%%EOF\n" % xref
    return bytes(out)


def large_pdf(size_bytes: int = 30 * 1024 * 1024, *, seed: int = 0) -> bytes:
    """A valid PDF of about ``size_bytes``: one text page plus an embedded file of
    random (incompressible) bytes; seeded, so the same size and seed give the same file."""
    import pikepdf

    page = make_pdf(f"Facture scannée ({size_bytes} octets)", nonce=f"large-{size_bytes}-{seed}")
    pdf = pikepdf.open(io.BytesIO(page))
    padding = random.Random(seed).randbytes(max(size_bytes - 2048, 0))
    pdf.attachments["annexe.bin"] = pikepdf.AttachedFileSpec(
        pdf, padding, mime_type="application/octet-stream"
    )
    out = io.BytesIO()
    # Left uncompressed: Flate over 30 MB of noise only costs time.
    pdf.save(out, compress_streams=False, static_id=True)
    return out.getvalue()


def make_png(width: int = 24, height: int = 24, rgb: tuple[int, int, int] = (200, 40, 40)) -> bytes:
    """A plain-colour PNG, built with zlib alone."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    rows = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def _zip(files: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return out.getvalue()


def docx_bytes(text: str = "Devis n° D-2026-007") -> bytes:
    """A minimal Word document (an OOXML zip)."""
    return _zip(
        {
            "[Content_Types].xml": (
                '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.'
                'openxmlformats.org/package/2006/content-types"><Default Extension="xml" '
                f'ContentType="{DOCX}.main+xml"/></Types>'
            ).encode(),
            "word/document.xml": (
                '<?xml version="1.0" encoding="UTF-8"?><w:document xmlns:w="http://schemas.'
                'openxmlformats.org/wordprocessingml/2006/main"><w:body><w:p><w:r><w:t>'
                f"{text}</w:t></w:r></w:p></w:body></w:document>"
            ).encode(),
        }
    )


def xlsx_bytes() -> bytes:
    """A minimal spreadsheet (an OOXML zip)."""
    return _zip(
        {
            "[Content_Types].xml": (
                '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.'
                'openxmlformats.org/package/2006/content-types"><Default Extension="xml" '
                f'ContentType="{XLSX}.main+xml"/></Types>'
            ).encode(),
            "xl/workbook.xml": b'<?xml version="1.0" encoding="UTF-8"?><workbook/>',
        }
    )


# -- messages -------------------------------------------------------------------------------


def _message(
    sender: str, to: str, subject: str, date: dt.datetime | None, body: str
) -> EmailMessage:
    message = EmailMessage(policy=policy.SMTP)
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = format_datetime(date or _next_date())
    domain = parseaddr(sender)[1].rpartition("@")[2] or "coffre.example"
    message["Message-ID"] = message_id(domain)
    message.set_content(body)
    return message


def invoice_message(
    sender: str = SENDER,
    subject: str = "Votre facture",
    pdf_bytes: bytes | None = None,
    filename: str = "facture.pdf",
    *,
    to: str = RECIPIENT,
    date: dt.datetime | None = None,
    body: str = "Bonjour,\n\nVeuillez trouver ci-joint votre facture.\n\nCordialement",
) -> bytes:
    """A text body and one ``application/pdf`` attachment (a fresh ``make_pdf`` if none)."""
    message = _message(sender, to, subject, date, body)
    message.add_attachment(
        pdf_bytes if pdf_bytes is not None else make_pdf(subject),
        maintype="application",
        subtype="pdf",
        filename=filename,
    )
    return message.as_bytes()


def octet_stream_pdf_message(
    sender: str = SENDER,
    subject: str = "Facture (pièce jointe générique)",
    pdf_bytes: bytes | None = None,
    filename: str = "facture.pdf",
    *,
    to: str = RECIPIENT,
    date: dt.datetime | None = None,
) -> bytes:
    """A real PDF declared ``application/octet-stream``, as many mailers send it."""
    message = _message(sender, to, subject, date, "Ci-joint la facture du mois.")
    message.add_attachment(
        pdf_bytes if pdf_bytes is not None else make_pdf(subject),
        maintype="application",
        subtype="octet-stream",
        filename=filename,
    )
    return message.as_bytes()


def forwarded_message(
    sender: str = "Associé <associe@coffre.example>",
    subject: str = "Fwd: Votre facture",
    pdf_bytes: bytes | None = None,
    filename: str = "facture.pdf",
    *,
    inner: bytes | None = None,
    to: str = RECIPIENT,
    date: dt.datetime | None = None,
) -> bytes:
    """A forward as attachment: a ``message/rfc822`` part (``facture.eml``) whose own
    attachment is the PDF (``inner`` defaults to an ``invoice_message`` of ``pdf_bytes``)."""
    if inner is None:
        inner = invoice_message(pdf_bytes=pdf_bytes, filename=filename)
    message = _message(sender, to, subject, date, "Je te transfère la facture ci-jointe.")
    message.add_attachment(message_from_bytes(inner, policy=policy.SMTP), filename="facture.eml")
    return message.as_bytes()


def inline_image_message(
    sender: str = "Lettre d'information <news@boutique.example>",
    subject: str = "Nos nouveautés",
    *,
    to: str = RECIPIENT,
    date: dt.datetime | None = None,
) -> bytes:
    """HTML with an inline logo (``Content-Disposition: inline``, ``Content-ID``) and a
    text alternative: no PDF, and no attachment a user would call one."""
    message = _message(sender, to, subject, date, "Découvrez nos nouveautés.")
    cid = message_id("boutique.example")
    message.add_alternative(
        f'<html><body><img src="cid:{cid[1:-1]}" alt="logo"><p>Découvrez nos nouveautés.</p>'
        "</body></html>",
        subtype="html",
    )
    html = next(part for part in message.iter_parts() if part.get_content_subtype() == "html")
    html.add_related(
        make_png(),
        maintype="image",
        subtype="png",
        cid=cid,
        disposition="inline",
        filename="logo.png",
    )
    return message.as_bytes()


def non_pdf_attachments_message(
    sender: str = "Bureau d'études <contact@etudes.example>",
    subject: str = "Documents du dossier",
    *,
    to: str = RECIPIENT,
    date: dt.datetime | None = None,
) -> bytes:
    """.docx, .xlsx, .zip and .txt attachments, plus ``facture.pdf`` declared
    ``application/pdf`` that is really a PNG: nothing here is a PDF."""
    message = _message(sender, to, subject, date, "Voici les pièces du dossier.")
    attachments = [
        (docx_bytes(), DOCX, "devis.docx"),
        (xlsx_bytes(), XLSX, "releve.xlsx"),
        (_zip({"lisez-moi.txt": b"Archive de test\n"}), "application/zip", "archive.zip"),
        (b"Notes de la reunion\n", "text/plain", "notes.txt"),
        (make_png(rgb=(10, 120, 10)), "application/pdf", "facture.pdf"),
    ]
    for data, content_type, filename in attachments:
        maintype, subtype = content_type.split("/")
        if maintype == "text":
            message.add_attachment(data.decode(), subtype=subtype, filename=filename)
        else:
            message.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    return message.as_bytes()


def large_pdf_message(
    size_bytes: int = 30 * 1024 * 1024,
    *,
    pdf_bytes: bytes | None = None,
    sender: str = "Scanner <scanner@coffre.example>",
    subject: str = "Numérisation",
    filename: str = "numerisation.pdf",
    to: str = RECIPIENT,
    date: dt.datetime | None = None,
) -> bytes:
    """One large PDF attachment (``large_pdf(size_bytes)`` unless given); the message is
    a third larger again once base64-encoded."""
    return invoice_message(
        sender,
        subject,
        pdf_bytes if pdf_bytes is not None else large_pdf(size_bytes),
        filename,
        to=to,
        date=date,
        body="Document numérisé.",
    )


def malformed_message(
    pdf_bytes: bytes | None = None,
    *,
    sender: str = "Fournisseur <factures@fournisseur.example>",
    subject: str = "Facture mal formée",
    date: dt.datetime | None = None,
) -> bytes:
    """Broken MIME that still carries a PDF.

    - raw 8-bit UTF-8 in headers, an encoded word with an unknown charset and encoding,
      an unparseable ``Resent-Date``, a header line without a colon ending the header
      block (RFC 5322 parsers then take it as the body's first line);
    - a text part in an unknown charset with invalid quoted-printable;
    - an ``application/pdf`` part whose base64 has junk characters and no padding;
      lenient decoders (Python's ``get_payload(decode=True)``) still recover the exact
      PDF bytes (``pdf_bytes``, a fresh ``make_pdf`` by default);
    - no closing boundary: the message ends inside the PDF part."""
    pdf = pdf_bytes if pdf_bytes is not None else make_pdf(subject)
    encoded = base64.b64encode(pdf).decode().rstrip("=")
    lines = [encoded[i : i + 76] for i in range(0, len(encoded), 76)]
    for index in range(0, len(lines), 7):  # junk outside the base64 alphabet
        lines[index] = lines[index][:30] + "!*#" + lines[index][30:]
    boundary = "coffre-broken-" + uuid.uuid4().hex[:8]
    msgid = message_id("fournisseur.example")
    head = "\r\n".join(
        [
            f"From: {sender}",
            f"To: {RECIPIENT}",
            f"Subject: {subject} =?x-unknown?Q?=E9t=E9?= =?utf-8?Z?bogus?=",
            f"Date: {format_datetime(date or _next_date())}",
            f"Message-ID: {msgid}",
            "Resent-Date: le 31 février, vers midi",
            "MIME-Version: 1.0",
            f'Content-Type: multipart/mixed; boundary="{boundary}"',
            "Content-Transfer-Encoding: quoted-printable",
            "X-Fournisseur: Société Générale d'Équipement",
            "X-Bogus-Header-Without-Colon",
            "",
            "Ce message est au format MIME.",
            f"--{boundary}",
            "Content-Type: text/plain; charset=x-unknown-8bit",
            "Content-Transfer-Encoding: quoted-printable",
            "",
            "Veuillez trouver la facture ci-jointe =ZZ invalide=",
            f"--{boundary}",
            'Content-Type: application/pdf; name="facture cassée.pdf"',
            'Content-Disposition: attachment; filename="facture cassée.pdf',
            "Content-Transfer-Encoding: base64",
            "",
            *lines,
            "",
        ]
    )
    return head.encode("utf-8")


# -- a full mailbox -------------------------------------------------------------------------

_SUPPLIERS = [
    "Papeterie du Centre <factures@papeterie-centre.example>",
    "EDF Pro <ne-pas-repondre@edf-pro.example>",
    "Orange Business <facturation@orange-business.example>",
    "Garage Martin <contact@garage-martin.example>",
    "Cabinet Lefèvre <compta@cabinet-lefevre.example>",
]
_TEMPLATE_DATE = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
_TEMPLATE_PDF = make_pdf("TEMPLATE", nonce="template")


def _base64_lines(data: bytes) -> bytes:
    """Base64 as ``email`` writes it with policy.SMTP: 76 characters a line, CRLF."""
    encoded = base64.b64encode(data)
    return b"\r\n".join(encoded[i : i + 76] for i in range(0, len(encoded), 76))


class _Template:
    """A message built once by the builders above, restamped per copy with plain byte
    replacements: the email package takes milliseconds per message, this microseconds."""

    def __init__(self, message: bytes) -> None:
        self.message = message
        parsed = message_from_bytes(message, policy=policy.SMTP)
        self.message_id = str(parsed["Message-ID"]).encode()
        self.date = str(parsed["Date"]).encode()
        self.domain = self.message_id.rpartition(b"@")[2].rstrip(b">")
        if b"Message-ID: " + self.message_id not in message or b"Date: " + self.date not in message:
            raise AssertionError("template headers not found verbatim (folded?)")

    def stamp(self, date: dt.datetime, **tokens: bytes) -> bytes:
        message = self.message.replace(
            b"Message-ID: " + self.message_id,
            b"Message-ID: " + message_id(self.domain.decode()).encode(),
            1,
        ).replace(b"Date: " + self.date, b"Date: " + format_datetime(date).encode(), 1)
        for token, value in tokens.items():
            if token.encode() not in message:
                raise AssertionError(f"template lost its {token} token")
            message = message.replace(token.encode(), value)
        return message


def bulk_mailbox(
    dovecot: Dovecot,
    user: str | None = None,
    total: int = 1000,
    with_pdf: int = 200,
    seed: int = 0,
    *,
    folder: str = "INBOX",
) -> list[str]:
    """Deliver ``total`` messages straight into the Maildir: ``with_pdf`` invoices
    (``invoice_message``) with a distinct PDF each, the rest plain text or, one in seven,
    a decoy (``non_pdf_attachments_message`` with its fake ``facture.pdf``, or
    ``inline_image_message``). About half are \\Seen; dates go back one day per message.
    Returns the SHA-256 of the PDFs, in delivery (= UID) order. ~0.2 s per thousand."""
    if not 0 <= with_pdf <= total:
        raise ValueError("with_pdf must be between 0 and total")
    rng = random.Random(seed)
    invoices = set(rng.sample(range(total), with_pdf))
    pdf_block = _base64_lines(_TEMPLATE_PDF)
    invoice_templates = [
        _Template(
            invoice_message(
                sender,
                "Facture SUBJECTTOKEN",
                _TEMPLATE_PDF,
                "facture-SUBJECTTOKEN.pdf",
                date=_TEMPLATE_DATE,
            )
        )
        for sender in _SUPPLIERS
    ]
    if pdf_block not in invoice_templates[0].message:
        raise AssertionError("the email package no longer encodes base64 as expected")
    plain_templates = [
        _Template(
            _message(
                sender,
                RECIPIENT,
                "Information SUBJECTTOKEN",
                _TEMPLATE_DATE,
                "Message BODYTOKEN.\n",
            ).as_bytes()
        )
        for sender in _SUPPLIERS
    ]
    decoys = [_Template(non_pdf_attachments_message()), _Template(inline_image_message())]
    start = dt.datetime(2026, 1, 1, 9, 0, tzinfo=dt.UTC)
    hashes = []
    for index in range(total):
        date = start - dt.timedelta(days=total - index, minutes=rng.randrange(600))
        supplier = rng.randrange(len(_SUPPLIERS))
        if index in invoices:
            number = f"F-{seed}-{index:05d}"
            pdf = make_pdf(
                f"Facture {number}\nTotal TTC {rng.randrange(100, 999999) / 100:.2f} EUR"
            )
            hashes.append(sha256(pdf))
            message = invoice_templates[supplier].stamp(date, SUBJECTTOKEN=number.encode())
            message = message.replace(pdf_block, _base64_lines(pdf), 1)
        elif rng.random() < 1 / 7:
            message = rng.choice(decoys).stamp(date)
        else:
            message = plain_templates[supplier].stamp(
                date, SUBJECTTOKEN=str(index).encode(), BODYTOKEN=str(index).encode()
            )
        flags = ("\\Seen",) if rng.random() < 0.5 else ()
        dovecot.deliver(user, folder, message, flags=flags, internal_date=date)
    return hashes
