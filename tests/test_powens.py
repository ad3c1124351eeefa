"""The Powens client against the fake Powens API: users, webview, connections, accounts,
paged and incremental transactions, exact amounts, retries, deletion and webhooks."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from coffre.tasks.powens import (
    PowensAuthError,
    PowensClient,
    PowensError,
    PowensSettings,
    PowensUnavailable,
    connection_id_from_webhook,
    retry_after_seconds,
    verify_webhook,
)
from tests.fake_powens import (
    FakePowens,
    fake_powens_fixture,  # noqa: F401
)

IBAN = "FR7630006000011234567890189"
WEBHOOK_SECRET = "whsec-test-0123456789"
WEBHOOK_PATH = "/hooks/powens/connection-synced"


class Sleeps(list[float]):
    """Records the client's sleeps instead of sleeping."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def client(fake_powens: FakePowens, sleeps: Sleeps) -> Iterator[PowensClient]:
    settings = PowensSettings(
        base_url=fake_powens.base_url,
        client_id=fake_powens.client_id,
        client_secret=fake_powens.client_secret,
    )
    with PowensClient(settings, sleep=sleeps) as powens:
        yield powens


def _bank(fake: FakePowens) -> tuple[str, int, int]:
    token = fake.add_user()
    connection = fake.add_connection(token, "Société Générale Pro")
    account = fake.add_account(connection, IBAN, "Compte courant", "1234.5")
    return token, connection, account


# -- users and webview ------------------------------------------------------------------


def test_create_user_returns_a_permanent_token(
    fake_powens: FakePowens, client: PowensClient
) -> None:
    token = client.create_user()
    assert fake_powens.user_exists(token)
    init = fake_powens.requests[-1]
    assert (init.method, init.path) == ("POST", "/2.0/auth/init")


def test_wrong_client_secret_is_an_auth_error_without_the_secret(
    fake_powens: FakePowens, sleeps: Sleeps
) -> None:
    settings = PowensSettings(fake_powens.base_url, fake_powens.client_id, "not-the-secret")
    with PowensClient(settings, sleep=sleeps) as powens, pytest.raises(PowensAuthError) as err:
        powens.create_user()
    assert "not-the-secret" not in str(err.value)
    assert "not-the-secret" not in repr(settings)
    assert sleeps == []


def test_webview_url_uses_a_single_access_code(
    fake_powens: FakePowens, client: PowensClient
) -> None:
    token = fake_powens.add_user()
    url = client.webview_url(
        token, "https://coffre.example/banque/retour", state="s-42", connector_ids=[40, 59]
    )
    split = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(split.query).items()}
    assert (split.scheme, split.netloc, split.path) == ("https", "webview.powens.com", "/connect")
    assert query["domain"] == "127.0.0.1"  # the API host, like nakaya-sandbox.biapi.pro
    assert query["client_id"] == fake_powens.client_id
    assert query["redirect_uri"] == "https://coffre.example/banque/retour"
    assert query["state"] == "s-42"
    assert query["connector_ids"] == "40,59"
    assert query["code"] and token not in url
    code_request = fake_powens.requests[-1]
    assert code_request.path == "/2.0/auth/token/code?type=singleAccess"
    assert code_request.headers["Authorization"] == f"Bearer {token}"

    french = client.webview_url(token, "https://coffre.example/r", lang="fr")
    assert urlsplit(french).path == "/fr/connect"
    assert "state" not in parse_qs(urlsplit(french).query)

    again = client.reconnect_url(token, "https://coffre.example/r", 77)
    assert urlsplit(again).path == "/reconnect"
    assert parse_qs(urlsplit(again).query)["connection_id"] == ["77"]


# -- connections and accounts -------------------------------------------------------------


def test_connections_with_state_and_bank_name(
    fake_powens: FakePowens, client: PowensClient
) -> None:
    token, healthy, _ = _bank(fake_powens)
    stuck = fake_powens.add_connection(token, "Crédit Agricole")
    fake_powens.set_connection_state(stuck, "SCARequired", "Renouvelez votre consentement.")
    other_user = fake_powens.add_user()
    fake_powens.add_connection(other_user, "Qonto")

    found = {c.id: c for c in client.connections(token)}
    assert set(found) == {healthy, stuck}
    assert found[healthy].bank_name == "Société Générale Pro"
    assert found[healthy].state is None and not found[healthy].needs_user_action
    synced = found[healthy].last_update
    assert synced is not None and synced.tzinfo is not None
    assert found[stuck].state == "SCARequired" and found[stuck].needs_user_action
    assert found[stuck].error_message == "Renouvelez votre consentement."
    assert "expand=connector" in fake_powens.requests[-1].path


