"""A fake Nylas v3 API for tests: a local HTTP server the real ``nylas`` SDK can talk to.

Why a server rather than mocks: the mail import goes through ``nylas.Client``, so the SDK's
own URL and query building, error parsing and pagination must run for real. This server
answers the read endpoints the import needs with the v3 reference's paths and JSON shapes
(``{"request_id", "data"}``, ``next_cursor``, ``{"request_id", "error": {"type",
"message"}}``), offline and in milliseconds.

Mail is only ever read: every request that could change an account (any method but GET,
except deleting a grant) is answered with a plausible body but recorded in ``violations``
and changes nothing, so tests can assert the client never modifies a mailbox.

Choices where the reference is silent or provider-dependent (kept deliberately strict):

* folder IDs are opaque (as with Microsoft and IMAP), so ``in`` must be an ID taken from
  the folders list; an unknown ID, or a name such as ``inbox``, answers 400;
* ``received_after`` is inclusive and ``received_before`` exclusive (half-open windows
  neither overlap nor leave gaps); ``subject`` is a case-sensitive substring match;
  ``has_attachment`` ignores inline parts; booleans accept ``true``/``false`` in any case
  (the SDK sends ``True``/``False``);
* an expired or revoked grant answers 401 ``api.authentication_error`` on its mail
  endpoints, while ``GET /v3/grants/{id}`` (an application-level call) still answers, with
  ``grant_status: "invalid"``; a deleted or unknown grant answers 404 ``grant.not_found``;
* ``limit`` defaults to 50 and is capped at 200; ``next_cursor`` is omitted on the last page.

Enable the ``fake_nylas`` fixture with
``from tests.fake_nylas import fake_nylas_fixture  # noqa: F401``.
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, parseaddr
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

DEFAULT_LIMIT = 50
MAX_LIMIT = 200

#: Error type of a 401 for an expired or revoked grant (the reference's generic 401 type).
GRANT_EXPIRED_ERROR_TYPE = "api.authentication_error"

#: (key, display name, attribute) of the system folders every grant starts with.
SYSTEM_FOLDERS: tuple[tuple[str, str, str], ...] = (
    ("inbox", "Inbox", "\\Inbox"),
    ("sent", "Sent", "\\Sent"),
    ("drafts", "Drafts", "\\Drafts"),
    ("trash", "Trash", "\\Trash"),
    ("junk", "Junk", "\\Junk"),
)

_ERROR_TYPES = {
    400: "api.invalid_request_error",
    401: "api.authentication_error",
    403: "grant.access_denied",
    404: "api.not_found_error",
    429: "api.rate_limit_error",
    500: "api.internal_error",
    502: "api.provider_error",
    503: "api.provider_error",
    504: "api.provider_error",
}
_ERROR_MESSAGES = {
    429: "Rate limit error.",
    500: "Internal error, contact administrator.",
}


def _hex_id(prefix: str = "") -> str:
    """An opaque identifier, unlike any name, so tests catch names used as IDs."""
    return prefix + secrets.token_hex(8)


@dataclass
class FakeAttachment:
    """An attachment as stored by the provider; ``id`` is what the API exposes."""

    filename: str
    content_type: str
    data: bytes
    is_inline: bool = False
    id: str = field(default_factory=lambda: _hex_id("att_"))
    content_id: str | None = None  # inline parts get "<id@fake.nylas>" when left None


@dataclass
class FakeMessage:
    """A received message. ``folder`` is a folder key: a system one ("inbox", "sent",
    "drafts", "trash", "junk") or any other name, created as a user folder on first use.
    ``sender`` and ``to`` take "Name <address>" or a bare address; ``to`` defaults to the
    grant's address."""

    subject: str
    sender: str
    folder: str = "inbox"
    received_at: int = field(default_factory=lambda: int(time.time()))
    attachments: list[FakeAttachment] = field(default_factory=list)
    id: str = field(default_factory=_hex_id)
    to: str | None = None
    body: str = ""


@dataclass
class _Folder:
    id: str
    key: str
    name: str
    attributes: list[str]
    system: bool


