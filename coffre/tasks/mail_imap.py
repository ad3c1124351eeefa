"""An IMAP mailbox, opened strictly read-only.

The folder is EXAMINEd (never SELECTed) and bodies are fetched with BODY.PEEK, so no
flag ever changes; Sent and Drafts are refused by their special-use flags and usual
names. Only metadata is read to decide whether a message matters (envelope, date, body
structure); the message itself is downloaded only when it may hold a PDF.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from email.header import decode_header, make_header
from pathlib import Path
from types import TracebackType
from typing import Any

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError, LoginError

from coffre.tasks.mail_attachments import FoundPdf, pdfs_in_message
from coffre.tasks.mail_criteria import MailCriteria
from coffre.tasks.mail_errors import MailAuthError, MailConfigError, MailUnavailable

METADATA_BATCH = 500
_NEVER_READ_FLAGS = {b"\\sent", b"\\drafts"}
_NEVER_READ_NAMES = {"sent", "sent items", "sent messages", "drafts", "envoyés", "brouillons"}
# Body-structure words that mean a part may be (or contain) a PDF.
_MAYBE_PDF = (b"pdf", b"octet-stream", b"rfc822", b".eml", b"global")


@dataclass(frozen=True)
class ImapAccount:
    host: str
    port: int
    tls: str  # "ssl" (implicit TLS, port 993) or "starttls" (port 143)
    username: str
    password: str

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any]) -> ImapAccount:
        return cls(
            host=str(credentials["host"]),
            port=int(credentials["port"]),
            tls=str(credentials.get("tls", "ssl")),
            username=str(credentials["username"]),
            password=str(credentials["password"]),
        )


@dataclass(frozen=True)
class Candidate:
    """A message that matches the criteria; `download` is False when no part can be a PDF."""

    uid: int
    download: bool


class ImapMailbox:
    def __init__(
        self, account: ImapAccount, folder: str, *, ca_file: Path | None = None, timeout: float = 60
    ) -> None:
        if account.tls not in ("ssl", "starttls"):
            raise MailConfigError("IMAP needs TLS: choose 'ssl' or 'starttls'")
        self.account = account
        self.folder = folder or "INBOX"
        self._ca_file = ca_file
        self._timeout = timeout
        self._client: IMAPClient | None = None
        self.uidvalidity = 0
        self.bytes_downloaded = 0

    def __enter__(self) -> ImapMailbox:
        context = ssl.create_default_context(cafile=str(self._ca_file) if self._ca_file else None)
        try:
            client = IMAPClient(
                self.account.host,
                port=self.account.port,
                ssl=self.account.tls == "ssl",
                ssl_context=context,
                timeout=self._timeout,
            )
            if self.account.tls == "starttls":
                client.starttls(context)
            client.login(self.account.username, self.account.password)
        except LoginError as error:
            raise MailAuthError(
                "The mail server refused the user name or password; reconnect the mailbox."
            ) from error
        except (OSError, IMAPClientError, ssl.SSLError) as error:
            raise MailUnavailable(
                f"The mail server {self.account.host}:{self.account.port} could not be "
                f"reached securely ({type(error).__name__})."
            ) from error
        self._client = client
        self._refuse_sent_and_drafts()
        status = client.select_folder(self.folder, readonly=True)
        self.uidvalidity = int(status[b"UIDVALIDITY"])
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        client, self._client = self._client, None
        if client is not None:
            try:
                client.logout()
            except (OSError, IMAPClientError):
                client.shutdown()

    @property
    def client(self) -> IMAPClient:
        assert self._client is not None, "use the mailbox as a context manager"
        return self._client

    def _refuse_sent_and_drafts(self) -> None:
        wanted = self.folder.casefold()
        refused = wanted in _NEVER_READ_NAMES
        for flags, _, name in self.client.list_folders():
            if str(name).casefold() == wanted:
                refused |= bool({flag.lower() for flag in flags} & _NEVER_READ_FLAGS)
        if refused:
            raise MailConfigError(
                f"The folder {self.folder!r} holds sent mail or drafts, which Coffre never reads."
            )

    def candidates(self, criteria: MailCriteria, after_uid: int | None) -> list[Candidate]:
        """Messages matching the criteria, oldest first, newer than `after_uid` if given."""
        try:
            keys = criteria.imap_search(after_uid + 1 if after_uid else None)
            charset = None if all(str(key).isascii() for key in _atoms_text(keys)) else "UTF-8"
            uids = self.client.search(keys, charset=charset)
            uids = sorted(uid for uid in uids if after_uid is None or uid > after_uid)
            found: list[Candidate] = []
            for start in range(0, len(uids), METADATA_BATCH):
                batch = uids[start : start + METADATA_BATCH]
                metadata = self.client.fetch(batch, ["ENVELOPE", "INTERNALDATE", "BODYSTRUCTURE"])
                for uid in batch:
                    fields = metadata.get(uid)
                    if fields is None or not _matches(criteria, fields):
                        continue
                    found.append(Candidate(uid, _may_hold_pdf(fields.get(b"BODYSTRUCTURE"))))
            return found
        except (OSError, IMAPClientError) as error:
            raise MailUnavailable(f"The mail server stopped answering ({error}).") from error

    def pdfs(self, uid: int) -> list[FoundPdf]:
        """The PDFs of one message, read with BODY.PEEK so that it stays unread."""
        try:
            answer = self.client.fetch([uid], ["BODY.PEEK[]"]).get(uid, {})
        except (OSError, IMAPClientError) as error:
            raise MailUnavailable(f"The mail server stopped answering ({error}).") from error
        raw = answer.get(b"BODY[]") or b""
        self.bytes_downloaded += len(raw)
        return pdfs_in_message(raw)


def _matches(criteria: MailCriteria, fields: dict[bytes, Any]) -> bool:
    envelope = fields.get(b"ENVELOPE")
    if envelope is None:
        return False
    senders = ", ".join(_address(address) for address in (envelope.from_ or ()))
    received = fields.get(b"INTERNALDATE")
    if isinstance(received, datetime) and received.tzinfo is None:
        received = received.replace(tzinfo=UTC)  # imapclient gives local naive times
    return criteria.message_matches(senders, _text(envelope.subject), received)


def _address(address: Any) -> str:
    mailbox = (address.mailbox or b"").decode("utf-8", "replace")
    host = (address.host or b"").decode("utf-8", "replace")
    return f"{mailbox}@{host}"


def _text(value: bytes | None) -> str:
    if not value:
        return ""
    raw = value.decode("utf-8", "replace")
    try:
        return str(make_header(decode_header(raw)))
    except (ValueError, LookupError):
        return raw


def _atoms(structure: Any) -> Iterator[bytes]:
    if isinstance(structure, bytes):
        yield structure.lower()
    elif isinstance(structure, (list, tuple)):
        for item in structure:
            yield from _atoms(item)


def _atoms_text(keys: list[Any]) -> list[Any]:
    flat: list[Any] = []
    for key in keys:
        flat.extend(_atoms_text(key) if isinstance(key, list) else [key])
    return flat


def _may_hold_pdf(structure: Any) -> bool:
    if structure is None:
        return True  # the server could not describe it: look inside
    return any(word in atom for atom in _atoms(structure) for word in _MAYBE_PDF)
