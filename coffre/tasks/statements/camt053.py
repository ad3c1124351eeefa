"""CAMT.053 statements (ISO 20022 BkToCstmrStmt), any camt.053.001.xx version.

Parsed with defusedxml: a file declaring a DTD or entities (billion laughs, external
entities) is refused before anything is expanded. Elements are found by local name, so
the namespace of the version does not matter.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date
from typing import Any
from xml.etree.ElementTree import Element, ParseError, TreeBuilder
from xml.parsers.expat import errors as expat_errors

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import DefusedXMLParser

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
    join_distinct,
    parse_decimal,
    valid_iban,
)

_NAMESPACE = re.compile(r"urn:iso:std:iso:20022:tech:xsd:(camt\.\d{3})\.\d{3}\.\d{2}")
_NOT_PROVIDED = "NOTPROVIDED"
_CODE = expat_errors.codes
_XML_ERRORS = {  # expat's messages, in words for the accountant
    _CODE[expat_errors.XML_ERROR_NO_ELEMENTS]: "fin de fichier prématurée (fichier tronqué ?)",
    _CODE[expat_errors.XML_ERROR_UNCLOSED_TOKEN]: "fichier tronqué",
    _CODE[expat_errors.XML_ERROR_TAG_MISMATCH]: "balise fermante inattendue",
    _CODE[expat_errors.XML_ERROR_INVALID_TOKEN]: "caractère ou balise invalide",
    _CODE[expat_errors.XML_ERROR_JUNK_AFTER_DOC_ELEMENT]: "données après la fin du document",
    _CODE[expat_errors.XML_ERROR_UNKNOWN_ENCODING]: "encodage inconnu",
    _CODE[expat_errors.XML_ERROR_INCORRECT_ENCODING]: "encodage incorrect",
}
_UNBOOKED = {"PDNG", "INFO", "FUTR"}  # not on the account yet: they do not move the balance


class _LineTreeBuilder(TreeBuilder):
    """Remembers the line each element starts on, for error messages and transactions."""

    def __init__(self) -> None:
        super().__init__()
        self.lines: dict[int, int] = {}
        self.expat: Any = None

    def start(self, tag: str, attrs: dict[str, str]) -> Element:
        element = super().start(tag, attrs)
        if self.expat is not None:
            self.lines[id(element)] = self.expat.CurrentLineNumber
        return element


class _Reader:
    """The parsed document and the lines of its elements."""

    def __init__(self, data: bytes) -> None:
        builder = _LineTreeBuilder()
        parser = DefusedXMLParser(target=builder, forbid_dtd=True)
        builder.expat = parser.parser
        try:
            parser.feed(data)
            root = parser.close()
        except DefusedXmlException:
            raise StatementError(
                "fichier XML refusé : il déclare une DTD ou des entités, ce qu'un relevé "
                "CAMT ne fait jamais (protection contre les fichiers piégés)"
            ) from None
        except ParseError as exc:
            line = exc.position[0] if getattr(exc, "position", None) else None
            reason = _XML_ERRORS.get(exc.code, "XML mal formé")
            raise StatementError(f"fichier XML illisible : {reason}", line) from None
        except (LookupError, ValueError):  # the encoding declared is not one expat can use
            raise StatementError("fichier XML illisible : encodage non pris en charge", 1) from None
        self.root: Element = root
        self.lines = builder.lines

    def line(self, element: Element | None) -> int | None:
        return None if element is None else self.lines.get(id(element))


def parse_camt053(data: bytes) -> ParsedStatement:
    """Every Stmt of the document; one transaction per TxDtls when the amounts add up."""
    check_size(data)
    doc = _Reader(data)
    root = doc.root
    namespace = _NAMESPACE.match(root.tag[1:]) if root.tag.startswith("{") else None
    if namespace and namespace.group(1) != "camt.053":
        raise StatementError(
            f"ce fichier est un message {namespace.group(1)}, pas un relevé camt.053"
        )
    statements_root = _child(root, "BkToCstmrStmt")
    if _local(root.tag) != "Document" or statements_root is None:
        raise StatementError("ce fichier XML n'est pas un relevé CAMT.053 (BkToCstmrStmt)")
    statements = [_statement(doc, stmt) for stmt in _children(statements_root, "Stmt")]
    if not statements:
        raise StatementError("aucun relevé (Stmt) dans le fichier CAMT.053")
    return ParsedStatement(format="camt053", statements=statements)


def _statement(doc: _Reader, stmt: Element) -> AccountStatement:
    balances: dict[str, tuple[int, str, date | None]] = {}
    for bal in _children(stmt, "Bal"):
        code = _text(bal, "Tp", "CdOrPrtry", "Cd")
        if code and code not in balances:
            cents, balance_currency = _signed_amount(doc, bal, None)
            when = _child(bal, "Dt")
            day = None if when is None else _date(doc, when, "date du solde")
            balances[code] = (cents, balance_currency, day)
    opening = balances.get("OPBD") or balances.get("PRCD")
    closing = balances.get("CLBD")
    acct = _child(stmt, "Acct")
    if acct is None:
        raise StatementError("relevé CAMT sans compte (Acct)", doc.line(stmt))
    transactions: list[StatementTransaction] = []
    for entry in _children(stmt, "Ntry"):
        status = _text(entry, "Sts") or _text(entry, "Sts", "Cd")
        if status not in _UNBOOKED:
            transactions.extend(_entry_transactions(doc, entry))
    currency = (
        _text(acct, "Ccy")
        or next((b[1] for b in balances.values()), None)
        or next((t.currency for t in transactions), None)
    )
    if currency is None:
        raise StatementError("devise du compte introuvable", doc.line(acct))
    raw_iban = _text(acct, "Id", "IBAN")
    iban = valid_iban(raw_iban)
    other = _text(acct, "Id", "Othr", "Id")
    return AccountStatement(
        account=StatementAccount(
            currency=currency,
            iban=iban,
            # An IBAN that fails its checksum is kept as a plain account number.
            account_number=None if iban else compact(raw_iban or other or "") or None,
            name=_text(acct, "Nm") or _text(acct, "Ownr", "Nm"),
            opening_balance_cents=opening[0] if opening else None,
            opening_date=opening[2] if opening else None,
            closing_balance_cents=closing[0] if closing else None,
            closing_date=closing[2] if closing else None,
        ),
        transactions=transactions,
    )


def _entry_transactions(doc: _Reader, entry: Element) -> list[StatementTransaction]:
    """One transaction per TxDtls, each with its own amount, when they add up to the entry.

    Otherwise (no TxDtls, one, amounts missing or not adding up, e.g. charges taken from
    a batch) a single transaction of the entry amount, which is what moved the balance.
    """
    amount, currency = _signed_amount(doc, entry, None)
    details = [d for block in _children(entry, "NtryDtls") for d in _children(block, "TxDtls")]
    if len(details) > 1:
        amounts = [_details_amount(doc, d, entry) for d in details]
        if all(a is not None and a[1] == currency for a in amounts) and (
            sum(a[0] for a in amounts if a is not None) == amount
        ):
            return [
                _transaction(doc, entry, [d], a[0], currency)
                for d, a in zip(details, amounts, strict=True)
                if a is not None
            ]
    return [_transaction(doc, entry, details, amount, currency)]


def _transaction(
    doc: _Reader, entry: Element, details: list[Element], amount: int, currency: str
) -> StatementTransaction:
    side = ("Dbtr", "DbtrAcct") if amount > 0 else ("Cdtr", "CdtrAcct")
    names = {_party_name(d, side[0]) for d in details} - {None}
    ibans = {valid_iban(_text(d, "RltdPties", side[1], "Id", "IBAN")) for d in details} - {None}
    end_to_end = {_text(d, "Refs", "EndToEndId") for d in details} - {None}
    end_to_end = {e for e in end_to_end if e and e.upper() != _NOT_PROVIDED}
    own_refs = {_text(d, "Refs", "AcctSvcrRef") for d in details} - {None}
    remittance = join_distinct(part for d in details for part in _remittance(d))
    counterparty = names.pop() if len(names) == 1 else None
    wording = (
        _text(entry, "AddtlNtryInf")
        or join_distinct((_text(d, "AddtlTxInf") for d in details), " ")
        or remittance
        or counterparty
        or ""
    )
    line = doc.line(details[0]) if len(details) == 1 else doc.line(entry)
    booking = _child(entry, "BookgDt")
    value = _child(entry, "ValDt")
    if booking is None:
        booking = value
    if booking is None:
        raise StatementError("écriture sans date de comptabilisation (BookgDt)", line)
    return StatementTransaction(
        booking_date=_date(doc, booking, "date de comptabilisation"),
        value_date=None if value is None else _date(doc, value, "date de valeur"),
        amount_cents=amount,
        currency=currency,
        wording=wording,
        counterparty_name=counterparty,
        counterparty_iban=ibans.pop() if len(ibans) == 1 else None,
        end_to_end_id=end_to_end.pop() if len(end_to_end) == 1 else None,
        remittance=remittance,
        bank_reference=(own_refs.pop() if len(own_refs) == 1 else None)
        or _text(entry, "AcctSvcrRef"),
        line=line,
    )


def _details_amount(doc: _Reader, details: Element, entry: Element) -> tuple[int, str] | None:
    """The TxDtls' own amount (Amt, or AmtDtls/TxAmt/Amt in older versions), signed."""
    if _child(details, "Amt") is not None:
        holder: Element | None = details
    else:
        holder = _child(details, "AmtDtls", "TxAmt")
    if holder is None:
        return None
    indicator = _text(details, "CdtDbtInd") or _text(entry, "CdtDbtInd")
    return _signed_amount(doc, holder, indicator)


