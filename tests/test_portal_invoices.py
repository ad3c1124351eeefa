"""The invoices page in a browser: legal mentions, an invoice issued as a sealed
Factur-X, refused input in words, a draft kept then issued, and a credit note."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pikepdf
import pytest

from tests.portal import Portal, close_context
from tests.test_portal import _account, _log_in
from tests.test_portal import portal as portal

pytestmark = [pytest.mark.usefixtures("prefect_harness"), pytest.mark.timeout(300)]

SELLER = {
    "Raison sociale": "Boulangerie Martin SARL",
    "Forme juridique et capital": "SARL au capital de 10 000 €",
    "SIRET": "73282932000074",
    "N° de TVA intracommunautaire": "FR44732829320",
    "Adresse": "12 rue des Lilas",
    "Code postal": "75011",
    "Ville": "Paris",
    "IBAN": "FR7630006000011234567890189",
}


def test_issue_an_invoice_then_a_credit_note(portal: Portal, chromium: Any, tmp_path: Path) -> None:
    _account("Boulangerie Martin", "732829320", "alice@boulangerie.example")
    context = chromium.new_context(ignore_https_errors=True, accept_downloads=True)
    page = context.new_page()
    _log_in(page, portal, "alice@boulangerie.example")
    page.wait_for_url(portal.url + "/")
    page.goto(portal.url + "/factures")
    for label, value in SELLER.items():
        page.get_by_label(label, exact=True).fill(value)
    page.get_by_role("button", name="Enregistrer", exact=True).click()
    page.get_by_text("Mentions enregistrées.").wait_for()

    page.get_by_label("Client", exact=True).fill("Café du Coin")
    page.get_by_label("E-mail du client (facultatif)").fill("compta@cafeducoin.example")
    page.get_by_label("Adresse du client").fill("3 place de la Mairie")
    page.get_by_label("Code postal du client").fill("69001")
    page.get_by_label("Ville du client").fill("Lyon")
    page.get_by_label("Désignation").fill("Croissants (lot de 50)")
    page.get_by_label("Prix unitaire HT").fill("abc")
    page.get_by_role("button", name="Émettre la facture").click()
    page.get_by_text("unit_price").first.wait_for(timeout=60_000)  # refused, in words

    page.get_by_label("Prix unitaire HT").fill("45,00")
    page.get_by_role("button", name="Émettre la facture").click()
    number = page.get_by_text("F-2026-0001")
    number.wait_for(timeout=120_000)
    page.get_by_text("54.00 EUR").wait_for()
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Factur-X").click()
    data = Path(download_info.value.path()).read_bytes()
    with pikepdf.open(io.BytesIO(data)) as pdf:
        assert "factur-x.xml" in pdf.attachments

    # A draft for the same customer, kept, then issued: it takes the next number only then.
    page.get_by_label("Client existant").click()
    page.get_by_role("option", name="Café du Coin").click()
    page.get_by_label("Désignation").fill("Pains de campagne")
    page.get_by_label("Prix unitaire HT").fill("12,50")
    page.get_by_role("button", name="Enregistrer le brouillon").click()
    page.get_by_text("Brouillon", exact=True).wait_for()
    page.get_by_role("button", name="Émettre", exact=True).click()
    page.get_by_text("F-2026-0002").wait_for(timeout=120_000)
    page.get_by_text("Clients", exact=True).click()
    assert page.get_by_text("Café du Coin").count() >= 1

    page.get_by_role("button", name="Avoir").first.click()
    page.get_by_text("F-2026-0003").wait_for(timeout=120_000)
    page.get_by_text("Annulée").wait_for()
    close_context(context)
