"""A fake Powens (ex-Budget Insight) API for tests: a local HTTP server on 127.0.0.1.

Why a server rather than mocks: the Powens client builds its own URLs, query strings and
headers, follows ``_links.next.href`` as given and retries on status codes and
Retry-After; all of that must run for real, offline and in milliseconds.

What it answers, with the reference's paths (under ``/2.0``) and JSON shapes:

* ``POST /auth/init`` (client_id + client_secret → permanent ``auth_token``);
* ``GET /auth/token/code`` (temporary code, ``type=singleAccess`` or ``requestAccess``);
* ``GET /users/me/connections`` (``expand=connector`` adds the bank's name);
* ``GET /users/me/accounts`` and ``/users/me/connections/{id}/accounts`` (``all`` adds
  disabled and deleted accounts);
* ``GET /users/me/transactions``, ``/users/me/accounts/{id}/transactions`` and
  ``/users/me/connections/{id}/transactions``: ``limit`` (required, at most 1000),
  ``offset``, ``all`` (without it deleted rows are left out), ``last_update`` (only rows
  updated strictly after), ``min_date``/``max_date`` (inclusive, on ``date``); each page
  carries ``_links.self`` and ``_links.next`` (an absolute URL, null on the last page);
* ``DELETE /users/me/connections/{id}`` (its accounts and transactions go too) and
  ``DELETE /users/me``.

Choices where the reference is silent: datetimes are written ``YYYY-MM-DD HH:MM:SS`` in
UTC; transactions are listed newest first (date, then id); error bodies are
``{"code", "description"}`` with codes made up here (``invalidToken``, ``notFound``,
``invalidLimit``…); a missing or unknown bearer token answers 401.

``last_update`` values come from a clock the tests control: every change moves it one
second forward (``advance`` moves it further), so incremental syncs are deterministic.

Enable the ``fake_powens`` fixture with
``from tests.fake_powens import fake_powens_fixture  # noqa: F401``.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import re
import secrets
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlencode, urlsplit

import pytest

API_PREFIX = "/2.0"
MAX_LIMIT = 1000
START = datetime(2024, 1, 1, 8, 0, 0)  # naive UTC, as Powens writes datetimes


@dataclass
class FakeRequest:
    method: str
    path: str  # path and query, as sent
    headers: dict[str, str]
    body: bytes

    @property
    def query(self) -> dict[str, list[str]]:
        return parse_qs(urlsplit(self.path).query, keep_blank_values=True)


@dataclass
class _User:
    id: int
    token: str


@dataclass
class _Connection:
    id: int
    user_id: int
    bank_name: str
    connector_id: int
    connector_uuid: str
    created: datetime
    last_update: datetime
    state: str | None = None
    error_message: str | None = None
    active: bool = True


@dataclass
class _Account:
    id: int
    connection_id: int
    iban: str | None
    name: str
    balance: Decimal
    currency: str
    type: str
    last_update: datetime
    number: str | None = None
    disabled: datetime | None = None
    deleted: datetime | None = None


@dataclass
class _Transaction:
    id: int
    account_id: int
    date: date
    value: Decimal
    original_wording: str
    simplified_wording: str
    wording: str
    type: str
    coming: bool
    last_update: datetime
    date_scraped: datetime
    rdate: dt.date | None = None
    vdate: dt.date | None = None
    deleted: datetime | None = None
    counterparty: dict[str, str] | None = None
    card: str | None = None
    original_value: Decimal | None = None
    original_currency: str | None = None


@dataclass
class _Failure:
    status: int
    remaining: int
    retry_after: int | str | None
    path_contains: str


class _ApiError(Exception):
    def __init__(self, status: int, code: str, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.code = code
        self.description = description


@dataclass
class _Answer:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


class FakePowens:
    """The fake API: its state, its server, and what it saw (``requests``)."""

    def __init__(
        self,
        client_id: str = "fake-client-id",
        client_secret: str = "fake-client-secret",  # noqa: S107 - a test value
    ) -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.requests: list[FakeRequest] = []
        self.clock = START
        self._users: dict[str, _User] = {}  # by token
        self._codes: dict[str, int] = {}  # temporary code -> user id
        self._connections: dict[int, _Connection] = {}
        self._accounts: dict[int, _Account] = {}
        self._transactions: dict[int, _Transaction] = {}
        self._failures: list[_Failure] = []
        self._next_id = 1000
        self._lock = threading.RLock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------

    @property
    def url(self) -> str:
        """http://127.0.0.1:PORT (no API prefix)."""
        if self._server is None:
            raise RuntimeError("FakePowens is not started")
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def base_url(self) -> str:
        """What the client takes as base_url (…/2.0), like https://{domain}.biapi.pro/2.0."""
        return self.url + API_PREFIX

    def start(self) -> FakePowens:
        if self._server is not None:
            return self
        server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        server.daemon_threads = True
        server.fake = self  # type: ignore[attr-defined]
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> FakePowens:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- clock -----------------------------------------------------------------------

    def advance(self, seconds: float = 1) -> datetime:
        """Move the clock forward; return the new time (naive UTC)."""
        with self._lock:
            self.clock += timedelta(seconds=seconds)
            return self.clock

    def _tick(self) -> datetime:
        return self.advance(1)

    @property
    def now(self) -> datetime:
        """The clock as an aware UTC datetime, handy as a client's last_update."""
        return self.clock.replace(tzinfo=UTC)

    # -- state -----------------------------------------------------------------------

    def _id(self) -> int:
        self._next_id += 1
        return self._next_id

    def add_user(self) -> str:
        """A permanent user; return its token."""
        with self._lock:
            token = secrets.token_urlsafe(24)
            self._users[token] = _User(self._id(), token)
            return token

    def user_exists(self, token: str) -> bool:
        with self._lock:
            return token in self._users

    def add_connection(
        self, token: str, bank_name: str, *, state: str | None = None, connector_id: int = 40
    ) -> int:
        with self._lock:
            user = self._users[token]
            now = self._tick()
            connection = _Connection(
                id=self._id(),
                user_id=user.id,
                bank_name=bank_name,
                connector_id=connector_id,
                connector_uuid=f"{connector_id:08x}-0000-4000-8000-000000000000",
                created=now,
                last_update=now,
                state=state,
            )
            self._connections[connection.id] = connection
            return connection.id

    def set_connection_state(
        self, connection_id: int, state: str | None, error_message: str | None = None
    ) -> None:
        """Put a connection in error (SCARequired, wrongpass…) or back to normal (None)."""
        with self._lock:
            connection = self._connections[connection_id]
            connection.state = state
            connection.error_message = error_message

    def has_connection(self, connection_id: int) -> bool:
        with self._lock:
            return connection_id in self._connections

    def add_account(
        self,
        connection_id: int,
        iban: str | None,
        name: str,
        balance: Decimal | str,
        currency: str = "EUR",
        *,
        type: str = "checking",
        disabled: bool = False,
        number: str | None = None,
    ) -> int:
        with self._lock:
            if connection_id not in self._connections:
                raise KeyError(f"no connection {connection_id}")
            now = self._tick()
            account = _Account(
                id=self._id(),
                connection_id=connection_id,
                iban=iban,
                name=name,
                balance=Decimal(str(balance)),
                currency=currency,
                type=type,
                last_update=now,
                number=number or (iban[-11:] if iban else None),
                disabled=now if disabled else None,
            )
            self._accounts[account.id] = account
            return account.id

    def add_transaction(
        self,
        account_id: int,
        date: date,
        value: Decimal | str,
        wording: str,
        *,
        rdate: date | None = None,
        vdate: date | None = None,
        type: str = "transfer",
        coming: bool = False,
        simplified_wording: str | None = None,
        counterparty_label: str | None = None,
        counterparty_iban: str | None = None,
        counterparty_type: str | None = None,
        card: str | None = None,
        original_value: Decimal | str | None = None,
        original_currency: str | None = None,
    ) -> int:
        """A transaction as the bank shows it; `wording` is the bank's raw label."""
        with self._lock:
            if account_id not in self._accounts:
                raise KeyError(f"no account {account_id}")
            now = self._tick()
            counterparty: dict[str, str] | None = None
            if counterparty_label or counterparty_iban:
                counterparty = {}
                if counterparty_label:
                    counterparty["label"] = counterparty_label
                if counterparty_iban:
                    counterparty["account_scheme_name"] = "iban"
                    counterparty["account_identification"] = counterparty_iban
                counterparty["type"] = counterparty_type or (
                    "creditor" if Decimal(str(value)) < 0 else "debtor"
                )
            simplified = simplified_wording or " ".join(wording.upper().split())
            tx = _Transaction(
                id=self._id(),
                account_id=account_id,
                date=date,
                value=Decimal(str(value)),
                original_wording=wording,
                simplified_wording=simplified,
                wording=simplified,
                type=type,
                coming=coming,
                last_update=now,
                date_scraped=now,
                rdate=rdate or date,
                vdate=vdate,
                counterparty=counterparty,
                card=card,
                original_value=None if original_value is None else Decimal(str(original_value)),
                original_currency=original_currency,
            )
            self._transactions[tx.id] = tx
            return tx.id

    def delete_transaction_at_bank(self, tx_id: int) -> None:
        """The bank no longer shows it: `deleted` and `last_update` are set."""
        with self._lock:
            tx = self._transactions[tx_id]
            now = self._tick()
            tx.deleted = now
            tx.last_update = now

    def modify_transaction(self, tx_id: int, **fields: Any) -> None:
        """Change fields (value, wording, coming, date, vdate…) and bump `last_update`."""
        with self._lock:
            tx = self._transactions[tx_id]
            for name, value in fields.items():
                if not hasattr(tx, name) or name in ("id", "last_update"):
                    raise AttributeError(f"no transaction field {name!r}")
                if name in ("value", "original_value") and value is not None:
                    value = Decimal(str(value))
                setattr(tx, name, value)
            tx.last_update = self._tick()

    def fail_next(
        self,
        status: int,
        times: int = 1,
        retry_after: int | str | None = None,
        path_contains: str = "",
    ) -> None:
        """Answer the next `times` requests whose path+query contains `path_contains`
        with `status` (and Retry-After, seconds or an HTTP date, if given)."""
        with self._lock:
            self._failures.append(_Failure(status, times, retry_after, path_contains))

    def webhook_headers(
        self,
        secret: str,
        path: str,
        body: bytes,
        *,
        method: str = "POST",
        when: datetime | None = None,
    ) -> dict[str, str]:
        """The headers Powens would send with a webhook to `path` signed with `secret`."""
        moment = (when or self.now).astimezone(UTC)
        signed_date = format_datetime(moment, usegmt=True)
        message = f"{method}.{path}.{signed_date}.".encode() + body
        signature = base64.b64encode(hmac.new(secret.encode(), message, hashlib.sha256).digest())
        return {
            "Content-Type": "application/json",
            "BI-Signature": signature.decode(),
            "BI-Signature-Date": signed_date,
        }

    # -- HTTP ------------------------------------------------------------------------

    def _handle(self, method: str, raw_path: str, headers: Any, body: bytes) -> _Answer:
        with self._lock:
            self.requests.append(FakeRequest(method, raw_path, dict(headers.items()), body))
            try:
                failure = self._take_failure(raw_path)
                if failure is not None:
                    answer = _error(failure.status, "injected", "Injected failure.")
                    if failure.retry_after is not None:
                        answer.headers["Retry-After"] = str(failure.retry_after)
                    return answer
                split = urlsplit(raw_path)
                if not split.path.startswith(API_PREFIX + "/"):
                    raise _ApiError(404, "notFound", "Unknown endpoint.")
                segments = [unquote(s) for s in split.path[len(API_PREFIX) :].split("/") if s]
                query = parse_qs(split.query, keep_blank_values=True)
                return self._route(method, segments, query, headers, body)
            except _ApiError as exc:
                return _error(exc.status, exc.code, exc.description)

    def _take_failure(self, raw_path: str) -> _Failure | None:
        for failure in self._failures:
            if failure.path_contains in raw_path:
                failure.remaining -= 1
                if failure.remaining <= 0:
                    self._failures.remove(failure)
                return failure
        return None

    def _route(
        self,
        method: str,
        segments: list[str],
        query: dict[str, list[str]],
        headers: Any,
        body: bytes,
    ) -> _Answer:
        if method == "POST" and segments == ["auth", "init"]:
            return self._auth_init(body)
        user = self._authenticate(headers)
        match method, segments:
            case "GET", ["auth", "token", "code"]:
                kind = _one(query, "type") or "requestAccess"
                if kind not in ("requestAccess", "singleAccess"):
                    raise _ApiError(400, "invalidType", f"Unknown code type {kind!r}.")
                code = secrets.token_urlsafe(16)
                self._codes[code] = user.id
                access = "single" if kind == "singleAccess" else "standard"
                return _ok(
                    {"code": code, "type": "temporary", "access": access, "expires_in": 1800}
                )
            case "DELETE", ["users", "me"]:
                self._delete_user(user)
                return _Answer(204)
            case "GET", ["users", "me", "connections"]:
                expand = _expand(query)
                items = [
                    self._connection_json(c, expand)
                    for c in sorted(self._connections.values(), key=lambda c: c.id)
                    if c.user_id == user.id
                ]
                return _ok({"connections": items, "total": len(items)})
            case "DELETE", ["users", "me", "connections", connection_id]:
                connection = self._connection_of(user, connection_id)
                self._delete_connection(connection)
                return _Answer(204)
            case "GET", ["users", "me", "accounts"]:
                return self._accounts_answer(user, None, query)
            case "GET", ["users", "me", "connections", connection_id, "accounts"]:
                return self._accounts_answer(user, self._connection_of(user, connection_id), query)
            case "GET", ["users", "me", "transactions"]:
                return self._transactions_answer(user, segments, query, None, None)
            case "GET", ["users", "me", "accounts", account_id, "transactions"]:
                account = self._account_of(user, account_id)
                return self._transactions_answer(user, segments, query, None, account)
            case "GET", ["users", "me", "connections", connection_id, "transactions"]:
                connection = self._connection_of(user, connection_id)
                return self._transactions_answer(user, segments, query, connection, None)
        raise _ApiError(404, "notFound", "Unknown endpoint.")

    def _auth_init(self, body: bytes) -> _Answer:
        try:
            data = json.loads(body or b"{}")
        except ValueError:
            data = {k: v[-1] for k, v in parse_qs(body.decode(errors="replace")).items()}
        if not isinstance(data, dict):
            raise _ApiError(400, "invalidBody", "The body must be a JSON object.")
        if data.get("client_id") != self.client_id or data.get("client_secret") != (
            self.client_secret
        ):
            raise _ApiError(401, "invalidClient", "Unknown client_id or wrong client_secret.")
        token = self.add_user()
        user = self._users[token]
        return _ok({"auth_token": token, "type": "permanent", "id_user": user.id})

    def _authenticate(self, headers: Any) -> _User:
        value = headers.get("Authorization") or ""
        scheme, _, token = value.partition(" ")
        user = self._users.get(token.strip()) if scheme.lower() == "bearer" else None
        if user is None:
            raise _ApiError(401, "invalidToken", "Missing or invalid access token.")
        return user

    def _connection_of(self, user: _User, connection_id: str) -> _Connection:
        connection = self._connections.get(_int_id(connection_id))
        if connection is None or connection.user_id != user.id:
            raise _ApiError(404, "notFound", f"No connection {connection_id}.")
        return connection

    def _account_of(self, user: _User, account_id: str) -> _Account:
        account = self._accounts.get(_int_id(account_id))
        if account is None or self._connections[account.connection_id].user_id != user.id:
            raise _ApiError(404, "notFound", f"No account {account_id}.")
        return account

    def _delete_connection(self, connection: _Connection) -> None:
        accounts = {a.id for a in self._accounts.values() if a.connection_id == connection.id}
        for tx_id in [t.id for t in self._transactions.values() if t.account_id in accounts]:
            del self._transactions[tx_id]
        for account_id in accounts:
            del self._accounts[account_id]
        del self._connections[connection.id]

    def _delete_user(self, user: _User) -> None:
        for connection in [c for c in self._connections.values() if c.user_id == user.id]:
            self._delete_connection(connection)
        del self._users[user.token]

    # -- listings --------------------------------------------------------------------

    def _accounts_answer(
        self, user: _User, connection: _Connection | None, query: dict[str, list[str]]
    ) -> _Answer:
        include_all = "all" in query
        items = []
        for account in sorted(self._accounts.values(), key=lambda a: a.id):
            owner = self._connections[account.connection_id]
            if owner.user_id != user.id or (connection and owner.id != connection.id):
                continue
            if not include_all and (account.disabled or account.deleted):
                continue
            items.append(self._account_json(account, user))
        return _ok({"accounts": items, "total": len(items)})

    def _transactions_answer(
        self,
        user: _User,
        segments: list[str],
        query: dict[str, list[str]],
        connection: _Connection | None,
        account: _Account | None,
    ) -> _Answer:
        limit_text = _one(query, "limit")
        if limit_text is None:
            raise _ApiError(400, "missingParameter", "limit is required.")
        limit = _int_param(limit_text, "limit")
        if not 1 <= limit <= MAX_LIMIT:
            raise _ApiError(400, "invalidLimit", f"limit must be between 1 and {MAX_LIMIT}.")
        offset = _int_param(_one(query, "offset") or "0", "offset")
        if offset < 0:
            raise _ApiError(400, "invalidOffset", "offset must not be negative.")
        last_update = _datetime_param(_one(query, "last_update"), "last_update")
        min_date = _date_param(_one(query, "min_date"), "min_date")
        max_date = _date_param(_one(query, "max_date"), "max_date")
        include_all = "all" in query

        selected = []
        for tx in self._transactions.values():
            owner_account = self._accounts[tx.account_id]
            owner = self._connections[owner_account.connection_id]
            if owner.user_id != user.id:
                continue
            if account is not None and tx.account_id != account.id:
                continue
            if connection is not None and owner.id != connection.id:
                continue
            if tx.deleted is not None and not include_all:
                continue
            if last_update is not None and tx.last_update <= last_update:
                continue
            if min_date is not None and tx.date < min_date:
                continue
            if max_date is not None and tx.date > max_date:
                continue
            selected.append(tx)
        selected.sort(key=lambda t: (t.date, t.id), reverse=True)
        page = selected[offset : offset + limit]

        path = API_PREFIX + "/" + "/".join(segments)
        kept = [(k, v) for k, values in query.items() if k != "offset" for v in values]

        def link(at: int) -> dict[str, str]:
            parts = [k if (k == "all" and not v) else urlencode({k: v}) for k, v in kept]
            parts.append(urlencode({"offset": at}))
            return {"href": f"{self.url}{path}?{'&'.join(parts)}"}

        dates = [t.date for t in selected]
        shown = [t.date for t in page]
        payload = {
            "transactions": [self._transaction_json(t) for t in page],
            "first_date": _iso(min(dates)) if dates else None,
            "last_date": _iso(max(dates)) if dates else None,
            "result_min_date": _iso(min(shown)) if shown else None,
            "result_max_date": _iso(max(shown)) if shown else None,
            "_links": {
                "self": link(offset),
                "prev": link(max(0, offset - limit)) if offset > 0 else None,
                "next": link(offset + limit) if offset + limit < len(selected) else None,
            },
        }
        return _ok(payload)

    # -- objects ---------------------------------------------------------------------

    def _connection_json(self, connection: _Connection, expand: set[str]) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": connection.id,
            "id_user": connection.user_id,
            "id_connector": connection.connector_id,
            "connector_uuid": connection.connector_uuid,
            "state": connection.state,
            "error": connection.state,
            "error_message": connection.error_message,
            "last_update": _stamp(connection.last_update),
            "created": _stamp(connection.created),
            "active": connection.active,
            "last_push": None,
            "expire": _stamp(connection.created + timedelta(days=180)),
            "next_try": _stamp(connection.last_update + timedelta(hours=12)),
        }
        if "connector" in expand:
            data["connector"] = {
                "id": connection.connector_id,
                "uuid": connection.connector_uuid,
                "name": connection.bank_name,
                "capabilities": ["bank"],
                "auth_mechanism": "webauth",
            }
        return data

    def _account_json(self, account: _Account, user: _User) -> dict[str, Any]:
        return {
            "id": account.id,
            "id_connection": account.connection_id,
            "id_user": user.id,
            "id_source": account.connection_id * 10,
            "id_parent": None,
            "number": account.number,
            "original_name": account.name,
            "name": account.name,
            "balance": account.balance,
            "coming": Decimal("0.00"),
            "display": True,
            "last_update": _stamp(account.last_update),
            "deleted": _stamp(account.deleted),
            "disabled": _stamp(account.disabled),
            "iban": account.iban,
            "currency": {
                "id": account.currency,
                "symbol": "€" if account.currency == "EUR" else account.currency,
                "prefix": False,
                "precision": 2,
            },
            "type": account.type,
            "id_type": 1,
            "bookmarked": 0,
            "usage": "professional",
        }

    def _transaction_json(self, tx: _Transaction) -> dict[str, Any]:
        return {
            "id": tx.id,
            "id_account": tx.account_id,
            "application_date": _iso(tx.date),
            "date": _iso(tx.date),
            "datetime": None,
            "vdate": _iso(tx.vdate),
            "vdatetime": None,
            "rdate": _iso(tx.rdate),
            "rdatetime": None,
            "value": tx.value,
            "gross_value": tx.value,
            "type": tx.type,
            "original_wording": tx.original_wording,
            "simplified_wording": tx.simplified_wording,
            "wording": tx.wording,
            "categories": [],
            "date_scraped": _stamp(tx.date_scraped),
            "coming": tx.coming,
            "active": True,
            "comment": None,
            "last_update": _stamp(tx.last_update),
            "deleted": _stamp(tx.deleted),
            "original_value": tx.original_value,
            "original_currency": (
                {"id": tx.original_currency} if tx.original_currency is not None else None
            ),
            "commission": None,
            "commission_currency": None,
            "card": tx.card,
            "counterparty": tx.counterparty,
        }