def _signed_amount(doc: _Reader, holder: Element, indicator: str | None) -> tuple[int, str]:
    """(cents, currency) of holder/Amt, negative when CdtDbtInd says DBIT."""
    amt = _child(holder, "Amt")
    line = doc.line(amt if amt is not None else holder)
    if amt is None or not (amt.text or "").strip():
        raise StatementError("montant absent (Amt)", line)
    currency = (amt.get("Ccy") or "").strip().upper()
    if not re.fullmatch(r"[A-Z]{3}", currency):
        raise StatementError(f"devise illisible « {currency} »", line)
    raw = (amt.text or "").strip()
    value = parse_decimal(raw, line)
    if value < 0:
        raise StatementError(f"montant négatif « {raw} » : le sens est donné par CdtDbtInd", line)
    indicator = _text(holder, "CdtDbtInd") or indicator
    if indicator is None:
        raise StatementError("sens crédit/débit (CdtDbtInd) absent", line)
    if indicator not in ("CRDT", "DBIT"):
        raise StatementError(f"sens crédit/débit illisible « {indicator} »", line)
    cents = decimal_to_cents(value, raw, line)
    return (-cents if indicator == "DBIT" else cents), currency


def _party_name(details: Element, role: str) -> str | None:
    """Nm of the party, directly under it (up to .07) or under Pty (.08 and later)."""
    return _text(details, "RltdPties", role, "Nm") or _text(details, "RltdPties", role, "Pty", "Nm")


