"""Text normalisation for reconciliation: counterparty names, invoice references, card dates.

Bank wordings and printed documents spell the same things differently ("SARL DUPONT" and
"Dupont", "F-2026-0042" and "FACT F2026/42"); these helpers reduce both sides to forms
that can be compared cheaply, once per string, before any pair is looked at.
"""

from __future__ import annotations

import contextlib
import re
import unicodedata
from collections.abc import Sequence
from datetime import date, timedelta

import numpy as np
from numpy.typing import NDArray

# Words that say what a party is, not who: dropped before comparing names.
_LEGAL = frozenset(
    re.findall(
        r"\w+",
        """
        SA SAS SASU SARL EURL SCI SNC SCP SCM SELARL SELAS SELAFA SCOP GIE EI EIRL EARL GAEC ETS
        ETABLISSEMENTS STE STES SOCIETE CIE GROUPE HOLDING M MME MMES MR MRS MLLE MONSIEUR MADAME
        ET DE DU DES LA LE LES L D AU AUX EN
        """,
    )
)

# Words of the bank's own vocabulary in a wording: never a counterparty.
_BANK_WORDS = frozenset(
    re.findall(
        r"\w+",
        """
        PRLV PRELEVEMENT PRELEV SEPA VIR VIREMENT VIRT RECU RECUS EMIS EMIT INST INSTANTANE CB
        CARTE PAIEMENT PAIEMT ACHAT FACTURE FACTURES FACT FACTS FAC FA MOTIF REF REFERENCE ECH
        ECHEANCE ID EMETTEUR MDT MANDAT RUM ICS NUM NO N DATE REGLEMENT REGLT REGL A POUR PAR SUR
        DE DU DES LE LA LES ET EUR EUROS REMISE REM CHEQUE CHEQUES CHQ RETRAIT DAB AVOIR
        """,
    )
)

_ASCII_CACHE: dict[str, str] = {}
_NAME_CACHE: dict[str, str] = {}
_ALNUM = re.compile(r"[A-Z0-9]+")
_LEADING_ZEROS = re.compile(r"(?<![0-9])0+(?=[0-9])")
_CARD_DATE = re.compile(r"(?<![0-9/])([0-3][0-9])/([01][0-9])(?:/([0-9]{4}|[0-9]{2}))?(?![0-9])")
_CARD_DATE_COMPACT = re.compile(r"\bCB\s([0-3][0-9])([01][0-9])\b")
_PARTIAL_WORDS = ("ACOMPTE", "ACPT", "PARTIEL", "ECHELONNEMENT", "ARRHES")
_DIGITS_ONLY = str.maketrans(
    {chr(c): " " for c in range(128) if not chr(c).isdigit() and chr(c) != "\n"}
)

# How a wording cites a document's number, weakest first.
TAIL = 1  # its last digits only ("FACTURE 885"), checked on candidates
MEDIUM = 2  # a 6-7 character number
STRONG = 3


def ascii_upper(text: str) -> str:
    """Upper case without accents, so that "Société Générale" and "SOCIETE GENERALE" agree."""
    cached = _ASCII_CACHE.get(text)
    if cached is None:
        if text.isascii():
            cached = text.upper()
        else:
            folded = unicodedata.normalize("NFKD", text)
            cached = folded.encode("ascii", "ignore").decode("ascii").upper()
        if len(text) < 200 and len(_ASCII_CACHE) < 500_000:
            _ASCII_CACHE[text] = cached
    return cached


def normalize_name(name: str | None) -> str:
    """A name reduced to its distinctive words: "SARL Dupont & Fils" → "DUPONT FILS"."""
    if not name:
        return ""
    cached = _NAME_CACHE.get(name)
    if cached is None:
        words = _ALNUM.findall(ascii_upper(name))
        cached = " ".join(w for w in words if w not in _LEGAL)
        if len(_NAME_CACHE) < 500_000:
            _NAME_CACHE[name] = cached
    return cached


_ZERO_DIGITS = str.maketrans("123456789", "000000000")
_WORDING_NAMES: dict[str, str] = {}


def wording_name(wording: str) -> str:
    """The counterparty named in a bank wording, when the bank gave no separate name;
    cached on the wording with its digits zeroed (dates and card numbers vary, names
    do not)."""
    key = wording.translate(_ZERO_DIGITS)
    found = _WORDING_NAMES.get(key)
    if found is None:
        found = _wording_name(key)
        if len(_WORDING_NAMES) < 200_000:
            _WORDING_NAMES[key] = found
    return found


