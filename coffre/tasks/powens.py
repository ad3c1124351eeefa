"""Powens (ex-Budget Insight) bank aggregation, read through its REST API with `requests`.

The customer connects a bank in Powens' webview; Coffre then reads the connections, the
accounts and the transactions with the Powens *user* token, and deletes them at Powens
when the customer disconnects a bank or closes the account. Webhooks (CONNECTION_SYNCED)
say when fresh data is there; `verify_webhook` checks they really come from Powens.

Amounts arrive as JSON decimals; they are parsed as `Decimal` (never `float`) and turned
into integer cents, so that a statement total is exact. Nothing here logs, and no error
message carries the client secret or a user token.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from email.utils import parsedate_to_datetime
from types import TracebackType
from typing import Any
from urllib.parse import urlencode, urljoin, urlsplit

import requests
from schwifty import IBAN

from coffre.tasks.bank_types import StatementAccount, StatementTransaction
from coffre.tasks.retry_after import retry_after_seconds

MAX_LIMIT = 1000  # the reference's maximum for `limit` on the transactions list
WEBVIEW_BASE_URL = "https://webview.powens.com"

#: Connection states (`state`, formerly `error`) in which syncing is stuck until the
#: customer acts in the webview (SCA renewal, new password, confirmation in the bank app…).
USER_ACTION_STATES = frozenset(
    {
        "SCARequired",
        "webauthRequired",
        "additionalInformationNeeded",
        "decoupled",
        "validating",
        "actionNeeded",
        "passwordExpired",
        "wrongpass",
    }
)
#: States where Powens itself will try again later; nothing for the customer to do.
TRANSIENT_STATES = frozenset({"rateLimiting", "websiteUnavailable", "bug"})


# -- errors -------------------------------------------------------------------------


class PowensError(Exception):
    """Powens refused a request (a 4xx other than 401/403), or answered something unusable.

    `code` and `description` are the API's error object fields when it sent one.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        description: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.description = description


class PowensAuthError(PowensError):
    """Powens refused the credentials (401/403): the token is invalid or revoked, and the
    bank connection must be authorised again by the customer."""


class PowensUnavailable(PowensError):
    """Powens could not be reached or kept failing (429, 5xx, timeouts): try again later."""


# -- settings and shapes ------------------------------------------------------------


@dataclass(frozen=True)
class PowensSettings:
    base_url: str  # https://{domain}.biapi.pro/2.0
    client_id: str
    client_secret: str = field(repr=False)
    retries: int = 4
    retry_max_seconds: float = 60
    timeout: float = 30
    webview_base_url: str = WEBVIEW_BASE_URL

    @property
    def domain(self) -> str:
        """The API domain the webview wants (`{domain}.biapi.pro`), taken from base_url."""
        return urlsplit(self.base_url).hostname or ""


@dataclass(frozen=True)
class PowensConnection:
    """A link between the Powens user and one bank.

    `state` is None while the connection syncs normally; otherwise it says why it does
    not (see USER_ACTION_STATES and TRANSIENT_STATES).
    """

    id: int
    state: str | None
    error_message: str | None  # the bank's own words, when the last sync failed
    last_update: datetime | None  # last successful sync
    active: bool
    bank_name: str | None
    connector_id: int | None = None
    connector_uuid: str | None = None
    created: datetime | None = None
    expire: datetime | None = None  # when the consent (PSD2, 180 days) runs out
    next_try: datetime | None = None

    @property
    def needs_user_action(self) -> bool:
        """The customer must go through the webview again (reconnect) before syncs resume."""
        return self.state in USER_ACTION_STATES


@dataclass(frozen=True)
class PowensAccount:
    id: int
    connection_id: int | None
    name: str
    currency: str  # ISO 4217
    balance_cents: int | None
    type: str | None  # checking, savings, card, loan…
    iban: str | None = None  # validated and compact; None when absent or not an IBAN
    number: str | None = None  # the account number as Powens gives it
    original_name: str | None = None
    coming_cents: int | None = None
    last_update: datetime | None = None
    disabled: datetime | None = None  # not synced any more (the user turned it off)
    deleted: datetime | None = None  # no longer found at the bank

    def to_statement_account(self) -> StatementAccount:
        """The shared shape, with the current balance as the closing balance."""
        return StatementAccount(
            currency=self.currency,
            iban=self.iban,
            account_number=None if self.iban else self.number,
            name=self.name,
            closing_balance_cents=self.balance_cents,
            closing_date=self.last_update.date() if self.last_update else None,
        )


