"""What makes a message worth looking at: the criteria a customer sets on a connection.

Criteria are applied twice: turned into the provider's own search (IMAP SEARCH, Nylas
query parameters) so that little is listed, then checked again here on what comes
back, because neither search is exact (IMAP SINCE has day granularity, Nylas filters
one sender at a time, neither knows attachment filenames).
"""

from __future__ import annotations

import fnmatch
from datetime import UTC, date, datetime, time
from email.utils import getaddresses
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator


class MailCriteria(BaseModel):
    """senders: addresses (``factures@edf.fr``) or domains (``edf.fr``, ``@edf.fr``);
    subject_contains: any of these words or phrases, case-insensitive; filename_pattern:
    a glob on attachment names (``*facture*``); received_after: a date."""

    model_config = ConfigDict(extra="forbid")

    senders: list[str] = Field(default_factory=list)
    subject_contains: list[str] = Field(default_factory=list)
    filename_pattern: str | None = None
    received_after: date | None = None

    @field_validator("senders")
    @classmethod
    def _normalise_senders(cls, value: list[str]) -> list[str]:
        cleaned = [sender.strip().lower().lstrip("@") for sender in value if sender.strip()]
        for sender in cleaned:
            if " " in sender or sender.count("@") > 1 or "." not in sender.split("@")[-1]:
                raise ValueError(f"{sender!r} is neither an e-mail address nor a domain")
        return cleaned

    @field_validator("subject_contains")
    @classmethod
    def _drop_blank_subjects(cls, value: list[str]) -> list[str]:
        return [text.strip() for text in value if text.strip()]

    @property
    def received_after_datetime(self) -> datetime | None:
        if self.received_after is None:
            return None
        return datetime.combine(self.received_after, time.min, tzinfo=UTC)

    def sender_matches(self, header_or_address: str) -> bool:
        if not self.senders:
            return True
        addresses = [address.lower() for _, address in getaddresses([header_or_address])]
        return any(
            _sender_rule_matches(rule, address) for rule in self.senders for address in addresses
        )

    def subject_matches(self, subject: str | None) -> bool:
        if not self.subject_contains:
            return True
        folded = (subject or "").casefold()
        return any(text.casefold() in folded for text in self.subject_contains)

    def date_matches(self, received_at: datetime | None) -> bool:
        after = self.received_after_datetime
        return after is None or received_at is None or received_at >= after

    def filename_matches(self, filename: str | None) -> bool:
        if not self.filename_pattern:
            return True
        return fnmatch.fnmatch((filename or "").casefold(), self.filename_pattern.casefold())

    def message_matches(
        self, sender: str, subject: str | None, received_at: datetime | None
    ) -> bool:
        return (
            self.sender_matches(sender)
            and self.subject_matches(subject)
            and self.date_matches(received_at)
        )

    def imap_search(self, min_uid: int | None = None) -> list[Any]:
        """IMAP SEARCH keys (for imapclient) that select at least the matching messages."""
        keys: list[Any] = []
        if min_uid is not None:
            keys += ["UID", f"{min_uid}:*"]
        if self.received_after is not None:
            keys += ["SINCE", self.received_after]
        keys += _any_of([["FROM", sender] for sender in self.senders])
        keys += _any_of([["SUBJECT", text] for text in self.subject_contains])
        return keys or ["ALL"]

    def nylas_query(self, folder_id: str) -> dict[str, Any]:
        """Nylas v3 list-messages query parameters that select at least the matches."""
        query: dict[str, Any] = {"in": folder_id, "has_attachment": True}
        after = self.received_after_datetime
        if after is not None:
            query["received_after"] = int(after.timestamp())
        if len(self.senders) == 1 and "@" in self.senders[0]:
            query["from"] = self.senders[0]
        # No `subject`: Nylas matches it case-sensitively, the criteria do not.
        return query


def _sender_rule_matches(rule: str, address: str) -> bool:
    if "@" in rule:
        return address == rule
    domain = address.rsplit("@", 1)[-1]
    return domain == rule or domain.endswith("." + rule)


def _any_of(alternatives: list[list[str]]) -> list[Any]:
    """IMAP's OR takes two keys: fold n alternatives into nested ORs."""
    if not alternatives:
        return []
    folded: list[Any] = alternatives[-1]
    for alternative in reversed(alternatives[:-1]):
        folded = ["OR", alternative, folded]
    return folded if len(alternatives) > 1 else alternatives[0]
