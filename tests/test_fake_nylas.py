"""The fake Nylas API, driven only through the real ``nylas`` SDK.

Why: tests of the mail import trust this fake; these tests pin that the SDK's own requests
(paths, query parameters, auth header) get reference-shaped answers, and that the SDK
parses them (pages, errors with status and headers, attachment bytes).
"""

from __future__ import annotations

import base64

import nylas
import pytest
from nylas.models.errors import NylasApiError
from nylas.models.messages import Message
from nylas.models.response import ListResponse

from tests.fake_nylas import (
    GRANT_EXPIRED_ERROR_TYPE,
    FakeAttachment,
    FakeMessage,
    FakeNylas,
    fake_nylas_fixture,  # noqa: F401 (registers the fake_nylas fixture)
)

EMAIL = "compta@example.fr"
T0 = 1_700_000_000
PDF = b"%PDF-1.7\n" + b"x" * 1000
PNG = b"\x89PNG\r\n\x1a\n" + b"y" * 200

Mailbox = tuple[FakeNylas, str, dict[str, FakeMessage]]  # the fake, a grant ID, its messages


def client_for(fake: FakeNylas, api_key: str | None = None) -> nylas.Client:
    """A real SDK client pointed at the fake (short timeout: a hang is a failure)."""
    return nylas.Client(api_key=api_key or fake.api_key, api_uri=fake.url, timeout=5)


@pytest.fixture
def mailbox(fake_nylas: FakeNylas) -> Mailbox:
    """A grant with a few varied messages, by short name."""
    gid = fake_nylas.add_grant(EMAIL)
    messages = {
        "invoice": FakeMessage(
            subject="Facture F-2024-001",
            sender="Fournisseur SARL <factures@fournisseur.fr>",
            received_at=T0 + 100,
            attachments=[
                FakeAttachment("facture.pdf", "application/pdf", PDF),
                FakeAttachment("logo.png", "image/png", PNG, is_inline=True),
            ],
            body="Veuillez trouver ci-joint la facture.",
        ),
        "newsletter": FakeMessage(
            subject="Newsletter",
            sender="news@media.fr",
            received_at=T0 + 200,
            attachments=[FakeAttachment("banner.png", "image/png", PNG, is_inline=True)],
        ),
        "receipt": FakeMessage(
            subject="Reçu de paiement",
            sender="factures@fournisseur.fr",
            received_at=T0 + 300,
            attachments=[FakeAttachment("recu.pdf", "application/pdf", PDF[:500])],
        ),
        "sent": FakeMessage(
            subject="Re: Facture F-2024-001",
            sender=f"Compta <{EMAIL}>",
            to="factures@fournisseur.fr",
            folder="sent",
            received_at=T0 + 400,
        ),
        "filed": FakeMessage(
            subject="Facture archivée",
            sender="factures@fournisseur.fr",
            folder="Archives 2023",
            received_at=T0 - 1000,
            attachments=[FakeAttachment("old.pdf", "application/pdf", b"%PDF-old")],
        ),
    }
    for message in messages.values():
        fake_nylas.add_message(gid, message)
    return fake_nylas, gid, messages


def ids(response: ListResponse[Message]) -> list[str]:
    return [m.id for m in response.data]


def test_grant_find_then_destroy(fake_nylas: FakeNylas) -> None:
    gid = fake_nylas.add_grant(EMAIL, grant_id="grant-1")
    client = client_for(fake_nylas)

    grant = client.grants.find(gid).data
    assert (grant.id, grant.email, grant.grant_status) == ("grant-1", EMAIL, "valid")
    assert client.grants.find(EMAIL).data.id == gid  # the reference accepts the address too

    client.grants.destroy(gid)
    assert fake_nylas.deleted_grants == [gid]
    assert fake_nylas.violations == []  # deleting a grant is not a mailbox write
    for call in (lambda: client.grants.find(gid), lambda: client.messages.list(gid)):
        with pytest.raises(NylasApiError) as err:
            call()
        assert (err.value.status_code, err.value.type) == (404, "grant.not_found")


