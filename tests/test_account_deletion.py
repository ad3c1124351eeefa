"""delete_account: Powens and Nylas access closed at the providers, the data key
destroyed, the data removed, every step journaled, and a rerun finishing the job."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import func, select

from coffre.models import AuditEvent, Document, Organization, session_scope, verify_chain
from coffre.models.bank import BankConnection, BankTransaction
from coffre.models.mail import MailConnection
from coffre.models.queries import NotFound, find_organization
from coffre.runtime import get_vault, reset_runtime
from coffre.tasks.crypto import KeyDestroyed
from tests import documents
from tests.fake_nylas import FakeNylas
from tests.fake_powens import FakePowens

pytestmark = pytest.mark.usefixtures("prefect_harness")


@pytest.fixture
def providers(coffre_home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, Any]]:
    with FakePowens() as powens, FakeNylas() as nylas:
        monkeypatch.setenv("COFFRE_POWENS_BASE_URL", powens.base_url)
        monkeypatch.setenv("COFFRE_POWENS_CLIENT_ID", powens.client_id)
        monkeypatch.setenv("COFFRE_POWENS_CLIENT_SECRET", powens.client_secret)
        monkeypatch.setenv("COFFRE_BANK_RETRY_MAX_SECONDS", "0.01")
        monkeypatch.setenv("COFFRE_NYLAS_API_KEY", nylas.api_key)
        monkeypatch.setenv("COFFRE_NYLAS_API_URI", nylas.url)
        monkeypatch.setenv("COFFRE_MAIL_RETRY_MAX_SECONDS", "0.05")
        reset_runtime()
        yield powens, nylas


def _customer_with_everything(org: Organization, powens: Any, nylas: Any, tmp: Path) -> dict:
    """A document, a synced Powens connection and a Nylas mailbox."""
    from coffre.flows.capture import capture
    from coffre.tasks.bank_sync import connect_bank_fn, open_token, sync_connection_fn
    from coffre.tasks.mail_connections import add_connection

    path = tmp / f"{uuid.uuid4().hex[:6]}.pdf"
    path.write_bytes(documents.text_pdf([f"Facture {org.name}", "Total TTC 42,00 EUR"]))
    [outcome] = capture(org=org.id, paths=[str(path)])
    bank, _ = connect_bank_fn(org.id, "https://coffre.example/banque/retour")
    with session_scope() as session:
        row = session.get(BankConnection, bank.id)
        assert row is not None and row.user_token is not None
        token = open_token(org.id, row.user_token)
    remote = powens.add_connection(token, "Banque Populaire")
    account = powens.add_account(remote, "FR7630006000011234567890189", "Compte", "100.00")
    powens.add_transaction(account, date(2026, 11, 3), "-42.00", "CB PAPETERIE")
    sync_connection_fn(org.id, bank.id)
    grant = nylas.add_grant(f"compta@{org.siren}.example")
    mailbox = add_connection(
        org.id, "nylas", "Factures", {"grant_id": grant}, criteria={"senders": ["edf.fr"]}
    )
    return {
        "document_id": outcome["document_id"],
        "token": token,
        "remote": remote,
        "grant": grant,
        "mailbox": mailbox.id,
    }


def _count(model: Any, org_id: str) -> int:
    with session_scope() as session:
        return int(session.exec(select(func.count()).where(model.org_id == org_id)).one())


def test_deleting_an_account_closes_access_destroys_the_key_and_keeps_the_other(
    organization: Organization, providers: tuple[Any, Any], tmp_path: Path
) -> None:
    from coffre.flows.account import delete_account

    powens, nylas = providers
    other = Organization(name="Fleuriste Lenoir", siren="552100554")
    with session_scope() as session:
        session.add(other)
    mine = _customer_with_everything(organization, powens, nylas, tmp_path)
    theirs = _customer_with_everything(other, powens, nylas, tmp_path)
    with session_scope() as session:
        document = session.get(Document, mine["document_id"])
        assert document is not None
        archive_key = document.archive_key or ""
    assert get_vault().get(organization.id, archive_key)  # readable before

    report = delete_account(organization.siren, requested_by="owner@boulangerie.example")

    assert report["status"] == "deleted"
    assert report["bank"]["powens_user_deleted"] and report["bank"]["deleted_at_powens"] == 1
    assert mine["grant"] in nylas.deleted_grants and theirs["grant"] not in nylas.deleted_grants
    assert not powens.user_exists(mine["token"])  # the Powens user is gone, connections too
    assert powens.user_exists(theirs["token"])

    for model in (Document, BankTransaction, BankConnection, MailConnection):
        assert _count(model, organization.id) == 0, model
        assert _count(model, other.id) > 0, model
    get_vault().keyring.forget(organization.id)
    with pytest.raises(KeyDestroyed):
        get_vault().get(organization.id, archive_key)  # crypto-shredded, object still stored
    assert get_vault().store.exists(archive_key)

    with session_scope() as session:
        actions = list(
            session.exec(
                select(AuditEvent.action)
                .where(AuditEvent.org_id == organization.id)
                .order_by(AuditEvent.seq)  # type: ignore[arg-type]
            )
        )
        assert verify_chain(session, organization.id).ok
        with pytest.raises(NotFound, match="deleted"):
            find_organization(session, organization.siren)  # no capture can reach it again
    assert "mail_connection.deleted" in actions
    assert [action for action in actions if action.startswith("account.")] == [
        "account.deletion_requested",
        "account.bank_access_closed",
        "account.mail_access_closed",
        "account.data_key_destroyed",
        "account.data_removed",
        "account.deleted",
    ]
    assert delete_account(organization.id)["already"] is True


def test_a_rerun_after_a_failure_finishes_the_deletion(
    organization: Organization,
    providers: tuple[Any, Any],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import coffre.tasks.account_deletion as steps
    from coffre.flows import account

    powens, nylas = providers
    mine = _customer_with_everything(organization, powens, nylas, tmp_path)

    def crash(org_id: str) -> dict[str, int]:
        raise RuntimeError("the worker died")

    monkeypatch.setattr(account, "data_step", account.task(name="remove-data")(crash))
    state = account.delete_account(organization.id, return_state=True)
    assert state.is_failed()
    # Access is already closed and the key destroyed; the rows are still there.
    assert mine["grant"] in nylas.deleted_grants
    assert _count(Document, organization.id) == 1
    monkeypatch.setattr(account, "data_step", account.task(name="remove-data")(steps.remove_data))

    report = account.delete_account(organization.id)
    assert report["status"] == "deleted" and report["removed"]["document"] == 1
    assert report["bank"]["connections"] == 1 and report["mail"]["mailboxes_closed"] == 0
    assert _count(Document, organization.id) == 0