@dataclass
class _Grant:
    id: str
    email: str
    provider: str
    created_at: int
    revoked: bool = False
    folders: dict[str, _Folder] = field(default_factory=dict)  # by key
    messages: dict[str, FakeMessage] = field(default_factory=dict)
    order: dict[str, int] = field(default_factory=dict)  # message id -> insertion rank


@dataclass
class _Failure:
    status: int
    remaining: int
    retry_after: int | None
    path_contains: str


class _ApiError(Exception):
    """An error answer, raised anywhere in routing and rendered in the reference's shape."""

    def __init__(self, status: int, message: str, type_: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type_ or _ERROR_TYPES.get(status, "api.internal_error")


@dataclass
class _Answer:
    status: int
    body: bytes
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)


class FakeNylas:
    """The fake API: its state (grants, folders, messages), its server and what it saw.

    ``requests`` lists (method, path+query as sent) of every request received,
    ``downloaded_bytes`` and ``downloads`` (attachment IDs, in order) count attachment
    downloads, ``violations`` lists "METHOD /path" of every write attempt, and
    ``deleted_grants`` the IDs of grants deleted through the API.
    """

    def __init__(self, api_key: str = "fake-nylas-api-key") -> None:
        self.api_key = api_key
        self.requests: list[tuple[str, str]] = []
        self.downloaded_bytes = 0
        self.downloads: list[str] = []
        self.violations: list[str] = []
        self.deleted_grants: list[str] = []
        self._grants: dict[str, _Grant] = {}
        self._failures: list[_Failure] = []
        self._cursors: dict[str, int] = {}
        self._rank = 0
        self._lock = threading.RLock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------

    @property
    def url(self) -> str:
        """Base URL to give the SDK as ``api_uri`` (http://127.0.0.1:PORT)."""
        if self._server is None:
            raise RuntimeError("FakeNylas is not started")
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> FakeNylas:
        """Serve on a free port of 127.0.0.1 from a daemon thread."""
        if self._server is not None:
            return self
        server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        server.daemon_threads = True
        server.fake = self  # type: ignore[attr-defined]
        self._server = server
        # A short poll interval keeps stop() fast; shutdown() waits for one poll.
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and free the port."""
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> FakeNylas:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- state -----------------------------------------------------------------------

    def add_grant(
        self, email: str, grant_id: str | None = None, provider: str = "microsoft"
    ) -> str:
        """Create a valid grant with the system folders; return its ID."""
        gid = grant_id or str(uuid.uuid4())
        with self._lock:
            grant = _Grant(id=gid, email=email, provider=provider, created_at=int(time.time()))
            for key, name, attribute in SYSTEM_FOLDERS:
                grant.folders[key] = _Folder(_hex_id("fld_"), key, name, [attribute], True)
            self._grants[gid] = grant
        return gid

    def add_folder(self, grant_id: str, name: str) -> str:
        """Create a user folder (key = name, case-insensitive) if missing; return its ID."""
        with self._lock:
            return self._folder_for(self._grants[grant_id], name).id

    def folder_id(self, grant_id: str, key: str) -> str:
        """The opaque ID of a folder, by key ("inbox", "sent", ... or a user folder name)."""
        with self._lock:
            return self._grants[grant_id].folders[key.lower()].id

    def add_message(self, grant_id: str, message: FakeMessage) -> FakeMessage:
        """Put a message in the grant's mailbox (creating its folder if needed)."""
        with self._lock:
            grant = self._grants[grant_id]
            self._folder_for(grant, message.folder)
            if message.to is None:
                message.to = grant.email
            for attachment in message.attachments:
                if attachment.is_inline and attachment.content_id is None:
                    attachment.content_id = f"<{attachment.id}@fake.nylas>"
            grant.messages[message.id] = message
            self._rank += 1
            grant.order[message.id] = self._rank
        return message

    def revoke(self, grant_id: str) -> None:
        """Mark the grant expired: its mail endpoints answer 401 from now on."""
        with self._lock:
            self._grants[grant_id].revoked = True

    def fail_next(
        self,
        status: int,
        times: int = 1,
        retry_after: int | None = None,
        path_contains: str = "",
    ) -> None:
        """Answer the next ``times`` requests whose path+query contains ``path_contains``
        with ``status`` (and ``Retry-After`` if given) instead of the real answer.
        Injections queue up: the oldest matching one is used first."""
        with self._lock:
            self._failures.append(_Failure(status, times, retry_after, path_contains))

    def _folder_for(self, grant: _Grant, key: str) -> _Folder:
        folder = grant.folders.get(key.lower())
        if folder is None:
            folder = _Folder(_hex_id("fld_"), key.lower(), key, [], False)
            grant.folders[folder.key] = folder
        return folder

    # -- HTTP ------------------------------------------------------------------------

    def _handle(self, method: str, raw_path: str, headers: Any, body: bytes) -> _Answer:
        """Route one request; every answer, error or not, goes through here."""
        request_id = str(uuid.uuid4())
        with self._lock:
            self.requests.append((method, raw_path))
            split = urlsplit(raw_path)
            segments = [unquote(s) for s in split.path.strip("/").split("/") if s]
            is_write = method != "GET" and not (
                method == "DELETE" and len(segments) == 3 and segments[:2] == ["v3", "grants"]
            )
            if is_write:
                self.violations.append(f"{method} {split.path}")
            try:
                injected = self._take_failure(raw_path)
                if injected is not None:
                    raise injected
                if headers.get("Authorization") != f"Bearer {self.api_key}":
                    raise _ApiError(401, "Unauthorized")
                query = parse_qs(split.query, keep_blank_values=True)
                return self._route(method, segments, query, body, is_write, request_id)
            except _ApiError as exc:
                answer = _json(
                    exc.status,
                    {
                        "request_id": request_id,
                        "error": {"type": exc.type, "message": exc.message},
                    },
                )
                if isinstance(exc, _InjectedError) and exc.retry_after is not None:
                    answer.headers["Retry-After"] = str(exc.retry_after)
                return answer

    def _take_failure(self, raw_path: str) -> _InjectedError | None:
        for failure in self._failures:
            if failure.path_contains in raw_path:
                failure.remaining -= 1
                if failure.remaining <= 0:
                    self._failures.remove(failure)
                message = _ERROR_MESSAGES.get(failure.status, "Injected failure.")
                return _InjectedError(failure.status, message, failure.retry_after)
        return None

    def _route(
        self,
        method: str,
        segments: list[str],
        query: dict[str, list[str]],
        body: bytes,
        is_write: bool,
        request_id: str,
    ) -> _Answer:
        if len(segments) < 3 or segments[:2] != ["v3", "grants"]:
            raise _ApiError(404, "Resource not found.")
        grant = self._resolve_grant(segments[2])
        rest = segments[3:]
        if not rest:
            if method == "DELETE":
                del self._grants[grant.id]
                self.deleted_grants.append(grant.id)
                return _json(200, {"request_id": request_id})
            if method == "GET":
                return _data(request_id, _grant_json(grant))
        if grant.revoked:
            raise _ApiError(
                401,
                "Grant has expired or been revoked; the user must re-authenticate.",
                GRANT_EXPIRED_ERROR_TYPE,
            )
        if is_write:
            return self._answer_write(method, grant, rest, body, request_id)
        match rest:
            case ["folders"]:
                folders = sorted(grant.folders.values(), key=lambda f: (not f.system, f.name))
                return self._list(request_id, [self._folder_json(grant, f) for f in folders], query)
            case ["folders", folder_id]:
                return _data(request_id, self._folder_json(grant, self._folder(grant, folder_id)))
            case ["messages"]:
                messages = self._filter_messages(grant, query)
                fields, select = _fields(query), _select(query)
                page = [self._message_json(grant, m, fields, select) for m in messages]
                return self._list(request_id, page, query)
            case ["messages", message_id]:
                message = self._message(grant, message_id)
                return _data(
                    request_id, self._message_json(grant, message, _fields(query), _select(query))
                )
            case ["attachments", attachment_id]:
                attachment = self._attachment(grant, attachment_id, query)
                return _data(request_id, _attachment_json(grant, attachment))
            case ["attachments", attachment_id, "download"]:
                attachment = self._attachment(grant, attachment_id, query)
                self.downloaded_bytes += len(attachment.data)
                self.downloads.append(attachment.id)
                disposition = "inline" if attachment.is_inline else "attachment"
                return _Answer(
                    200,
                    attachment.data,
                    attachment.content_type,
                    {"Content-Disposition": f'{disposition}; filename="{attachment.filename}"'},
                )
        raise _ApiError(404, "Resource not found.")

    def _answer_write(
        self, method: str, grant: _Grant, rest: list[str], body: bytes, request_id: str
    ) -> _Answer:
        """A plausible answer to a write, which changes nothing (it is a violation)."""
        if method == "DELETE":
            return _json(200, {"request_id": request_id})
        if not rest:
            return _data(request_id, _grant_json(grant))
        kind = rest[0]
        target = rest[1] if len(rest) > 1 and rest[1] != "send" else None
        if kind == "messages" and target in grant.messages:
            return _data(request_id, self._message_json(grant, grant.messages[target], "", None))
        folder = next((f for f in grant.folders.values() if f.id == target), None)
        if kind == "folders" and folder is not None:
            return _data(request_id, self._folder_json(grant, folder))
        data: dict[str, Any] = {
            "id": target or _hex_id(),
            "grant_id": grant.id,
            "object": {"messages": "message", "drafts": "draft", "folders": "folder"}.get(
                kind, kind
            ),
        }
        if kind == "folders":
            try:
                data["name"] = json.loads(body or b"{}").get("name", "")
            except (ValueError, AttributeError):
                data["name"] = ""
        return _data(request_id, data)

    # -- lookups ---------------------------------------------------------------------

    def _resolve_grant(self, identifier: str) -> _Grant:
        """By ID or, as the reference allows, by the grant's email address."""
        grant = self._grants.get(identifier)
        if grant is None:
            grant = next(
                (g for g in self._grants.values() if g.email.lower() == identifier.lower()), None
            )
        if grant is None:
            raise _ApiError(404, "Grant not found.", "grant.not_found")
        return grant

    def _folder(self, grant: _Grant, folder_id: str) -> _Folder:
        for folder in grant.folders.values():
            if folder.id == folder_id:
                return folder
        raise _ApiError(404, f"Folder {folder_id!r} not found.")

    def _message(self, grant: _Grant, message_id: str) -> FakeMessage:
        message = grant.messages.get(message_id)
        if message is None:
            raise _ApiError(404, f"Message {message_id!r} not found.")
        return message

    def _attachment(
        self, grant: _Grant, attachment_id: str, query: dict[str, list[str]]
    ) -> FakeAttachment:
        message_id = _one(query, "message_id")
        if not message_id:
            raise _ApiError(400, "message_id is required.")
        for attachment in self._message(grant, message_id).attachments:
            if attachment.id == attachment_id:
                return attachment
        raise _ApiError(404, f"Attachment {attachment_id!r} not found on message {message_id!r}.")

    # -- listing ---------------------------------------------------------------------

    def _filter_messages(self, grant: _Grant, query: dict[str, list[str]]) -> list[FakeMessage]:
        """The grant's messages matching the query, newest first."""
        if "search_query_native" in query:
            raise _ApiError(400, "search_query_native is not supported by this fake.")
        folder_ids = _many(query, "in")
        for folder_id in folder_ids:
            if not any(f.id == folder_id for f in grant.folders.values()):
                raise _ApiError(400, f"Folder {folder_id!r} not found: `in` takes a folder ID.")
        senders = {a.lower() for a in _many(query, "from")}
        recipients = {a.lower() for a in _many(query, "to")}
        anyone = {a.lower() for a in _many(query, "any_email")}
        subject = _one(query, "subject")
        after = _int(query, "received_after")
        before = _int(query, "received_before")
        has_attachment = _bool(query, "has_attachment")
        unread = _bool(query, "unread")
        starred = _bool(query, "starred")
        thread_id = _one(query, "thread_id")

        selected = []
        for message in grant.messages.values():
            sender = parseaddr(message.sender)[1].lower()
            recipient = parseaddr(message.to or "")[1].lower()
            folder = grant.folders[message.folder.lower()]
            attached = any(not a.is_inline for a in message.attachments)
            if (
                (folder_ids and folder.id not in folder_ids)
                or (senders and sender not in senders)
                or (recipients and recipient not in recipients)
                or (anyone and not anyone & {sender, recipient})
                or (subject is not None and subject not in message.subject)
                or (after is not None and message.received_at < after)
                or (before is not None and message.received_at >= before)
                or (has_attachment is not None and attached != has_attachment)
                or unread is True  # every fake message is read and unstarred
                or starred is True
                or (thread_id is not None and thread_id != f"thr_{message.id}")
            ):
                continue
            selected.append(message)
        selected.sort(key=lambda m: (m.received_at, grant.order[m.id]), reverse=True)
        return selected

    def _list(self, request_id: str, items: list[Any], query: dict[str, list[str]]) -> _Answer:
        """One page of ``items`` per ``limit`` / ``page_token``, with ``next_cursor``."""
        limit = _int(query, "limit")
        if limit is None:
            limit = DEFAULT_LIMIT
        if limit < 1:
            raise _ApiError(400, "limit must be a positive integer.")
        limit = min(limit, MAX_LIMIT)
        token = _one(query, "page_token")
        offset = 0
        if token:
            if token not in self._cursors:
                raise _ApiError(400, "Invalid page_token.")
            offset = self._cursors[token]
        payload: dict[str, Any] = {"request_id": request_id, "data": items[offset : offset + limit]}
        if offset + limit < len(items):
            cursor = secrets.token_urlsafe(18)
            self._cursors[cursor] = offset + limit
            payload["next_cursor"] = cursor
        return _json(200, payload)

    # -- objects ---------------------------------------------------------------------

    def _folder_json(self, grant: _Grant, folder: _Folder) -> dict[str, Any]:
        total = sum(1 for m in grant.messages.values() if m.folder.lower() == folder.key)
        return {
            "id": folder.id,
            "grant_id": grant.id,
            "object": "folder",
            "name": folder.name,
            "attributes": list(folder.attributes),
            "system_folder": folder.system,
            "parent_id": None,
            "child_count": 0,
            "total_count": total,
            "unread_count": 0,
        }

    def _message_json(
        self, grant: _Grant, message: FakeMessage, fields: str, select: list[str] | None
    ) -> dict[str, Any]:
        sender_name, sender = parseaddr(message.sender)
        to_name, to = parseaddr(message.to or grant.email)
        if fields == "raw_mime":
            return {
                "grant_id": grant.id,
                "object": "message",
                "id": message.id,
                "raw_mime": _raw_mime(message, grant.email),
            }
        data: dict[str, Any] = {
            "object": "message",
            "id": message.id,
            "grant_id": grant.id,
            "thread_id": f"thr_{message.id}",
            "subject": message.subject,
            "from": [{"name": sender_name, "email": sender}],
            "to": [{"name": to_name, "email": to}],
            "cc": [],
            "bcc": [],
            "reply_to": [],
            "date": message.received_at,
            "created_at": message.received_at,
            "unread": False,
            "starred": False,
            "folders": [grant.folders[message.folder.lower()].id],
            "snippet": (message.body or message.subject)[:100],
            "body": message.body,
            "attachments": [_attachment_json(grant, a) for a in message.attachments],
        }
        if fields == "include_headers":
            data["headers"] = [
                {"name": "From", "value": message.sender},
                {"name": "To", "value": message.to or grant.email},
                {"name": "Subject", "value": message.subject},
                {"name": "Date", "value": formatdate(message.received_at)},
                {"name": "Message-ID", "value": f"<{message.id}@fake.nylas>"},
            ]
        if select is not None:
            keep = {"id", "grant_id", "object", *select}  # the SDK needs grant_id to parse
            data = {k: v for k, v in data.items() if k in keep}
        return data