def _wording_name(wording: str) -> str:
    """The counterparty named in a bank wording, when the bank gave no separate name.

    SEPA wordings carry it after "/DE " or "/A "; otherwise it is what remains once the
    bank's vocabulary, dates and references are removed ("CB CARREFOUR 12/11" → "CARREFOUR").
    """
    text = ascii_upper(wording)
    segments = text.split("/")
    for segment in segments[1:]:
        head = segment.lstrip()
        if head.startswith(("DE ", "A ")):
            return normalize_name(head.split(" ", 1)[1])
    kept: list[str] = []
    for segment in segments:
        head = segment.lstrip()
        if head.startswith(("MOTIF", "REF", "ID ", "MDT", "ECH", "RUM")):
            continue
        kept.extend(
            w
            for w in _ALNUM.findall(head)
            if w.isalpha() and len(w) > 1 and w not in _BANK_WORDS and w not in _LEGAL
        )
    return " ".join(kept)


_UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_SEPARATORS = "".join(chr(c) for c in range(128) if not chr(c).isalnum() and chr(c) != "\n")
# Numbers keep their groups apart at slashes; dashes and dots join them.
_PIECES = str.maketrans(
    _SEPARATORS.replace("-", "").replace(".", ""), " " * (len(_SEPARATORS) - 2), "-."
)
_WHOLE = str.maketrans(
    _SEPARATORS.replace("-", "").replace(".", "").replace("/", ""),
    " " * (len(_SEPARATORS) - 3),
    "-./",
)
_ONLY_ALNUM = str.maketrans("", "", _SEPARATORS)
_NO_LETTERS = str.maketrans("", "", _UPPER)
# A short word or digit group followed by digits: one number written in groups.
_GROUP_SPACE = re.compile(r"\b([A-Z]{1,3}|[0-9]{1,4}) +(?=[0-9])")


def _lines(texts: Sequence[str | None]) -> str:
    """All texts in upper-case ASCII, one a line, in one string: each transformation
    below then runs once in C over everything instead of once per text."""
    return ascii_upper("\n".join(t.replace("\n", " ") if t else "" for t in texts))


def document_reference_keys(
    numbers: Sequence[str | None],
) -> tuple[list[int], list[str], list[int]]:
    """(document position, key, strength) for every key a printed number is indexed under;
    strength is STRONG or MEDIUM, how much a match proves.

    Two forms per number: all letters and digits ("F20260042") and digits only
    ("20260042"), each also with the leading zeros of every digit group dropped
    ("F202642"). Short forms are no keys at all: "12" or "2026" would match everywhere.
    """
    big = _lines(numbers)
    positions: list[int] = []
    keys: list[str] = []
    strengths: list[int] = []
    for text in (big, _LEADING_ZEROS.sub("", big)):
        joined = text.translate(_ONLY_ALNUM)
        full = joined.split("\n")
        digits = joined.translate(_NO_LETTERS).split("\n")
        n_full = np.fromiter(map(len, full), dtype=np.int64, count=len(full))
        n_digits = np.fromiter(map(len, digits), dtype=np.int64, count=len(digits))
        significant = np.array([len(d.lstrip("0")) for d in digits], dtype=np.int64)
        mixed = (n_digits < n_full) & (n_digits >= 3) & (n_full >= 5)
        chosen = np.flatnonzero(mixed).tolist()
        positions.extend(chosen)
        keys.extend(full[i] for i in chosen)
        strengths.extend(np.where(n_digits[mixed] >= 4, STRONG, MEDIUM).tolist())
        numeric = significant >= 7
        chosen = np.flatnonzero(numeric).tolist()
        positions.extend(chosen)
        keys.extend(digits[i] for i in chosen)
        strengths.extend(np.where(significant[numeric] >= 8, STRONG, MEDIUM).tolist())
    return positions, keys, strengths