def test_folders_have_opaque_ids_and_attributes(mailbox: Mailbox) -> None:
    fake, gid, _ = mailbox
    client = client_for(fake)

    folders = client.folders.list(gid).data
    by_name = {f.name: f for f in folders}
    assert {"Inbox", "Sent", "Drafts", "Archives 2023"} <= set(by_name)
    inbox = by_name["Inbox"]
    assert inbox.id == fake.folder_id(gid, "inbox") and inbox.id.lower() != "inbox"
    assert inbox.system_folder is True and by_name["Archives 2023"].system_folder is False
    # The SDK types ``attributes`` as str: the JSON list arrives as its str() ("['\\Inbox']").
    assert "\\Inbox" in inbox.attributes and "\\Sent" in by_name["Sent"].attributes
    assert inbox.total_count == 3

    first = client.folders.list(gid, query_params={"limit": 2})
    assert len(first.data) == 2 and first.next_cursor
    rest = client.folders.list(gid, query_params={"limit": 200, "page_token": first.next_cursor})
    assert rest.next_cursor is None
    assert [f.id for f in first.data + rest.data] == [f.id for f in folders]


def test_message_objects_have_the_reference_shape(mailbox: Mailbox) -> None:
    fake, gid, messages = mailbox
    client = client_for(fake)
    invoice = messages["invoice"]

    found = client.messages.find(gid, invoice.id).data
    assert found.grant_id == gid and found.subject == "Facture F-2024-001"
    # EmailName is a TypedDict: participants arrive as plain dicts.
    assert found.from_ == [{"name": "Fournisseur SARL", "email": "factures@fournisseur.fr"}]
    assert found.to[0]["email"] == EMAIL and found.date == T0 + 100
    assert found.folders == [fake.folder_id(gid, "inbox")]
    pdf, logo = found.attachments
    assert (pdf.filename, pdf.content_type, pdf.size, pdf.is_inline) == (
        "facture.pdf",
        "application/pdf",
        len(PDF),
        False,
    )
    assert pdf.id == invoice.attachments[0].id and pdf.grant_id == gid
    assert logo.is_inline and logo.content_id

    assert ids(client.messages.list(gid)) == [  # newest first
        messages[k].id for k in ("sent", "receipt", "newsletter", "invoice", "filed")
    ]

    headers = client.messages.find(gid, invoice.id, query_params={"fields": "include_headers"})
    assert {h.name for h in headers.data.headers} >= {"From", "Subject", "Message-ID"}
    raw = client.messages.find(gid, invoice.id, query_params={"fields": "raw_mime"}).data
    assert b"facture.pdf" in base64.urlsafe_b64decode(raw.raw_mime)
    selected = client.messages.list(gid, query_params={"select": "id,subject"}).data[0]
    assert selected.subject and selected.attachments is None

    with pytest.raises(NylasApiError) as err:
        client.messages.find(gid, "no-such-message")
    assert (err.value.status_code, err.value.type) == (404, "api.not_found_error")


def test_list_filters(mailbox: Mailbox) -> None:
    fake, gid, m = mailbox
    client = client_for(fake)

    def listed(**params: object) -> set[str]:
        return set(ids(client.messages.list(gid, query_params=params)))

    inbox = fake.folder_id(gid, "inbox")
    assert listed(**{"in": inbox}) == {m["invoice"].id, m["newsletter"].id, m["receipt"].id}
    assert listed(**{"in": fake.folder_id(gid, "sent")}) == {m["sent"].id}
    assert listed(received_after=T0 + 200) == {m["newsletter"].id, m["receipt"].id, m["sent"].id}
    assert listed(received_before=T0 + 200) == {m["invoice"].id, m["filed"].id}
    assert listed(received_after=T0 + 100, received_before=T0 + 300) == {
        m["invoice"].id,
        m["newsletter"].id,
    }
    # Inline parts do not count: the newsletter's banner is not an attachment.
    assert listed(has_attachment=True) == {m["invoice"].id, m["receipt"].id, m["filed"].id}
    assert listed(has_attachment=False) == {m["newsletter"].id, m["sent"].id}
    fournisseur = {m["invoice"].id, m["receipt"].id, m["filed"].id}
    assert listed(**{"from": "factures@fournisseur.fr"}) == fournisseur  # str, or
    assert listed(**{"from": ["FACTURES@fournisseur.fr", "news@media.fr"]}) == fournisseur | {
        m["newsletter"].id
    }  # the SDK's List[str]: repeated parameters
    assert listed(subject="Facture") == {m["invoice"].id, m["sent"].id, m["filed"].id}
    assert listed(subject="facture") == set()  # case-sensitive, as documented
    assert listed(to="factures@fournisseur.fr") == {m["sent"].id}
    assert listed(**{"in": inbox, "has_attachment": True, "received_after": T0 + 200}) == {
        m["receipt"].id
    }

    sent = [q for method, q in fake.requests if "has_attachment" in q]
    assert any("has_attachment=True" in q for q in sent)  # the SDK sends Python's str(bool)

    for bad in ({"in": "inbox"}, {"received_after": "yesterday"}, {"has_attachment": "yes"}):
        with pytest.raises(NylasApiError) as err:
            client.messages.list(gid, query_params=bad)
        assert (err.value.status_code, err.value.type) == (400, "api.invalid_request_error")