def test_accounts_all_and_per_connection(fake_powens: FakePowens, client: PowensClient) -> None:
    token, connection, account = _bank(fake_powens)
    old = fake_powens.add_account(connection, None, "Livret", "10", type="savings", disabled=True)
    second = fake_powens.add_connection(token, "Shine")
    spaced = "fr76 1695 8000 0130 5670 5696 366"
    usd = fake_powens.add_account(second, spaced, "USD account", "-0.07", currency="USD")

    everything = {a.id: a for a in client.accounts(token)}
    assert set(everything) == {account, old, usd}
    main = everything[account]
    assert (main.iban, main.balance_cents, main.currency) == (IBAN, 123450, "EUR")
    assert (main.name, main.type, main.connection_id) == ("Compte courant", "checking", connection)
    assert main.disabled is None and main.deleted is None
    assert everything[old].disabled is not None and everything[old].iban is None
    assert everything[usd].iban == "FR7616958000013056705696366"
    assert (everything[usd].balance_cents, everything[usd].currency) == (-7, "USD")

    active = {a.id for a in client.accounts(token, include_disabled=False)}
    assert active == {account, usd}
    assert [a.id for a in client.accounts(token, connection_id=second)] == [usd]

    statement = main.to_statement_account()
    assert (statement.iban, statement.closing_balance_cents) == (IBAN, 123450)


# -- transactions ---------------------------------------------------------------------


def test_transactions_follow_next_links_verbatim(
    fake_powens: FakePowens, client: PowensClient
) -> None:
    token, _, account = _bank(fake_powens)
    ids = {
        fake_powens.add_transaction(account, date(2024, 3, day), f"-{day}.00", f"CB SHOP {day}")
        for day in range(1, 8)
    }
    start = len(fake_powens.requests)

    got = list(client.transactions(token, limit=3))

    assert sorted(t.id for t in got) == sorted(ids)
    pages = fake_powens.requests[start:]
    assert [p.path for p in pages] == [
        "/2.0/users/me/transactions?limit=3&all",
        "/2.0/users/me/transactions?limit=3&all&offset=3",
        "/2.0/users/me/transactions?limit=3&all&offset=6",
    ]
    assert all(p.headers["Authorization"] == f"Bearer {token}" for p in pages)


def test_transactions_scoped_to_an_account_or_a_connection(
    fake_powens: FakePowens, client: PowensClient
) -> None:
    token, _, account = _bank(fake_powens)
    other_connection = fake_powens.add_connection(token, "Qonto")
    other_account = fake_powens.add_account(other_connection, None, "Qonto", "0")
    mine = fake_powens.add_transaction(account, date(2024, 3, 1), "-5", "PRLV EDF")
    theirs = fake_powens.add_transaction(other_account, date(2024, 3, 1), "-6", "PRLV SFR")

    assert [t.id for t in client.transactions(token, account_id=account)] == [mine]
    assert [t.id for t in client.transactions(token, connection_id=other_connection)] == [theirs]
    assert fake_powens.requests[-1].path.startswith(
        f"/2.0/users/me/connections/{other_connection}/transactions?"
    )
    in_march = client.transactions(token, min_date=date(2024, 3, 1), max_date=date(2024, 3, 31))
    assert {t.id for t in in_march} == {mine, theirs}
    assert list(client.transactions(token, min_date=date(2024, 4, 1))) == []


