"""What the statement importers share: size limit, amounts, IBANs, texts.

Every importer reads the whole file before returning anything, and raises
`StatementError` (reason in French, for the accountant) at the first problem, so a
statement is imported whole or not at all.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation

from schwifty import IBAN
from schwifty.exceptions import SchwiftyException

from coffre.tasks.bank_types import StatementError

# A year of daily CAMT statements of a busy shop is a few MB; beyond this it is not a
# statement, and parsing it whole would only cost memory.
MAX_STATEMENT_BYTES = 64 * 1024 * 1024

_SPACES = re.compile(r"\s+")
_LIGATURES = str.maketrans({"œ": "oe", "Œ": "OE", "æ": "ae", "Æ": "AE", "ß": "ss"})


def check_size(data: bytes) -> None:
    """Refuse empty and oversized files before any parsing."""
    if len(data) > MAX_STATEMENT_BYTES:
        size_mb = len(data) // (1024 * 1024)
        limit_mb = MAX_STATEMENT_BYTES // (1024 * 1024)
        raise StatementError(
            f"fichier trop volumineux pour un relevé ({size_mb} Mo ; {limit_mb} Mo au plus)"
        )
    if not data.strip():
        raise StatementError("le fichier est vide")


def simplify_wording(text: str) -> str:
    """Upper case, accents stripped, single spaces: the form wordings are compared in."""
    decomposed = unicodedata.normalize("NFKD", text.translate(_LIGATURES))
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return _SPACES.sub(" ", bare).strip().upper()


def decimal_to_cents(value: Decimal, raw: str, line: int | None) -> int:
    """Exact cents, or an error: a third decimal digit would be silently lost otherwise."""
    cents = value * 100
    if cents != cents.to_integral_value():
        raise StatementError(f"montant « {raw} » : plus de deux décimales", line)
    return int(cents)


def parse_decimal(raw: str, line: int | None) -> Decimal:
    """A plain decimal number ("12.30", "-4"), as CAMT writes them."""
    try:
        value = Decimal(raw.strip())
    except InvalidOperation:
        raise StatementError(f"montant illisible « {raw} »", line) from None
    if not value.is_finite():
        raise StatementError(f"montant illisible « {raw} »", line)
    return value


def compact(text: str) -> str:
    return _SPACES.sub("", text).upper()


def valid_iban(text: str | None) -> str | None:
    """The compact IBAN when `text` is a valid one (checksum and national format)."""
    if not text:
        return None
    try:
        return str(IBAN(compact(text)).compact)
    except (SchwiftyException, ValueError):
        return None


def french_iban(bank: str | None, branch: str | None, account: str | None) -> str | None:
    """The IBAN of a French RIB (5-digit bank, 5-digit branch, 11-character account).

    A French IBAN is "FR", two check digits and the RIB with its key, all computed from
    the three codes: nothing is guessed.
    """
    if not (bank and branch and account):
        return None
    if not (
        re.fullmatch(r"\d{5}", bank)
        and re.fullmatch(r"\d{5}", branch)
        and re.fullmatch(r"[0-9A-Z]{11}", account)
    ):
        return None
    try:
        iban = IBAN.generate("FR", bank_code=bank, branch_code=branch, account_code=account)
    except (SchwiftyException, ValueError):
        return None
    return str(iban.compact)


def join_distinct(parts: Iterable[str | None], sep: str = " / ") -> str | None:
    """Join non-empty parts, dropping one already contained in another (banks repeat)."""
    kept: list[str] = []
    for part in parts:
        text = (part or "").strip()
        if not text or any(text in other for other in kept):
            continue
        kept = [other for other in kept if other not in text]
        kept.append(text)
    return sep.join(kept) or None