class _Handler(BaseHTTPRequestHandler):
    """Hands every request to the FakePowens that owns the server."""

    server_version = "FakePowens/1.0"

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        fake: FakePowens = self.server.fake  # type: ignore[attr-defined]
        answer = fake._handle(self.command, self.path, self.headers, body)
        self.send_response(answer.status)
        if answer.body:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer.body)))
        for name, value in answer.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(answer.body)

    do_GET = do_POST = do_PUT = do_DELETE = _serve

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the per-request stderr line."""


# -- helpers ---------------------------------------------------------------------------

_DECIMAL_MARK = re.compile(r'"\\u0000dec:([-0-9.E+]+)"')


def _dumps(payload: Any) -> bytes:
    """JSON with Decimals written as exact JSON numbers (json cannot do it by itself)."""

    def mark(value: Any) -> Any:
        if isinstance(value, Decimal):
            return f"\0dec:{value}"
        if isinstance(value, dict):
            return {k: mark(v) for k, v in value.items()}
        if isinstance(value, list):
            return [mark(v) for v in value]
        return value

    text = json.dumps(mark(payload))
    return _DECIMAL_MARK.sub(lambda m: m.group(1), text).encode()


def _ok(payload: dict[str, Any]) -> _Answer:
    return _Answer(200, _dumps(payload))


def _error(status: int, code: str, description: str) -> _Answer:
    return _Answer(status, _dumps({"code": code, "description": description}))


def _stamp(value: datetime | None) -> str | None:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value is not None else None


def _iso(value: date | None) -> str | None:
    return value.isoformat() if value is not None else None


def _one(query: dict[str, list[str]], name: str) -> str | None:
    values = query.get(name)
    return values[-1] if values else None


def _expand(query: dict[str, list[str]]) -> set[str]:
    return {p.strip() for v in query.get("expand", []) for p in v.split(",") if p.strip()}


def _int_id(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise _ApiError(404, "notFound", f"No object {text!r}.") from None


def _int_param(text: str, name: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise _ApiError(400, "invalidParameter", f"{name} must be an integer.") from None


def _datetime_param(text: str | None, name: str) -> datetime | None:
    if text is None:
        return None
    try:
        parsed = datetime.fromisoformat(text.replace(" ", "T", 1))
    except ValueError:
        raise _ApiError(400, "invalidParameter", f"{name} must be a datetime.") from None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(UTC).replace(tzinfo=None)
    return parsed


def _date_param(text: str | None, name: str) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise _ApiError(400, "invalidParameter", f"{name} must be a date.") from None


@pytest.fixture(name="fake_powens")
def fake_powens_fixture() -> Iterator[FakePowens]:
    """A started FakePowens with no users, stopped after the test."""
    with FakePowens() as fake:
        yield fake
