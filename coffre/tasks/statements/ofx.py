"""OFX and QFX statements, SGML (1.x) or XML (2.x), read with ofxtools' parser.

ofxtools reads the header and turns the tag soup into an element tree; the statement is
then read from the tree rather than through ofxtools' typed models, because those refuse
files banks really send (several BANKTRANLIST in one statement) and turn dates into UTC,
which moves an evening booking to the next day.
"""

from __future__ import annotations

import io
import re
from datetime import date
from decimal import Decimal
from xml.etree.ElementTree import Element
from xml.sax import saxutils

from ofxtools.header import OFXHeaderError
from ofxtools.Parser import OFXTree, ParseError, TreeBuilder

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
    french_iban,
    valid_iban,
)

_ENTITIES = {"&nbsp;": " ", "&apos;": "'", "&quot;": '"'}
_AMOUNT = re.compile(r"[+-]?(\d+(?:[.,]\d*)?|[.,]\d+)")  # OFX allows a decimal comma
_DATE = re.compile(r"(\d{4})(\d{2})(\d{2})")
_V1_CHARSET = re.compile(rb"(CHARSET:[ \t]*)([\w-]+)")
_V1_ENCODING = re.compile(rb"(ENCODING:[ \t]*)([\w-]+)")
_V2_VERSION = re.compile(rb'(<\?OFX[^>]*?VERSION=")(\d+)(")')
_XML_ENCODING = re.compile(rb"<\?xml[^>]*?encoding=[\"']([\w.:-]+)[\"']")
# Header versions ofxtools knows; others are read the same way.
_V2_VERSIONS = {b"200", b"201", b"202", b"203", b"210", b"211", b"220"}


def parse_ofx(data: bytes) -> ParsedStatement:
    """Every bank and credit-card statement (STMTRS, CCSTMTRS) of the file."""
    check_size(data)
    data = _as_utf8(data)
    root = _tree(data)
    lines = _tag_lines(data, b"<STMTTRN>")
    transactions = list(root.iter("STMTTRN"))
    line_of = (
        {id(el): line for el, line in zip(transactions, lines, strict=True)}
        if len(lines) == len(transactions)
        else {}
    )
    statements = [_statement(rs, line_of) for rs in root.iter() if rs.tag in ("STMTRS", "CCSTMTRS")]
    if not statements:
        status = _text(root, ".//STATUS/MESSAGE") or _text(root, ".//STATUS/CODE")
        detail = f" (réponse de la banque : {status})" if status and status != "0" else ""
        raise StatementError(f"aucun relevé de compte dans ce fichier OFX{detail}")
    return ParsedStatement(format="ofx", statements=statements)


def _as_utf8(data: bytes) -> bytes:
    """The file re-encoded in UTF-8 with a header saying so, lines unchanged.

    ofxtools decodes by the header alone; banks declare USASCII or ISO-8859-1 and send
    Windows-1252 (the € sign), so the body is decoded here with that fallback.
    """
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    body_start = data.find(b"<")
    if body_start < 0:
        raise StatementError("fichier OFX sans aucune balise")
    header = data[:body_start]
    if b"OFXHEADER:" in header:  # version 1: plain-text header, then SGML
        charset = _V1_CHARSET.search(header)
        declared = charset.group(2).decode("ascii").upper() if charset else "NONE"
        text = _decode(data[body_start:], declared)
        header = _V1_CHARSET.sub(rb"\g<1>NONE", header)
        header = _V1_ENCODING.sub(rb"\g<1>UTF-8", header)
        return header + text.encode("utf-8")
    match = _XML_ENCODING.search(data[:200])
    declared = match.group(1).decode("ascii").upper() if match else "UTF-8"
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        data = _decode(data, declared).encode("utf-8")
    return _V2_VERSION.sub(
        lambda m: m.group(0) if m.group(2) in _V2_VERSIONS else m.group(1) + b"220" + m.group(3),
        data,
        count=1,
    )