@dataclass(frozen=True)
class PowensTransaction:
    id: int
    account_id: int
    date: date  # booking (debit) date
    rdate: dt.date | None  # when it happened (card payment day…)
    vdate: dt.date | None  # value date
    amount_cents: int  # negative: debit
    value: Decimal  # the amount exactly as Powens gave it
    original_wording: str
    simplified_wording: str
    wording: str
    type: str | None  # card, transfer, order, check, withdrawal, bank…
    coming: bool  # not booked yet
    deleted: datetime | None  # set when the bank no longer shows it
    last_update: datetime | None
    currency: str | None = None  # Powens gives none per transaction: the account's
    original_amount_cents: int | None = None  # in original_currency (foreign card use)
    original_currency: str | None = None
    counterparty_label: str | None = None
    counterparty_iban: str | None = None  # when the scheme is IBAN, validated
    counterparty_account: str | None = None  # the identification as given, any scheme
    counterparty_type: str | None = None  # "creditor" or "debtor"
    card: str | None = None

    def to_statement_transaction(self, currency: str | None = None) -> StatementTransaction:
        """The shared shape; `currency` is the account's (transactions carry none)."""
        chosen = currency or self.currency
        if not chosen:
            raise ValueError("a Powens transaction has no currency: pass the account's")
        return StatementTransaction(
            booking_date=self.date,
            amount_cents=self.amount_cents,
            currency=chosen,
            wording=self.original_wording or self.wording,
            value_date=self.vdate,
            counterparty_name=self.counterparty_label,
            counterparty_iban=self.counterparty_iban,
            bank_reference=str(self.id),
        )


# -- the client ---------------------------------------------------------------------


