"""`coffre bank …` and `coffre reconcile`: statements, Powens connections, matches."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from coffre.bootstrap import configure_prefect_home
from coffre.cli_mail import OrgOption, _org_id

bank_app = typer.Typer(
    help="Bank accounts, statements and Powens connections.", no_args_is_help=True
)
match_app = typer.Typer(help="Decisions on matches (confirm, reject).", no_args_is_help=True)


def _flow_result(state: Any) -> Any:
    from coffre.cli import _fail

    if not state.is_completed():
        try:
            state.result()
        except Exception as error:  # noqa: BLE001 - the flow's error, in words
            _fail(str(error), 2 if "ImportRefused" in type(error).__name__ else 1)
        _fail(f"the run ended {state.name}", 1)
    return state.result()


@bank_app.command("import")
def bank_import(
    file: Annotated[Path, typer.Argument(help="OFX/QFX, CAMT.053, CFONB 120 or CSV statement.")],
    org: OrgOption,
    account: Annotated[
        str | None, typer.Option("--account", help="IBAN of the account (required for CSV).")
    ] = None,
    csv_mapping: Annotated[
        str | None,
        typer.Option(
            help='CSV columns as JSON, e.g. {"booking_date": "Date", "amount": "Montant"}.'
        ),
    ] = None,
) -> None:
    """Import a statement whole (or nothing, with the line and the reason), then reconcile."""
    from coffre.cli import _fail, _print_json
    from coffre.tasks.bank_import import ImportRefused

    org_id = _org_id(org)
    if not file.is_file():
        _fail(f"no such file: {file}", 2)
    mapping = json.loads(csv_mapping) if csv_mapping else None
    configure_prefect_home()
    from coffre.flows.bank import import_statement

    state = import_statement(org_id, str(file), account, mapping, return_state=True)
    if state.is_failed():
        try:
            state.result()
        except ImportRefused as error:
            _fail(str(error), 2)
    _print_json(_flow_result(state))


@bank_app.command("connect")
def bank_connect(
    org: OrgOption,
    redirect_uri: Annotated[str | None, typer.Option(help="Where the web view returns.")] = None,
) -> None:
    """Start a Powens connection: prints the web view link where the customer picks the
    bank and types the bank credentials (Coffre never sees them)."""
    from coffre.cli import _print_json
    from coffre.settings import get_settings
    from coffre.tasks.bank_sync import connect_bank_fn

    org_id = _org_id(org)
    row, url = connect_bank_fn(org_id, redirect_uri or get_settings().powens_redirect_uri)
    _print_json({"connection_id": row.id, "webview_url": url})


@bank_app.command("sync")
def bank_sync(connection_id: str, org: OrgOption) -> None:
    """Sync a Powens connection now (the sync-bank flow), then reconcile."""
    from coffre.cli import _print_json

    org_id = _org_id(org)
    configure_prefect_home()
    from coffre.flows.bank import sync_bank

    _print_json(_flow_result(sync_bank(org_id, connection_id, return_state=True)))


@bank_app.command("list")
def bank_list(org: OrgOption) -> None:
    """Connections and accounts, one JSON object per line (never a token)."""
    from sqlmodel import select

    from coffre.cli import _print_json
    from coffre.models import session_scope
    from coffre.models.bank import BankAccount, BankConnection

    org_id = _org_id(org)
    with session_scope() as session:
        for connection in session.exec(
            select(BankConnection).where(BankConnection.org_id == org_id)
        ):
            _print_json(
                {
                    "connection_id": connection.id,
                    "bank": connection.bank_name,
                    "state": str(connection.state),
                    "state_reason": connection.state_reason,
                    "last_sync_at": connection.last_sync_at,
                }
            )
        for account in session.exec(select(BankAccount).where(BankAccount.org_id == org_id)):
            _print_json(
                {
                    "account_id": account.id,
                    "iban": account.iban,
                    "name": account.name,
                    "currency": account.currency,
                    "balance_cents": account.balance_cents,
                    "connection_id": account.connection_id,
                }
            )


@bank_app.command("delete-connection")
def bank_delete_connection(connection_id: str, org: OrgOption) -> None:
    """Delete a connection at Powens (hard delete) and here, with its transactions."""
    from coffre.cli import _print_json
    from coffre.tasks.bank_sync import delete_bank_connection_fn

    _print_json(delete_bank_connection_fn(_org_id(org), connection_id))


@bank_app.command("delete-transaction")
def bank_delete_transaction(transaction_id: str, org: OrgOption) -> None:
    """Hide a transaction for good (a later sync never brings it back)."""
    from coffre.cli import _fail, _print_json
    from coffre.models import session_scope
    from coffre.tasks.bank_store import hide_transaction

    org_id = _org_id(org)
    with session_scope() as session:
        if not hide_transaction(session, org_id, transaction_id):
            _fail(f"no transaction {transaction_id!r} in this organisation", 2)
    _print_json({"transaction_id": transaction_id, "hidden": True})


def reconcile_command(
    org: OrgOption,
    as_json: Annotated[bool, typer.Option("--json", help="Print the matches as JSON.")] = False,
) -> None:
    """Match transactions with documents; prints automatic matches and suggestions."""
    from sqlmodel import col, select

    from coffre.cli import _print_json
    from coffre.models import session_scope
    from coffre.models.bank import Match

    org_id = _org_id(org)
    configure_prefect_home()
    from coffre.flows.bank import reconcile

    summary = _flow_result(reconcile(org_id, return_state=True))
    with session_scope() as session:
        matches = [
            {
                "match_id": m.id,
                "transaction_id": m.transaction_id,
                "document_id": m.document_id,
                "amount_cents": m.amount_cents,
                "kind": str(m.kind),
                "score": round(m.score, 4),
                "explanation": m.explanation,
            }
            for m in session.exec(
                select(Match)
                .where(Match.org_id == org_id)
                .order_by(col(Match.transaction_id), col(Match.score).desc())
            )
        ]
    if as_json:
        _print_json({**summary, "matches": matches})
        return
    typer.echo(
        f"{summary['automatic']} automatic, {summary['suggested']} suggested "
        f"({summary['transactions_open']} open transactions, "
        f"{summary['documents_open']} open documents)"
    )
    for match in matches:
        typer.echo(f"{match['kind']:<10} {match['score']:.2f} {match['explanation']}")


@match_app.command("confirm")
def match_confirm(match_id: str, org: OrgOption) -> None:
    """Accept a match: later runs never change it."""
    _decide(org, match_id, "confirmed")


@match_app.command("reject")
def match_reject(match_id: str, org: OrgOption) -> None:
    """Refuse a match: the pair is never proposed again."""
    _decide(org, match_id, "rejected")


def _decide(org: str, match_id: str, kind: str) -> None:
    from coffre.cli import _fail, _print_json
    from coffre.tasks.reconcile import decide_match

    try:
        match = decide_match(_org_id(org), match_id, kind, decided_by="cli")
    except LookupError as error:
        _fail(str(error), 2)
    _print_json({"match_id": match.id, "kind": str(match.kind)})
