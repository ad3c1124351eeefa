"""CSV exports of online banking, read through a column mapping the customer chose once.

French exports: semicolons, decimal commas ("1 234,56", "-12,30", "12,30-"), Windows
encoding, a few lines of account details before the header, sometimes separate debit
and credit columns.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from coffre.tasks.bank_types import (
    AccountStatement,
    ParsedStatement,
    StatementAccount,
    StatementError,
    StatementTransaction,
)
from coffre.tasks.statements.common import (
    check_size,
    compact,
    decimal_to_cents,
    simplify_wording,
    valid_iban,
)

# A header name (compared without case, accents or extra spaces), or a 0-based index.
Column = str | int

_GROUPING = str.maketrans("", "", " \u00a0\u202f\u2009'")  # thousands separators
_COMMA_AMOUNT = re.compile(r"\d{1,3}(?:\.\d{3})+(?:,\d+)?|\d+(?:,\d*)?|,\d+")
_POINT_AMOUNT = re.compile(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d*)?|\.\d+")
_LINE_END = re.compile(r"\r\n|\n|\r")


@dataclass(frozen=True)
class CsvMapping:
    """Where each field is in a bank's CSV export, and how the file is written.

    Give either `amount` (signed) or `debit` and/or `credit` (debits may be written with
    or without a minus sign). The account is not in the rows: the caller names it.
    """

    booking_date: Column
    wording: Column
    amount: Column | None = None
    debit: Column | None = None
    credit: Column | None = None
    value_date: Column | None = None
    counterparty: Column | None = None
    reference: Column | None = None  # the bank's reference of the operation
    remittance: Column | None = None
    date_format: str = "%d/%m/%Y"
    delimiter: str = ";"
    decimal_comma: bool = True
    encoding: str = "cp1252"
    skip_rows: int = 0  # lines before the header (account number, balance…)
    has_header: bool = True
    skip_footer_rows: int = 0  # lines after the last operation (totals, balance)
    currency: str = "EUR"
    account_iban: str | None = None
    account_number: str | None = None
    account_name: str | None = None

    def __post_init__(self) -> None:
        if (self.amount is None) == (self.debit is None and self.credit is None):
            raise ValueError("CsvMapping: give either amount, or debit and/or credit")
        names = [c for c in self._columns() if isinstance(c, str)]
        if names and not self.has_header:
            raise ValueError("CsvMapping: columns named in a file without header")
        if self.account_iban is not None and valid_iban(self.account_iban) is None:
            raise ValueError(f"CsvMapping: invalid account IBAN {self.account_iban!r}")
        if not re.fullmatch(r"[A-Z]{3}", self.currency):
            raise ValueError(f"CsvMapping: invalid currency {self.currency!r}")

    def _columns(self) -> list[Column]:
        return [
            c
            for c in (
                self.booking_date,
                self.wording,
                self.amount,
                self.debit,
                self.credit,
                self.value_date,
                self.counterparty,
                self.reference,
                self.remittance,
            )
            if c is not None
        ]


def parse_csv(data: bytes, mapping: CsvMapping) -> ParsedStatement:
    """One statement of the mapped account, every data row a transaction."""
    check_size(data)
    text = _decode(data, mapping.encoding)
    start = _after_lines(text, mapping.skip_rows)
    end = _before_last_lines(text, mapping.skip_footer_rows)
    reader = csv.reader(
        io.StringIO(text[start : max(start, end)], newline=""), delimiter=mapping.delimiter
    )
    first_line = mapping.skip_rows + 1
    index: dict[Column, int] = {}
    transactions: list[StatementTransaction] = []
    try:
        if mapping.has_header:
            header = next((row for row in reader if any(cell.strip() for cell in row)), None)
            if header is None:
                raise StatementError("en-tête des colonnes absent", first_line)
            index = _index(header, mapping, first_line + reader.line_num - 1)
        for row in reader:
            line = first_line + reader.line_num - 1
            if not any(cell.strip() for cell in row):
                continue
            transactions.append(_transaction(row, index, mapping, line))
    except csv.Error:
        raise StatementError(
            "CSV illisible : champ trop long ou guillemets non refermés",
            first_line + reader.line_num - 1,
        ) from None
    if not transactions:
        raise StatementError("aucune opération dans le fichier CSV")
    return ParsedStatement(
        format="csv",
        statements=[
            AccountStatement(
                account=StatementAccount(
                    currency=mapping.currency,
                    iban=valid_iban(mapping.account_iban),
                    account_number=compact(mapping.account_number)
                    if mapping.account_number
                    else None,
                    name=mapping.account_name,
                ),
                transactions=transactions,
            )
        ],
    )


def _after_lines(text: str, count: int) -> int:
    """Where the text starts after `count` lines (CR, LF or CRLF), without splitting it all."""
    if count <= 0:
        return 0
    for seen, match in enumerate(_LINE_END.finditer(text), 1):
        if seen == count:
            return match.end()
    return len(text)


def _before_last_lines(text: str, count: int) -> int:
    """Where the text ends before its last `count` non-blank lines."""
    end = len(text.rstrip("\r\n"))
    for _ in range(count):
        end = max(text.rfind("\n", 0, end), text.rfind("\r", 0, end))
        if end < 0:
            return 0
        if text[end] == "\n" and end > 0 and text[end - 1] == "\r":
            end -= 1
    return end


def _decode(data: bytes, encoding: str) -> str:
    """Decode as the mapping says; a UTF-8 byte-order mark wins over it."""
    if data.startswith(b"\xef\xbb\xbf"):
        data, encoding = data[3:], "utf-8"
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise StatementError(f"le fichier n'est pas encodé en {encoding}", line) from None
    except (LookupError, UnicodeError):
        raise StatementError(f"encodage inconnu « {encoding} »") from None


def _index(header: list[str], mapping: CsvMapping, line: int) -> dict[Column, int]:
    """Positions of the named columns in the header."""
    names = {simplify_wording(name): i for i, name in reversed(list(enumerate(header)))}
    index: dict[Column, int] = {}
    for column in mapping._columns():
        if isinstance(column, str):
            position = names.get(simplify_wording(column))
            if position is None:
                raise StatementError(f"colonne « {column} » absente de l'en-tête", line)
            index[column] = position
    return index


def _cell(row: list[str], column: Column | None, index: dict[Column, int], line: int) -> str:
    if column is None:
        return ""
    position = index[column] if isinstance(column, str) else column
    if position >= len(row):
        raise StatementError(
            f"la ligne n'a que {len(row)} colonnes (colonne {position + 1} attendue)", line
        )
    return row[position].strip()


def _transaction(
    row: list[str], index: dict[Column, int], mapping: CsvMapping, line: int
) -> StatementTransaction:
    def cell(column: Column | None) -> str:
        return _cell(row, column, index, line)

    if mapping.amount is not None:
        raw = cell(mapping.amount)
        if not raw:
            raise StatementError("montant absent", line)
        amount = _amount(raw, mapping.decimal_comma, line)
    else:
        debit, credit = cell(mapping.debit), cell(mapping.credit)
        debit_cents = abs(_amount(debit, mapping.decimal_comma, line)) if debit else 0
        credit_cents = abs(_amount(credit, mapping.decimal_comma, line)) if credit else 0
        if debit_cents and credit_cents:
            raise StatementError(f"débit « {debit} » et crédit « {credit} » à la fois", line)
        if not debit and not credit:
            raise StatementError("ni débit ni crédit", line)
        amount = credit_cents - debit_cents
    value_date = cell(mapping.value_date)
    return StatementTransaction(
        booking_date=_date(cell(mapping.booking_date), mapping.date_format, line),
        value_date=_date(value_date, mapping.date_format, line) if value_date else None,
        amount_cents=amount,
        currency=mapping.currency,
        wording=cell(mapping.wording),
        counterparty_name=cell(mapping.counterparty) or None,
        remittance=cell(mapping.remittance) or None,
        bank_reference=cell(mapping.reference) or None,
        line=line,
    )


def _amount(raw: str, decimal_comma: bool, line: int) -> int:
    """Signed cents of "1 234,56", "-12,30", "12,30-", "+5", "(7,00)", "12,30 €"."""
    text = raw.translate(_GROUPING).replace("€", "").removesuffix("EUR")
    negative = False
    if len(text) > 2 and text[0] == "(" and text[-1] == ")":
        negative, text = True, text[1:-1]
    if len(text) > 1 and text[-1] in "+-":  # "12,30-": sign after the number
        negative, text = negative or text[-1] == "-", text[:-1]
    elif len(text) > 1 and text[0] in "+-":
        negative, text = negative or text[0] == "-", text[1:]
    pattern = _COMMA_AMOUNT if decimal_comma else _POINT_AMOUNT
    if not text or not pattern.fullmatch(text):
        raise StatementError(f"montant illisible « {raw} »", line)
    # Only the decimal separator is left, as a point.
    text = text.replace(".", "").replace(",", ".") if decimal_comma else text.replace(",", "")
    cents = decimal_to_cents(Decimal(text), raw, line)
    return -cents if negative else cents


def _date(raw: str, date_format: str, line: int) -> date:
    try:
        return datetime.strptime(raw, date_format).date()
    except ValueError:
        raise StatementError(
            f"date illisible « {raw} » (format attendu : {date_format})", line
        ) from None