class PowensClient:
    """One Powens domain, through a `requests.Session`; usable as a context manager.

    Every call is retried on 429, 5xx, timeouts and refused connections, with exponential
    backoff (1, 2, 4… seconds) or the server's Retry-After, never more than
    `retry_max_seconds` at a time and `retries` times in all.
    """

    def __init__(
        self,
        settings: PowensSettings,
        *,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.settings = settings
        self._session = session or requests.Session()
        self._sleep = sleep
        split = urlsplit(settings.base_url)
        self._origin = (split.scheme, split.netloc)

    def __enter__(self) -> PowensClient:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._session.close()

    # -- users and the webview ------------------------------------------------------

    def create_user(self) -> str:
        """Create a Powens user (`POST /auth/init` with the client credentials) and return
        its permanent token, to be stored encrypted: it gives access to the user's banks."""
        body = self._json(
            "POST",
            "/auth/init",
            json={
                "client_id": self.settings.client_id,
                "client_secret": self.settings.client_secret,
            },
            auth_refused="Powens refused the client credentials (client_id/client_secret).",
        )
        token = body.get("auth_token") if isinstance(body, dict) else None
        if not isinstance(token, str) or not token:
            raise PowensError("Powens created no user token (no auth_token in the answer).")
        if body.get("type", "permanent") != "permanent":
            # Without valid client credentials the token would expire in 30 minutes.
            raise PowensError("Powens issued a temporary user token, not a permanent one.")
        return token

    def webview_url(
        self,
        token: str,
        redirect_uri: str,
        state: str | None = None,
        connector_ids: Iterable[int] | None = None,
        *,
        lang: str | None = None,
    ) -> str:
        """The link that sends the customer to Powens' webview to connect a bank.

        The permanent token never goes to the browser: a single-use temporary code
        (`GET /auth/token/code?type=singleAccess`, valid 30 minutes) does.
        """
        params: list[tuple[str, str]] = [
            ("domain", self.settings.domain),
            ("client_id", self.settings.client_id),
            ("redirect_uri", redirect_uri),
            ("code", self._temporary_code(token)),
        ]
        if state is not None:
            params.append(("state", state))
        if connector_ids is not None:
            params.append(("connector_ids", ",".join(str(int(i)) for i in connector_ids)))
        return self._webview("connect", params, lang)

    def reconnect_url(
        self,
        token: str,
        redirect_uri: str,
        connection_id: int,
        state: str | None = None,
        *,
        lang: str | None = None,
    ) -> str:
        """The webview link to renew a connection's consent or credentials (SCA…)."""
        params: list[tuple[str, str]] = [
            ("domain", self.settings.domain),
            ("client_id", self.settings.client_id),
            ("redirect_uri", redirect_uri),
            ("code", self._temporary_code(token)),
            ("connection_id", str(int(connection_id))),
        ]
        if state is not None:
            params.append(("state", state))
        return self._webview("reconnect", params, lang)

    def _temporary_code(self, token: str) -> str:
        body = self._json("GET", "/auth/token/code", token=token, params={"type": "singleAccess"})
        code = body.get("code") if isinstance(body, dict) else None
        if not isinstance(code, str) or not code:
            raise PowensError("Powens gave no temporary code for the webview.")
        return code

    def _webview(self, flow: str, params: list[tuple[str, str]], lang: str | None) -> str:
        prefix = f"{lang}/" if lang else ""
        base = self.settings.webview_base_url.rstrip("/")
        return f"{base}/{prefix}{flow}?{urlencode(params)}"

    def delete_user(self, token: str) -> None:
        """Delete the Powens user and all its data (`DELETE /users/me`): account closure."""
        self._request("DELETE", "/users/me", token=token)

    # -- connections and accounts ---------------------------------------------------

    def connections(self, token: str) -> list[PowensConnection]:
        """The user's bank connections (`GET /users/me/connections?expand=connector`)."""
        body = self._json(
            "GET", "/users/me/connections", token=token, params={"expand": "connector"}
        )
        return [_connection(raw) for raw in _list_in(body, "connections")]

    def delete_connection(self, token: str, connection_id: int) -> bool:
        """Delete a connection at Powens (`DELETE /users/me/connections/{id}`): its accounts
        and transactions are permanently gone from the API. False if it was already gone."""
        try:
            self._request("DELETE", f"/users/me/connections/{int(connection_id)}", token=token)
        except PowensError as error:
            if error.status == 404:
                return False
            raise
        return True

    def accounts(
        self, token: str, connection_id: int | None = None, *, include_disabled: bool = True
    ) -> list[PowensAccount]:
        """The user's bank accounts, or one connection's.

        `include_disabled` sends `all`, so that disabled and deleted accounts come too
        (with their dates set) and the store can tell them from new ones.
        """
        path = (
            "/users/me/accounts"
            if connection_id is None
            else f"/users/me/connections/{int(connection_id)}/accounts"
        )
        params: dict[str, str | None] | None = {"all": None} if include_disabled else None
        body = self._json("GET", path, token=token, params=params)
        return [_account(raw) for raw in _list_in(body, "accounts")]

    # -- transactions ---------------------------------------------------------------

    def transactions(
        self,
        token: str,
        *,
        connection_id: int | None = None,
        account_id: int | None = None,
        last_update: datetime | None = None,
        min_date: date | None = None,
        max_date: date | None = None,
        limit: int = MAX_LIMIT,
    ) -> Iterator[PowensTransaction]:
        """The user's transactions (or one connection's, or one account's), page by page.

        `all` is always sent, so transactions the bank no longer shows come back with
        `deleted` set instead of silently vanishing. With `last_update`, only those
        created or changed strictly after it come (incremental sync). Pages are followed
        through `_links.next.href`, exactly as given, until there is none. Arguments are
        checked here, before any request, not when iteration starts.
        """
        if connection_id is not None and account_id is not None:
            raise ValueError("give connection_id or account_id, not both")
        if isinstance(limit, bool) or not 1 <= int(limit) <= MAX_LIMIT:
            raise ValueError(f"limit must be between 1 and {MAX_LIMIT} (Powens' maximum)")
        if account_id is not None:
            path = f"/users/me/accounts/{int(account_id)}/transactions"
        elif connection_id is not None:
            path = f"/users/me/connections/{int(connection_id)}/transactions"
        else:
            path = "/users/me/transactions"
        params: dict[str, str | None] = {"limit": str(int(limit)), "all": None}
        if last_update is not None:
            params["last_update"] = format_datetime(last_update)
        if min_date is not None:
            params["min_date"] = min_date.isoformat()
        if max_date is not None:
            params["max_date"] = max_date.isoformat()
        return self._pages(token, path, params)

    def _pages(
        self, token: str, path: str, params: Mapping[str, str | None]
    ) -> Iterator[PowensTransaction]:
        body = self._json("GET", path, token=token, params=params)
        seen: set[str] = set()
        while True:
            for raw in _list_in(body, "transactions"):
                yield _transaction(raw)
            href = _next_href(body)
            if href is None:
                return
            url = self._same_origin(href)
            if url in seen:
                raise PowensError("Powens sent the same next page twice; stopping there.")
            seen.add(url)
            body = self._json("GET", url, token=token)

    def _same_origin(self, href: str) -> str:
        """The next page's URL, as given (relative ones resolved against base_url); the
        token is never sent to another host than the configured one."""
        url = urljoin(self.settings.base_url, href)
        split = urlsplit(url)
        if (split.scheme, split.netloc) != self._origin:
            raise PowensError("Powens' next page points to another host; not following it.")
        return url

    # -- HTTP -----------------------------------------------------------------------

    def _json(
        self,
        method: str,
        path_or_url: str,
        *,
        token: str | None = None,
        params: Mapping[str, str | None] | None = None,
        json: Any = None,
        auth_refused: str | None = None,
    ) -> Any:
        response = self._request(
            method, path_or_url, token=token, params=params, json=json, auth_refused=auth_refused
        )
        try:
            return response.json(parse_float=Decimal)
        except ValueError as error:
            raise PowensError(
                f"Powens answered {method} {_path(path_or_url)} with something that is not JSON.",
                status=response.status_code,
            ) from error

    def _request(
        self,
        method: str,
        path_or_url: str,
        *,
        token: str | None = None,
        params: Mapping[str, str | None] | None = None,
        json: Any = None,
        auth_refused: str | None = None,
    ) -> requests.Response:
        """One API call, retried on 429, 5xx and network failures."""
        url = (
            path_or_url
            if "://" in path_or_url
            else self.settings.base_url.rstrip("/") + path_or_url
        )
        where = f"{method} {_path(url)}"
        headers = {"Accept": "application/json"}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        attempt = 0
        while True:
            delay: float | None = None
            try:
                response = self._session.request(
                    method,
                    url,
                    params=_query(params) if params else None,
                    json=json,
                    headers=headers,
                    timeout=self.settings.timeout,
                )
            except (requests.Timeout, requests.ConnectionError) as error:
                failure = type(error).__name__
                last_error: BaseException | None = error
            else:
                status = response.status_code
                if status < 400:
                    return response
                code, description = _error_fields(response)
                if status in (401, 403):
                    raise PowensAuthError(
                        auth_refused
                        or (
                            f"Powens refused the user token ({status} on {where}): it is "
                            "invalid or revoked, so the bank connection must be authorised "
                            "again through the Powens webview."
                        ),
                        status=status,
                        code=code,
                        description=description,
                    )
                if status != 429 and status < 500:
                    detail = ": ".join(part for part in (code, description) if part)
                    raise PowensError(
                        f"Powens refused {where} ({status}{': ' + detail if detail else ''}).",
                        status=status,
                        code=code,
                        description=description,
                    )
                failure = f"HTTP {status}"
                last_error = None
                delay = retry_after_seconds(response.headers.get("Retry-After"))
            if attempt >= self.settings.retries:
                raise PowensUnavailable(
                    f"Powens kept failing on {where} after {attempt + 1} attempts "
                    f"(last: {failure}); try again later."
                ) from last_error
            backoff = float(2**attempt) if delay is None else delay
            self._sleep(min(backoff, self.settings.retry_max_seconds))
            attempt += 1


# -- webhooks -----------------------------------------------------------------------


def verify_webhook(
    headers: Mapping[str, str],
    raw_body: bytes,
    secret: str,
    *,
    path: str,
    method: str = "POST",
    max_age: timedelta | None = None,
    now: datetime | None = None,
) -> bool:
    """Whether a webhook request was signed by Powens with this webhook secret.

    Powens signs with HMAC-SHA256, keyed by the secret shown in its console, over
    `METHOD + "." + PATH + "." + BI-Signature-Date + "." + raw body`, and sends the
    Base64 digest in `BI-Signature` (PATH is the request path of the webhook URL, without
    the query string). Comparison is constant-time; missing headers mean False. With
    `max_age`, a BI-Signature-Date older (or further in the future) than that is refused,
    so a captured request cannot be replayed later.
    """
    signature = _header(headers, "BI-Signature")
    signed_date = _header(headers, "BI-Signature-Date")
    if not signature or not signed_date or not secret:
        return False
    message = b".".join(
        (method.upper().encode(), path.encode(), signed_date.encode(), bytes(raw_body))
    )
    digest = hmac.new(secret.encode(), message, hashlib.sha256).digest()
    expected = base64.b64encode(digest)
    if not hmac.compare_digest(expected, signature.strip().encode("utf-8", "replace")):
        return False
    if max_age is not None:
        when = _signature_date(signed_date)
        if when is None:
            return False
        current = now or datetime.now(UTC)
        if abs(current - when) > max_age:
            return False
    return True


def connection_id_from_webhook(payload: Any) -> int | None:
    """The connection a webhook is about (CONNECTION_SYNCED carries `connection.id`)."""
    if not isinstance(payload, Mapping):
        return None
    connection = payload.get("connection")
    if isinstance(connection, Mapping):
        found = _int_or_none(connection.get("id"))
        if found is not None:
            return found
    return _int_or_none(payload.get("id_connection"))


# -- helpers ------------------------------------------------------------------------


def format_datetime(value: datetime) -> str:
    """Powens' datetime form (`YYYY-MM-DD HH:MM:SS`, UTC) for query parameters."""
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value.strftime("%Y-%m-%d %H:%M:%S")


def _query(params: Mapping[str, str | None]) -> str:
    """A query string where None marks a value-less flag (`all`), as the reference has it."""
    return "&".join(
        key if value is None else urlencode({key: value}) for key, value in params.items()
    )


def _path(url: str) -> str:
    """The path alone, for messages: queries stay out of them."""
    return urlsplit(url).path or url


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is None:
        wanted = name.lower()
        value = next((v for k, v in headers.items() if k.lower() == wanted), None)
    return value if isinstance(value, str) else None


def _signature_date(text: str) -> datetime | None:
    parsed: datetime | None
    try:
        parsed = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        parsed = _datetime(text)
    if parsed is not None and parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


def _error_fields(response: requests.Response) -> tuple[str | None, str | None]:
    """The API's error `code` and `description` (or `message`), when the body has them."""
    try:
        body = response.json()
    except ValueError:
        return None, None
    if not isinstance(body, dict):
        return None, None
    code = body.get("code")
    description = body.get("description") or body.get("message")
    return (
        str(code) if code is not None else None,
        str(description) if description is not None else None,
    )


def _list_in(body: Any, key: str) -> list[Mapping[str, Any]]:
    items = body.get(key) if isinstance(body, dict) else None
    if not isinstance(items, list):
        raise PowensError(f"Powens' answer has no {key!r} list.")
    return [item for item in items if isinstance(item, Mapping)]


def _next_href(body: Any) -> str | None:
    links = body.get("_links") if isinstance(body, dict) else None
    following = links.get("next") if isinstance(links, dict) else None
    href = following.get("href") if isinstance(following, dict) else None
    return href if isinstance(href, str) and href else None


def _decimal(value: Any) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, Decimal):
        return value
    try:
        # str() of a float is its shortest exact form (-12.3), never its binary expansion.
        return Decimal(str(value))
    except InvalidOperation as error:
        raise PowensError(f"Powens sent an amount that is not a number: {value!r}.") from error


