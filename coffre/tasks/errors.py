"""Why a document is quarantined, in words a customer can read."""

from __future__ import annotations


class Rejected(Exception):
    """The input cannot become an archive copy; the document is quarantined.

    ``code`` is stable (for translations and statistics); ``reason`` is a sentence for
    the customer, saying what is wrong and, where possible, what to do.
    """

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason
