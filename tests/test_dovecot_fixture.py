"""The Dovecot test server and the message builders do what the mail tests rely on."""

from __future__ import annotations

import base64
import datetime as dt
import email
import itertools
import socket
import ssl
import time
from collections.abc import Iterator
from email import policy
from pathlib import Path

import imapclient
import pytest
from imapclient.exceptions import LoginError

import tests.dovecot
from tests import mailbox
from tests.dovecot import Dovecot, group_processes

dovecot_server = pytest.fixture(scope="module")(tests.dovecot.dovecot_server)
dovecot = pytest.fixture(tests.dovecot.dovecot)


@pytest.fixture
def account(dovecot_server: Dovecot) -> str:
    """A login of its own on the shared server, so tests see only their messages."""
    return dovecot_server.add_user().user


def parts(structure: tuple) -> Iterator[tuple[str, str | None]]:
    """("type/subtype", filename) of every part of an IMAP BODYSTRUCTURE, depth first.

    imapclient gives the top multipart's children as a list, but leaves those of a
    multipart inside a message/rfc822 inline: (child, child, b"mixed", ...)."""
    if isinstance(structure[0], list | tuple):
        children = (
            structure[0]
            if isinstance(structure[0], list)
            else list(itertools.takewhile(lambda item: isinstance(item, tuple), structure))
        )
        subtype = structure[1] if isinstance(structure[0], list) else structure[len(children)]
        yield f"multipart/{subtype.decode().lower()}", None
        for child in children:
            yield from parts(child)
        return
    kind = f"{structure[0].decode()}/{structure[1].decode()}".lower()
    # Disposition sits after the type-specific fields and the MD5 (RFC 3501, 7.4.2).
    disposition_at = {"message/rfc822": 11}.get(kind, 9 if kind.startswith("text/") else 8)
    filename = None
    if len(structure) > disposition_at and structure[disposition_at]:
        params = structure[disposition_at][1] or ()
        for key, value in zip(params[::2], params[1::2], strict=True):
            if key.lower() == b"filename":
                filename = value.decode()
    yield kind, filename
    if kind == "message/rfc822":
        yield from parts(structure[8])


def pdfs_in(raw: bytes) -> list[bytes]:
    """The real PDFs (by content, not by label) among a message's parts."""
    found = []
    for part in email.message_from_bytes(raw, policy=policy.default).walk():
        if part.is_multipart() or part.get_content_type() == "message/rfc822":
            continue
        data = part.get_payload(decode=True)
        if isinstance(data, bytes) and data.startswith(b"%PDF-"):
            found.append(data)
    return found


def test_folders_have_special_use_and_new_ones_show_up(dovecot_server: Dovecot, account: str):
    folders = dovecot_server.list_folders(account)
    assert set(folders) == {"INBOX", "Sent", "Drafts"}
    assert "\\Sent" in folders["Sent"]
    assert "\\Drafts" in folders["Drafts"]

    dovecot_server.create_folder(account, "Factures")
    dovecot_server.deliver(account, "Reçus/2026", mailbox.invoice_message())
    folders = dovecot_server.list_folders(account)
    assert {"Factures", "Reçus/2026"} <= set(folders)
    assert dovecot_server.status(account, "Reçus/2026")["messages"] == 1


def test_login_over_starttls_and_implicit_tls(dovecot_server: Dovecot):
    server = dovecot_server
    for tls in ("starttls", "implicit"):
        with server.connect(tls=tls) as client:
            assert isinstance(client.socket(), ssl.SSLSocket)
            assert client.socket().getpeercert()["subject"] == ((("commonName", "127.0.0.1"),),)
            assert client.select_folder("INBOX")[b"UIDVALIDITY"]
    with server.connect(host="localhost", login=False) as client:
        client.login(server.user, server.password)

    # Without the test CA the certificate is refused.
    with pytest.raises(ssl.SSLCertVerificationError):
        imapclient.IMAPClient(
            server.host, server.imaps_port, ssl_context=ssl.create_default_context()
        )

    # On 127.0.0.2 Dovecot sees a remote peer: no plaintext LOGIN before STARTTLS.
    client = imapclient.IMAPClient(server.strict_host, server.imap_port, ssl=False)
    assert b"LOGINDISABLED" in client.capabilities()
    with pytest.raises(LoginError, match="PRIVACYREQUIRED"):
        client.login(server.user, server.password)
    client.starttls(server.ssl_context())
    client.login(server.user, server.password)
    client.logout()

    with pytest.raises(LoginError), server.connect(login=False) as client:
        client.login(server.user, "wrong-password")


