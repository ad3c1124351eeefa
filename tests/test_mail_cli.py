"""`coffre mail add/list/fetch/delete` as an operator runs them, against Dovecot."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import tests.dovecot
from tests import mailbox as mails
from tests.dovecot import Dovecot
from tests.test_cli import json_lines, run

pytestmark = pytest.mark.usefixtures("prefect_harness")


@pytest.fixture
def home(tmp_path: Path, seal_env: dict[str, str]) -> Path:
    return tmp_path / "var"


@pytest.fixture
def imap(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Dovecot]:
    for server in tests.dovecot.dovecot(tmp_path):
        monkeypatch.setenv("COFFRE_MAIL_CA_FILE", str(server.ca_path))
        yield server


def test_add_list_fetch_delete(home: Path, imap: Dovecot, monkeypatch: pytest.MonkeyPatch) -> None:
    run(home, "org", "create", "Papeterie", "--siren", "732829320")
    pdf = mails.make_pdf("Facture CLI")
    imap.deliver(imap.user, "INBOX", mails.invoice_message(pdf_bytes=pdf))
    monkeypatch.setenv("COFFRE_MAIL_PASSWORD", imap.password)  # never on the command line
    base = ["--org", "732829320"]
    added = json_lines(
        run(
            home, "mail", "add", *base, "--provider", "imap", "--name", "Factures",
            "--host", imap.strict_host, "--port", str(imap.imaps_port), "--tls", "ssl",
            "--username", imap.user, "--sender", "papeterie-centre.example",
        ).stdout
    )[0]  # fmt: skip
    assert added["status"] == "active" and added["criteria"] == {
        "senders": ["papeterie-centre.example"]
    }
    assert imap.password not in str(added)

    listed = json_lines(run(home, "mail", "list", *base).stdout)
    assert [c["id"] for c in listed] == [added["id"]]

    fetched = json_lines(run(home, "mail", "fetch", added["id"], *base).stdout)[0]
    assert fetched["pdfs_found"] == 1 and fetched["documents"][0]["status"] == "SEALED"

    deleted = json_lines(run(home, "mail", "delete", added["id"], *base).stdout)[0]
    assert deleted["status"] == "deleted"
    assert json_lines(run(home, "mail", "list", *base).stdout) == []
    documents = json_lines(run(home, "doc", "list", "--org", "732829320").stdout)
    assert [d["source"] for d in documents] == ["mail"]  # captured documents stay


def test_add_reports_a_refused_login_in_words(
    home: Path, imap: Dovecot, monkeypatch: pytest.MonkeyPatch
) -> None:
    run(home, "org", "create", "Papeterie", "--siren", "732829320")
    monkeypatch.setenv("COFFRE_MAIL_PASSWORD", "pas-le-bon")
    refused = run(
        home, "mail", "add", "--org", "732829320", "--provider", "imap",
        "--host", imap.strict_host, "--port", str(imap.imaps_port),
        "--username", imap.user, check=False,
    )  # fmt: skip
    assert refused.returncode == 2 and "refused the user name or password" in refused.stderr
    assert "pas-le-bon" not in refused.stderr + refused.stdout
