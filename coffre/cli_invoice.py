"""`coffre invoice …`: the seller profile, issuing invoices and credit notes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from coffre.bootstrap import configure_prefect_home
from coffre.cli_mail import OrgOption, _org_id

invoice_app = typer.Typer(help="Invoices issued by the business (Factur-X).", no_args_is_help=True)
JsonFile = Annotated[Path, typer.Option("--json-file", help="The data, as a JSON file.")]


def _load(path: Path) -> Any:
    from coffre.cli import _fail

    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        _fail(f"cannot read {path}: {error}", 2)


def _run(state: Any) -> None:
    """Print the flow's result, or the refused fields (exit 2) or the error (exit 1)."""
    from coffre.cli import _fail, _print_json
    from coffre.tasks.invoicing import InvoiceRefused

    if state.is_completed():
        _print_json(state.result())
        return
    try:
        state.result()
    except InvoiceRefused as refused:
        _print_json({"refused": [{"field": e.field, "message": e.message} for e in refused.errors]})
        raise typer.Exit(2) from refused
    except Exception as error:  # noqa: BLE001 - the flow's error, in words
        _fail(str(error), 1)


@invoice_app.command("seller")
def invoice_seller(org: OrgOption, json_file: JsonFile) -> None:
    """Set what the organisation's invoices say about it: legal name and form, address,
    VAT number, SIRET, IBAN, payment terms, penalty rate, VAT exemption mention."""
    from coffre.cli import _print_json
    from coffre.models import SellerProfile, session_scope

    org_id = _org_id(org)
    values = _load(json_file)
    with session_scope() as session:
        profile = session.get(SellerProfile, org_id) or SellerProfile(
            org_id=org_id, legal_name="", address_line1="", postcode="", city=""
        )
        for name, value in values.items():
            if name in SellerProfile.model_fields and name != "org_id":
                setattr(profile, name, value)
        session.add(profile)
        session.flush()
        _print_json(profile.model_dump(mode="json"))


@invoice_app.command("issue")
def invoice_issue(org: OrgOption, json_file: JsonFile) -> None:
    """Issue an invoice from a draft (customer, lines, dates); prints its number and the
    sealed document's id. Refused input is listed field by field and takes no number."""
    org_id = _org_id(org)
    draft = _load(json_file)
    configure_prefect_home()
    from coffre.flows.invoicing import issue_invoice

    _run(issue_invoice(org_id, draft=draft, return_state=True))


@invoice_app.command("credit-note")
def invoice_credit_note(
    invoice: Annotated[str, typer.Argument(help="The invoice's number or id.")],
    org: OrgOption,
    json_file: Annotated[
        Path | None, typer.Option("--json-file", help="Lines to credit (default: all).")
    ] = None,
) -> None:
    """Cancel an issued invoice by a credit note (all of it, or the lines given)."""
    org_id = _org_id(org)
    lines = _load(json_file) if json_file else None
    configure_prefect_home()
    from coffre.flows.invoicing import issue_credit_note

    _run(issue_credit_note(org_id, invoice, lines, return_state=True))


@invoice_app.command("list")
def invoice_list(org: OrgOption) -> None:
    """The organisation's invoices, one JSON object per line."""
    from sqlmodel import col, select

    from coffre.cli import _print_json
    from coffre.models import Invoice, session_scope

    org_id = _org_id(org)
    with session_scope() as session:
        for invoice in session.exec(
            select(Invoice).where(Invoice.org_id == org_id).order_by(col(Invoice.created_at))
        ):
            _print_json(
                {
                    "invoice_id": invoice.id,
                    "number": invoice.number,
                    "kind": str(invoice.kind),
                    "state": str(invoice.state),
                    "issue_date": invoice.issue_date,
                    "total_gross": invoice.total_gross,
                    "document_id": invoice.document_id,
                }
            )