class _InjectedError(_ApiError):
    """A failure queued by ``fail_next``, with its optional Retry-After."""

    def __init__(self, status: int, message: str, retry_after: int | None) -> None:
        super().__init__(status, message)
        self.retry_after = retry_after


class _Handler(BaseHTTPRequestHandler):
    """Hands every request to the FakeNylas that owns the server."""

    server_version = "FakeNylas/1.0"

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        fake: FakeNylas = self.server.fake  # type: ignore[attr-defined]
        answer = fake._handle(self.command, self.path, self.headers, body)
        self.send_response(answer.status)
        self.send_header("Content-Type", answer.content_type)
        self.send_header("Content-Length", str(len(answer.body)))
        for name, value in answer.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(answer.body)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the per-request stderr line."""


# -- JSON helpers ----------------------------------------------------------------------


def _json(status: int, payload: dict[str, Any]) -> _Answer:
    return _Answer(status, json.dumps(payload).encode())


def _data(request_id: str, data: dict[str, Any]) -> _Answer:
    return _json(200, {"request_id": request_id, "data": data})


def _grant_json(grant: _Grant) -> dict[str, Any]:
    return {
        "id": grant.id,
        "provider": grant.provider,
        "grant_status": "invalid" if grant.revoked else "valid",
        "email": grant.email,
        "scope": ["Mail.Read", "offline_access"],
        "created_at": grant.created_at,
        "updated_at": grant.created_at,
        "settings": {},
    }


def _attachment_json(grant: _Grant, attachment: FakeAttachment) -> dict[str, Any]:
    disposition = "inline" if attachment.is_inline else "attachment"
    return {
        "id": attachment.id,
        "grant_id": grant.id,
        "filename": attachment.filename,
        "content_type": attachment.content_type,
        "size": len(attachment.data),
        "is_inline": attachment.is_inline,
        "content_id": attachment.content_id,
        "content_disposition": f'{disposition}; filename="{attachment.filename}"',
    }


def _raw_mime(message: FakeMessage, grant_email: str) -> str:
    """The message as base64url MIME, for ``fields=raw_mime``."""
    mime = EmailMessage()
    mime["From"] = message.sender
    mime["To"] = message.to or grant_email
    mime["Subject"] = message.subject
    mime["Date"] = formatdate(message.received_at)
    mime["Message-ID"] = f"<{message.id}@fake.nylas>"
    mime.set_content(message.body or "")
    for attachment in message.attachments:
        maintype, _, subtype = attachment.content_type.partition("/")
        mime.add_attachment(
            attachment.data,
            maintype=maintype,
            subtype=subtype or "octet-stream",
            filename=attachment.filename,
        )
    return base64.urlsafe_b64encode(mime.as_bytes()).decode()


# -- query helpers ---------------------------------------------------------------------


def _one(query: dict[str, list[str]], name: str) -> str | None:
    values = query.get(name)
    return values[-1] if values else None


def _many(query: dict[str, list[str]], name: str) -> list[str]:
    """Repeated (``from=a&from=b``, as the SDK sends lists) or comma-separated values."""
    return [v.strip() for value in query.get(name, []) for v in value.split(",") if v.strip()]


def _int(query: dict[str, list[str]], name: str) -> int | None:
    value = _one(query, name)
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        raise _ApiError(400, f"{name} must be an integer.") from None


def _bool(query: dict[str, list[str]], name: str) -> bool | None:
    value = _one(query, name)
    if value is None:
        return None
    if value.lower() not in ("true", "false"):
        raise _ApiError(400, f"{name} must be true or false.")
    return value.lower() == "true"


def _fields(query: dict[str, list[str]]) -> str:
    value = _one(query, "fields") or "standard"
    if value not in ("standard", "include_headers", "include_tracking_options", "raw_mime"):
        raise _ApiError(400, f"Unknown fields value {value!r}.")
    return value


def _select(query: dict[str, list[str]]) -> list[str] | None:
    value = _one(query, "select")
    return [v.strip() for v in value.split(",") if v.strip()] if value else None


@pytest.fixture(name="fake_nylas")
def fake_nylas_fixture() -> Iterator[FakeNylas]:
    """A started FakeNylas with no grants, stopped after the test."""
    with FakeNylas() as fake:
        yield fake
