"""The dashboard's figures: this month, reconciliation, what needs the customer, spending."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from coffre.models import Document, Organization, session_scope
from coffre.models.bank import BankConnection, BankConnectionState
from coffre.models.document import DocumentKind, DocumentStatus
from coffre.tasks.bank_import import import_statement_fn
from coffre.tasks.reconcile import reconcile_org_fn
from coffre.tasks.statements.csvfile import CsvMapping
from coffre.webui.dashboard_figures import dashboard_figures
from tests.documents import document_row

CSV = (
    "Date;Libellé;Montant\r\n"
    "03/11/2026;PRLV SEPA EDF SA FACTURE 10045871;-84,20\r\n"
    "06/11/2026;VIR INCONNU;-999,00\r\n"
).encode("cp1252")


def _document(org_id: str, name: str, **values: object) -> Document:
    values.setdefault("kind", "invoice_in")
    return document_row(org_id, name, **values)  # type: ignore[arg-type]


def test_figures_of_one_organisation(coffre_home: Path) -> None:
    mine = Organization(name="Boulangerie", siren="732829320")
    theirs = Organization(name="Fleuriste", siren="552100554")
    month = datetime.now(UTC).strftime("%Y-%m")
    with session_scope() as session:
        session.add_all([mine, theirs])
        session.flush()
        session.add_all(
            [
                _document(mine.id, "edf.pdf", supplier="EDF SA", total_ttc="84.20",
                          date="2026-10-28", invoice_number="10045871"),
                _document(mine.id, "ticket.pdf", kind=DocumentKind.RECEIPT, total_ttc="3.80",
                          date=f"{month}-02"),
                _document(mine.id, "flou.jpg", status=DocumentStatus.QUARANTINED),
                _document(theirs.id, "autre.pdf", total_ttc="1000.00", date=f"{month}-02"),
                BankConnection(org_id=mine.id, bank_name="Banque Populaire",
                               state=BankConnectionState.NEEDS_REAUTH),
            ]
        )  # fmt: skip
    mapping = CsvMapping(booking_date="Date", wording="Libellé", amount="Montant")
    import_statement_fn(
        mine.id, CSV, "releve.csv", account_iban="FR7630006000011234567890189", csv_mapping=mapping
    )
    reconcile_org_fn(mine.id)

    figures = dashboard_figures(mine.id)
    assert figures.documents_this_month == 3
    assert figures.reconciled_share == 0.5  # EDF paid, the unknown transfer open
    assert figures.needs_you == [
        "1 document(s) en quarantaine",
        "Banque à reconnecter : Banque Populaire",
    ]
    assert figures.spending_by_month[month] == Decimal("3.80")
    if "2026-10" in figures.spending_by_month:
        assert figures.spending_by_month["2026-10"] == Decimal("84.20")
    assert len(figures.spending_by_month) == 12
