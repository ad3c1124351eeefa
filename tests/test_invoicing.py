"""Issuing invoices: gapless numbers under concurrency, Factur-X validated, sealed, stored."""

from __future__ import annotations

import io
import json
import threading
from datetime import date
from pathlib import Path
from typing import Any

import pikepdf
import pytest
from sqlmodel import select

from coffre.models import (
    Document,
    DocumentKind,
    Invoice,
    InvoiceState,
    Organization,
    SellerProfile,
    session_scope,
)
from tests.test_cli import json_lines, run

pytestmark = pytest.mark.usefixtures("prefect_harness")

SELLER = {
    "legal_name": "Boulangerie Martin SARL",
    "legal_form": "SARL au capital de 10 000 €",
    "vat_number": "FR44732829320",
    "siret": "73282932000074",
    "address_line1": "12 rue des Lilas",
    "postcode": "69003",
    "city": "Lyon",
    "email": "compta@boulangerie-martin.fr",
    "iban": "FR7630006000011234567890189",
    "bic": "AGRIFRPP",
}
CUSTOMER = {
    "name": "Garage Dupont",
    "siren": "552100554",
    "address": {"line1": "3 avenue Foch", "postcode": "75016", "city": "Paris"},
    "email": "factures@garage-dupont.fr",
}


def _draft(**changes: Any) -> dict[str, Any]:
    draft: dict[str, Any] = {
        "customer": CUSTOMER,
        "issue_date": "2026-11-20",
        "due_date": "2026-12-20",
        "lines": [
            {"description": "Pain de campagne", "quantity": "12", "unit": "C62",
             "unit_price": "3.10", "vat_rate": "5.5"},
            {"description": "Traiteur, buffet", "quantity": "1", "unit_price": "250.00",
             "vat_rate": "20", "discount": "25.00"},
        ],
    }  # fmt: skip
    draft.update(changes)
    return draft


def _seller(org_id: str) -> None:
    with session_scope() as session:
        session.add(SellerProfile(org_id=org_id, **SELLER))


@pytest.fixture
def seller(organization: Any) -> Any:
    _seller(organization.id)
    return organization


def _archive(org_id: str, document_id: str) -> bytes:
    from coffre.runtime import get_vault

    with session_scope() as session:
        document = session.get(Document, document_id)
        assert document is not None and document.archive_key
        return get_vault().get(org_id, document.archive_key)


def test_issue_gives_a_sealed_valid_facturx_invoice(seller: Any, test_pki: Any) -> None:
    from coffre.flows.invoicing import issue_invoice
    from coffre.tasks.einvoice_facturx import extract_facturx
    from coffre.tasks.einvoice_validate import validate_cii
    from coffre.tasks.verify import verify_pdf

    issued = issue_invoice(seller.siren, draft=_draft())

    assert issued["number"] == "F-2026-0001" and issued["status"] == "SEALED"
    assert issued["total_gross"] == "309.25"  # 37.20 + 2.05 VAT + 225.00 + 45.00 VAT
    archive = _archive(seller.id, issued["document_id"])
    xml = extract_facturx(archive)
    assert xml is not None and b"F-2026-0001" in xml
    assert [i for i in validate_cii(xml) if i.severity == "fatal"] == []
    with pikepdf.open(io.BytesIO(archive)) as pdf:
        assert pdf.open_metadata().pdfa_status == "3B"
    report = verify_pdf(archive, [test_pki.root_cert], revocation_mode="hard-fail")
    assert report.ok, report
    with session_scope() as session:
        document = session.get(Document, issued["document_id"])
        assert document is not None and document.kind == DocumentKind.INVOICE_OUT
        assert document.fields["invoice_number"] == "F-2026-0001"
        assert document.fields["total_ttc"] == "309.25" and document.fields["from"] == "e-invoice"


def test_refused_input_consumes_no_number(seller: Any) -> None:
    from coffre.tasks.invoicing import InvoiceRefused, create_draft_fn, issue_invoice_fn

    bad = _draft(
        customer={**CUSTOMER, "siren": "552100555"},
        lines=[{"description": "", "quantity": "-1", "unit_price": "10", "vat_rate": "7"}],
    )
    draft_id = create_draft_fn(seller.id, bad)
    with pytest.raises(InvoiceRefused) as refused:
        issue_invoice_fn(seller.id, draft_id)
    fields = {error.field for error in refused.value.errors}
    assert {
        "buyer.siren",
        "lines[0].vat_rate",
        "lines[0].quantity",
        "lines[0].description",
    } <= fields
    with pytest.raises(InvoiceRefused):
        create_draft_fn(seller.id, _draft(lines=[]) | {"customer": None})
    good = issue_invoice_fn(seller.id, create_draft_fn(seller.id, _draft()))
    assert good.number == "F-2026-0001"
    with session_scope() as session:
        draft = session.get(Invoice, draft_id)
        assert draft is not None and draft.state == InvoiceState.DRAFT and draft.number is None