def text_reference_keys(texts: Sequence[str], known: frozenset[str]) -> tuple[list[int], list[str]]:
    """(text position, key) for every known key a wording (with its remittance) cites.

    Numbers are read as written, split at slashes ("ECH/151126"), joined across dashes,
    dots and slashes ("F-2026-0042", "F2026/42") and across spaces after a short group
    ("F 2026 0042"),
    and reduced to their digits ("FACTURE 2026-0042"); every form of every text is then
    looked up at once, lines told apart by a marker token.
    """
    big = _lines(texts)
    pieces = big.translate(_PIECES)
    whole = _GROUP_SPACE.sub(r"\1", big.translate(_WHOLE))
    digits = whole.translate(_NO_LETTERS)
    positions: list[int] = []
    keys: list[str] = []
    for variant in (pieces, whole, digits):
        tokens = variant.split()  # only spaces and newlines are left as separators
        hits = np.flatnonzero(
            np.fromiter(map(known.__contains__, tokens), dtype=bool, count=len(tokens))
        )
        # The line of a token: where its first character falls among the newlines.
        raw = np.frombuffer(variant.encode("ascii"), dtype=np.uint8)
        in_token = (raw != 32) & (raw != 10)
        first = in_token.copy()
        first[1:] &= ~in_token[:-1]
        starts = np.flatnonzero(first)[hits]
        positions.extend(np.searchsorted(np.flatnonzero(raw == 10), starts).tolist())
        keys.extend(tokens[i] for i in hits.tolist())
    return positions, keys


def card_purchase_date(wording: str, booked: date) -> date | None:
    """The purchase date a card wording shows ("CB CARREFOUR 12/11"), in the right year.

    Card payments are booked a few days after the purchase, so the year is the one that
    puts the purchase on or just before the booking date.
    """
    text = ascii_upper(wording)
    match = _CARD_DATE.search(text) or _CARD_DATE_COMPACT.search(text)
    if match is None:
        return None
    day, month = int(match.group(1)), int(match.group(2))
    year_text = match.group(3) if match.re is _CARD_DATE else None
    years = [booked.year, booked.year - 1]
    if year_text:
        year = int(year_text)
        years = [year + 2000 if year < 100 else year]
    for year in years:
        try:
            found = date(year, month, day)
        except ValueError:
            return None
        if found <= booked + timedelta(days=3):
            return found
    return None


def _find_lines(big: str, needle: str) -> list[tuple[int, int]]:
    """(line, offset) of every occurrence of a word in a block of lines (str.find runs in
    C, much faster than a regular expression over megabytes)."""
    found: list[int] = []
    start = big.find(needle)
    while start >= 0:
        if start == 0 or not big[start - 1].isalpha():
            found.append(start)
        start = big.find(needle, start + 1)
    if not found:
        return []
    newlines = np.flatnonzero(np.frombuffer(big.encode("ascii"), dtype=np.uint8) == 10)
    lines = np.searchsorted(newlines, np.array(found, dtype=np.int64)).tolist()
    return list(zip(lines, found, strict=True))


def debit_due_dates(wordings: Sequence[str]) -> dict[int, date]:
    """The due date each SEPA direct debit states ("PRLV SEPA EDF ECH/151126 …"), by
    position; other wordings are left out."""
    big = _lines(wordings)
    found: dict[int, date] = {}
    for line, offset in _find_lines(big, "ECH/"):
        digits = big[offset + 4 : offset + 10]
        if line in found or not digits.isdigit() or not wordings[line].startswith("PRLV"):
            continue
        with contextlib.suppress(ValueError):
            found[line] = date(2000 + int(digits[4:]), int(digits[2:4]), int(digits[:2]))
    return found


def partial_payment_said(texts: Sequence[str]) -> set[int]:
    """Positions of the texts announcing a deposit or a partial payment ("ACOMPTE")."""
    big = _lines(texts)
    return {line for word in _PARTIAL_WORDS for line, _ in _find_lines(big, word)}


def digit_groups(texts: Sequence[str]) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """(text position, value) of every group of 3 to 12 significant digits in the texts:
    "FACTURE N 0885" → 885. Parsed by numpy in one pass, not number by number."""
    big = _lines(texts).translate(_DIGITS_ONLY)
    tokens = np.array(big.replace("\n", " X ").split())
    if tokens.size == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    mark = tokens == "X"
    position = np.cumsum(mark)
    length = np.char.str_len(tokens)
    usable = ~mark & (length >= 3) & (length <= 12)
    values = tokens[usable].astype(np.int64)
    keep = values >= 100
    return position[usable][keep], values[keep]


def number_tails(numbers: Sequence[str | None]) -> list[int]:
    """The last digit group of each document number when distinctive enough to be cited
    alone ("F-2026-0885" → 885), else -1; only ever compared on a candidate pair."""
    tails = []
    for line in _lines(numbers).translate(_DIGITS_ONLY).split("\n"):
        groups = line.rsplit(maxsplit=1)
        value = int(groups[-1]) if groups else -1
        tails.append(value if 100 <= value < 10**12 else -1)
    return tails
