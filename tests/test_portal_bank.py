"""The bank page in a browser: transactions, matching by hand, deleting, and another
organisation's bank data out of reach."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select

from coffre.models import session_scope
from coffre.models.bank import BankTransaction, Match, MatchKind
from coffre.tasks.bank_import import import_statement_fn
from coffre.tasks.manual_match import match_by_hand
from coffre.tasks.reconcile import decide_match, reconcile_org_fn
from coffre.tasks.statements.csvfile import CsvMapping
from tests.documents import document_row
from tests.portal import Portal, close_context
from tests.test_portal import _account, _log_in
from tests.test_portal import portal as portal

pytestmark = [pytest.mark.usefixtures("prefect_harness"), pytest.mark.timeout(300)]

IBAN = "FR7630006000011234567890189"
CSV = (
    "Date;Libellé;Montant\r\n"
    "03/11/2026;PRLV SEPA EDF SA FACTURE 10045871;-84,20\r\n"
    "06/11/2026;CB LE FOURNIL 05/11;-3,80\r\n"
    "07/11/2026;FRAIS TENUE DE COMPTE;-2,00\r\n"
).encode("cp1252")


def _document(org_id: str, name: str, total: str, supplier: str, day: str) -> str:
    document = document_row(
        org_id, name, kind="invoice_in", source="mail", total_ttc=total, supplier=supplier, date=day
    )
    with session_scope() as session:
        session.add(document)
    return str(document.id)


def _transaction(org_id: str, wording: str) -> str:
    with session_scope() as session:
        row = session.exec(
            select(BankTransaction).where(
                BankTransaction.org_id == org_id, BankTransaction.simplified_wording == wording
            )
        ).one()
        return row.id


def test_bank_page_matches_by_hand_and_deletes(
    portal: Portal, chromium: Any, tmp_path: Path
) -> None:
    owner = _account("Boulangerie Martin", "732829320", "alice@boulangerie.example")
    other = _account("Fleuriste Lenoir", "552100554", "rose@fleuriste.example")
    _document(owner.org_id, "10045871.pdf", "84.20", "EDF SA", "2026-10-28")
    fournil = _document(owner.org_id, "ticket-fournil.pdf", "3.75", "Le Fournil", "2026-11-05")
    mapping = CsvMapping(booking_date="Date", wording="Libellé", amount="Montant")
    import_statement_fn(owner.org_id, CSV, "releve.csv", account_iban=IBAN, csv_mapping=mapping)
    reconcile_org_fn(owner.org_id)
    card = _transaction(owner.org_id, "CB LE FOURNIL 05/11")
    fees = _transaction(owner.org_id, "FRAIS TENUE DE COMPTE")

    # Another organisation cannot reach these rows, whatever ids it sends.
    with pytest.raises(LookupError):
        match_by_hand(other.org_id, card, fournil, decided_by="user:intruder")
    with session_scope() as session:
        some_match = session.exec(select(Match).where(Match.org_id == owner.org_id)).first()
    assert some_match is not None
    with pytest.raises(LookupError):
        decide_match(other.org_id, some_match.id, "rejected", decided_by="user:intruder")

    context = chromium.new_context(ignore_https_errors=True)
    page = context.new_page()
    _log_in(page, portal, "alice@boulangerie.example")
    page.wait_for_url(portal.url + "/")
    page.goto(portal.url + "/banque")
    row = page.get_by_test_id(f"tx-{card}")
    row.get_by_text("ouverte").wait_for()
    row.get_by_role("button", name="Rapprocher").click()
    page.get_by_label("Rechercher (fournisseur, texte, montant)").fill("fournil")
    page.get_by_role("button", name="Rechercher").click()
    page.get_by_role("button", name="ticket-fournil.pdf").click()
    page.get_by_test_id(f"tx-{card}").get_by_text("rapprochée").wait_for()
    with session_scope() as session:
        manual = session.exec(select(Match).where(Match.transaction_id == card)).one()
    assert manual.kind == MatchKind.MANUAL and manual.document_id == fournil
    assert manual.amount_cents == 375  # no more than the document's total

    page.get_by_test_id(f"tx-{fees}").get_by_role("button", name="Supprimer").click()
    page.get_by_test_id(f"tx-{fees}").wait_for(state="detached")
    page.get_by_test_id(f"tx-{card}").wait_for()
    close_context(context)

    context = chromium.new_context(ignore_https_errors=True)
    page = context.new_page()
    _log_in(page, portal, "rose@fleuriste.example")
    page.wait_for_url(portal.url + "/")
    page.goto(portal.url + "/banque")
    page.get_by_text("0 opérations").wait_for()
    assert page.get_by_text("EDF").count() == 0
    close_context(context)
