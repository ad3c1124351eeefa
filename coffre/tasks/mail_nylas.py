"""A Nylas v3 grant's mailbox, through the official SDK, read-only.

Only GET requests are made, apart from revoking the grant when the customer deletes
the connection. Messages in Sent or Drafts, or sent from the grant's own address, are
dropped whatever the query returned; attachments are downloaded only when they may be a
PDF (or a forwarded message), and kept only when their bytes are one.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from types import TracebackType
from typing import Any, TypeVar

import requests
from nylas import Client
from nylas.models.errors import NylasApiError, NylasOAuthError, NylasSdkTimeoutError

from coffre.tasks.mail_attachments import FoundPdf, is_pdf, pdfs_in_message
from coffre.tasks.mail_criteria import MailCriteria
from coffre.tasks.mail_errors import MailAuthError, MailConfigError, MailUnavailable
from coffre.tasks.retry_after import retry_after_seconds

T = TypeVar("T")
PAGE_SIZE = 50
_SENT_OR_DRAFTS_ATTRIBUTES = {"\\sent", "\\drafts"}
_SENT_OR_DRAFTS_NAMES = {"sent", "drafts", "draft", "sent items", "envoyés", "brouillons"}
_MAYBE_PDF_TYPES = {
    "application/pdf",
    "application/x-pdf",
    "application/octet-stream",
    "binary/octet-stream",
    "message/rfc822",
}


@dataclass(frozen=True)
class NylasSettings:
    api_key: str
    api_uri: str
    retries: int = 4
    retry_max_seconds: float = 60
    timeout: int = 60


@dataclass(frozen=True)
class AttachmentRef:
    id: str
    filename: str | None
    forwarded: bool  # a message/rfc822 attachment: look inside it


@dataclass(frozen=True)
class NylasCandidate:
    message_id: str
    received_at: int
    attachments: list[AttachmentRef] = field(default_factory=list)

    @property
    def download(self) -> bool:
        return bool(self.attachments)


class NylasMailbox:
    def __init__(
        self,
        settings: NylasSettings,
        grant_id: str,
        folder: str = "INBOX",
        *,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.settings = settings
        self.grant_id = grant_id
        self.folder = folder or "INBOX"
        self._sleep = sleep
        self._client: Client | None = None
        self.own_email = ""
        self.folder_id = ""
        self._never_read: set[str] = set()
        self.bytes_downloaded = 0

    def __enter__(self) -> NylasMailbox:
        self._client = Client(
            api_key=self.settings.api_key,
            api_uri=self.settings.api_uri,
            timeout=self.settings.timeout,
        )
        grant = self._call(lambda: self.client.grants.find(self.grant_id)).data
        if str(getattr(grant, "grant_status", "") or "").lower() in ("invalid", "expired"):
            raise MailAuthError(
                "Nylas reports this mailbox's grant as expired; the customer must reconnect it."
            )
        self.own_email = str(getattr(grant, "email", "") or "").lower()
        self._resolve_folders()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._client = None

    @property
    def client(self) -> Client:
        assert self._client is not None, "use the mailbox as a context manager"
        return self._client

    def _resolve_folders(self) -> None:
        """Nylas filters by folder id, not name: find the configured folder's id."""
        folders: list[Any] = []
        token: str | None = None
        while True:
            params: dict[str, Any] = {"page_token": token} if token else {}
            page = self._call(partial(self.client.folders.list, self.grant_id, params or None))
            folders.extend(page.data)
            token = page.next_cursor
            if not token:
                break
        wanted = self.folder.casefold()
        for folder in folders:
            # The SDK types attributes as a string: a list arrives as its text.
            attributes = str(folder.attributes or "").casefold()
            name = str(folder.name or "").casefold()
            sent_or_drafts = any(flag in attributes for flag in _SENT_OR_DRAFTS_ATTRIBUTES)
            if sent_or_drafts or name in _SENT_OR_DRAFTS_NAMES or folder.id in ("SENT", "DRAFT"):
                self._never_read.add(folder.id)
            is_inbox = "\\inbox" in attributes or name == "inbox" or folder.id == "INBOX"
            if folder.id == self.folder or name == wanted or (wanted == "inbox" and is_inbox):
                self.folder_id = folder.id
        if not self.folder_id:
            raise MailConfigError(f"The mailbox has no folder {self.folder!r}.")
        if self.folder_id in self._never_read:
            raise MailConfigError(
                f"The folder {self.folder!r} holds sent mail or drafts, which Coffre never reads."
            )

    def candidates(
        self, criteria: MailCriteria, received_after: int | None
    ) -> list[NylasCandidate]:
        """Messages of the folder that match the criteria, oldest first."""
        query = criteria.nylas_query(self.folder_id)
        if received_after is not None:
            query["received_after"] = max(query.get("received_after", 0), received_after)
        query["limit"] = PAGE_SIZE
        found: list[NylasCandidate] = []
        token: str | None = None
        while True:
            params = {**query, "page_token": token} if token else dict(query)
            page = self._call(partial(self.client.messages.list, self.grant_id, params))
            for message in page.data:
                candidate = self._candidate(criteria, message)
                if candidate is not None:
                    found.append(candidate)
            token = page.next_cursor
            if not token:
                break
        return sorted(found, key=lambda c: (c.received_at, c.message_id))

    def _candidate(self, criteria: MailCriteria, message: Any) -> NylasCandidate | None:
        if set(message.folders or ()) & self._never_read:
            return None
        senders = [str(sender.get("email", "")).lower() for sender in message.from_ or ()]
        if self.own_email and self.own_email in senders:
            return None
        received = datetime.fromtimestamp(message.date or 0, tz=UTC)
        if not criteria.message_matches(", ".join(senders), message.subject, received):
            return None
        attachments = [
            AttachmentRef(
                a.id,
                a.filename,
                forwarded=(a.content_type or "").split(";")[0].strip().lower() == "message/rfc822"
                or (a.filename or "").lower().endswith(".eml"),
            )
            for a in message.attachments or ()
            if a.id and _may_be_pdf(a.content_type, a.filename)
        ]
        return NylasCandidate(str(message.id), int(message.date or 0), attachments)

    def pdfs(self, candidate: NylasCandidate) -> list[FoundPdf]:
        found: list[FoundPdf] = []
        for attachment in candidate.attachments:
            data = self._download(candidate.message_id, attachment.id)
            self.bytes_downloaded += len(data)
            if attachment.forwarded:
                found.extend(pdfs_in_message(data))
            elif is_pdf(data):
                found.append(FoundPdf(attachment.filename or f"{attachment.id}.pdf", data))
        return found

    def _download(self, message_id: str, attachment_id: str) -> bytes:
        def request() -> bytes:
            return self.client.attachments.download_bytes(
                self.grant_id, attachment_id, {"message_id": message_id}
            )

        return self._call(request) or b""

    def revoke_without_session(self) -> None:
        """Delete the grant at Nylas (``DELETE /v3/grants/{id}``): the mailbox is no
        longer reachable by anyone through this application."""
        self._client = self._client or Client(
            api_key=self.settings.api_key,
            api_uri=self.settings.api_uri,
            timeout=self.settings.timeout,
        )
        with contextlib.suppress(MailAuthError):  # already revoked or expired
            self._call(lambda: self.client.grants.destroy(self.grant_id))

    def _call(self, request: Callable[[], T]) -> T:
        """One API call, retried on 429 and 5xx (honouring Retry-After) and on timeouts."""
        attempt = 0
        while True:
            try:
                return request()
            except (NylasApiError, NylasOAuthError) as error:
                status = int(getattr(error, "status_code", 0) or 0)
                if status in (401, 403):
                    raise MailAuthError(
                        "Nylas refused access to the mailbox (the grant is expired or revoked); "
                        "the customer must reconnect it."
                    ) from error
                if status == 404 and "grant" in str(error).lower():
                    raise MailAuthError(
                        "Nylas no longer knows this mailbox's grant; reconnect it."
                    ) from error
                if status != 429 and status < 500:
                    raise MailUnavailable(f"Nylas answered {status}: {error}") from error
                headers = getattr(error, "headers", None) or {}
                delay = retry_after_seconds(headers.get("Retry-After"))
                failure: Exception = error
            except (NylasSdkTimeoutError, requests.RequestException) as error:
                # Timeouts, refused connections, and error pages that are not JSON (a
                # proxy's 502) all mean: try again later.
                delay = None
                failure = error
            if attempt >= self.settings.retries:
                raise MailUnavailable(
                    f"Nylas kept failing after {attempt + 1} attempts ({failure})."
                ) from failure
            backoff = 2.0**attempt if delay is None else delay
            self._sleep(min(backoff, self.settings.retry_max_seconds))
            attempt += 1


def _may_be_pdf(content_type: str | None, filename: str | None) -> bool:
    kind = (content_type or "").split(";")[0].strip().lower()
    name = (filename or "").lower()
    return kind in _MAYBE_PDF_TYPES or name.endswith((".pdf", ".eml"))
