"""Accounting fields from the plain text of French receipts and supplier invoices.

The text comes either from OCR (tesseract fra+eng through ocrmypdf) or from a
born-digital PDF's own text layer (``pdftotext -layout``).  Everything here is
pure string processing on precompiled regexes: no I/O, so the heuristics can be
unit-tested against hand-written texts and re-run cheaply over the whole vault
whenever they improve.

Matching is done on an accent-folded copy of each line that keeps the exact
same character offsets as the original, so that labels can be matched without
caring about OCR-lost accents while values (supplier, invoice number) are cut
from the original text.
"""

from __future__ import annotations

import datetime
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from stdnum.fr import siret as _siret

__all__ = ["VAT_RATES", "ExtractedFields", "VatLine", "extract_fields"]

_CENT = Decimal("0.01")

#: French VAT rates (metropolitan and DOM), in percent, most common first.
VAT_RATES: tuple[Decimal, ...] = (
    Decimal("20"),
    Decimal("10"),
    Decimal("5.5"),
    Decimal("2.1"),
    Decimal("8.5"),
    Decimal("0"),
)
# OCR sometimes drops the decimal comma of a rate: "5,5 %" read as "55 %".
_RATE_REPAIRS: dict[Decimal, Decimal] = {
    Decimal("55"): Decimal("5.5"),
    Decimal("21"): Decimal("2.1"),
    Decimal("85"): Decimal("8.5"),
}

_MIN_YEAR = 2000
_MAX_YEAR = 2100


# --------------------------------------------------------------------------- data


def _fmt_amount(value: Decimal) -> str:
    return str(value.quantize(_CENT))


def _fmt_rate(rate: Decimal) -> str:
    """Shortest exact form ("20", "5.5"): rates are identifiers, not amounts."""
    normal = rate.normalize()
    if normal == normal.to_integral_value():
        return str(normal.quantize(Decimal(1)))
    return str(normal)


@dataclass(frozen=True)
class VatLine:
    """One VAT rate of the breakdown and the VAT amount charged at that rate."""

    rate: Decimal  # percent: Decimal("20"), Decimal("5.5")
    amount: Decimal