def test_incremental_sync_brings_only_changes_and_deletions(
    fake_powens: FakePowens, client: PowensClient
) -> None:
    token, _, account = _bank(fake_powens)
    kept = fake_powens.add_transaction(account, date(2024, 3, 1), "-10", "VIR LOYER")
    changed = fake_powens.add_transaction(
        account, date(2024, 3, 2), "-20", "CB PENDING", coming=True
    )
    gone = fake_powens.add_transaction(account, date(2024, 3, 3), "-30", "CB DOUBLON")
    assert len(list(client.transactions(token))) == 3
    mark = fake_powens.now

    fake_powens.advance(60)
    fake_powens.modify_transaction(changed, value="-21.50", coming=False)
    fake_powens.delete_transaction_at_bank(gone)
    new = fake_powens.add_transaction(account, date(2024, 3, 4), "150", "VIR CLIENT DUPONT")

    delta = {t.id: t for t in client.transactions(token, last_update=mark)}

    assert set(delta) == {changed, gone, new}
    assert kept not in delta
    assert delta[changed].amount_cents == -2150 and not delta[changed].coming
    deleted = delta[gone].deleted
    assert deleted is not None and deleted > mark
    assert delta[new].deleted is None
    assert all((t.last_update or mark) > mark for t in delta.values())
    sent = parse_qs(urlsplit(fake_powens.requests[-1].path).query, keep_blank_values=True)
    assert sent["last_update"] == [mark.strftime("%Y-%m-%d %H:%M:%S")]
    assert "all" in sent


def test_the_fake_omits_deleted_transactions_without_all(fake_powens: FakePowens) -> None:
    token, _, account = _bank(fake_powens)
    gone = fake_powens.add_transaction(account, date(2024, 3, 3), "-30", "CB DOUBLON")
    fake_powens.delete_transaction_at_bank(gone)
    url = f"{fake_powens.base_url}/users/me/transactions"
    headers = {"Authorization": f"Bearer {token}"}
    plain = requests.get(url, params={"limit": 10}, headers=headers, timeout=5).json()
    with_all = requests.get(url + "?limit=10&all", headers=headers, timeout=5).json()
    assert plain["transactions"] == []
    assert [t["id"] for t in with_all["transactions"]] == [gone]


def test_amounts_and_fields_are_exact(fake_powens: FakePowens, client: PowensClient) -> None:
    token, _, account = _bank(fake_powens)
    values = ["-12.30", "1234.5", "0.1", "0.2", "-0.07", "99999999.99", "-1E+2"]
    for value in values:
        fake_powens.add_transaction(account, date(2024, 5, 2), value, f"LIGNE {value}")
    card = fake_powens.add_transaction(
        account,
        date(2024, 5, 3),
        "-42.10",
        "CB  AMAZON   EU  SARL",
        rdate=date(2024, 5, 1),
        vdate=date(2024, 5, 4),
        type="card",
        counterparty_label="AMAZON EU SARL",
        counterparty_iban="LU28 0019 4006 4475 0000",
        original_value="-45.99",
        original_currency="USD",
    )

    found = {t.id: t for t in client.transactions(token)}
    by_wording = {t.original_wording: t.amount_cents for t in found.values()}
    assert by_wording["LIGNE -12.30"] == -1230
    assert by_wording["LIGNE 1234.5"] == 123450
    assert by_wording["LIGNE 0.1"] + by_wording["LIGNE 0.2"] == 30
    assert by_wording["LIGNE -0.07"] == -7
    assert by_wording["LIGNE 99999999.99"] == 9999999999
    assert by_wording["LIGNE -1E+2"] == -10000
    tx = found[card]
    assert (tx.value, tx.amount_cents) == (Decimal("-42.10"), -4210)
    assert (tx.date, tx.rdate, tx.vdate) == (date(2024, 5, 3), date(2024, 5, 1), date(2024, 5, 4))
    assert tx.original_wording == "CB  AMAZON   EU  SARL"
    assert tx.simplified_wording == tx.wording == "CB AMAZON EU SARL"
    assert (tx.type, tx.coming, tx.account_id) == ("card", False, account)
    assert tx.counterparty_label == "AMAZON EU SARL"
    assert tx.counterparty_iban == "LU280019400644750000"
    assert tx.counterparty_type == "creditor"
    assert (tx.original_amount_cents, tx.original_currency) == (-4599, "USD")
    shared = tx.to_statement_transaction("EUR")
    assert (shared.amount_cents, shared.currency, shared.bank_reference) == (
        -4210,
        "EUR",
        str(card),
    )
    assert shared.value_date == date(2024, 5, 4)