def test_pagination_over_three_pages(fake_nylas: FakeNylas) -> None:
    gid = fake_nylas.add_grant(EMAIL)
    added = [
        fake_nylas.add_message(gid, FakeMessage(f"n°{i}", "a@b.fr", received_at=T0 + i))
        for i in range(7)
    ]
    client = client_for(fake_nylas)

    pages: list[list[str]] = []
    cursor: str | None = None
    while True:
        params: dict[str, object] = {"limit": 3}
        if cursor:
            params["page_token"] = cursor
        response = client.messages.list(gid, query_params=params)
        pages.append(ids(response))
        cursor = response.next_cursor
        if cursor is None:
            break
    assert [len(p) for p in pages] == [3, 3, 1]
    assert [i for p in pages for i in p] == [m.id for m in reversed(added)]
    assert sum("page_token=" in q for _, q in fake_nylas.requests) == 2

    with pytest.raises(NylasApiError) as err:
        client.messages.list(gid, query_params={"page_token": "forged"})
    assert err.value.status_code == 400


def test_default_limit_is_fifty(fake_nylas: FakeNylas) -> None:
    gid = fake_nylas.add_grant(EMAIL)
    for i in range(52):
        fake_nylas.add_message(gid, FakeMessage(f"n°{i}", "a@b.fr", received_at=T0 + i))
    client = client_for(fake_nylas)

    first = client.messages.list(gid)
    assert len(first.data) == 50 and first.next_cursor
    assert len(client.messages.list(gid, query_params={"limit": 500}).data) == 52  # capped at 200


def test_attachment_metadata_and_download(mailbox: Mailbox) -> None:
    fake, gid, m = mailbox
    client = client_for(fake)
    invoice = m["invoice"]
    pdf = invoice.attachments[0]
    query = {"message_id": invoice.id}

    meta = client.attachments.find(gid, pdf.id, query).data
    assert (meta.filename, meta.content_type, meta.size) == (
        "facture.pdf",
        "application/pdf",
        len(PDF),
    )

    assert client.attachments.download_bytes(gid, pdf.id, query) == PDF
    streamed = client.attachments.download(gid, pdf.id, query)
    try:
        assert streamed.headers["Content-Type"] == "application/pdf"
        assert streamed.content == PDF
    finally:
        streamed.close()
    assert fake.downloaded_bytes == 2 * len(PDF)
    assert fake.downloads == [pdf.id, pdf.id]

    with pytest.raises(NylasApiError) as err:  # wrong message: not found
        client.attachments.download_bytes(gid, pdf.id, {"message_id": m["receipt"].id})
    assert err.value.status_code == 404
    with pytest.raises(NylasApiError) as err:  # message_id is required
        client.attachments.find(gid, pdf.id, {})
    assert err.value.status_code == 400
    assert fake.downloaded_bytes == 2 * len(PDF)


def test_empty_attachment_downloads_as_none(fake_nylas: FakeNylas) -> None:
    """The SDK returns None, not b"", for an empty body: callers must handle it."""
    gid = fake_nylas.add_grant(EMAIL)
    empty = FakeAttachment("vide.txt", "text/plain", b"")
    message = fake_nylas.add_message(gid, FakeMessage("vide", "a@b.fr", attachments=[empty]))
    client = client_for(fake_nylas)
    assert client.attachments.download_bytes(gid, empty.id, {"message_id": message.id}) is None