def _remittance(details: Element) -> Iterable[str | None]:
    info = _child(details, "RmtInf")
    if info is None:
        return
    yield " ".join(t for t in (_own_text(u) for u in _children(info, "Ustrd")) if t)
    for structured in _children(info, "Strd"):
        for part in structured:
            if _local(part.tag) == "CdtrRefInf":
                yield _text(part, "Ref")
            elif _local(part.tag) == "RfrdDocInf":
                yield _text(part, "Nb")  # the invoice number


def _date(doc: _Reader, holder: Element, what: str) -> date:
    """Dt, or the date part of DtTm (as written, whatever its time zone)."""
    raw = _text(holder, "Dt") or _text(holder, "DtTm") or ""
    try:
        return date.fromisoformat(raw[:10])
    except ValueError:
        raise StatementError(f"{what} illisible « {raw} »", doc.line(holder)) from None


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def _children(element: Element, name: str) -> list[Element]:
    return [child for child in element if _local(child.tag) == name]


def _child(element: Element, *path: str) -> Element | None:
    current: Element | None = element
    for name in path:
        if current is None:
            return None
        current = next((c for c in current if _local(c.tag) == name), None)
    return current


def _own_text(element: Element | None) -> str | None:
    if element is None or element.text is None:
        return None
    return element.text.strip() or None


def _text(element: Element, *path: str) -> str | None:
    return _own_text(_child(element, *path))