@dataclass(frozen=True)
class ExtractedFields:
    """What bookkeeping needs from a receipt or invoice; None when not found.

    ``vat`` is ordered by decreasing rate so that two extractions of the same
    document compare equal whatever the order of the lines in the text.
    """

    date: datetime.date | None = None
    total_ttc: Decimal | None = None
    vat: tuple[VatLine, ...] = ()
    supplier: str | None = None
    invoice_number: str | None = None
    siret: str | None = None

    def to_json(self) -> dict[str, Any]:
        """JSON-ready dict; amounts stay strings so no float ever touches money."""
        return {
            "date": self.date.isoformat() if self.date else None,
            "total_ttc": _fmt_amount(self.total_ttc) if self.total_ttc is not None else None,
            "vat": [
                {"rate": _fmt_rate(line.rate), "amount": _fmt_amount(line.amount)}
                for line in self.vat
            ],
            "supplier": self.supplier,
            "invoice_number": self.invoice_number,
            "siret": self.siret,
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> ExtractedFields:
        """Inverse of :meth:`to_json` (tolerates missing keys from older records)."""
        raw_date = d.get("date")
        raw_total = d.get("total_ttc")
        return cls(
            date=datetime.date.fromisoformat(raw_date) if raw_date else None,
            total_ttc=Decimal(str(raw_total)) if raw_total is not None else None,
            vat=tuple(
                VatLine(rate=Decimal(str(v["rate"])), amount=Decimal(str(v["amount"])))
                for v in d.get("vat") or ()
            ),
            supplier=d.get("supplier"),
            invoice_number=d.get("invoice_number"),
            siret=d.get("siret"),
        )


# ------------------------------------------------------------------ normalisation

_FOLD = str.maketrans(
    "àâäáãåçéèêëîïíìôöóòõùûüúÿñÀÂÄÁÃÅÇÉÈÊËÎÏÍÌÔÖÓÒÕÙÛÜÚŸÑ’‘`´‐‑‒–—−",
    "aaaaaaceeeeiiiiooooouuuuynAAAAAACEEEEIIIIOOOOOUUUUYN''''------",
)


@dataclass(frozen=True)
class _Line:
    text: str  # original (NFKC, tabs expanded)
    fold: str  # same length, accents folded: used for matching


def _prepare(text: str) -> list[_Line]:
    text = unicodedata.normalize("NFKC", text)
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\f", "\n")
    lines = []
    for raw in text.split("\n"):
        line = raw.expandtabs(4).rstrip()
        lines.append(_Line(line, line.translate(_FOLD)))
    return lines


def _next_nonempty(lines: list[_Line], i: int, step: int, limit: int = 2) -> Iterable[int]:
    """Indices of up to ``limit`` non-empty lines after (step=1) or before (step=-1) i."""
    j = i + step
    found = 0
    while 0 <= j < len(lines) and found < limit:
        if lines[j].text.strip():
            found += 1
            yield j
        j += step


# ------------------------------------------------------------------------ amounts

# "12,50", "12.50", "1 234,56", "1.234,56", "1,234.56", OCR "1O,5O"; not rates
# ("20,00 %"), not parts of dates or phone numbers ("12.03.2026"), not 3-decimal
# unit prices ("1,789").
_AMOUNT_RE = re.compile(
    r"(?<![\d.,])(?P<neg>-\s?)?"
    r"(?P<int>\d(?:[\dOo]{0,2}(?:[ .,'][\dOo]{3})+|[\dOo]*))"
    r" ?(?P<dec>[.,]) ?(?P<frac>[\dOo]{2})"
    r"(?![\dOo]|[.,]\d| ?%)"
)
_CURRENCY_AFTER_RE = re.compile(r"\s?(?:€|EUR\b|E\b)", re.I)
_CURRENCY_BEFORE_RE = re.compile(r"(?:€|EUR)\s?$", re.I)


@dataclass(frozen=True)
class _Amount:
    start: int
    end: int
    value: Decimal

    @property
    def center(self) -> float:
        return (self.start + self.end) / 2


def _digits(s: str) -> str:
    return s.replace("O", "0").replace("o", "0")


# OCR reads the decimal comma of a right-aligned amount as "/": "69/55 €".
_SLASH_AMOUNT_RE = re.compile(
    r"(?<![\d.,/])(?P<int>\d{1,4})/(?P<frac>\d{2})(?=\s*(?:€|EUR\b|E\b)?\s*(?:[A-D]\b)?\s*$)", re.I
)
# ... or drops it altogether: "T.V.A. 20% 155" (VAT lines only).
_CENTS_TAIL_RE = re.compile(r"(?<![\d.,])(\d{3,4})\s*(?:€|EUR)?\s*$", re.I)
# An item line of a receipt: text, then a single price (and a VAT code).
_PRICE_TAIL_RE = re.compile(r"\s*(?:€|EUR\b|E\b)?\s*(?:[A-D]\b)?\s*$", re.I)  # use with .match


def _amounts(fold: str) -> list[_Amount]:
    out = []
    for m in _SLASH_AMOUNT_RE.finditer(fold):
        value = Decimal(f"{m['int']}.{m['frac']}")
        out.append(_Amount(m.start(), m.end(), value))
    for m in _AMOUNT_RE.finditer(fold):
        intpart = m["int"]
        seps = {c for c in intpart if c in " .,'"}
        if len(seps) > 1 or m["dec"] in seps:
            continue
        digits = _digits("".join(c for c in intpart if c not in " .,'"))
        try:
            value = Decimal(f"{digits}.{_digits(m['frac'])}")
        except InvalidOperation:  # pragma: no cover - regex guarantees digits
            continue
        out.append(_Amount(m.start(), m.end(), -value if m["neg"] else value))
    out.sort(key=lambda a: a.start)
    return out


def _has_currency(fold: str, amount: _Amount) -> bool:
    return bool(
        _CURRENCY_AFTER_RE.match(fold, amount.end)
        or _CURRENCY_BEFORE_RE.search(fold, 0, amount.start)
    )


# -------------------------------------------------------------------------- dates

_MONTHS: dict[str, int] = {
    "janvier": 1, "janv": 1, "jan": 1, "january": 1,
    "fevrier": 2, "fevr": 2, "fev": 2, "february": 2, "feb": 2,
    "mars": 3, "mar": 3, "march": 3,
    "avril": 4, "avr": 4, "april": 4, "apr": 4,
    "mai": 5, "may": 5,
    "juin": 6, "june": 6, "jun": 6,
    "juillet": 7, "juil": 7, "july": 7, "jul": 7,
    "aout": 8, "aou": 8, "august": 8, "aug": 8,
    "septembre": 9, "sept": 9, "sep": 9, "september": 9,
    "octobre": 10, "oct": 10, "october": 10,
    "novembre": 11, "nov": 11, "november": 11,
    "decembre": 12, "dec": 12, "december": 12,
}  # fmt: skip
_MONTH_ALT = "|".join(sorted(_MONTHS, key=len, reverse=True))
_D = r"[\dO]"
_DATE_NUM_RE = re.compile(
    rf"(?<![\w/.\-])(?P<d>[0-3O]?{_D})\s?(?P<sep>[/.\-])\s?(?P<m>[01O]?{_D})\s?(?P=sep)\s?"
    rf"(?P<y>(?:19|2[\dO]){_D}{_D}|{_D}{_D})(?![\w/]|[.\-]\d)"
    # OCR lost the dots ("11 07 2024"): only with a four-digit year.
    rf"|(?<![\w/.\-])(?P<d2>[0-3O]?{_D}) (?P<m2>[01O]?{_D}) (?P<y2>2[\dO]{_D}{_D})(?![\w/]|[.\-]\d)"
)
_DATE_ISO_RE = re.compile(
    rf"(?<![\w/.\-])(?P<y>2[\dO]{_D}{_D})(?P<sep>[/.\-])(?P<m>[01O]?{_D})(?P=sep)(?P<d>[0-3O]?{_D})"
    r"(?!\d|/|[.\-]\d)"
)
_DATE_TEXT_RE = re.compile(
    rf"(?<![\w])(?P<d>[0-3]?\d|1er|ler|1re|1st|2nd|3rd|\d{{1,2}}th)[\s.\-]{{1,2}}"
    rf"(?P<m>{_MONTH_ALT})\b\.?[\s.\-]{{1,2}}(?P<y>(?:19|20)\d\d|\d\d)(?![\w])",
    re.I,
)
_DATE_EN_RE = re.compile(
    rf"(?<![\w])(?P<m>{_MONTH_ALT})\b\.?\s+(?P<d>[0-3]?\d)(?:st|nd|rd|th)?,?\s+"
    r"(?P<y>(?:19|20)\d\d)(?![\w])",
    re.I,
)

# Labels that tell which date of the document is its date.  The nearest label
# before a date wins; at equal end the longest ("avant le" beats "le").
_DATE_LABELS: tuple[tuple[int, re.Pattern[str]], ...] = (
    (
        3,
        re.compile(
            r"\bDATE\b(?:\s*(?:DE\s+LA\s+|DE\s+|D'\s?|DU\s+)?(?:FACTURE|FACTURATION|EMISSION|"
            r"VENTE|ACHAT|OPERATION|TRANSACTION|TICKET|PIECE|DOCUMENT|L'?ACHAT))?"
            r"|\bEMISE?S?\s+LE\b|\bFAIT\s+LE\b|\bEDITEE?\s+LE\b|\bINVOICE\s+DATE\b"
            r"|\bDATE\s+OF\s+ISSUE\b|\bISSUED(?:\s+ON)?\b|\bDATED\b",
            re.I,
        ),
    ),
    (1, re.compile(r"\b(?:LE|DU|ON)\s*:?\s*$", re.I)),
    (
        -1,
        re.compile(
            r"LIVRAISON|\bLIVREE?\s+LE\b|COMMANDE|\bORDER\b|DELIVERY|EXPEDITION|PRESTATION|"
            r"\bSHIPPED\b|IMPRESSION|\bPRINTED\b",
            re.I,
        ),
    ),
    (
        -3,
        re.compile(
            r"ECHEANCE|\bECHU|\bAVANT(?:\s+LE)?\b|\bDUE(?:\s+DATE|\s+ON|\s+BY)?\b|\bPAYABLE(?:\s+LE)?\b"
            r"|\bLIMITE\b|VALIDITE|VALABLE|\bVALID|JUSQU|EXPIR|NAISSANCE|\bNEE?\s+LE\b|BIRTH"
            r"|\bAU\s*$|PERIODE|\bPAIEMENT(?:\s+LE)?\b|\bREGLEMENT(?:\s+LE)?\b|\bPAYMENT\b|\bDLC\b"
            r"|\bDLUO\b|CONSOMMER|\bA\s+PAYER\b|\bPRELEVE(?:MENT)?(?:\s+LE)?\b|\bUNTIL\b",
            re.I,
        ),
    ),
)
_DATE_LABEL_REACH = 60
_CELL_RE = re.compile(r"\S+(?: \S+)*")
_NON_DIGIT_RE = re.compile(r"\D")


@dataclass(frozen=True)
class _DateHit:
    start: int
    end: int
    value: datetime.date


def _mkdate(y: int, m: int, d: int) -> datetime.date | None:
    if y < 100:
        y += 2000
    if not _MIN_YEAR <= y <= _MAX_YEAR:
        return None
    try:
        return datetime.date(y, m, d)
    except ValueError:
        if d <= 12 < m:  # US order, "03/25/2026"
            try:
                return datetime.date(y, d, m)
            except ValueError:
                return None
        return None


def _day(s: str) -> int:
    s = s.lower()
    if s in ("1er", "ler", "1re", "1st"):
        return 1
    return int(_NON_DIGIT_RE.sub("", _digits(s)) or 0)


def _dates(fold: str) -> list[_DateHit]:
    hits: list[_DateHit] = []
    for rx in (_DATE_NUM_RE, _DATE_ISO_RE):
        for m in rx.finditer(fold):
            y, mo, d = (m["y"], m["m"], m["d"]) if m["y"] else (m["y2"], m["m2"], m["d2"])
            value = _mkdate(int(_digits(y)), int(_digits(mo)), int(_digits(d)))
            if value:
                hits.append(_DateHit(m.start(), m.end(), value))
    for rx in (_DATE_TEXT_RE, _DATE_EN_RE):
        for m in rx.finditer(fold):
            value = _mkdate(int(m["y"]), _MONTHS[m["m"].lower()], _day(m["d"]))
            if value:
                hits.append(_DateHit(m.start(), m.end(), value))
    hits.sort(key=lambda h: h.start)
    # Drop a hit contained in an earlier one (ISO inside a longer numeric match).
    kept: list[_DateHit] = []
    for h in hits:
        if kept and h.start < kept[-1].end:
            continue
        kept.append(h)
    return kept


def _label_score(fold: str, before: int) -> int | None:
    """Score of the label nearest before column ``before`` on this line, if any."""
    best: tuple[int, int, int] | None = None  # (end, -start, score)
    lo = max(0, before - _DATE_LABEL_REACH)
    for score, rx in _DATE_LABELS:
        for m in rx.finditer(fold, lo, before):
            end = m.start() + len(m.group().rstrip(" :"))
            key = (end, -m.start(), score)
            if best is None or key[:2] > best[:2] or (key[:2] == best[:2] and score < best[2]):
                best = key
    return None if best is None else best[2]


def _column_label_score(fold: str, start: int, end: int) -> int | None:
    """Score of the header cell above a value in a layout table ("Date    Échéance")."""
    best: tuple[int, float, re.Match[str]] | None = None
    for cell in _CELL_RE.finditer(fold):
        overlap = min(end, cell.end()) - max(start, cell.start())
        dist = abs((cell.start() + cell.end()) / 2 - (start + end) / 2)
        if overlap <= 0 and dist > 12 + (cell.end() - cell.start()) / 2:
            continue
        if best is None or (overlap, -dist) > best[:2]:
            best = (overlap, -dist, cell)
    if best is None:
        return None
    text = best[2].group()
    return _label_score(text, len(text))


def _extract_date(lines: list[_Line]) -> datetime.date | None:
    best: tuple[int, datetime.date] | None = None
    for i, line in enumerate(lines):
        for hit in _dates(line.fold):
            score = _label_score(line.fold, hit.start)
            if score is None:
                for j in _next_nonempty(lines, i, -1, 1):
                    if not any(c.isdigit() for c in lines[j].fold):  # a header row
                        score = _column_label_score(lines[j].fold, hit.start, hit.end)
            score = score or 0
            if best is None or score > best[0]:
                best = (score, hit.value)
    return best[1] if best else None


# ---------------------------------------------------------------------- total TTC

_TOTAL_PREFIX_EXCLUDE_RE = re.compile(r"(?:SOUS|SUB|NET|RESTE|DEJA)[\s-]*$", re.I)
_TOTAL_LABELS: tuple[tuple[int, bool, re.Pattern[str]], ...] = (
    # (priority, generic, regex): lower priority wins; generic labels take the
    # largest amount after them ("TOTAL 10,00 2,00 12,00"), others the first.
    (
        0,
        False,
        re.compile(
            r"\bNET\s*A\s*PAYER\b|\b(?:TOTAL|MONTANT|SOMME)\s*(?:TTC\s*)?A\s*PAYER\b"
            r"|(?<!RESTE )\bA\s*PAYER\b(?!\s*(?:AVANT|LE\b|AU\b|SOUS|D'?ICI|PAR\b|SUR\b))"
            r"|\b(?:AMOUNT|BALANCE|TOTAL)\s*DUE\b|\bMONTANT\s*DU\b",
            re.I,
        ),
    ),
    (
        1,
        False,
        re.compile(
            r"\b(?:T[O0]TA[LI1]|M[O0]NTANT)\s*[:.]?\s*T\.?\s?[TI]\.?\s?C\b\.?"
            r"|\bTOTAL\s*\(?\s*(?:INCL|INCLUDING|WITH\s*VAT|TVA\s*COMPRISE|TOUTES\s*TAXES)"
            r"|\bGRAND\s*TOTAL\b|\bTOTAL\s*AMOUNT\b|\bTOTAL\s*(?:EUR|€)",
            re.I,
        ),
    ),
    (
        2,
        True,
        re.compile(
            r"(?<![\w-])(?:T[O0]TA[LI1]|M[O0]NTANT)\b(?!\s*[:.]?\s*(?:H\.?\s?T\b|HORS|T\.?\s?V\.?\s?A|"
            r"VAT|TAX|REMISE|RED|ECONOMI|ARTICLE|ART\b|ITEM|EXCL|NET\s*H|QTE|QUANTITE|POINT|"
            r"PIECE|COLIS|POIDS|KG|LIGNE|DES\s*REMISE|PAYE|ACOMPTE|CB\b|RENDU|DEJA))"
            r"|(?<![\w.])T\.?T\.?C\b",
            re.I,
        ),
    ),
    (
        3,
        False,
        re.compile(
            r"\b(?:CB|C\.B\.|CARTE(?:\s*BANCAIRE|\s*BLEUE)?|VISA|MASTERCARD|MAESTRO|AMEX|"
            r"SANS\s*CONTACT|CONTACTLESS|ESPECES|CASH|CHEQUE|PAIEMENT|REGLEMENT|PAID)\b",
            re.I,
        ),
    ),
)


_DEPOSIT_RE = re.compile(
    r"\bACOMPTE|\bDEJA\s+(?:REGLE|PAYE|VERSE)|\bARRHES\b|\bDEPOSIT\b|\bPAID\s+TO\s+DATE\b", re.I
)
# Words left on a line once its amounts are removed (currency marks are no words).
_LETTERS_RE = re.compile(r"\b(?!(?:EUR|EUROS?|TTC|HT)\b)[^\W\d_]{2,}", re.I)


def _value_below(
    lines: list[_Line], per_line: list[list[_Amount]], amount_only: list[bool], i: int
) -> Decimal | None:
    """Amount for a label alone on line ``i``.

    Tesseract often returns a receipt's labels as one block and its right-hand
    amounts as the next block.  The rows that carry amounts are the last ones
    of the label block, so labels and amounts are matched from the bottom.
    """
    below = 0  # label-only lines between line i and the amounts block
    j = i
    while True:
        nxt = next(iter(_next_nonempty(lines, j, 1, 1)), None)
        if nxt is None or below > 60:
            return None
        if amount_only[nxt]:
            break
        if per_line[nxt]:
            return None  # a "label amount" line: no split column here
        below += 1
        j = nxt
    block: list[Decimal] = []
    k: int | None = nxt
    while k is not None and amount_only[k]:
        block.append(per_line[k][-1].value)
        k = next(iter(_next_nonempty(lines, k, 1, 1)), None)
    return block[len(block) - 1 - below] if below < len(block) else None


def _extract_total(lines: list[_Line]) -> tuple[Decimal | None, int]:
    """Labelled total (and how many labelled amounts agree with it)."""
    candidates: list[tuple[int, Decimal, int]] = []  # (priority, amount, line)
    all_amounts: list[tuple[bool, Decimal]] = []
    per_line = [_amounts(line.fold) for line in lines]
    amount_only = [
        bool(per_line[i]) and not _LETTERS_RE.search(_AMOUNT_RE.sub(" ", line.fold))
        for i, line in enumerate(lines)
    ]
    deposit = False
    for i, line in enumerate(lines):
        fold = line.fold
        deposit = deposit or bool(_DEPOSIT_RE.search(fold))
        for a in per_line[i]:
            all_amounts.append((_has_currency(fold, a), a.value))
        for prio, generic, rx in _TOTAL_LABELS:
            for m in rx.finditer(fold):
                if _TOTAL_PREFIX_EXCLUDE_RE.search(fold, 0, m.start()):
                    continue
                after = [a for a in per_line[i] if a.start >= m.end() and a.value >= 0]
                if after:
                    best_after = max(a.value for a in after) if generic else after[0].value
                    candidates.append((prio, best_after, i))
                    continue
                if per_line[i] and any(a.start < m.start() for a in per_line[i]):
                    continue  # "12,50 TTC": amount is before, handled by its own label
                rest = fold[m.end() :]
                value: Decimal | None = None
                if not rest.strip(" :.-€"):
                    # Label alone: value on the next line, or OCR split the
                    # amounts column into a block of its own further down.
                    value = _value_below(lines, per_line, amount_only, i)
                elif rest.startswith("   ") and not per_line[i]:
                    # Layout column header ("Total TTC   Total HT"): same column below.
                    center = (m.start() + m.end()) / 2
                    for j in _next_nonempty(lines, i, 1, 1):
                        if amount_only[j]:
                            value = min(per_line[j], key=lambda a: abs(a.center - center)).value
                else:
                    continue  # "NET A PAYER 27,/2": unreadable amount, do not guess
                if value is not None and value >= 0:
                    candidates.append((prio + 1 if generic else prio, value, i))
    if candidates:
        best_prio = min(p for p, _, _ in candidates)
        if best_prio == 0 and any(p == 1 for p, _, _ in candidates) and deposit:
            best_prio = 1  # "Net à payer" is what remains after a deposit, not the TTC
        best = max(v for p, v, _ in candidates if p == best_prio)
        rivals = {v for _, v, _ in candidates if v != best and _one_digit_off(v, best)}
        if rivals:
            # "TOTAL 126,55" but "CB 126,35": one of them is misread; the sum of
            # the item lines above the first total decides.
            first = min(i for _, _, i in candidates)
            items = sum(
                (
                    per_line[k][0].value
                    for k in range(first)
                    if len(per_line[k]) == 1
                    and _PRICE_TAIL_RE.match(lines[k].fold, per_line[k][0].end)
                    and _LETTERS_RE.search(lines[k].fold)
                    and not _RATE_RE.search(lines[k].fold)
                ),
                Decimal(0),
            )
            if items in rivals:
                best = items
        return best, sum(v == best for _, v, _ in candidates)
    with_currency = [v for cur, v in all_amounts if cur and v > 0]
    if with_currency:
        return max(with_currency), 0
    positives = [v for _, v in all_amounts if v > 0]
    return (max(positives) if positives else None), 0


# ---------------------------------------------------------------------------- VAT

_RATE_RE = re.compile(
    r"(?<![\d.,])(?P<num>\d[\dOo]?(?:\s?[.,]\s?[\dOo]{1,2})?)\s?(?:%|o/o|pct\b)", re.I
)
# "TVA" is often read "IVA" or "[VA" by tesseract on thermal prints.
_VAT_KW_RE = re.compile(
    r"(?<![\w])(?:[T\[I1lD]\s?[.\-,e]?\s?[VW]\s?[.\-,e]?\s?[AH]\b\.?|VAT\b|TAXES?\b)", re.I
)
# A rate whose "%" was misread: "TVA 5,52 0,72" (the "%" read as a digit).
_KW_RATE_TOKEN_RE = re.compile(r"\W{0,3}(?P<tok>\d{1,2}(?:[.,]\d{1,3})?|\d{3})(?![\d.,]\d)")
_VAT_ID_RE = re.compile(
    r"INTRA|\bN\s*[°o]?\s*(?:DE\s+)?(?:TVA|VAT)\b|NUMERO\s+(?:DE\s+)?TVA|(?:TVA|VAT)\s*:?\s*FR\s?\w\w"
    r"|NON\s+APPLICABLE|EXONER|AUTOLIQUIDATION|VAT\s*(?:NO\b|NUMBER|ID\b|REG)|293\s*B",
    re.I,
)
_VAT_NOT_RE = re.compile(
    r"REMISE|REDUCTION|RABAIS|DISCOUNT|ESCOMPTE|PENALIT|INTERET|ACOMPTE|POURBOIRE|SERVICE\s+COMPRIS",
    re.I,
)
_VAT_HEADER_COL_RE = re.compile(
    r"\b(?:H\.?\s?T\b\.?|T\.?T\.?C\b\.?|BASE|TAUX|RATE|NET|MONTANT|TOTAL|CODE)", re.I
)
_TOTAL_WORD_RE = re.compile(r"\bT[O0]TA[LI1]", re.I)
_VAT_TOTAL_RE = re.compile(
    r"\b(?:TOTAL\s*|MONTANT\s*(?:DE\s*LA\s*|DE\s*)?|DONT\s*)?(?:T\.?\s?V\.?\s?A\b\.?|VAT\b)", re.I
)
_HT_TOTAL_RE = re.compile(
    r"\b(?:TOTAL|MONTANT|SOUS[\s-]?TOTAL|BASE)\s*(?:NET\s*)?H\.?\s?T\b|\bSUBTOTAL\b"
    r"|\bTOTAL\s*(?:EXCL|HORS)",
    re.I,
)
_TABLE_REACH = 8
_TAUX_RE = re.compile(r"\bTAUX\b", re.I)


def _canonical_rate(raw: str) -> Decimal | None:
    try:
        value = Decimal(_digits(raw).replace(",", ".").replace(" ", ""))
    except InvalidOperation:
        return None
    value = _RATE_REPAIRS.get(value, value)
    for rate in VAT_RATES:
        if value == rate:
            return rate
    return None


def _close(a: Decimal, b: Decimal) -> bool:
    """Equal up to VAT rounding (per-line rounding adds up on long invoices)."""
    return abs(a - b) <= Decimal("0.02") + abs(b) * Decimal("0.002")


def _consistent_vat(rate: Decimal, values: list[Decimal]) -> tuple[int, Decimal] | None:
    """Find the VAT amount among a row's amounts from the arithmetic, not the layout.

    Returns (strength, amount): 2 when HT + VAT = TTC also checks out, 1 when only
    VAT = HT x rate (or TTC x rate / (100 + rate)) does.
    """
    found: tuple[int, Decimal] | None = None
    for i, v in enumerate(values):
        for j, b in enumerate(values):
            if i == j or b <= 0:
                continue
            as_ht = _close(v, b * rate / 100)
            as_ttc = _close(v, b * rate / (100 + rate))
            if not (as_ht or as_ttc):
                continue
            if rate == 0 and v != 0:
                continue
            strength, amount = 1, v
            others = [t for k, t in enumerate(values) if k not in (i, j)]
            # HT + VAT = TTC is printed exactly; when a digit of the VAT was
            # misread ("1,65" for "1,63"), TTC - HT is closer to the rate.
            for exact, ideal, ok in (
                *((t - b, b * rate / 100, as_ht and _close(b + v, t)) for t in others),
                *((b - t, b * rate / (100 + rate), as_ttc and _close(t + v, b)) for t in others),
            ):
                if ok:
                    strength = 2
                    if abs(exact - ideal) < abs(amount - ideal):
                        amount = exact
            if found is None or strength > found[0]:
                found = (strength, amount)
    return found


def _one_digit_off(a: Decimal, b: Decimal) -> bool:
    """Same printed length, one character different: a typical OCR misread (7/1, 8/6)."""
    sa, sb = f"{a:.2f}", f"{b:.2f}"
    return len(sa) == len(sb) and sum(x != y for x, y in zip(sa, sb, strict=True)) == 1


def _repair_vat(rate: Decimal, values: list[Decimal]) -> Decimal | None:
    """VAT amount recomputed from the row's base when the printed one has one bad digit."""
    for i, v in enumerate(values):
        for j, b in enumerate(values):
            if i == j or b <= v:
                continue
            others = [t for k, t in enumerate(values) if k not in (i, j)]
            as_ht = (b * rate / 100).quantize(_CENT, ROUND_HALF_UP)
            as_ttc = (b * rate / (100 + rate)).quantize(_CENT, ROUND_HALF_UP)
            if _one_digit_off(v, as_ht) and (
                not others or any(_close(b + as_ht, t) for t in others)
            ):
                return as_ht
            if _one_digit_off(v, as_ttc) and (
                not others or any(_close(t + as_ttc, b) for t in others)
            ):
                return as_ttc
    return None


def _pick_vat(
    rate: Decimal, seg: list[_Amount], rate_end: int, kw: bool, table_row: bool
) -> Decimal | None:
    """The VAT amount among the amounts that follow (or surround) a rate.

    Arithmetic first (VAT = HT x rate, HT + VAT = TTC), then OCR repairs, then
    the layout: a lone amount after "TVA 20%", or the middle of HT/TVA/TTC.
    """
    values = [a.value for a in seg]
    found = _consistent_vat(rate, values)
    if found and (found[0] == 2 or kw or table_row):
        return found[1]
    if not (kw or table_row) or not seg:
        return None
    repaired = _repair_vat(rate, values)
    if repaired is not None:
        return repaired
    # VAT amount unreadable ("3,8", "513") but HT and TTC are: VAT = TTC - HT.
    for b in values:
        for t in values:
            if b < t and rate and _close(t - b, b * rate / 100):
                return t - b
    # Layout fallback: rows that name the VAT, or table rows that start with
    # their rate ("A 20,00% HT TVA TTC"); item rows show the rate after prices.
    if not kw and not (table_row and all(a.start >= rate_end for a in seg)):
        return None
    after = [a.value for a in seg if a.start >= rate_end] or values
    if len(after) == 1:
        return after[0]
    if len(after) == 3:
        return after[1]  # HT, TVA, TTC
    return min(after)


def _vat_from_line(fold: str, in_table: bool) -> list[VatLine]:
    if _VAT_NOT_RE.search(fold):
        return []
    kw_m = _VAT_KW_RE.search(fold)
    kw = bool(kw_m) and not _VAT_ID_RE.search(fold)
    # Under a VAT table header, a short row ("A 5,50% 20,00 1,10 21,10") is a
    # VAT row; a long one is an item line that happens to show its rate.
    table_row = in_table and sum(c.isalpha() for c in fold) <= 12
    amounts = [a for a in _amounts(fold) if a.value >= 0]
    rates = [
        (m.start(), m.end(), r)
        for m in _RATE_RE.finditer(fold)
        if (r := _canonical_rate(m["num"])) is not None
    ]
    if not rates:
        if kw and kw_m:
            tm = _KW_RATE_TOKEN_RE.match(fold, kw_m.end())
            if tm:
                tok = tm["tok"]
                rate = _canonical_rate(tok)
                if rate is None and len(tok) > 1:
                    rate = _canonical_rate(tok[:-1].rstrip(".,"))
                seg = [a for a in amounts if a.start >= tm.end()]
                if rate is not None and seg:
                    value = _pick_vat(rate, seg, tm.end(), True, table_row)
                    return [] if value is None else [VatLine(rate, value)]
        # "20,00 10,00 2,00 12,00" under a "Taux HT TVA TTC" header, the "%" lost.
        if (kw or in_table) and len(amounts) >= 3 and not _TOTAL_WORD_RE.search(fold):
            rate = _canonical_rate(str(amounts[0].value))
            if rate is not None and rate != 0:
                found = _consistent_vat(rate, [a.value for a in amounts[1:]])
                if found and found[0] == 2:
                    return [VatLine(rate, found[1])]
        return []
    if not kw and len(rates) == 1:
        # "eV eA= 5,5% 0,41": the label is OCR debris but the shape is a VAT
        # line: a few letters, the rate, then one amount and nothing else.
        r_start, r_end, _ = rates[0]
        tail = _AMOUNT_RE.sub(" ", fold[r_end:])
        kw = (
            sum(c.isalpha() for c in fold[:r_start]) <= 6
            and len(amounts) == 1
            and amounts[0].start >= r_end
            and not _LETTERS_RE.search(tail)
        )
    out = []
    for idx, (_rs, r_end, rate) in enumerate(rates):
        if len(rates) == 1:
            seg = amounts
        else:
            stop = rates[idx + 1][0] if idx + 1 < len(rates) else len(fold)
            seg = [a for a in amounts if r_end <= a.start < stop]
        value = _pick_vat(rate, seg, r_end, kw, table_row)
        if value is None and kw and not amounts and len(rates) == 1:
            cents = _CENTS_TAIL_RE.search(fold, r_end)
            if cents:
                value = Decimal(cents.group(1)) / 100
        if value is not None:
            out.append(VatLine(rate, value))
    return out


def _extract_vat(lines: list[_Line], total: Decimal | None) -> tuple[VatLine, ...]:
    by_rate: dict[Decimal, Decimal] = {}
    last_header = -(10**9)
    nonempty = 0
    vat_total: Decimal | None = None
    ht_total: Decimal | None = None
    for line in lines:
        fold = line.fold
        if not fold.strip():
            continue
        nonempty += 1
        amounts = _amounts(fold)
        if (
            not amounts
            and (_VAT_KW_RE.search(fold) or _TAUX_RE.search(fold))
            and _VAT_HEADER_COL_RE.search(fold)
        ):
            last_header = nonempty
            continue
        in_table = nonempty - last_header <= _TABLE_REACH
        for vl in _vat_from_line(fold, in_table):
            by_rate[vl.rate] = vl.amount.quantize(_CENT)
        if amounts and not _RATE_RE.search(fold) and not _VAT_ID_RE.search(fold):
            m = _VAT_TOTAL_RE.search(fold)
            after = [a for a in amounts if m and a.start >= m.end()]
            if m and after and not _HT_TOTAL_RE.search(fold):
                vat_total = after[0].value
            m = _HT_TOTAL_RE.search(fold)
            after = [a for a in amounts if m and a.start >= m.end()]
            if m and after:
                ht_total = after[0].value
    if not by_rate and vat_total is not None and vat_total > 0:
        # Single-rate document that only prints "TVA 3,33": infer the rate.
        base = ht_total
        if base is None and total is not None:
            base = total - vat_total
        if base is not None and base > 0:
            for rate in VAT_RATES:
                if rate and _close(vat_total, base * rate / 100):
                    by_rate[rate] = vat_total.quantize(_CENT)
                    break
    return tuple(VatLine(r, a) for r, a in sorted(by_rate.items(), reverse=True))


# -------------------------------------------------------------------------- SIRET

_SIRET_LABEL_RE = re.compile(r"\bS[I1l]RE[T7]\b\s*(?:N\s*[°o]\.?\s*)?[:.\-]?\s*", re.I)
_SIRET_LOOSE_RE = re.compile(r"^(\d(?:[ .\-]?\d){13})(?!\d)")
_SIRET_STRICT_RE = re.compile(r"(?<![\w.,/])(\d{14}|\d{3}([ .])\d{3}\2\d{3}\2\d{5})(?![\w,/]|\.\d)")
_OCR_DIGITS = str.maketrans("OoIl", "0011")


def _extract_siret(lines: list[_Line]) -> str | None:
    for line in lines:
        for m in _SIRET_LABEL_RE.finditer(line.fold):
            tail = line.fold[m.end() : m.end() + 24].translate(_OCR_DIGITS)
            found = _SIRET_LOOSE_RE.match(tail)
            if found:
                digits = _NON_DIGIT_RE.sub("", found.group(1))
                if _siret.is_valid(digits):
                    return digits
    for line in lines:
        for m in _SIRET_STRICT_RE.finditer(line.fold):
            digits = _NON_DIGIT_RE.sub("", m.group(1))
            if _siret.is_valid(digits):
                return digits
    return None


# ----------------------------------------------------------------- invoice number

_NO = r"(?:N\s?[°o*º]\s?\.?|NO\b\.?|NUM(?:ERO)?\b\.?|NUMBER\b|NBR\b|\#|REF(?:ERENCE)?\b\.?)"
_INVNUM_RE = re.compile(
    rf"(?:\b(?:FACTURE\b|FACT\b\.?|INVOICE\b|TICKET\b|RECU\b|RECEIPT\b|AVOIR\b|NOTE\b|ADDITION\b)\s*"
    rf"{_NO}?\s*[:.\-]?\s*"
    rf"|(?<![\w])N\s?[°o*º]\s?\.?\s*(?:DE\s+|DU\s+|D'\s?)?(?:LA\s+)?"
    rf"(?:FACTURE|INVOICE|TICKET|RECU)\b\s*[:.\-]?\s*"
    rf"|\b(?:NUMERO|NUMBER|REFERENCE|REF\.?)\s*(?:DE\s+|DU\s+|OF\s+)?(?:LA\s+)?"
    rf"(?:FACTURE|INVOICE|TICKET)\b\s*[:.\-]?\s*)"
    r"(?P<num>[A-Z0-9](?:[A-Z0-9\-/_.]*[A-Z0-9])?)?",
    re.I,
)
# "FACTURE" as a heading, the number alone on the next line: "N° F2026-031".
_NO_LINE_RE = re.compile(
    rf"^\s*{_NO}\s*[:.\-]?\s*(?P<num>[A-Z0-9](?:[A-Z0-9\-/_.]*[A-Z0-9])?)(?![\w])", re.I
)
_GAP_END_RE = re.compile(r"\s{3,}$")
_INVNUM_WORD_RE = re.compile(r"(?<![\w])[A-Z0-9](?:[A-Z0-9\-/_.]*[A-Z0-9])?(?![\w])", re.I)


def _valid_invnum(token: str | None) -> bool:
    if not token or not any(c.isdigit() for c in token) or len(token) > 30:
        return False
    if _dates(token) or _AMOUNT_RE.fullmatch(token):
        return False
    # A bare "2" after "TICKET" is a quantity, not a number; a numeric id has 3+.
    return not (token.isdigit() and len(token) < 3)


def _extract_invoice_number(lines: list[_Line]) -> str | None:
    for i, line in enumerate(lines):
        for m in _INVNUM_RE.finditer(line.fold):
            token = m["num"]
            if _valid_invnum(token):
                return line.text[m.start("num") : m.end("num")]
            if token and not _GAP_END_RE.search(line.fold, m.start(), m.start("num")):
                continue
            # Column header ("Facture n°     Date") with the value on the next line.
            center = (m.start() + m.end()) / 2
            for j in _next_nonempty(lines, i, 1, 1):
                below = _NO_LINE_RE.match(lines[j].fold)
                if below and _valid_invnum(below["num"]):
                    return lines[j].text[below.start("num") : below.end("num")]
                words = [
                    w
                    for w in _INVNUM_WORD_RE.finditer(lines[j].fold)
                    if w.end() >= m.start() - 4 and w.start() <= m.end() + 12
                ]
                words.sort(key=lambda w: abs((w.start() + w.end()) / 2 - center))
                for w in words[:1]:
                    if _valid_invnum(w.group()):
                        return lines[j].text[w.start() : w.end()]
    return None


# ----------------------------------------------------------------------- supplier

# Lines at the top of a document that are not the supplier's name.  Whole
# words only: "MERCIER" is a name even though it starts like "MERCI".
_SUPPLIER_SKIP_RE = re.compile(
    r"^\W*(?:(?:FACTURES?|FACTURATION|INVOICE|TICKET|RECU|RECEIPT|DUPLICATA|ORIGINAL|COPIE|"
    r"AVOIR|DEVIS|BON\s+DE|NOTE|ADDITION|BIENVENUE|WELCOME|MERCI|THANKS?|THANK\s+YOU|"
    r"A\s+BIENTOT|AU\s+REVOIR|BONNE\s+JOURNEE|CAISSE|CAISSIERE?|HOTESSE|VENDEUR|VENDEUSE|"
    r"OPERATEUR|TABLE|COUVERTS?|SERVEUR|SERVEUSE|TEL|TELEPHONE|FAX|PHONE|MOBILE|PORTABLE|"
    r"E-?MAIL|MAIL|COURRIEL|WWW|HTTPS?|SITE|WEB|SIRET|SIREN|RCS|APE|NAF|CODE\s+NAF|TVA|"
    r"T\.V\.A|VAT|NUMERO|PAGE|DATE|CLIENT|CUSTOMER|ADRESSE|DESTINATAIRE|LIVRAISON|LIVRER|"
    r"EXPEDITION|EXPEDIE|REF|REFERENCE|COMMANDE|ORDER|TOTAL|MONTANT|CB|CARTE|DOIT|"
    r"BILL\s+TO|SOLD\s+TO|SHIP\s+TO|HORAIRES|OUVERT|CAPITAL|CENTRE\s+COMMERCIAL|"
    r"ZA|ZI|ZAC|BP|CS|RUE|AVENUE|BOULEVARD|BD|CHEMIN|ROUTE|IMPASSE|ALLEE|QUAI|PLACE|COURS)\b"
    r"|TEL\.|N\s*[°o]\s|N\s*[°o]$|LE\s+\d|C\.C\.\s|Z\.[AI]\.)",
    re.I,
)
_ADDRESS_RE = re.compile(
    r"^\W*\d{1,4}\s*(?:BIS|TER|[A-D]\b)?\s*,?\s*(?:RUE|AV\b|AV\.|AVE|AVENUE|BD|BLVD|BOULEVARD|"
    r"PL\b|PL\.|PLACE|CHEMIN|CHE\b|CH\b|ROUTE|RTE|ALLEE|IMPASSE|IMP\b|QUAI|COURS|SQUARE|"
    r"FAUBOURG|FBG|LIEU|ZONE|ZA\b|ZI\b|ZAC|PARC|RESIDENCE|ROND|VOIE|PASSAGE|PROMENADE|CITE|"
    r"HAMEAU|LOTISSEMENT|MONTEE|STREET|ST\b|ROAD|RD\b|GRANDE|GRAND|PETITE|ESPLANADE|VILLA)"
    r"|\b\d{5}\b|\b\d{2}\s\d{3}\s+[A-Z]|CEDEX|\bB\.?P\.?\s*\d|\bCS\s*\d"
    r"|(?:\+33|\b0\d)(?:[\s.\-]?\d\d){4}\b|@|\bWWW\.|https?://|\.(?:FR|COM|NET|ORG|EU)\b",
    re.I,
)
_WELCOME_RE = re.compile(
    r"^\W*(?:BIENVENUE|WELCOME)\s+(?:CHEZ|A|AU|AUX|TO|DANS\s+VOTRE(?:\s+MAGASIN)?)\s+"
    r"(?P<name>.+?)[\s!.]*$",
    re.I,
)
_SUPPLIER_FIELD_RE = re.compile(
    r"^\W*(?:FOURNISSEUR|EMETTEUR|VENDEUR|SUPPLIER|FROM|SELLER|PRESTATAIRE)\s*:\s*(?P<name>.+)$",
    re.I,
)
_LEGAL_FORM_RE = re.compile(
    r"(?<![\w.])(?:S\.?A\.?R\.?L\.?|S\.?A\.?S\.?U?\.?|E\.?U\.?R\.?L\.?|S\.?N\.?C\.?|SCOP|SELARL|"
    r"SCI|EIRL)(?![\w])",
    re.I,
)
_LEGAL_CUT_RE = re.compile(
    r"\s*(?:\s[-|]\s|,|\bau\s+capital\b|\bcapital\b|\bSIRE[TN]\b|\bRCS\b|\bAPE\b|\bN°|"
    r"\bTVA\b|\bimmatricul).*$",
    re.I,
)
# A layout cell: words separated by at most two spaces.
_SEGMENT_RE = re.compile(r"\S+(?:\s{1,2}\S+)*")
_SPACES_RE = re.compile(r"\s+")
_WORD3_RE = re.compile(r"[^\W\d_]{3,}")
_STRIP_CHARS = " \t*-=_|:.,#~'\"<>()[]{}"
_SUPPLIER_SCAN = 15


def _clean_name(s: str) -> str:
    return _SPACES_RE.sub(" ", s).strip(_STRIP_CHARS)


def _looks_like_name(text: str, fold: str) -> bool:
    letters = sum(c.isalpha() for c in text)
    visible = sum(not c.isspace() for c in text)
    if letters < 3 or visible == 0 or letters / visible < 0.6:
        return False
    if _SUPPLIER_SKIP_RE.match(fold) or _ADDRESS_RE.search(fold):
        return False
    if _amounts(fold) or _dates(fold):
        return False
    # A word of 3+ letters, so that OCR debris ("Il | ii") is not a name.
    return bool(_WORD3_RE.search(text))


def _extract_supplier(lines: list[_Line]) -> str | None:
    seen = 0
    for line in lines:
        if not line.text.strip():
            continue
        seen += 1
        if seen > _SUPPLIER_SCAN:
            break
        for m in _SEGMENT_RE.finditer(line.text):
            seg, fseg = m.group(), line.fold[m.start() : m.end()]
            welcome = _WELCOME_RE.match(fseg) or _SUPPLIER_FIELD_RE.match(fseg)
            if welcome:
                name = _clean_name(seg[welcome.start("name") : welcome.end("name")])
                if name:
                    return name
            if _looks_like_name(seg, fseg):
                if _LEGAL_FORM_RE.search(seg):  # "SARL X - capital 5 000 €": keep the name
                    seg = _LEGAL_CUT_RE.sub("", seg) or seg
                return _clean_name(seg)
    # Nothing usable at the top (logo only, OCR debris): the legal mention.
    for line in lines:
        for seg_m in _SEGMENT_RE.finditer(line.text):
            seg = seg_m.group()
            form = _LEGAL_FORM_RE.search(seg)
            if not form:
                continue
            name = _clean_name(_LEGAL_CUT_RE.sub("", seg))
            if sum(c.isalpha() for c in name) > len(form.group()) + 2:
                return name
    return None


# ---------------------------------------------------------------------------- API


def extract_fields(text: str) -> ExtractedFields:
    """Extract date, total TTC, VAT breakdown, supplier, invoice number and SIRET.

    Best effort by design: a field the text does not support is None (or an
    empty VAT tuple) rather than a guess, so that the UI can ask the user.
    """
    lines = _prepare(text)
    total, support = _extract_total(lines)
    vat = _extract_vat(lines, total)
    if len(vat) == 1 and total is not None and support >= 2 and vat[0].rate:
        # Single rate and a total confirmed twice (TOTAL and CB lines): the VAT
        # is fully determined, so fix a one-digit OCR misread of it.
        expected = (total * vat[0].rate / (100 + vat[0].rate)).quantize(_CENT, ROUND_HALF_UP)
        if not _close(vat[0].amount, expected) and _one_digit_off(vat[0].amount, expected):
            vat = (VatLine(vat[0].rate, expected),)
    return ExtractedFields(
        date=_extract_date(lines),
        total_ttc=total.quantize(_CENT) if total is not None else None,
        vat=vat,
        supplier=_extract_supplier(lines),
        invoice_number=_extract_invoice_number(lines),
        siret=_extract_siret(lines),
    )