def _cents(value: Any) -> int | None:
    amount = _decimal(value)
    return None if amount is None else _exact_cents(amount)


def _exact_cents(amount: Decimal) -> int:
    """Cents, exactly: an amount finer than a cent is refused rather than rounded."""
    if not amount.is_finite():
        raise PowensError(f"Powens sent an amount that is not a number: {amount}.")
    cents = amount.scaleb(2)
    if cents != cents.to_integral_value():
        raise PowensError(f"Powens sent an amount finer than a cent ({amount}); not rounding.")
    return int(cents)


def _date(value: Any) -> date | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return None


def _datetime(value: Any) -> datetime | None:
    """Powens datetimes (`2024-05-02 10:11:12`, naive: taken as UTC) or ISO 8601 ones."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace(" ", "T", 1))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _int_or_none(value: Any) -> int | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _iban(value: Any) -> str | None:
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        return str(IBAN(value).compact)
    except ValueError:
        return None


def _currency(value: Any) -> str | None:
    """Powens gives currencies as objects (`{"id": "EUR", …}`); plain codes are taken too."""
    if isinstance(value, Mapping):
        value = value.get("id")
    return value.upper() if isinstance(value, str) and value else None


def _required_int(raw: Mapping[str, Any], key: str, what: str) -> int:
    found = _int_or_none(raw.get(key))
    if found is None:
        raise PowensError(f"Powens sent a {what} without {key!r}.")
    return found


def _connection(raw: Mapping[str, Any]) -> PowensConnection:
    connector = raw.get("connector")
    connector = connector if isinstance(connector, Mapping) else {}
    state = raw.get("state", raw.get("error"))
    return PowensConnection(
        id=_required_int(raw, "id", "connection"),
        state=_str_or_none(state),
        error_message=_str_or_none(raw.get("error_message")),
        last_update=_datetime(raw.get("last_update")),
        active=bool(raw.get("active", True)),
        bank_name=_str_or_none(connector.get("name")),
        connector_id=_int_or_none(raw.get("id_connector", connector.get("id"))),
        connector_uuid=_str_or_none(raw.get("connector_uuid") or connector.get("uuid")),
        created=_datetime(raw.get("created")),
        expire=_datetime(raw.get("expire")),
        next_try=_datetime(raw.get("next_try")),
    )


def _account(raw: Mapping[str, Any]) -> PowensAccount:
    currency = _currency(raw.get("currency"))
    if currency is None:
        raise PowensError(f"Powens sent account {raw.get('id')!r} without a currency.")
    return PowensAccount(
        id=_required_int(raw, "id", "account"),
        connection_id=_int_or_none(raw.get("id_connection")),
        name=_str_or_none(raw.get("name")) or _str_or_none(raw.get("original_name")) or "",
        currency=currency,
        balance_cents=_cents(raw.get("balance")),
        type=_str_or_none(raw.get("type")),
        iban=_iban(raw.get("iban")),
        number=_str_or_none(raw.get("number")),
        original_name=_str_or_none(raw.get("original_name")),
        coming_cents=_cents(raw.get("coming")),
        last_update=_datetime(raw.get("last_update")),
        disabled=_datetime(raw.get("disabled")),
        deleted=_datetime(raw.get("deleted")),
    )


def _transaction(raw: Mapping[str, Any]) -> PowensTransaction:
    tx_id = _required_int(raw, "id", "transaction")
    value = _decimal(raw.get("value"))
    booked = _date(raw.get("date"))
    if value is None or booked is None:
        raise PowensError(f"Powens sent transaction {tx_id} without a value or a date.")
    counterparty = raw.get("counterparty")
    counterparty = counterparty if isinstance(counterparty, Mapping) else {}
    identification = _str_or_none(counterparty.get("account_identification"))
    scheme = _str_or_none(counterparty.get("account_scheme_name"))
    original = _str_or_none(raw.get("original_wording")) or ""
    simplified = _str_or_none(raw.get("simplified_wording")) or ""
    return PowensTransaction(
        id=tx_id,
        account_id=_required_int(raw, "id_account", "transaction"),
        date=booked,
        rdate=_date(raw.get("rdate")),
        vdate=_date(raw.get("vdate")),
        amount_cents=_exact_cents(value),
        value=value,
        original_wording=original,
        simplified_wording=simplified,
        wording=_str_or_none(raw.get("wording")) or simplified or original,
        type=_str_or_none(raw.get("type")),
        coming=bool(raw.get("coming", False)),
        deleted=_datetime(raw.get("deleted")),
        last_update=_datetime(raw.get("last_update")),
        currency=_currency(raw.get("currency")),
        original_amount_cents=_cents(raw.get("original_value")),
        original_currency=_currency(raw.get("original_currency")),
        counterparty_label=_str_or_none(counterparty.get("label")),
        counterparty_iban=_iban(identification) if scheme in (None, "iban") else None,
        counterparty_account=identification,
        counterparty_type=_str_or_none(counterparty.get("type")),
        card=_str_or_none(raw.get("card")),
    )