def test_fifty_invoices_issued_at_once_are_numbered_without_gap(
    coffre_home_any_store: Path,
) -> None:
    from coffre.tasks.invoicing import create_draft_fn, issue_invoice_fn

    org = Organization(name="Boulangerie Martin", siren="732829320")
    with session_scope() as session:
        session.add(org)
    _seller(org.id)
    drafts = [create_draft_fn(org.id, _draft()) for _ in range(50)]
    numbers: list[str] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(10)

    def issue(batch: list[str]) -> None:
        barrier.wait()
        for draft_id in batch:
            try:
                numbers.append(issue_invoice_fn(org.id, draft_id).number)
            except BaseException as error:  # noqa: BLE001 - reported below
                errors.append(error)

    threads = [threading.Thread(target=issue, args=(drafts[i::10],)) for i in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(numbers) == [f"F-2026-{n:04d}" for n in range(1, 51)]
    with session_scope() as session:
        sequences = sorted(i.sequence for i in session.exec(select(Invoice)) if i.sequence)
    assert sequences == list(range(1, 51))


def test_credit_note_cancels_the_invoice(seller: Any) -> None:
    from coffre.flows.invoicing import issue_credit_note, issue_invoice
    from coffre.tasks.einvoice_facturx import extract_facturx

    invoice = issue_invoice(seller.siren, draft=_draft())
    credit = issue_credit_note(seller.siren, invoice["number"])

    assert credit["number"] == "F-2026-0002" and credit["status"] == "SEALED"
    xml = extract_facturx(_archive(seller.id, credit["document_id"]))
    assert xml is not None and b">381<" in xml and b"F-2026-0001" in xml
    with session_scope() as session:
        original = session.get(Invoice, invoice["invoice_id"])
        assert original is not None and original.state == InvoiceState.CANCELLED


def test_issued_invoice_is_an_open_item_for_reconciliation(seller: Any) -> None:
    from coffre.flows.invoicing import issue_invoice
    from coffre.tasks.bank_import import import_statement_fn
    from coffre.tasks.reconcile import reconcile_org_fn
    from coffre.tasks.statements import CsvMapping

    issued = issue_invoice(seller.siren, draft=_draft())
    statement = (
        "Date;Libellé;Montant\r\n"
        "28/11/2026;VIR SEPA RECU /DE GARAGE DUPONT /MOTIF F-2026-0001;309,25\r\n"
    ).encode("cp1252")
    mapping = CsvMapping(booking_date="Date", wording="Libellé", amount="Montant")
    import_statement_fn(
        seller.id, statement, "releve.csv", account_iban=SELLER["iban"], csv_mapping=mapping
    )
    report = reconcile_org_fn(seller.id)
    assert report.automatic == 1
    from coffre.models import Match

    with session_scope() as session:
        [match] = session.exec(select(Match)).all()
    assert match.document_id == issued["document_id"] and match.amount_cents == 30925
    with session_scope() as session:
        invoice = session.get(Invoice, issued["invoice_id"])
        assert invoice is not None and invoice.state == InvoiceState.PAID


def test_an_incoming_facturx_invoice_is_read_from_its_xml(seller: Any) -> None:
    from coffre.flows.capture import capture_bytes
    from coffre.flows.invoicing import issue_invoice

    issued = issue_invoice(seller.siren, draft=_draft())
    pdf = _archive(seller.id, issued["document_id"])
    buyer = Organization(name="Garage Dupont", siren="552100554")
    with session_scope() as session:
        session.add(buyer)
    received = capture_bytes(buyer.id, pdf, "facture-boulangerie.pdf", source="mail")
    with session_scope() as session:
        document = session.get(Document, received["document_id"])
        assert document is not None
        fields = document.fields
    assert fields["from"] == "e-invoice" and fields["supplier"] == SELLER["legal_name"]
    assert (fields["invoice_number"], fields["total_ttc"], fields["due_date"]) == (
        "F-2026-0001",
        "309.25",
        date(2026, 12, 20).isoformat(),
    )


def test_cli_issue(seller: Any, tmp_path: Path, coffre_home: Path) -> None:
    profile = tmp_path / "seller.json"
    profile.write_text(json.dumps({**SELLER, "city": "Lyon 3e"}))
    run(coffre_home, "invoice", "seller", "--org", seller.siren, "--json-file", str(profile))
    draft = tmp_path / "draft.json"
    draft.write_text(json.dumps(_draft()))
    issued = json_lines(
        run(
            coffre_home, "invoice", "issue", "--org", seller.siren, "--json-file", str(draft)
        ).stdout
    )[0]
    assert issued["number"] == "F-2026-0001" and issued["document_id"]
    draft.write_text(json.dumps(_draft(customer={**CUSTOMER, "siren": "123"})))
    refused = run(
        coffre_home, "invoice", "issue", "--org", seller.siren, "--json-file", str(draft),
        check=False,
    )  # fmt: skip
    assert refused.returncode == 2
    assert "buyer.siren" in {e["field"] for e in json_lines(refused.stdout)[0]["refused"]}