def test_sub_cent_amount_is_refused_not_rounded(
    fake_powens: FakePowens, client: PowensClient
) -> None:
    token, _, account = _bank(fake_powens)
    fake_powens.add_transaction(account, date(2024, 5, 2), "1.005", "FRACTION")
    with pytest.raises(PowensError, match="finer than a cent"):
        list(client.transactions(token))


def test_bad_arguments_are_refused_before_any_request(
    fake_powens: FakePowens, client: PowensClient
) -> None:
    token = fake_powens.add_user()
    before = len(fake_powens.requests)
    with pytest.raises(ValueError, match="1000"):
        client.transactions(token, limit=1001)
    with pytest.raises(ValueError):
        client.transactions(token, limit=0)
    with pytest.raises(ValueError, match="not both"):
        client.transactions(token, connection_id=1, account_id=2)
    assert len(fake_powens.requests) == before


def test_next_link_to_another_host_is_not_followed(client: PowensClient) -> None:
    with pytest.raises(PowensError, match="another host"):
        client._same_origin("https://elsewhere.example/2.0/users/me/transactions?offset=3")


# -- errors and retries -------------------------------------------------------------------


def test_401_is_an_auth_error_without_the_token(
    fake_powens: FakePowens, client: PowensClient, sleeps: Sleeps
) -> None:
    token = "revoked-token-abcdef"
    before = len(fake_powens.requests)
    with pytest.raises(PowensAuthError) as err:
        client.connections(token)
    assert err.value.status == 401 and err.value.code == "invalidToken"
    assert token not in str(err.value)
    assert "authorised again" in str(err.value)
    assert len(fake_powens.requests) == before + 1 and sleeps == []


def test_429_honours_retry_after(
    fake_powens: FakePowens, client: PowensClient, sleeps: Sleeps
) -> None:
    token, _, _ = _bank(fake_powens)
    fake_powens.fail_next(429, times=2, retry_after=7, path_contains="/connections")
    assert len(client.connections(token)) == 1
    assert sleeps == [7, 7]


def test_retry_after_is_capped_and_read_as_a_date(
    fake_powens: FakePowens, client: PowensClient, sleeps: Sleeps
) -> None:
    token, _, _ = _bank(fake_powens)
    fake_powens.fail_next(429, retry_after=3600)
    fake_powens.fail_next(503, retry_after="Wed, 21 Oct 2015 07:28:00 GMT")
    assert len(client.accounts(token)) == 1
    assert sleeps == [60, 0]
    in_90s = datetime(2030, 1, 1, 12, 0, 0, tzinfo=UTC)
    header = "Tue, 01 Jan 2030 12:01:30 GMT"
    assert retry_after_seconds(header, now=in_90s) == 90
    assert retry_after_seconds("soon") is None


def test_500_is_retried_then_succeeds(
    fake_powens: FakePowens, client: PowensClient, sleeps: Sleeps
) -> None:
    token, _, account = _bank(fake_powens)
    tx = fake_powens.add_transaction(account, date(2024, 3, 1), "-5", "PRLV EDF")
    fake_powens.fail_next(500, times=2, path_contains="/transactions")
    assert [t.id for t in client.transactions(token)] == [tx]
    assert sleeps == [1, 2]


def test_persistent_503_is_unavailable(
    fake_powens: FakePowens, client: PowensClient, sleeps: Sleeps
) -> None:
    token, _, _ = _bank(fake_powens)
    fake_powens.fail_next(503, times=100)
    before = len(fake_powens.requests)
    with pytest.raises(PowensUnavailable, match="5 attempts"):
        client.connections(token)
    assert sleeps == [1, 2, 4, 8]
    assert len(fake_powens.requests) == before + 5


def test_refused_connections_are_retried(sleeps: Sleeps) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = PowensSettings(f"http://127.0.0.1:{port}/2.0", "id", "secret", retries=2)
    with PowensClient(settings, sleep=sleeps) as powens, pytest.raises(PowensUnavailable):
        powens.connections("some-token")
    assert sleeps == [1, 2]


# -- deletion -----------------------------------------------------------------------------


