"""The Nylas webhook: challenge, signatures (plain and gzip), and fetch-mail runs created
through the Prefect API, once per notification."""

from __future__ import annotations

import gzip
import hashlib
import hmac
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from fastapi.testclient import TestClient

from coffre.models import session_scope
from coffre.models.mail import MailConnection, MailConnectionStatus
from tests.prefect_runs import fresh_deployment, runs_of

pytestmark = pytest.mark.usefixtures("prefect_harness")

SECRET = "webhook-secret-of-the-destination"
GRANT = "b1f7c3e2-0000-4a2b-9c1d-6f0e5d4c3b2a"


@pytest.fixture
def deployment_id(coffre_home: Path, monkeypatch: pytest.MonkeyPatch) -> UUID:
    from coffre.flows.mail import fetch_mail
    from coffre.runtime import reset_runtime

    monkeypatch.setenv("COFFRE_NYLAS_WEBHOOK_SECRET", SECRET)
    reset_runtime()
    return fresh_deployment(fetch_mail, "fetch-mail")


@pytest.fixture
def client(deployment_id: UUID) -> Iterator[TestClient]:
    from coffre.webui.webhook_app import create_app

    with TestClient(create_app()) as test_client:
        yield test_client


@pytest.fixture
def connection(organization: Any) -> MailConnection:
    from coffre.tasks.org_secrets import grant_lookup, seal_credentials

    row = MailConnection(
        org_id=organization.id, provider="nylas", display_name="Factures", criteria={}
    )
    row.credentials = seal_credentials(organization.id, row.id, {"grant_id": GRANT})
    row.grant_lookup = grant_lookup(GRANT)
    with session_scope() as session:
        session.add(row)
    return row


def _notification(kind: str = "message.created", grant: str = GRANT, id: str = "n-1") -> bytes:
    return json.dumps(
        {
            "specversion": "1.0",
            "type": kind,
            "source": "/microsoft/emails/realtime",
            "id": id,
            "time": 1764370000,
            "webhook_delivery_attempt": 1,
            "data": {
                "application_id": "app",
                "object": {"grant_id": grant, "id": "msg-1", "object": "message"},
            },
        }
    ).encode()


def _sign(body: bytes, secret: str = SECRET) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def test_challenge_is_echoed(client: TestClient) -> None:
    answer = client.get("/webhooks/nylas", params={"challenge": "abc123"})
    assert answer.status_code == 200 and answer.text == "abc123"


def test_signed_notification_triggers_one_fetch_per_notification(
    client: TestClient, connection: MailConnection, deployment_id: UUID
) -> None:
    body = _notification()
    for _ in range(2):  # Nylas delivers again when unsure: still one run
        answer = client.post(
            "/webhooks/nylas", content=body, headers={"X-Nylas-Signature": _sign(body)}
        )
        assert answer.status_code == 200 and answer.json() == {"triggered": 1}
    runs = runs_of(deployment_id)
    assert len(runs) == 1
    assert runs[0].parameters == {"org": connection.org_id, "connection_id": connection.id}
    assert runs[0].idempotency_key == f"nylas:n-1:{connection.id}"

    truncated = _notification("message.created.truncated", id="n-2")
    answer = client.post(
        "/webhooks/nylas", content=truncated, headers={"x-nylas-signature": _sign(truncated)}
    )
    assert answer.json() == {"triggered": 1} and len(runs_of(deployment_id)) == 2


def test_gzip_delivery_is_accepted(
    client: TestClient, connection: MailConnection, deployment_id: UUID
) -> None:
    body = _notification(id="n-gz")
    compressed = gzip.compress(body)
    for signed in (compressed, body):  # over the bytes sent, or over the JSON inside
        answer = client.post(
            "/webhooks/nylas",
            content=compressed,
            headers={"Content-Encoding": "gzip", "X-Nylas-Signature": _sign(signed)},
        )
        assert answer.status_code == 200 and answer.json() == {"triggered": 1}
    assert len(runs_of(deployment_id)) == 1


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"X-Nylas-Signature": ""},
        {"X-Nylas-Signature": "0" * 64},
        {"X-Nylas-Signature": _sign(_notification(), secret="another-secret")},
    ],
    ids=["unsigned", "empty", "zeros", "wrong-secret"],
)
def test_forged_requests_are_refused_and_trigger_nothing(
    client: TestClient, connection: MailConnection, deployment_id: UUID, headers: dict[str, str]
) -> None:
    answer = client.post("/webhooks/nylas", content=_notification(), headers=headers)
    assert answer.status_code == 401
    assert runs_of(deployment_id) == []


def test_tampered_body_and_gzip_bomb_are_refused(
    client: TestClient, connection: MailConnection, deployment_id: UUID
) -> None:
    body = _notification()
    tampered = body.replace(b"n-1", b"n-9")
    answer = client.post(
        "/webhooks/nylas", content=tampered, headers={"X-Nylas-Signature": _sign(body)}
    )
    assert answer.status_code == 401
    bomb = gzip.compress(b"{" + b" " * (64 * 1024 * 1024) + b"}")
    answer = client.post(
        "/webhooks/nylas",
        content=bomb,
        headers={"Content-Encoding": "gzip", "X-Nylas-Signature": _sign(bomb)},
    )
    assert answer.status_code == 401
    assert runs_of(deployment_id) == []


def test_unknown_grant_and_other_events_trigger_nothing(
    client: TestClient, connection: MailConnection, deployment_id: UUID
) -> None:
    for body in (_notification(grant="someone-else"), _notification("calendar.created")):
        answer = client.post(
            "/webhooks/nylas", content=body, headers={"X-Nylas-Signature": _sign(body)}
        )
        assert answer.status_code == 200 and not answer.json().get("triggered")
    assert runs_of(deployment_id) == []


def test_grant_expired_marks_the_connection(
    client: TestClient, connection: MailConnection, deployment_id: UUID
) -> None:
    body = _notification("grant.expired", id="n-exp")
    answer = client.post(
        "/webhooks/nylas", content=body, headers={"X-Nylas-Signature": _sign(body)}
    )
    assert answer.json() == {"needs_reauth": 1}
    with session_scope() as session:
        row = session.get(MailConnection, connection.id)
        assert row is not None and row.status == MailConnectionStatus.NEEDS_REAUTH


def test_without_a_secret_nothing_is_accepted(
    client: TestClient, connection: MailConnection, monkeypatch: pytest.MonkeyPatch
) -> None:
    from coffre.runtime import reset_runtime

    monkeypatch.delenv("COFFRE_NYLAS_WEBHOOK_SECRET")
    reset_runtime()
    body = _notification()
    answer = client.post(
        "/webhooks/nylas", content=body, headers={"X-Nylas-Signature": _sign(body)}
    )
    assert answer.status_code == 503