def test_every_kind_of_message_is_served_and_peeking_keeps_flags(
    dovecot_server: Dovecot, account: str
):
    server = dovecot_server
    invoice_pdf = mailbox.make_pdf("Facture F-2026-0042\nTotal TTC 120,00 EUR")
    kinds = {
        "invoice": mailbox.invoice_message(pdf_bytes=invoice_pdf, filename="F-2026-0042.pdf"),
        "octet-stream": mailbox.octet_stream_pdf_message(),
        "forwarded": mailbox.forwarded_message(),
        "inline-image": mailbox.inline_image_message(),
        "non-pdf": mailbox.non_pdf_attachments_message(),
        "malformed": mailbox.malformed_message(),
    }
    for raw in kinds.values():
        server.deliver(account, "INBOX", raw)
    server.deliver(account, "Sent", mailbox.invoice_message(), flags=["\\Seen"])
    sent_uid = server.append(account, "Sent", mailbox.invoice_message(), flags=["\\Seen"])
    server.deliver(account, "Drafts", mailbox.invoice_message(), flags=["\\Draft"])

    assert server.status(account)["messages"] == len(kinds)
    assert server.status(account, "Sent")["messages"] == 2
    assert sent_uid == 2
    assert server.flags_snapshot(account, "Drafts") == {1: frozenset({"\\Draft"})}

    before = server.flags_snapshot(account)
    assert set(before.values()) == {frozenset()}
    with server.connect(account) as client:
        client.select_folder("INBOX")
        uids = client.search("ALL")
        fetched = client.fetch(uids, ["BODYSTRUCTURE", "BODY.PEEK[]", "FLAGS"])
    by_kind = dict(zip(kinds, uids, strict=True))
    assert server.flags_snapshot(account) == before

    structure = {name: list(parts(fetched[uid][b"BODYSTRUCTURE"])) for name, uid in by_kind.items()}
    assert ("application/pdf", "F-2026-0042.pdf") in structure["invoice"]
    assert ("application/octet-stream", "facture.pdf") in structure["octet-stream"]
    assert [kind for kind, _ in structure["forwarded"]] == [
        "multipart/mixed",
        "text/plain",
        "message/rfc822",
        "multipart/mixed",
        "text/plain",
        "application/pdf",
    ]
    assert ("image/png", "logo.png") in structure["inline-image"]
    assert ("application/pdf", "facture.pdf") in structure["non-pdf"]  # a PNG in disguise

    bodies = {name: fetched[uid][b"BODY[]"] for name, uid in by_kind.items()}
    assert bodies["invoice"] == kinds["invoice"]
    assert pdfs_in(bodies["invoice"]) == [invoice_pdf]
    assert len(pdfs_in(bodies["octet-stream"])) == 1
    assert len(pdfs_in(bodies["forwarded"])) == 1
    assert pdfs_in(bodies["inline-image"]) == []
    assert pdfs_in(bodies["non-pdf"]) == []
    assert len(pdfs_in(bodies["malformed"])) == 1
    assert all(b"\\Seen" not in fetched[uid][b"FLAGS"] for uid in uids)


def test_large_pdf_message(dovecot_server: Dovecot, account: str):
    pdf = mailbox.large_pdf(30 * 1024 * 1024)
    assert 29 * 1024 * 1024 < len(pdf) <= 30 * 1024 * 1024
    dovecot_server.deliver(account, "INBOX", mailbox.large_pdf_message(pdf_bytes=pdf))
    with dovecot_server.connect(account) as client:
        client.select_folder("INBOX", readonly=True)
        (uid,) = client.search("ALL")
        data = client.fetch([uid], ["RFC822.SIZE", "BODYSTRUCTURE", "BODY.PEEK[2]"])[uid]
    assert data[b"RFC822.SIZE"] > 40 * 1024 * 1024
    assert list(parts(data[b"BODYSTRUCTURE"]))[-1] == ("application/pdf", "numerisation.pdf")
    assert base64.b64decode(data[b"BODY[2]"]) == pdf