def test_delete_connection_removes_its_data(fake_powens: FakePowens, client: PowensClient) -> None:
    token, connection, account = _bank(fake_powens)
    other = fake_powens.add_connection(token, "Qonto")
    kept = fake_powens.add_transaction(
        fake_powens.add_account(other, None, "Qonto", "0"), date(2024, 3, 1), "-1", "X"
    )
    fake_powens.add_transaction(account, date(2024, 3, 1), "-5", "PRLV EDF")

    assert client.delete_connection(token, connection) is True
    assert fake_powens.requests[-1].method == "DELETE"
    assert fake_powens.requests[-1].path == f"/2.0/users/me/connections/{connection}"
    assert not fake_powens.has_connection(connection)
    assert [c.id for c in client.connections(token)] == [other]
    assert [a.id for a in client.accounts(token)] != [account]
    assert [t.id for t in client.transactions(token)] == [kept]
    assert client.delete_connection(token, connection) is False


def test_delete_user(fake_powens: FakePowens, client: PowensClient) -> None:
    token, _, _ = _bank(fake_powens)
    client.delete_user(token)
    assert not fake_powens.user_exists(token)
    with pytest.raises(PowensAuthError):
        client.connections(token)


# -- webhooks -----------------------------------------------------------------------------


def test_webhook_signature(fake_powens: FakePowens) -> None:
    body = b'{"connection": {"id": 1234, "id_user": 7, "accounts": []}, "user": {"id": 7}}'
    headers = fake_powens.webhook_headers(WEBHOOK_SECRET, WEBHOOK_PATH, body)

    assert verify_webhook(headers, body, WEBHOOK_SECRET, path=WEBHOOK_PATH)
    lower = {k.lower(): v for k, v in headers.items()}
    assert verify_webhook(lower, body, WEBHOOK_SECRET, path=WEBHOOK_PATH)

    forged = body.replace(b"1234", b"9999")
    assert not verify_webhook(headers, forged, WEBHOOK_SECRET, path=WEBHOOK_PATH)
    assert not verify_webhook(headers, body, "another-secret", path=WEBHOOK_PATH)
    assert not verify_webhook(headers, body, WEBHOOK_SECRET, path="/hooks/other")
    assert not verify_webhook(headers, body, WEBHOOK_SECRET, path=WEBHOOK_PATH, method="PUT")
    redated = {**headers, "BI-Signature-Date": "Tue, 02 Jan 2024 08:00:00 GMT"}
    assert not verify_webhook(redated, body, WEBHOOK_SECRET, path=WEBHOOK_PATH)
    for missing in ("BI-Signature", "BI-Signature-Date"):
        partial = {k: v for k, v in headers.items() if k != missing}
        assert not verify_webhook(partial, body, WEBHOOK_SECRET, path=WEBHOOK_PATH)
    assert not verify_webhook({}, body, WEBHOOK_SECRET, path=WEBHOOK_PATH)
    assert not verify_webhook({**headers, "BI-Signature": "é"}, body, WEBHOOK_SECRET, path="/")


def test_webhook_replay_window(fake_powens: FakePowens) -> None:
    body = b"{}"
    signed_at = datetime(2024, 6, 1, 12, 0, 0, tzinfo=UTC)
    headers = fake_powens.webhook_headers(WEBHOOK_SECRET, WEBHOOK_PATH, body, when=signed_at)
    window = timedelta(minutes=5)
    fresh = signed_at + timedelta(minutes=1)
    late = signed_at + timedelta(hours=1)
    path = WEBHOOK_PATH
    assert verify_webhook(headers, body, WEBHOOK_SECRET, path=path, max_age=window, now=fresh)
    assert not verify_webhook(headers, body, WEBHOOK_SECRET, path=path, max_age=window, now=late)


def test_connection_id_from_webhook() -> None:
    assert connection_id_from_webhook({"connection": {"id": 1234}, "user": {"id": 7}}) == 1234
    assert connection_id_from_webhook({"connection": {"id": "88"}}) == 88
    assert connection_id_from_webhook({"id_connection": 5}) == 5
    assert connection_id_from_webhook({"user": {"id": 7}}) is None
    assert connection_id_from_webhook({"connection": {"id": True}}) is None
    assert connection_id_from_webhook(["not", "a", "mapping"]) is None
