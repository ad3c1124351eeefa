"""IMAP connections against a real Dovecot: read-only for real, TLS only, idempotent."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select

import tests.dovecot
from coffre.models import Document, DocumentSource, session_scope
from coffre.models.mail import MailConnection, MailConnectionStatus, ProcessedMessage
from tests import mailbox as mails
from tests.dovecot import Dovecot

pytestmark = pytest.mark.usefixtures("prefect_harness")


@pytest.fixture
def imap(coffre_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Dovecot]:
    from coffre.runtime import reset_runtime

    for server in tests.dovecot.dovecot(tmp_path):
        monkeypatch.setenv("COFFRE_MAIL_CA_FILE", str(server.ca_path))
        reset_runtime()
        yield server


def _connect(
    org_id: str, server: Dovecot, tls: str = "ssl", folder: str = "INBOX", **options: Any
) -> MailConnection:
    from coffre.tasks.mail_connections import add_connection

    # 127.0.0.2: a client that is not the server's own address, so Dovecot insists on TLS
    credentials = {
        "host": server.strict_host,
        "port": server.imaps_port if tls == "ssl" else server.imap_port,
        "tls": tls,
        "username": server.user,
        "password": options.pop("password", server.password),
    }
    return add_connection(org_id, "imap", "Factures", credentials, folder=folder, **options)


def _mail_documents(org_id: str) -> list[Document]:
    with session_scope() as session:
        return list(
            session.exec(
                select(Document).where(
                    Document.org_id == org_id, Document.source == DocumentSource.MAIL
                )
            )
        )


def _stock(server: Dovecot) -> dict[str, bytes]:
    wanted = {
        "invoice": mails.make_pdf("Facture 2026-001"),
        "octet": mails.make_pdf("Facture octet-stream"),
        "forwarded": mails.make_pdf("Facture transférée"),
        "malformed": mails.make_pdf("Facture mal formée"),
    }
    user = server.user
    server.deliver(user, "INBOX", mails.invoice_message(pdf_bytes=wanted["invoice"]))
    server.deliver(user, "INBOX", mails.octet_stream_pdf_message(pdf_bytes=wanted["octet"]))
    server.deliver(user, "INBOX", mails.forwarded_message(pdf_bytes=wanted["forwarded"]))
    server.deliver(user, "INBOX", mails.malformed_message(wanted["malformed"]), flags=["\\Seen"])
    server.deliver(user, "INBOX", mails.inline_image_message())
    server.deliver(user, "INBOX", mails.non_pdf_attachments_message(), flags=["\\Flagged"])
    server.deliver(user, "Sent", mails.invoice_message(pdf_bytes=mails.make_pdf("envoyée")))
    server.deliver(user, "Drafts", mails.invoice_message(pdf_bytes=mails.make_pdf("brouillon")))
    return wanted


@pytest.mark.parametrize("tls", ["ssl", "starttls"])
def test_fetch_captures_every_pdf_and_changes_no_flag(
    organization: Any, imap: Dovecot, tls: str
) -> None:
    from coffre.flows.mail import fetch_mail

    wanted = _stock(imap)
    before = {
        folder: imap.flags_snapshot(imap.user, folder) for folder in ("INBOX", "Sent", "Drafts")
    }
    connection = _connect(organization.id, imap, tls)

    result = fetch_mail(organization.id, connection.id)

    captured = _mail_documents(organization.id)
    assert {d.original_sha256 for d in captured} == {mails.sha256(p) for p in wanted.values()}
    assert {d.status for d in captured} == {"SEALED"}, [d.reason for d in captured]
    assert {d.source_ref for d in captured} == {connection.id}
    assert result["messages_matching"] == 6 and result["pdfs_found"] == 4
    after = {
        folder: imap.flags_snapshot(imap.user, folder) for folder in ("INBOX", "Sent", "Drafts")
    }
    assert after == before  # nothing marked \Seen, nothing moved or deleted
    with session_scope() as session:
        processed = session.exec(select(ProcessedMessage)).all()
    assert sorted(int(p.message_id) for p in processed) == [1, 2, 3, 4, 5, 6]


def test_a_huge_attachment_is_quarantined_with_a_reason(
    organization: Any, imap: Dovecot, monkeypatch: pytest.MonkeyPatch
) -> None:
    from coffre.flows.mail import fetch_mail
    from coffre.runtime import reset_runtime

    monkeypatch.setenv("COFFRE_MAX_UPLOAD_BYTES", str(20 * 1024 * 1024))
    reset_runtime()
    imap.deliver(imap.user, "INBOX", mails.large_pdf_message())
    connection = _connect(organization.id, imap)

    fetch_mail(organization.id, connection.id)

    [document] = _mail_documents(organization.id)
    assert document.status == "QUARANTINED" and document.reason_code == "file_too_large"
    assert "MiB" in (document.reason or "")
    assert len(imap.flags_snapshot(imap.user, "INBOX")) == 1  # the original stays in the mailbox


def test_second_fetch_downloads_nothing_then_finds_new_mail(
    organization: Any, imap: Dovecot
) -> None:
    from coffre.tasks.mail_fetch import fetch_connection_fn

    _stock(imap)
    connection = _connect(organization.id, imap)
    first = fetch_connection_fn(organization.id, connection.id)
    assert first.bytes_downloaded > 0

    second = fetch_connection_fn(organization.id, connection.id)
    assert (second.messages_new, second.bytes_downloaded, second.pdfs_found) == (0, 0, 0)

    late = mails.make_pdf("Facture arrivée après")
    imap.deliver(imap.user, "INBOX", mails.invoice_message(pdf_bytes=late))
    third = fetch_connection_fn(organization.id, connection.id)
    assert (third.messages_new, third.pdfs_found) == (1, 1)
    assert mails.sha256(late) in {d.original_sha256 for d in _mail_documents(organization.id)}


def test_uidvalidity_change_rescans_without_capturing_twice(
    organization: Any, imap: Dovecot
) -> None:
    from coffre.tasks.mail_fetch import fetch_connection_fn

    wanted = _stock(imap)
    connection = _connect(organization.id, imap)
    fetch_connection_fn(organization.id, connection.id)
    documents_before = {d.id for d in _mail_documents(organization.id)}

    imap.set_uidvalidity(imap.user, "INBOX")
    rescan = fetch_connection_fn(organization.id, connection.id)

    assert rescan.messages_new == 6 and rescan.pdfs_found == len(wanted)
    assert all(outcome.duplicate_of for outcome in rescan.outcomes)
    assert {d.id for d in _mail_documents(organization.id)} == documents_before
    assert fetch_connection_fn(organization.id, connection.id).messages_new == 0


def test_criteria_become_an_imap_search(organization: Any, imap: Dovecot) -> None:
    from coffre.tasks.mail_fetch import fetch_connection_fn

    wanted = _stock(imap)
    connection = _connect(
        organization.id,
        imap,
        criteria={"senders": ["papeterie-centre.example"], "subject_contains": ["facture"]},
    )
    report = fetch_connection_fn(organization.id, connection.id)
    # the plain invoice and the octet-stream one come from the Papeterie; the others do not
    assert report.messages_matching == 2
    shas = {d.original_sha256 for d in _mail_documents(organization.id)}
    assert shas == {mails.sha256(wanted["invoice"]), mails.sha256(wanted["octet"])}

    accented = mails.make_pdf("Facture réglée")
    imap.deliver(
        imap.user, "INBOX", mails.invoice_message(subject="Facture réglée", pdf_bytes=accented)
    )
    other = _connect(organization.id, imap, criteria={"subject_contains": ["RÉGLÉE"]})
    assert fetch_connection_fn(organization.id, other.id).pdfs_found == 1


def test_wrong_password_asks_for_reauthorisation(organization: Any, imap: Dovecot) -> None:
    from coffre.tasks.mail_errors import MailAuthError
    from coffre.tasks.mail_fetch import fetch_connection_fn

    connection = _connect(organization.id, imap, password="pas-le-bon", check=False)
    with pytest.raises(MailAuthError):
        fetch_connection_fn(organization.id, connection.id)
    with session_scope() as session:
        row = session.get(MailConnection, connection.id)
        assert row is not None and row.status == MailConnectionStatus.NEEDS_REAUTH
        assert "password" in (row.last_error or "") and row.lease_until is None


def test_sent_drafts_and_clear_text_are_refused(organization: Any, imap: Dovecot) -> None:
    from coffre.tasks.mail_errors import MailConfigError

    for folder in ("Sent", "Drafts"):
        with pytest.raises(MailConfigError, match="never reads"):
            _connect(organization.id, imap, folder=folder)
    with pytest.raises(MailConfigError, match="TLS"):
        _connect(organization.id, imap, tls="none")
    with session_scope() as session:
        assert session.exec(select(MailConnection)).all() == []
