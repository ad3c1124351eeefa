"""What can go wrong with a mailbox, told apart by what the operator must do about it."""

from __future__ import annotations


class MailError(Exception):
    """A fetch could not complete; the message is meant for the customer and the operator."""


class MailAuthError(MailError):
    """The provider refused the credentials: the customer must reconnect the mailbox."""


class MailUnavailable(MailError):
    """The provider could not be reached or kept failing: the next run tries again."""


class MailConfigError(MailError):
    """The connection asks for something Coffre will not do (read Sent, clear-text IMAP…)."""
