"""Powens connections end to end: connect, sync (incremental, deletions), delete, webhook."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from coffre.models import session_scope
from coffre.models.bank import (
    BankAccount,
    BankConnection,
    BankConnectionState,
    BankTransaction,
)
from tests.fake_powens import FakePowens
from tests.prefect_runs import fresh_deployment, runs_of

pytestmark = pytest.mark.usefixtures("prefect_harness")

IBAN = "FR7630006000011234567890189"
SECRET = "powens-webhook-secret"


@pytest.fixture
def powens(coffre_home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakePowens]:
    from coffre.runtime import reset_runtime

    with FakePowens() as fake:
        monkeypatch.setenv("COFFRE_POWENS_BASE_URL", fake.base_url)
        monkeypatch.setenv("COFFRE_POWENS_CLIENT_ID", fake.client_id)
        monkeypatch.setenv("COFFRE_POWENS_CLIENT_SECRET", fake.client_secret)
        monkeypatch.setenv("COFFRE_POWENS_WEBHOOK_SECRET", SECRET)
        monkeypatch.setenv("COFFRE_BANK_RETRY_MAX_SECONDS", "0.01")
        reset_runtime()
        yield fake


def _token(org_id: str, connection_id: str) -> str:
    from coffre.tasks.bank_sync import open_token

    with session_scope() as session:
        row = session.get(BankConnection, connection_id)
        assert row is not None and row.user_token is not None
        return open_token(org_id, row.user_token)


def _connected(organization: Any, powens: FakePowens) -> tuple[str, int, int]:
    """A connection whose customer went through the web view: (id, Powens id, account)."""
    from coffre.tasks.bank_sync import connect_bank_fn

    row, url = connect_bank_fn(organization.id, "https://coffre.example/banque/retour")
    assert url.startswith("https://webview.powens.com/") and "code=" in url
    token = _token(organization.id, row.id)
    remote = powens.add_connection(token, "Banque Populaire")
    account = powens.add_account(remote, IBAN, "Compte courant", "1520.35")
    return row.id, remote, account


def _transactions(org_id: str) -> list[BankTransaction]:
    with session_scope() as session:
        return list(session.exec(select(BankTransaction).where(BankTransaction.org_id == org_id)))


def test_connect_sync_incrementally_with_deletions(organization: Any, powens: FakePowens) -> None:
    from coffre.tasks.bank_sync import sync_connection_fn

    connection_id, _, account = _connected(organization, powens)
    edf = powens.add_transaction(account, date(2026, 11, 3), "-84.20", "PRLV SEPA EDF SA")
    powens.add_transaction(account, date(2026, 11, 4), "1200.00", "VIR SEPA RECU /DE DUPONT")
    coffee = powens.add_transaction(account, date(2026, 11, 5), "-2.40", "CB CAFE 05/11")

    first = sync_connection_fn(organization.id, connection_id)
    assert (first.accounts, first.added, first.updated, first.deleted) == (1, 3, 0, 0)
    with session_scope() as session:
        [stored_account] = session.exec(select(BankAccount)).all()
        assert stored_account.iban == IBAN and stored_account.balance_cents == 152035
    amounts = sorted(t.amount_cents for t in _transactions(organization.id))
    assert amounts == [-8420, -240, 120000]

    powens.advance(60)
    powens.delete_transaction_at_bank(edf)
    powens.modify_transaction(coffee, value="-2.60")
    powens.add_transaction(account, date(2026, 11, 6), "-19.99", "PRLV SEPA FREE MOBILE")
    second = sync_connection_fn(organization.id, connection_id)
    assert (second.added, second.updated, second.deleted) == (1, 1, 1)
    live = {
        t.original_wording: t.amount_cents
        for t in _transactions(organization.id)
        if not t.deleted_at
    }
    assert live == {
        "VIR SEPA RECU /DE DUPONT": 120000,
        "CB CAFE 05/11": -260,
        "PRLV SEPA FREE MOBILE": -1999,
    }
    # only what changed was asked for, with `all` so that deletions arrive
    listed = [r for r in powens.requests if "/transactions" in r.path]
    assert "last_update" in listed[-1].path and "all" in listed[-1].path


def test_a_transaction_the_customer_deleted_never_comes_back(
    organization: Any, powens: FakePowens
) -> None:
    from coffre.tasks.bank_store import hide_transaction
    from coffre.tasks.bank_sync import sync_connection_fn

    connection_id, _, account = _connected(organization, powens)
    private = powens.add_transaction(account, date(2026, 11, 3), "-45.00", "CB PHARMACIE")
    sync_connection_fn(organization.id, connection_id)
    [row] = _transactions(organization.id)
    with session_scope() as session:
        assert hide_transaction(session, organization.id, row.id)
    powens.advance(60)
    powens.modify_transaction(private, wording="CB PHARMACIE DU CENTRE")
    sync_connection_fn(organization.id, connection_id)
    [row] = _transactions(organization.id)
    assert row.hidden_at is not None and row.original_wording == "CB PHARMACIE"


def test_deleting_the_connection_deletes_it_at_powens_and_here(
    organization: Any, powens: FakePowens
) -> None:
    from coffre.tasks.bank_sync import delete_bank_connection_fn, sync_connection_fn

    connection_id, remote, account = _connected(organization, powens)
    powens.add_transaction(account, date(2026, 11, 3), "-84.20", "PRLV SEPA EDF SA")
    sync_connection_fn(organization.id, connection_id)

    assert delete_bank_connection_fn(organization.id, connection_id) == {
        "transactions": 1,
        "accounts": 1,
    }
    assert not powens.has_connection(remote)
    assert _transactions(organization.id) == []
    with session_scope() as session:
        row = session.get(BankConnection, connection_id)
        assert row is not None and row.state == BankConnectionState.DELETED
        assert row.user_token is None and session.exec(select(BankAccount)).all() == []


def test_refused_token_asks_for_reauthorisation(organization: Any, powens: FakePowens) -> None:
    from coffre.tasks.bank_sync import sync_connection_fn
    from coffre.tasks.powens import PowensAuthError

    connection_id, _, _ = _connected(organization, powens)
    powens.fail_next(401, path_contains="/connections")
    with pytest.raises(PowensAuthError):
        sync_connection_fn(organization.id, connection_id)
    with session_scope() as session:
        row = session.get(BankConnection, connection_id)
        assert row is not None and row.state == BankConnectionState.NEEDS_REAUTH
        assert row.state_reason


def test_rate_limits_and_server_errors_are_retried(organization: Any, powens: FakePowens) -> None:
    from coffre.tasks.bank_sync import sync_connection_fn

    connection_id, _, account = _connected(organization, powens)
    powens.add_transaction(account, date(2026, 11, 3), "-84.20", "PRLV SEPA EDF SA")
    powens.fail_next(429, times=2, retry_after=1, path_contains="/transactions")
    powens.fail_next(500, times=1, path_contains="/accounts")
    assert sync_connection_fn(organization.id, connection_id).added == 1


def test_token_is_encrypted_at_rest(organization: Any, powens: FakePowens) -> None:
    from sqlalchemy import text

    connection_id, _, _ = _connected(organization, powens)
    token = _token(organization.id, connection_id)
    with session_scope() as session:
        blob = session.execute(
            text("SELECT user_token FROM bank_connection WHERE id = :id"), {"id": connection_id}
        ).scalar_one()
    assert token.encode() not in bytes(blob)


@pytest.fixture
def deployment_id(powens: FakePowens) -> UUID:
    from coffre.flows.bank import sync_bank

    return fresh_deployment(sync_bank, "sync-bank")


def test_webhook_only_triggers_a_sync_of_that_connection(
    organization: Any, powens: FakePowens, deployment_id: UUID
) -> None:
    from coffre.tasks.bank_sync import sync_connection_fn
    from coffre.webui.webhook_app import create_app

    connection_id, remote, _ = _connected(organization, powens)
    sync_connection_fn(organization.id, connection_id)  # learns its Powens id
    body = json.dumps({"connection": {"id": remote, "accounts": [{"transactions": []}]}}).encode()
    now = datetime.now(UTC)
    with TestClient(create_app()) as client:
        signed = powens.webhook_headers(SECRET, "/webhooks/powens", body, when=now)
        for _ in range(2):  # delivered twice: one run
            answer = client.post("/webhooks/powens", content=body, headers=signed)
            assert answer.status_code == 200 and answer.json() == {"triggered": 1}
        forged = powens.webhook_headers("wrong-secret", "/webhooks/powens", body, when=now)
        assert client.post("/webhooks/powens", content=body, headers=forged).status_code == 401
        stale = powens.webhook_headers(
            SECRET, "/webhooks/powens", body, when=datetime(2020, 1, 1, tzinfo=UTC)
        )
        assert client.post("/webhooks/powens", content=body, headers=stale).status_code == 401
        unsigned = client.post("/webhooks/powens", content=body)
        assert unsigned.status_code == 401
    runs = runs_of(deployment_id)
    assert len(runs) == 1
    assert runs[0].parameters == {"org": organization.id, "connection_id": connection_id}
