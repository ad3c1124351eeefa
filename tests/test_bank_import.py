"""Statement files into the store: whole or nothing, never twice; then reconciliation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select

from coffre.models import Document, DocumentKind, DocumentSource, DocumentStatus, session_scope
from coffre.models.bank import BankAccount, BankTransaction, Match, MatchKind
from tests.test_cli import json_lines, run

pytestmark = pytest.mark.usefixtures("prefect_harness")

SAMPLES = Path(__file__).with_name("samples") / "bank"  # written by others: see README
IBAN = "FR7630006000011234567890189"
CFONB_IBAN = "FR7630003012340123456789057"  # from the sample's bank, branch and account


def _import(org_id: str, name: str, account: str | None = None) -> Any:
    from coffre.tasks.bank_import import import_statement_fn

    path = SAMPLES / name
    return import_statement_fn(org_id, path.read_bytes(), path.name, account_iban=account)


def _live(org_id: str) -> list[BankTransaction]:
    with session_scope() as session:
        return list(session.exec(select(BankTransaction).where(BankTransaction.org_id == org_id)))


def test_cfonb_statement_imported_once_even_without_line_breaks(organization: Any) -> None:
    first = _import(organization.id, "cfonb_classic.cfo")
    assert (first.format, first.added, first.known) == ("cfonb120", 13, 0)
    assert sum(t.amount_cents for t in _live(organization.id)) == 1_427_390
    with session_scope() as session:
        [account] = session.exec(select(BankAccount)).all()
    assert account.iban == CFONB_IBAN and account.balance_cents == 103_158_579

    again = _import(organization.id, "cfonb_classic.cfo")
    assert again.already_imported and again.added == 0
    # the same statement sent without line breaks: other bytes, same movements
    overlap = _import(organization.id, "cfonb_no_line_breaks.cfo")
    assert (overlap.already_imported, overlap.added, overlap.known) == (False, 0, 13)
    assert len(_live(organization.id)) == 13


def test_camt_batched_entry_gives_one_transaction_per_detail(organization: Any) -> None:
    report = _import(organization.id, "camt053_batched_txdtls.xml", account=IBAN)
    assert (report.format, report.added) == ("camt053", 2)
    movements = _live(organization.id)
    assert sorted(t.amount_cents for t in movements) == [129_600, 218_700]
    assert {t.currency for t in movements} == {"CHF"}
    assert all(t.remittance and t.counterparty_name for t in movements)


def test_ofx_files(organization: Any) -> None:
    added = {}
    for name in ("ofx_v2.ofx", "ofx_v2_iban.ofx", "ofx_sgml_cp1252.ofx"):
        report = _import(organization.id, name)
        assert report.format == "ofx", name
        added[name] = report.added
    assert added["ofx_v2.ofx"] == 4 and added["ofx_sgml_cp1252.ofx"] == 1
    memos = [t.remittance or "" for t in _live(organization.id)]
    assert "Loyer 850€ café Müller" in memos


def test_a_bad_file_is_refused_whole_with_its_line(organization: Any) -> None:
    from coffre.tasks.bank_import import ImportRefused, import_statement_fn

    lines = (SAMPLES / "cfonb_classic.cfo").read_bytes().splitlines()
    lines[5] = lines[5][:100]  # a record cut short
    broken = b"\r\n".join(lines)
    with pytest.raises(ImportRefused) as refused:
        import_statement_fn(organization.id, broken, "releve.cfo", account_iban=CFONB_IBAN)
    assert "line 6" in str(refused.value) or "ligne 6" in str(refused.value)
    assert _live(organization.id) == []
    with pytest.raises(ImportRefused, match="IBAN"):
        import_statement_fn(
            organization.id, b"x", "x.cfo", account_iban="FR7630006000011234567890180"
        )
    assert _live(organization.id) == []


def _invoice(org_id: str, number: str, total: str, supplier: str, day: str) -> Document:
    document = Document(
        org_id=org_id,
        kind=DocumentKind.INVOICE_IN,
        source=DocumentSource.MAIL,
        filename=f"{number}.pdf",
        original_sha256=number.rjust(64, "0"),
        original_size=100,
        media_type="application/pdf",
        status=DocumentStatus.SEALED,
        fields={"total_ttc": total, "invoice_number": number, "supplier": supplier, "date": day},
    )
    with session_scope() as session:
        session.add(document)
    return document


CSV = (
    "Date;Libellé;Montant\r\n"
    "03/11/2026;PRLV SEPA EDF SA FACTURE 10045871;-84,20\r\n"
    "05/11/2026;VIR SEPA EMIS /A ORANGE /MOTIF FA-2026-778;-45,99\r\n"
    "06/11/2026;CB BOULANGERIE 05/11;-3,80\r\n"
).encode("cp1252")
MAPPING = '{"booking_date": "Date", "wording": "Libellé", "amount": "Montant"}'


def test_cli_import_then_reconcile_keeps_human_decisions(
    organization: Any, tmp_path: Path, coffre_home: Path
) -> None:
    edf = _invoice(organization.id, "10045871", "84.20", "EDF SA", "2026-10-28")
    orange = _invoice(organization.id, "FA-2026-778", "45.99", "Orange", "2026-10-30")
    statement = tmp_path / "releve.csv"
    statement.write_bytes(CSV)
    home = coffre_home
    org = organization.siren

    imported = json_lines(
        run(home, "bank", "import", str(statement), "--org", org, "--account", IBAN,
            "--csv-mapping", MAPPING).stdout
    )[0]  # fmt: skip
    assert imported["transactions_added"] == 3 and imported["format"] == "csv"
    again = run(home, "bank", "import", str(statement), "--org", org, "--account", IBAN,
                "--csv-mapping", MAPPING)  # fmt: skip
    assert json_lines(again.stdout)[0]["already_imported"] is True

    result = json_lines(run(home, "reconcile", "--org", org, "--json").stdout)[0]
    automatic = {m["document_id"]: m for m in result["matches"] if m["kind"] == "auto"}
    assert set(automatic) == {edf.id, orange.id}
    assert all(m["explanation"] for m in result["matches"])

    # the accountant rejects the Orange match: no later run proposes that pair again
    run(home, "match", "reject", automatic[orange.id]["match_id"], "--org", org)
    run(home, "match", "confirm", automatic[edf.id]["match_id"], "--org", org)
    later = json_lines(run(home, "reconcile", "--org", org, "--json").stdout)[0]
    pairs = {(m["transaction_id"], m["document_id"]): m["kind"] for m in later["matches"]}
    assert pairs[(automatic[orange.id]["transaction_id"], orange.id)] == "rejected"
    assert pairs[(automatic[edf.id]["transaction_id"], edf.id)] == "confirmed"
    with session_scope() as session:
        kinds = [m.kind for m in session.exec(select(Match).where(Match.document_id == orange.id))]
    assert kinds == [MatchKind.REJECTED]


def test_bad_csv_row_is_reported_by_the_cli(
    organization: Any, tmp_path: Path, coffre_home: Path
) -> None:
    statement = tmp_path / "releve.csv"
    statement.write_bytes(CSV + "07/11/2026;FRAIS;douze\r\n".encode("cp1252"))
    refused = run(
        coffre_home, "bank", "import", str(statement), "--org", organization.siren,
        "--account", IBAN, "--csv-mapping", MAPPING, check=False,
    )  # fmt: skip
    assert refused.returncode == 2 and "5" in refused.stderr
    assert _live(organization.id) == []