def _decode(raw: bytes, declared: str) -> str:
    """Decode as declared; ISO-8859-1 and undeclared non-UTF-8 text read as Windows-1252."""
    candidates = ["utf-8"] if declared in ("NONE", "UTF-8", "UTF8", "USASCII", "ASCII") else []
    if declared not in ("NONE", "ISO-8859-1", "8859-1", "LATIN1", "LATIN-1", "1252"):
        candidates.append(declared)
    candidates += ["cp1252", "latin-1"]
    for codec in candidates:
        try:
            return raw.decode(codec)
        except (UnicodeError, LookupError):
            continue
    raise StatementError("encodage du fichier OFX illisible")  # latin-1 never fails


class _CheckingTreeBuilder(TreeBuilder):
    """ofxtools' builder, refusing what it would let through: text outside any tag, and
    elements left open (a truncated file). `failure` says why, in words.

    As in SGML, an end tag closes the elements left open inside it (an empty <MEMO>).
    """

    def __init__(self) -> None:
        super().__init__()
        self._open: list[str] = []
        self.failure: str | None = None

    def _fail(self, reason: str, position: int | None = None) -> ParseError:
        self.failure = reason
        where = f" - position=[{position}:{position}]" if position is not None else ""
        return ParseError(reason + where)

    def feed(self, data: str) -> None:
        position = 0
        for match in self.regex.finditer(data):
            if data[position : match.start()].strip():
                raise self._fail("texte hors de toute balise", position)
            position = match.end()
        rest = data[position:].strip()
        if rest:
            reason = "fichier tronqué au milieu d'une balise" if "<" in rest[:1] else None
            raise self._fail(reason or "texte hors de toute balise", position)
        super().feed(data)

    def start(self, tag: str, attrs: dict[str, str]) -> Element:
        self._open.append(tag)
        return super().start(tag, attrs)

    def end(self, tag: str) -> Element:
        if tag not in self._open:
            raise self._fail(f"balise fermante </{tag}> sans balise ouvrante")
        while self._open[-1] != tag:
            super().end(self._open.pop())
        self._open.pop()
        return super().end(tag)

    def close(self) -> Element:
        if self._open:
            raise self._fail(f"fichier tronqué : <{self._open[-1]}> n'est pas refermée")
        return super().close()


def _tree(data: bytes) -> Element:
    builder = _CheckingTreeBuilder()
    try:
        root = OFXTree().parse(io.BytesIO(data), parser=builder)
    except (OFXHeaderError, UnicodeDecodeError):
        raise StatementError("en-tête OFX illisible", 1) from None
    except ParseError as exc:
        reason = builder.failure or "balises mal formées"
        raise StatementError(f"fichier OFX illisible : {reason}", _error_line(data, exc)) from None
    except (SyntaxError, ValueError):  # the element tree's own checks (two roots…)
        raise StatementError("fichier OFX illisible : structure des balises invalide") from None
    if root is None or root.tag != "OFX":
        raise StatementError("fichier OFX sans élément <OFX>")
    return root


def _error_line(data: bytes, exc: ParseError) -> int:
    """The line where ofxtools stopped (it gives a position in the body), else the last."""
    text = data.decode("utf-8", "replace")
    match = re.search(r"position=\[(\d+):\d+\]$", str(exc)[-80:])
    body = re.search(r"<(?!\?)", text)
    if match is None or body is None:
        return text.rstrip().count("\n") + 1
    return text.count("\n", 0, body.start() + int(match.group(1))) + 1


def _tag_lines(data: bytes, tag: bytes) -> list[int]:
    lines, line, last = [], 1, 0
    for match in re.finditer(re.escape(tag), data):
        line += data.count(b"\n", last, match.start())
        last = match.start()
        lines.append(line)
    return lines


