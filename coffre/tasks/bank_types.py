"""The shapes bank data takes between the importers, Powens, the store and reconciliation.

Amounts are integer cents, negative for money leaving the account (a debit), so that
sums are exact and a supplier invoice (paid by a debit) and a customer invoice (paid by
a credit) are told apart by the sign alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date


class StatementError(ValueError):
    """A statement file that cannot be imported; nothing of it is kept.

    `line` is the 1-based line (or record, for CFONB files without line breaks) where
    the problem is, when it is known.
    """

    def __init__(self, reason: str, line: int | None = None) -> None:
        self.reason = reason
        self.line = line
        super().__init__(f"line {line}: {reason}" if line is not None else reason)


@dataclass(frozen=True)
class StatementTransaction:
    """One movement as the bank reports it (one CAMT TxDtls, one OFX STMTTRN…)."""

    booking_date: date
    amount_cents: int  # negative: debit
    currency: str  # ISO 4217
    wording: str  # the bank's label, as given
    value_date: date | None = None
    counterparty_name: str | None = None
    counterparty_iban: str | None = None
    end_to_end_id: str | None = None
    remittance: str | None = None  # unstructured and structured remittance, joined
    bank_reference: str | None = None  # FITID, AcctSvcrRef, CFONB reference…
    line: int | None = None  # where it starts in the file


@dataclass(frozen=True)
class StatementAccount:
    """The account a statement is about, with its balances when the file gives them."""

    currency: str
    iban: str | None = None  # validated and compact (FR7630006000011234567890189)
    account_number: str | None = None  # when there is no IBAN (CFONB, some OFX)
    bank_code: str | None = None
    branch_code: str | None = None
    name: str | None = None
    opening_balance_cents: int | None = None
    opening_date: date | None = None
    closing_balance_cents: int | None = None
    closing_date: date | None = None


@dataclass
class AccountStatement:
    account: StatementAccount
    transactions: list[StatementTransaction] = field(default_factory=list)


@dataclass
class ParsedStatement:
    format: str  # "ofx", "camt053", "cfonb120", "csv"
    statements: list[AccountStatement] = field(default_factory=list)


# Reconciliation works on these plain views, built from the store by the caller.


@dataclass(frozen=True)
class TransactionView:
    id: str
    booking_date: date
    amount_cents: int  # negative: debit
    currency: str
    wording: str  # simplified wording (upper case, single spaces)
    remittance: str = ""  # remittance information and end-to-end id, joined
    counterparty_name: str | None = None
    counterparty_iban: str | None = None
    is_card: bool = False  # a card payment (CB … / PAIEMENT CB …)


@dataclass(frozen=True)
class DocumentView:
    """An open document: a supplier invoice or receipt to pay (debit), or an invoice the
    business issued (credit). `open_cents` is what remains unpaid, always positive."""

    id: str
    kind: str  # "invoice_in", "receipt", "invoice_out"
    currency: str
    total_cents: int
    open_cents: int
    issue_date: date | None = None
    due_date: date | None = None
    number: str | None = None  # invoice number, as printed
    counterparty_name: str | None = None  # supplier (in) or customer (out)
    counterparty_iban: str | None = None

    @property
    def expected_sign(self) -> int:
        """-1 when paying it takes money out of the account, +1 when it brings money in."""
        return 1 if self.kind == "invoice_out" else -1


@dataclass(frozen=True)
class Allocation:
    transaction_id: str
    document_id: str
    amount_cents: int  # the part of the transaction that pays this document (positive)


@dataclass(frozen=True)
class Proposal:
    """A match the engine proposes: one transaction paying one or several documents
    (grouped payment), or part of one (partial payment)."""

    allocations: tuple[Allocation, ...]
    score: float  # 0..1
    automatic: bool  # sure enough to be recorded as matched without a human
    explanation: str  # short, in French, for the accountant