def test_flags_keywords_and_internal_date_of_delivered_messages(
    dovecot_server: Dovecot, account: str
):
    when = dt.datetime(2025, 3, 14, 9, 26, 53, tzinfo=dt.UTC)
    flag_sets = [
        (),
        ("\\Seen",),
        ("\\Seen", "\\Flagged", "\\Answered"),
        ("\\Deleted", "$Coffre-Archive"),
        (b"\\Draft", "$Label1", "$Coffre-Archive"),
    ]
    for flags in flag_sets:
        dovecot_server.deliver(
            account, "INBOX", mailbox.invoice_message(), flags=flags, internal_date=when
        )
    snapshot = dovecot_server.flags_snapshot(account)
    assert snapshot == {
        uid: frozenset(f.decode() if isinstance(f, bytes) else f for f in flags)
        for uid, flags in enumerate(flag_sets, start=1)
    }
    with dovecot_server.connect(account) as client:
        client.normalise_times = False
        client.select_folder("INBOX", readonly=True)
        dates = client.fetch(client.search("ALL"), ["INTERNALDATE"])
    assert {d[b"INTERNALDATE"].astimezone(dt.UTC) for d in dates.values()} == {when}
    assert dovecot_server.status(account)["unseen"] == 3


def test_bulk_mailbox_is_fast_and_its_pdfs_are_the_expected_ones(
    dovecot_server: Dovecot, account: str
):
    started = time.perf_counter()
    expected = mailbox.bulk_mailbox(dovecot_server, account, total=1000, with_pdf=200, seed=7)
    elapsed = time.perf_counter() - started
    assert elapsed < 3, f"bulk delivery took {elapsed:.2f} s"
    assert len(expected) == len(set(expected)) == 200
    assert dovecot_server.status(account)["messages"] == 1000

    with dovecot_server.connect(account) as client:
        client.select_folder("INBOX", readonly=True)
        fetched = client.fetch(client.search("ALL"), ["BODY.PEEK[]"])
    found = [
        mailbox.sha256(pdf) for uid in sorted(fetched) for pdf in pdfs_in(fetched[uid][b"BODY[]"])
    ]
    assert found == expected  # UIDs follow delivery order


def test_uidvalidity_can_change(dovecot_server: Dovecot, account: str):
    for _ in range(3):
        dovecot_server.deliver(account, "INBOX", mailbox.invoice_message(), flags=["\\Seen"])
        dovecot_server.deliver(account, "Factures", mailbox.invoice_message(), flags=["\\Flagged"])
    inbox = dovecot_server.status(account)
    new_value = dovecot_server.set_uidvalidity(account, "INBOX")
    assert new_value == inbox["uidvalidity"] + 1
    assert dovecot_server.status(account) == {**inbox, "uidvalidity": new_value, "recent": 0}

    factures = dovecot_server.status(account, "Factures")
    flags = dovecot_server.flags_snapshot(account, "Factures")
    recreated = dovecot_server.recreate_folder(account, "Factures")
    assert recreated != factures["uidvalidity"]
    assert dovecot_server.status(account, "Factures")["uidvalidity"] == recreated
    assert dovecot_server.flags_snapshot(account, "Factures") == flags
    assert set(dovecot_server.list_folders(account)) == {"INBOX", "Sent", "Drafts", "Factures"}


def _refused(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    except ConnectionRefusedError:
        return True
    return False


def _processes_mentioning(text: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and text.encode() in (entry / "cmdline").read_bytes():
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def test_two_servers_at_once_and_stop_leaves_nothing(dovecot: Dovecot, tmp_path: Path):
    second = Dovecot(tmp_path / "second", users={"autre@example.test": "autre-secret"})
    with second:
        assert {dovecot.imap_port, dovecot.imaps_port}.isdisjoint(
            {second.imap_port, second.imaps_port}
        )
        dovecot.deliver(None, "INBOX", mailbox.invoice_message())
        assert dovecot.status(None)["messages"] == 1
        assert second.status(None)["messages"] == 0
        with pytest.raises(LoginError), second.connect(login=False) as client:
            client.login(dovecot.user, dovecot.password)
        pid = second.pid
        assert pid is not None
        assert len(group_processes(pid)) >= 3  # master, log, config, auth...
        assert _processes_mentioning(second.instance_name)
    assert not second.running
    assert group_processes(pid) == []
    assert _processes_mentioning(second.instance_name) == []
    assert _refused(second.imap_port)
    assert _refused(second.imaps_port)
    for port in (second.imap_port, second.imaps_port):
        with socket.socket() as probe:  # the port can be listened on again
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind(("127.0.0.1", port))
            probe.listen()
    assert "Fatal" not in second.log_text()
    # The first server did not notice.
    assert dovecot.status(None)["messages"] == 1