def _statement(rs: Element, line_of: dict[int, int]) -> AccountStatement:
    currency = (_text(rs, "CURDEF") or "").upper()
    if not re.fullmatch(r"[A-Z]{3}", currency):
        raise StatementError(f"devise du relevé OFX absente ou illisible « {currency} »")
    ledger = rs.find("LEDGERBAL")
    closing_cents = closing_date = None
    if ledger is not None and _text(ledger, "BALAMT"):
        closing_cents = _amount(_text(ledger, "BALAMT") or "", None)
        closing_date = _date(_text(ledger, "DTASOF"), None, "date du solde")
    return AccountStatement(
        account=_account(rs, currency, closing_cents, closing_date),
        transactions=[_transaction(el, currency, line_of.get(id(el))) for el in rs.iter("STMTTRN")],
    )


def _account(
    rs: Element, currency: str, closing_cents: int | None, closing_date: date | None
) -> StatementAccount:
    """IBAN when ACCTID is one, or when bank, branch and account form a French RIB."""
    acct = rs.find("BANKACCTFROM")
    if acct is None:
        acct = rs.find("CCACCTFROM")
    if acct is None:
        raise StatementError("relevé OFX sans identification du compte (BANKACCTFROM)")
    number = compact(_text(acct, "ACCTID") or "")
    if not number:
        raise StatementError("relevé OFX sans numéro de compte (ACCTID)")
    bank, branch = _text(acct, "BANKID"), _text(acct, "BRANCHID")
    iban = valid_iban(number)
    if iban is None:
        iban = french_iban(bank, branch, number)
        key = _text(acct, "ACCTKEY")
        if iban and key and iban[-2:] != key:
            iban = None  # the bank's RIB key disagrees: keep the numbers only
    return StatementAccount(
        currency=currency,
        iban=iban,
        account_number=None if iban == number else number,
        bank_code=bank,
        branch_code=branch,
        closing_balance_cents=closing_cents,
        closing_date=closing_date,
    )


def _transaction(el: Element, currency: str, line: int | None) -> StatementTransaction:
    """NAME is the bank's label (and, per the OFX spec, the payee); MEMO is the free text."""
    amount_text = _text(el, "TRNAMT")
    if amount_text is None:
        raise StatementError("opération OFX sans montant (TRNAMT)", line)
    name = _text(el, "PAYEE/NAME") or _text(el, "NAME")
    memo = _text(el, "MEMO")
    own_currency = _text(el, "CURRENCY/CURSYM")
    return StatementTransaction(
        booking_date=_date(_text(el, "DTPOSTED"), line, "date de l'opération (DTPOSTED)"),
        value_date=(
            _date(_text(el, "DTUSER"), line, "date DTUSER") if _text(el, "DTUSER") else None
        ),
        amount_cents=_amount(amount_text, line),
        currency=(own_currency or currency).upper(),
        wording=_text(el, "NAME") or memo or name or "",
        counterparty_name=name,
        remittance=memo,
        bank_reference=_text(el, "FITID"),
        line=line,
    )


def _text(el: Element, path: str) -> str | None:
    """The stripped, unescaped text of a child, None when absent or empty."""
    found = el.find(path)
    if found is None or not found.text or not found.text.strip():
        return None
    return saxutils.unescape(found.text.strip(), _ENTITIES)


def _amount(text: str, line: int | None) -> int:
    cleaned = text.replace(" ", "").replace("\u00a0", "")
    if not _AMOUNT.fullmatch(cleaned):
        raise StatementError(f"montant illisible « {text} »", line)
    return decimal_to_cents(Decimal(cleaned.replace(",", ".")), text, line)


def _date(text: str | None, line: int | None, what: str) -> date:
    """The date as the bank wrote it, time and time zone ignored (YYYYMMDD…)."""
    if not text:
        raise StatementError(f"{what} absente", line)
    match = _DATE.match(text)
    try:
        if match is None:
            raise ValueError
        return date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
    except ValueError:
        raise StatementError(f"{what} illisible « {text} »", line) from None
