"""Short French explanations of a proposed match, for the accountant who confirms it."""

from __future__ import annotations

from datetime import date


def euros(cents: int) -> str:
    """1234567 → "12 345,67 €" (French grouping with a narrow no-break space)."""
    text = f"{cents / 100:,.2f}"
    return text.replace(",", "\u202f").replace(".", ",") + "\u00a0€"


def _days(n: int) -> str:
    return f"{n} jour" if n == 1 else f"{n} jours"


def amount_phrase(paid: int, open_cents: int, tolerance: int) -> str:
    gap = paid - open_cents
    if gap == 0:
        return "montant identique"
    if -gap > tolerance:
        return f"paiement partiel : {euros(paid)} sur {euros(open_cents)} restant dus"
    if gap < 0:
        return f"{euros(-gap)} de moins que la pièce (frais bancaires ?)"
    return f"{euros(gap)} de plus que la pièce"


def date_phrase(
    booked: int, issue: int | None, due: int | None, card_day: int | None
) -> str | None:
    """How the payment date relates to the document (ordinal days; None: unknown)."""
    if card_day is not None and issue is not None:
        shown = date.fromordinal(card_day).strftime("%d/%m")
        gap = abs(card_day - issue)
        if gap == 0:
            return f"date d'achat {shown} identique"
        if gap == 1:
            return "date d'achat à un jour près"
        return f"date d'achat {shown} différente de la pièce ({_days(gap)} d'écart)"
    if issue is None or due is None:
        return None
    if booked < issue:
        return f"{_days(issue - booked)} avant la date de la pièce"
    if due == issue:
        delta = booked - issue
        return "le jour même de la pièce" if delta == 0 else f"{_days(delta)} après la pièce"
    late = booked - due
    if late == 0:
        return "le jour de l'échéance"
    if late > 0:
        return f"{_days(late)} après l'échéance"
    return f"{_days(-late)} avant l'échéance"


def identity_phrases(name_sim: float, iban: int, tx_name: str, doc_name: str) -> list[str]:
    """IBAN first (the stronger proof), then the name."""
    parts: list[str] = []
    if iban > 0:
        parts.append("même IBAN")
    elif iban < 0:
        parts.append("IBAN différent")
    if name_sim >= 90:
        parts.append("même nom")
    elif name_sim >= 65:
        parts.append(f"nom proche ({tx_name.title()} / {doc_name.title()})")
    elif 0 <= name_sim < 50:
        parts.append("nom différent")
    return parts


def explain_single(
    *,
    paid: int,
    open_cents: int,
    tolerance: int,
    reference: int,  # 0: not cited, 1: its last digits only, 2-3: the number
    number: str | None,
    receipt: bool,
    name_sim: float,
    iban: int,
    tx_name: str,
    doc_name: str,
    booked: int,
    issue: int | None,
    due: int | None,
    card_day: int | None,
) -> str:
    """E.g. "montant identique, n° de facture F-2026-0042 dans le libellé, même IBAN,
    2 jours après l'échéance"."""
    parts = [amount_phrase(paid, open_cents, tolerance)]
    if reference and number:
        what = "n° de ticket" if receipt else "n° de facture"
        ending = "fin du " if reference == 1 else ""
        parts.append(f"{ending}{what} {number} dans le libellé")
    parts.extend(identity_phrases(name_sim, iban, tx_name, doc_name))
    when = date_phrase(booked, issue, due, card_day)
    if when:
        parts.append(when)
    return ", ".join(parts)


def explain_group(
    *,
    paid: int,
    total_open: int,
    numbers: list[str | None],
    cited: int,
    name_sim: float,
    iban: bool,
    ambiguous: bool,
) -> str:
    """E.g. "règlement groupé de 3 pièces (F-1, F-2, F-3), total identique, 3 n° sur 3
    dans le libellé, même IBAN"."""
    shown = ", ".join(n or "sans n°" for n in numbers)
    parts = [f"règlement groupé de {len(numbers)} pièces ({shown})"]
    gap = paid - total_open
    if gap == 0:
        parts.append("total identique")
    else:
        parts.append(f"total à {euros(abs(gap))} près (frais bancaires ?)")
    if cited:
        parts.append(f"{cited} n° sur {len(numbers)} dans le libellé")
    if iban:
        parts.append("même IBAN")
    if name_sim >= 90:
        parts.append("même nom")
    elif name_sim >= 65:
        parts.append("nom proche")
    if ambiguous:
        parts.append("d'autres combinaisons donnent le même total")
    return ", ".join(parts)