def test_wrong_api_key_is_401(mailbox: Mailbox) -> None:
    fake, gid, _ = mailbox
    with pytest.raises(NylasApiError) as err:
        client_for(fake, api_key="not-the-key").messages.list(gid)
    assert (err.value.status_code, err.value.type) == (401, "api.authentication_error")
    assert err.value.request_id


def test_revoked_grant_is_401_but_its_status_readable(mailbox: Mailbox) -> None:
    fake, gid, m = mailbox
    client = client_for(fake)
    fake.revoke(gid)

    calls = (
        lambda: client.messages.list(gid),
        lambda: client.messages.find(gid, m["invoice"].id),
        lambda: client.folders.list(gid),
        lambda: client.attachments.download_bytes(
            gid, m["invoice"].attachments[0].id, {"message_id": m["invoice"].id}
        ),
    )
    for call in calls:
        with pytest.raises(NylasApiError) as err:
            call()
        assert (err.value.status_code, err.value.type) == (401, GRANT_EXPIRED_ERROR_TYPE)
    assert client.grants.find(gid).data.grant_status == "invalid"
    assert fake.downloaded_bytes == 0


def test_rate_limit_exposes_retry_after(mailbox: Mailbox) -> None:
    fake, gid, _ = mailbox
    client = client_for(fake)
    fake.fail_next(429, retry_after=7)

    with pytest.raises(NylasApiError) as err:
        client.messages.list(gid)
    assert (err.value.status_code, err.value.type) == (429, "api.rate_limit_error")
    assert err.value.headers["Retry-After"] == "7"  # a requests CaseInsensitiveDict
    assert err.value.headers["retry-after"] == "7"
    assert len(client.messages.list(gid).data) == 5  # the injection is used up


def test_server_errors_can_target_a_path(mailbox: Mailbox) -> None:
    fake, gid, m = mailbox
    client = client_for(fake)
    pdf = m["invoice"].attachments[0]
    fake.fail_next(500, times=2, path_contains="/download")
    fake.fail_next(503, retry_after=1, path_contains="/download")

    assert client.folders.list(gid).data  # not targeted
    for status in (500, 500, 503):
        with pytest.raises(NylasApiError) as err:
            client.attachments.download_bytes(gid, pdf.id, {"message_id": m["invoice"].id})
        assert err.value.status_code == status
    assert err.value.headers["Retry-After"] == "1"
    assert client.attachments.download_bytes(gid, pdf.id, {"message_id": m["invoice"].id}) == PDF
    assert fake.downloaded_bytes == len(PDF)


def test_writes_are_answered_but_recorded(mailbox: Mailbox) -> None:
    fake, gid, m = mailbox
    client = client_for(fake)
    invoice = m["invoice"]
    inbox = fake.folder_id(gid, "inbox")

    client.messages.update(gid, invoice.id, {"unread": True, "folders": ["x"]})
    client.messages.destroy(gid, invoice.id)
    client.messages.send(gid, {"to": [{"email": "x@y.fr"}], "subject": "s", "body": "b"})
    client.drafts.create(gid, {"to": [{"email": "x@y.fr"}], "subject": "s"})
    client.folders.create(gid, {"name": "Nouveau"})
    client.folders.destroy(gid, inbox)

    assert fake.violations == [
        f"PUT /v3/grants/{gid}/messages/{invoice.id}",
        f"DELETE /v3/grants/{gid}/messages/{invoice.id}",
        f"POST /v3/grants/{gid}/messages/send",
        f"POST /v3/grants/{gid}/drafts",
        f"POST /v3/grants/{gid}/folders",
        f"DELETE /v3/grants/{gid}/folders/{inbox}",
    ]
    assert client.messages.find(gid, invoice.id).data.folders == [inbox]  # nothing changed
    assert "Nouveau" not in {f.name for f in client.folders.list(gid).data}


def test_requests_are_logged_as_sent(mailbox: Mailbox) -> None:
    fake, gid, _ = mailbox
    client_for(fake).messages.list(gid, query_params={"limit": 5, "subject": "Reçu de"})
    assert fake.requests[-1] == (
        "GET",
        f"/v3/grants/{gid}/messages?limit=5&subject=Re%C3%A7u%20de",
    )
