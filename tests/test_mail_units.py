"""Mail criteria and PDF extraction from messages, without a server."""

from __future__ import annotations

from datetime import UTC, date, datetime
from email.message import EmailMessage

import pytest
from pydantic import ValidationError

from coffre.tasks.mail_attachments import pdfs_in_message
from coffre.tasks.mail_criteria import MailCriteria
from tests import documents


def test_senders_match_addresses_and_domains() -> None:
    criteria = MailCriteria(senders=["Factures@EDF.fr", "@orange.fr", "free.fr"])
    assert criteria.senders == ["factures@edf.fr", "orange.fr", "free.fr"]
    assert criteria.sender_matches("EDF <factures@edf.fr>")
    assert not criteria.sender_matches("autre@edf.fr")
    assert criteria.sender_matches("noreply@mail.orange.fr")
    assert not criteria.sender_matches("orange.fr@evil.com")
    assert not criteria.sender_matches("x@notfree.fr")
    with pytest.raises(ValidationError):
        MailCriteria(senders=["pas une adresse"])


def test_subject_date_and_filename() -> None:
    criteria = MailCriteria(
        subject_contains=["facture", "Avoir"],
        received_after=date(2026, 1, 1),
        filename_pattern="*facture*.pdf",
    )
    assert criteria.subject_matches("Votre FACTURE de novembre")
    assert not criteria.subject_matches("Newsletter")
    assert criteria.date_matches(datetime(2026, 1, 1, tzinfo=UTC))
    assert not criteria.date_matches(datetime(2025, 12, 31, 23, 59, tzinfo=UTC))
    assert criteria.filename_matches("Facture-2026-11.PDF")
    assert not criteria.filename_matches("devis.pdf")


def test_imap_search_keys() -> None:
    assert MailCriteria().imap_search() == ["ALL"]
    keys = MailCriteria(
        senders=["a.fr", "b@c.fr", "d.fr"],
        subject_contains=["facture"],
        received_after=date(2026, 2, 1),
    ).imap_search(min_uid=42)
    assert keys == [
        "UID",
        "42:*",
        "SINCE",
        date(2026, 2, 1),
        "OR",
        ["FROM", "a.fr"],
        ["OR", ["FROM", "b@c.fr"], ["FROM", "d.fr"]],
        "SUBJECT",
        "facture",
    ]


def test_nylas_query_sends_what_nylas_can_filter() -> None:
    query = MailCriteria(senders=["factures@edf.fr"], subject_contains=["Facture"]).nylas_query(
        "F1"
    )
    # no subject: Nylas matches it case-sensitively, so "FACTURE" would be missed
    assert query == {"in": "F1", "has_attachment": True, "from": "factures@edf.fr"}
    # a domain, or several senders, cannot be a Nylas `from`: filtered here instead
    assert "from" not in MailCriteria(senders=["edf.fr"]).nylas_query("F1")


def _message() -> EmailMessage:
    message = EmailMessage()
    message["From"], message["Subject"] = "factures@edf.fr", "Facture"
    message.set_content("Bonjour")
    return message


def test_pdfs_are_found_by_their_bytes_and_inside_forwarded_mail() -> None:
    pdf, other = documents.text_pdf(["Facture A"]), documents.text_pdf(["Facture B"])
    message = _message()
    message.add_attachment(pdf, maintype="application", subtype="octet-stream", filename="a.bin")
    message.add_attachment(b"PNG?", maintype="application", subtype="pdf", filename="faux.pdf")
    inner = _message()
    inner.add_attachment(other, maintype="application", subtype="pdf", filename="b.pdf")
    message.add_attachment(inner)
    message.add_attachment(pdf, maintype="application", subtype="pdf", filename="copie.pdf")
    found = pdfs_in_message(message.as_bytes())
    assert [(f.filename, f.data) for f in found] == [("a.bin", pdf), ("b.pdf", other)]


def test_malformed_mime_still_gives_its_pdf() -> None:
    pdf = documents.text_pdf(["Facture C"])
    import base64

    encoded = base64.b64encode(pdf).decode()
    raw = (
        "From: x@y.fr\r\nSubject: =?utf-8?q?cass=C3=A9?=\r\nContent-Type: multipart/mixed; "
        'boundary="B"\r\n\r\n--B\r\nContent-Type: text/plain\r\n\r\ntexte\r\n--B\r\n'
        'Content-Type: application/pdf; name="c.pdf"\r\nContent-Transfer-Encoding: base64\r\n\r\n'
        f"{encoded}\r\n"  # no closing boundary
    ).encode()
    assert [f.data for f in pdfs_in_message(raw)] == [pdf]
    assert pdfs_in_message(b"\x00\xff garbage") == []
    assert pdfs_in_message(b"") == []
