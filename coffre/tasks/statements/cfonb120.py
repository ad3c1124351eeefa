"""CFONB 120 statements ("relevé de compte 120 caractères" of French banks).

A file is a run of 120-character records, with or without line breaks: 01 opens a
statement (old balance), 04 is a movement, 05 completes the 04 before it (qualifier in
columns 46-48, value in 49-118), 07 closes the statement (new balance). Positions below
are 0-based slices of the record.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date

from coffre.tasks.bank_types import (
    AccountStatement,
    ParsedStatement,
    StatementAccount,
    StatementError,
    StatementTransaction,
)
from coffre.tasks.statements.common import check_size, french_iban, join_distinct

RECORD_LENGTH = 120

# The last character of an amount carries its last digit and the sign.
_SIGNED_DIGITS = {c: (1, i) for i, c in enumerate("{ABCDEFGHI")} | {
    c: (-1, i) for i, c in enumerate("}JKLMNOPQR")
}
_AMOUNT = re.compile(r"\d{13}[{}A-R]")

_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_NOT_PROVIDED = "NOTPROVIDED"


@dataclass
class _Movement:
    """A 04 record and the 05 complements read after it so far."""

    line: int
    record: str
    details: list[tuple[str, str]] = field(default_factory=list)  # (qualifier, 70 chars)


def parse_cfonb120(data: bytes) -> ParsedStatement:
    """Every 01…07 block of the file, in order; balances must add up."""
    check_size(data)
    statements: list[AccountStatement] = []
    opening: tuple[int, str] | None = None  # the 01 record of the block being read
    movements: list[_Movement] = []
    for number, record in _records(data.decode("latin-1")):
        code = record[0:2]
        if code == "01":
            if opening is not None:
                raise StatementError(
                    "nouveau relevé (01) avant la fin du précédent (07 manquant)", number
                )
            opening, movements = (number, record), []
        elif code == "04":
            if opening is None:
                raise StatementError("mouvement (04) hors d'un relevé (01 manquant)", number)
            if record[21:32] != opening[1][21:32]:
                raise StatementError(
                    f"mouvement du compte {record[21:32].strip()} dans le relevé du compte "
                    f"{opening[1][21:32].strip()}",
                    number,
                )
            movements.append(_Movement(number, record))
        elif code == "05":
            if not movements or opening is None:
                raise StatementError("complément (05) sans mouvement (04) avant lui", number)
            movements[-1].details.append((record[45:48], record[48:118]))
        elif code == "07":
            if opening is None:
                raise StatementError("nouveau solde (07) sans ancien solde (01)", number)
            statements.append(_statement(opening, movements, (number, record)))
            opening, movements = None, []
        else:
            raise StatementError(f"code d'enregistrement inconnu « {code} »", number)
    if opening is not None:
        raise StatementError(
            "fichier tronqué : le relevé ouvert n'a pas de nouveau solde (07)", opening[0]
        )
    if not statements:
        raise StatementError("aucun relevé dans le fichier CFONB")
    return ParsedStatement(format="cfonb120", statements=statements)


def _records(text: str) -> Iterator[tuple[int, str]]:
    """(line or record number, record): split on line breaks, else every 120 characters."""
    body = text.rstrip("\r\n\x1a")  # a final line break, or DOS end-of-file mark
    if "\n" not in body and "\r" not in body:
        for number, start in enumerate(range(0, len(body), RECORD_LENGTH), 1):
            record = body[start : start + RECORD_LENGTH]
            if len(record) != RECORD_LENGTH:
                raise StatementError(
                    f"fichier tronqué : le dernier enregistrement a {len(record)} caractères "
                    f"au lieu de {RECORD_LENGTH}",
                    number,
                )
            yield number, record
        return
    # Only CR and LF break lines: latin-1 byte 0x85 is a character, not a line break.
    for number, line in enumerate(_LINE_BREAK.split(body), 1):
        if not line.strip():
            continue
        if len(line) != RECORD_LENGTH:
            raise StatementError(
                f"la ligne a {len(line)} caractères au lieu de {RECORD_LENGTH}", number
            )
        yield number, line


def _statement(
    opening: tuple[int, str], movements: list[_Movement], closing: tuple[int, str]
) -> AccountStatement:
    """One 01…07 block; the new balance must be the old one plus the movements."""
    (open_line, old), (close_line, new) = opening, closing
    if new[21:32] != old[21:32]:
        raise StatementError(
            "le nouveau solde (07) n'est pas celui du compte du relevé", close_line
        )
    transactions = [_transaction(movement) for movement in movements]
    opening_cents = _amount(old, open_line)
    closing_cents = _amount(new, close_line)
    total = sum(t.amount_cents for t in transactions)
    if opening_cents + total != closing_cents:
        raise StatementError(
            f"les mouvements ({_euros(total)}) ne mènent pas de l'ancien solde "
            f"({_euros(opening_cents)}) au nouveau ({_euros(closing_cents)})",
            close_line,
        )
    bank, branch, account = old[2:7], old[11:16], old[21:32].strip()
    return AccountStatement(
        account=StatementAccount(
            currency=_currency(old, open_line),
            iban=french_iban(bank, branch, account),
            account_number=account or None,
            bank_code=bank.strip() or None,
            branch_code=branch.strip() or None,
            opening_balance_cents=opening_cents,
            opening_date=_date(old[34:40], open_line, "date de l'ancien solde"),
            closing_balance_cents=closing_cents,
            closing_date=_date(new[34:40], close_line, "date du nouveau solde"),
        ),
        transactions=transactions,
    )


def _transaction(movement: _Movement) -> StatementTransaction:
    """A 04 and its 05s: the counterparty is the payer of a credit, the payee of a debit."""
    record, line = movement.record, movement.line
    amount = _amount(record, line)
    details: dict[str, list[str]] = {}
    for qualifier, value in movement.details:
        details.setdefault(qualifier, []).append(value)

    def first(qualifier: str, width: int = 70) -> str | None:
        values = details.get(qualifier)
        return (values[0][:width].strip() or None) if values else None

    # LCC holds the first 70 characters of the remittance, LC2 the next 70.
    unstructured = "".join(details.get("LCC", [])[:1] + details.get("LC2", [])[:1])
    remittance = join_distinct(
        [
            " ".join(v.strip() for v in details.get("LIB", [])),
            unstructured,
            *(v[:35] for v in details.get("LCS", [])),
        ]
    )
    end_to_end = first("RCN", 35)  # then 35 characters of payment purpose
    if end_to_end and end_to_end.upper() == _NOT_PROVIDED:
        end_to_end = None
    reference = first("REF") or _reference(record[104:120]) or _reference(record[81:88])
    value_date = record[42:48]
    return StatementTransaction(
        booking_date=_date(record[34:40], line, "date de comptabilisation"),
        value_date=_date(value_date, line, "date de valeur") if value_date.strip() else None,
        amount_cents=amount,
        currency=_currency(record, line),
        wording=record[48:80].strip(),
        counterparty_name=first("NPY") if amount > 0 else first("NBE"),
        end_to_end_id=end_to_end,
        remittance=remittance,
        bank_reference=reference,
        line=line,
    )


def _amount(record: str, line: int) -> int:
    """Cents from columns 91-104, scaled by the number of decimals in column 20."""
    field_ = record[90:104]
    if not _AMOUNT.fullmatch(field_):
        raise StatementError(f"montant illisible « {field_.strip()} »", line)
    decimals = record[19]
    if not decimals.isdigit():
        raise StatementError(f"nombre de décimales illisible « {decimals} »", line)
    sign, last_digit = _SIGNED_DIGITS[field_[-1]]
    units = int(field_[:-1]) * 10 + last_digit
    scale = int(decimals)
    if scale <= 2:
        return sign * units * 10 ** (2 - scale)
    units, rest = divmod(units, 10 ** (scale - 2))
    if rest:
        raise StatementError("montant avec plus de deux décimales", line)
    return sign * units


def _reference(text: str) -> str | None:
    """The 04's own reference or entry number; banks that have none write zeros."""
    text = text.strip()
    return text if text.strip("0") else None


def _currency(record: str, line: int) -> str:
    currency = record[16:19]
    if not re.fullmatch(r"[A-Z]{3}", currency):
        raise StatementError(f"devise illisible « {currency.strip()} »", line)
    return currency


def _date(text: str, line: int, what: str) -> date:
    """DDMMYY; CFONB files are of this century."""
    try:
        if not text.isdigit():
            raise ValueError
        return date(2000 + int(text[4:6]), int(text[2:4]), int(text[0:2]))
    except ValueError:
        raise StatementError(f"{what} illisible « {text.strip()} »", line) from None


def _euros(cents: int) -> str:
    sign = "-" if cents < 0 else ""
    units, rest = divmod(abs(cents), 100)
    return f"{sign}{units:,}".replace(",", " ") + f",{rest:02d}"
