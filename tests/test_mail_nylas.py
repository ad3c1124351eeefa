"""Nylas v3 connections: the real SDK against a local server that answers like the API."""

from __future__ import annotations

import hashlib
import threading
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlmodel import select

from coffre.models import Document, DocumentSource, session_scope
from coffre.models.mail import MailConnection, MailConnectionStatus, ProcessedMessage
from tests import documents
from tests.fake_nylas import FakeAttachment, FakeMessage, FakeNylas

pytestmark = pytest.mark.usefixtures("prefect_harness")

OWN = "compta@boulangerie-martin.fr"


@pytest.fixture
def nylas(coffre_home: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    from coffre.runtime import reset_runtime

    with FakeNylas() as fake:
        monkeypatch.setenv("COFFRE_NYLAS_API_KEY", fake.api_key)
        monkeypatch.setenv("COFFRE_NYLAS_API_URI", fake.url)
        monkeypatch.setenv("COFFRE_MAIL_RETRY_MAX_SECONDS", "0.05")
        reset_runtime()
        yield fake


def forwarded_message_bytes(pdf: bytes) -> bytes:
    """A message as an .eml attachment, itself carrying the invoice."""
    inner = EmailMessage()
    inner["From"], inner["To"], inner["Subject"] = "factures@edf.fr", OWN, "Facture"
    inner.set_content("Veuillez trouver ci-joint votre facture.")
    inner.add_attachment(pdf, maintype="application", subtype="pdf", filename="facture.pdf")
    return inner.as_bytes()


def _pdf(label: str) -> bytes:
    return documents.text_pdf([f"Facture {label}", "Total TTC 120,00 EUR"])


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _connect(org_id: str, grant_id: str, **criteria: Any) -> MailConnection:
    from coffre.tasks.mail_connections import add_connection

    criteria = criteria or {"senders": ["edf.fr", "factures@orange.fr"]}
    return add_connection(org_id, "nylas", "Factures", {"grant_id": grant_id}, criteria=criteria)


def _mail_documents(org_id: str) -> list[Document]:
    with session_scope() as session:
        return list(
            session.exec(
                select(Document).where(
                    Document.org_id == org_id, Document.source == DocumentSource.MAIL
                )
            )
        )


def _stock_mailbox(fake: FakeNylas, grant: str) -> dict[str, bytes]:
    """Invoices worth capturing, and everything around them that must be left alone."""
    wanted = {
        "edf": _pdf("EDF 2026-11"),
        "octet": _pdf("Orange octet-stream"),
        "forwarded": _pdf("transférée"),
    }
    pdf = FakeAttachment
    fake.add_message(
        grant,
        FakeMessage(
            "Votre facture EDF",
            "EDF <factures@edf.fr>",
            attachments=[pdf("facture-edf.pdf", "application/pdf", wanted["edf"])],
        ),
    )
    fake.add_message(
        grant,
        FakeMessage(
            "Facture Orange",
            "factures@orange.fr",
            attachments=[pdf("orange.pdf", "application/octet-stream", wanted["octet"])],
        ),
    )
    fake.add_message(
        grant,
        FakeMessage(
            "Fwd: facture",
            "associe@edf.fr",
            attachments=[
                pdf("transfert.eml", "message/rfc822", forwarded_message_bytes(wanted["forwarded"]))
            ],
        ),
    )
    never = {
        "sent": _pdf("envoyée"),
        "drafts": _pdf("brouillon"),
        "own": _pdf("envoyée par moi"),
        "other": _pdf("autre expéditeur"),
    }
    fake.add_message(
        grant,
        FakeMessage(
            "Facture", OWN, "sent", attachments=[pdf("s.pdf", "application/pdf", never["sent"])]
        ),
    )
    fake.add_message(
        grant,
        FakeMessage(
            "Facture",
            "factures@edf.fr",
            "drafts",
            attachments=[pdf("d.pdf", "application/pdf", never["drafts"])],
        ),
    )
    fake.add_message(
        grant,
        FakeMessage("Facture", OWN, attachments=[pdf("o.pdf", "application/pdf", never["own"])]),
    )
    fake.add_message(
        grant,
        FakeMessage(
            "Facture",
            "vendeur@ailleurs.fr",
            attachments=[pdf("x.pdf", "application/pdf", never["other"])],
        ),
    )
    fake.add_message(
        grant,
        FakeMessage(
            "Facture EDF (image)",
            "factures@edf.fr",
            attachments=[
                pdf("facture.pdf", "application/pdf", documents.image_bytes("PNG")),
                pdf("logo.png", "image/png", documents.image_bytes("PNG"), is_inline=True),
                pdf("tableau.xlsx", "application/vnd.ms-excel", b"PK\x03\x04 tableur"),
            ],
        ),
    )
    return wanted


def test_fetch_captures_the_matching_invoices_and_touches_nothing_else(
    organization: Any, nylas: FakeNylas
) -> None:
    from coffre.flows.mail import fetch_mail

    grant = nylas.add_grant(OWN)
    wanted = _stock_mailbox(nylas, grant)
    for index in range(120):  # enough to need three pages
        nylas.add_message(grant, FakeMessage(f"Newsletter {index}", "news@edf.fr"))
    connection = _connect(organization.id, grant)

    result = fetch_mail(organization.id, connection.id)

    captured = _mail_documents(organization.id)
    assert {d.original_sha256 for d in captured} == {_sha(data) for data in wanted.values()}
    assert {d.status for d in captured} == {"SEALED"}
    assert {d.source_ref for d in captured} == {connection.id}
    assert result["pdfs_found"] == 3 and len(result["documents"]) == 3
    assert nylas.violations == []  # no message was modified, moved or marked
    listed = [path for method, path in nylas.requests if "/messages?" in path]
    assert len(listed) >= 1 and all("in=" in path for path in listed)
    # the non-PDF attachments were never downloaded, and Sent/Drafts never touched
    assert len(nylas.downloads) == 4  # 3 PDFs + the fake "facture.pdf"
    with session_scope() as session:
        processed = session.exec(select(ProcessedMessage)).all()
        assert {p.connection_id for p in processed} == {connection.id}
        columns = session.execute(text("SELECT * FROM processed_message LIMIT 1")).keys()
        assert set(columns) == {"id", "connection_id", "uidvalidity", "message_id", "processed_at"}


def test_subject_words_match_whatever_their_case(organization: Any, nylas: FakeNylas) -> None:
    """Nylas' subject filter is case-sensitive; Coffre's criteria are not."""
    from coffre.flows.mail import fetch_mail

    grant = nylas.add_grant(OWN)
    wanted = {"loud": _pdf("EDF MAJUSCULES"), "quiet": _pdf("edf minuscules")}
    for subject, data in (
        ("VOTRE FACTURE EDF", wanted["loud"]),
        ("votre facture", wanted["quiet"]),
    ):
        nylas.add_message(
            grant,
            FakeMessage(
                subject,
                "factures@edf.fr",
                attachments=[FakeAttachment("f.pdf", "application/pdf", data)],
            ),
        )
    reading = FakeAttachment("releve.pdf", "application/pdf", _pdf("relevé de compteur"))
    nylas.add_message(
        grant, FakeMessage("Relevé de compteur", "factures@edf.fr", attachments=[reading])
    )
    connection = _connect(organization.id, grant, subject_contains=["Facture"])

    fetch_mail(organization.id, connection.id)

    captured = {d.original_sha256 for d in _mail_documents(organization.id)}
    assert captured == {_sha(data) for data in wanted.values()}


def test_second_run_downloads_no_attachment_bytes(organization: Any, nylas: FakeNylas) -> None:
    from coffre.flows.mail import fetch_mail

    grant = nylas.add_grant(OWN)
    _stock_mailbox(nylas, grant)
    connection = _connect(organization.id, grant)
    fetch_mail(organization.id, connection.id)
    downloaded, count = nylas.downloaded_bytes, len(_mail_documents(organization.id))

    again = fetch_mail(organization.id, connection.id)

    assert nylas.downloaded_bytes == downloaded
    assert again["messages_new"] == 0 and again["bytes_downloaded"] == 0
    assert len(_mail_documents(organization.id)) == count


def test_two_fetches_at_once_capture_each_attachment_once(
    organization: Any, nylas: FakeNylas
) -> None:
    from coffre.tasks.mail_fetch import fetch_connection_fn

    grant = nylas.add_grant(OWN)
    wanted = _stock_mailbox(nylas, grant)
    connection = _connect(organization.id, grant)
    reports: list[Any] = []
    threads = [
        threading.Thread(
            target=lambda: reports.append(fetch_connection_fn(organization.id, connection.id))
        )
        for _ in range(2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # a concurrent run finds the connection busy; a late one finds nothing new
    assert sorted(r.status for r in reports) in (["busy", "done"], ["done", "done"])
    assert sum(r.pdfs_found for r in reports) == len(wanted)
    shas = [d.original_sha256 for d in _mail_documents(organization.id)]
    assert sorted(shas) == sorted(_sha(data) for data in wanted.values())


def test_rate_limits_and_server_errors_are_retried_honouring_retry_after(
    organization: Any, nylas: FakeNylas
) -> None:
    from coffre.tasks.mail_fetch import nylas_settings
    from coffre.tasks.mail_nylas import NylasMailbox

    grant = nylas.add_grant(OWN)
    _stock_mailbox(nylas, grant)
    nylas.fail_next(429, times=2, retry_after=7, path_contains="/messages")
    nylas.fail_next(500, times=1, path_contains="/download")
    waits: list[float] = []
    settings = nylas_settings()
    with NylasMailbox(settings, grant, sleep=waits.append) as mailbox:
        from coffre.tasks.mail_criteria import MailCriteria

        candidates = mailbox.candidates(MailCriteria(), None)
        pdfs = [pdf for c in candidates if c.download for pdf in mailbox.pdfs(c)]
    assert waits == [0.05, 0.05, 0.05]  # two 429s and a 500, capped by the test setting
    assert len(pdfs) == 4  # no criteria: the other sender's invoice too


def test_retry_after_is_honoured_as_given(nylas: FakeNylas, coffre_home: Path) -> None:
    from coffre.tasks.mail_criteria import MailCriteria
    from coffre.tasks.mail_nylas import NylasMailbox, NylasSettings

    grant = nylas.add_grant(OWN)
    nylas.fail_next(429, times=1, retry_after=7, path_contains="/messages")
    nylas.fail_next(503, times=1, path_contains="/messages")
    waits: list[float] = []
    settings = NylasSettings(api_key=nylas.api_key, api_uri=nylas.url, retries=3)
    with NylasMailbox(settings, grant, sleep=waits.append) as mailbox:
        assert mailbox.candidates(MailCriteria(), None) == []
    assert waits == [7.0, 2.0]  # Retry-After as given, then exponential backoff


def test_revoked_grant_needs_reauthorisation_and_the_sweep_goes_on(
    organization: Any, nylas: FakeNylas
) -> None:
    from coffre.flows.mail import fetch_mail_sweep

    lost, kept = nylas.add_grant("ancienne@boulangerie-martin.fr"), nylas.add_grant(OWN)
    _stock_mailbox(nylas, kept)
    broken = _connect(organization.id, lost)
    working = _connect(organization.id, kept)
    nylas.revoke(lost)

    state = fetch_mail_sweep(return_state=True)

    assert state.is_failed() and broken.id in str(state.message or state.data)
    with session_scope() as session:
        row = session.get(MailConnection, broken.id)
        assert row is not None and row.status == MailConnectionStatus.NEEDS_REAUTH
        assert "reconnect" in (row.last_error or "")
        ok = session.get(MailConnection, working.id)
        assert ok is not None and ok.status == MailConnectionStatus.ACTIVE
    assert len(_mail_documents(organization.id)) == 3
    # the next sweep leaves the connection needing re-authorisation alone
    assert fetch_mail_sweep() == {working.id: "Completed"}


def test_deleting_revokes_the_grant_and_forgets_but_keeps_documents(
    organization: Any, nylas: FakeNylas
) -> None:
    from coffre.flows.mail import fetch_mail
    from coffre.tasks.mail_connections import delete_connection

    grant = nylas.add_grant(OWN)
    _stock_mailbox(nylas, grant)
    connection = _connect(organization.id, grant)
    fetch_mail(organization.id, connection.id)

    deleted = delete_connection(organization.id, connection.id)

    assert nylas.deleted_grants == [grant]
    assert deleted.status == MailConnectionStatus.DELETED and deleted.credentials is None
    with session_scope() as session:
        assert session.exec(select(ProcessedMessage)).all() == []
    assert len(_mail_documents(organization.id)) == 3


def test_grant_id_is_encrypted_at_rest(organization: Any, nylas: FakeNylas) -> None:
    grant = nylas.add_grant(OWN)
    connection = _connect(organization.id, grant)
    with session_scope() as session:
        row = session.execute(
            text("SELECT * FROM mail_connection WHERE id = :id"), {"id": connection.id}
        ).one()
    assert grant.encode() not in b"".join(
        value if isinstance(value, bytes) else str(value).encode() for value in row
    )
