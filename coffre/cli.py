"""The `coffre` command, for operators."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from stdnum.exceptions import ValidationError
from stdnum.fr import siren as siren_number

from coffre.bootstrap import configure_prefect_home, prepare_home

app = typer.Typer(help="Coffre: sealed, encrypted, reconciled documents.", no_args_is_help=True)
org_app = typer.Typer(help="Organisations.", no_args_is_help=True)
doc_app = typer.Typer(help="Documents.", no_args_is_help=True)
audit_app = typer.Typer(help="The audit journal.", no_args_is_help=True)
app.add_typer(org_app, name="org")
app.add_typer(doc_app, name="doc")
app.add_typer(audit_app, name="audit")

OrgOption = Annotated[str, typer.Option("--org", help="Organisation id or SIREN.")]


def _print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, ensure_ascii=False, default=str) + "\n")


def _fail(message: str, code: int = 1) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


@app.command()
def init() -> None:
    """Create the embedded state (folders, database schema, key store)."""
    home = prepare_home()
    typer.echo(f"Coffre home ready: {home}")


@org_app.command("create")
def org_create(
    name: str,
    siren: Annotated[str, typer.Option(help="The 9-digit SIREN of the business.")],
) -> None:
    """Create an organisation and print it as JSON."""
    from sqlalchemy.exc import IntegrityError

    from coffre.models import Organization, append_event, session_scope

    try:
        number = siren_number.validate(siren)
    except ValidationError as error:
        _fail(f"invalid SIREN {siren!r}: {error}", 2)
    prepare_home()
    organization = Organization(name=name.strip(), siren=number)
    try:
        with session_scope() as session:
            session.add(organization)
            session.flush()
            append_event(
                session,
                organization.id,
                actor="cli",
                action="organization.created",
                subject_type="organization",
                subject_id=organization.id,
                details={"name": organization.name, "siren": number},
            )
    except IntegrityError:
        _fail(f"an organisation with SIREN {number} already exists", 1)
    _print_json(organization.model_dump(mode="json"))


@org_app.command("list")
def org_list() -> None:
    """List organisations as JSON lines."""
    from sqlmodel import select

    from coffre.models import Organization, session_scope

    prepare_home()
    with session_scope() as session:
        for organization in session.exec(select(Organization)):
            _print_json(organization.model_dump(mode="json"))


@app.command()
def capture(
    files: Annotated[list[Path], typer.Argument(help="Photos or PDFs to capture.")],
    org: OrgOption,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per file.")] = False,
    kind: Annotated[str | None, typer.Option(help="receipt, invoice_in, …")] = None,
) -> None:
    """Capture files: original kept, PDF/A archive copy made, fields read.

    Exits 0 when every file got an outcome (quarantined ones included).
    """
    from coffre.models import NotFound, find_organization, session_scope

    prepare_home()
    try:
        with session_scope() as session:
            org_id = find_organization(session, org).id
    except NotFound as error:
        _fail(str(error), 2)
    missing = [path for path in files if not path.is_file()]
    present = [str(path) for path in files if path.is_file()]
    outcomes: list[dict[str, Any]] = []
    if present:
        configure_prefect_home()
        from coffre.flows.capture import capture as capture_flow

        outcomes = capture_flow(org=org_id, paths=present, source="cli", kind=kind)
    for path in missing:
        outcomes.append(
            {
                "file": str(path),
                "document_id": None,
                "status": "ERROR",
                "reason": "no such file",
                "duplicate_of": None,
            }
        )
    for outcome in outcomes:
        if as_json:
            _print_json(outcome)
        else:
            line = f"{outcome['status']:<12} {outcome['document_id'] or '-':<32} {outcome['file']}"
            if outcome["duplicate_of"]:
                line += "  (duplicate)"
            if outcome["reason"]:
                line += f"  — {outcome['reason']}"
            typer.echo(line)
    if missing:
        raise typer.Exit(1)


@doc_app.command("get")
def doc_get(
    document_id: str,
    org: OrgOption,
    archive: Annotated[Path | None, typer.Option(help="Write the archive copy here.")] = None,
    original: Annotated[Path | None, typer.Option(help="Write the original here.")] = None,
) -> None:
    """Print a document as JSON; with --archive/--original, write its bytes out."""
    from coffre.models import NotFound, find_organization, get_document, session_scope
    from coffre.runtime import get_vault

    prepare_home()
    try:
        with session_scope() as session:
            org_id = find_organization(session, org).id
            document = get_document(session, org_id, document_id)
    except NotFound as error:
        _fail(str(error), 2)
    for target, key, what in (
        (archive, document.archive_key, "archive copy"),
        (original, document.original_key, "original"),
    ):
        if target is None:
            continue
        if key is None:
            _fail(f"document {document_id} has no {what} ({document.status})", 1)
        assert key is not None
        target.write_bytes(get_vault().get(org_id, key))
    _print_json(document.model_dump(mode="json", exclude={"ocr_text"}))


@doc_app.command("list")
def doc_list(
    org: OrgOption,
    limit: int = 50,
    offset: int = 0,
) -> None:
    """List an organisation's documents, newest first, as JSON lines."""
    from coffre.models import find_organization, list_documents, session_scope

    prepare_home()
    with session_scope() as session:
        org_id = find_organization(session, org).id
        for document in list_documents(session, org_id, limit=limit, offset=offset):
            _print_json(document.model_dump(mode="json", exclude={"ocr_text", "fields"}))


@audit_app.command("verify")
def audit_verify(org: OrgOption) -> None:
    """Check the organisation's hash-chained journal; exit 1 at the first broken link."""
    from dataclasses import asdict

    from coffre.models import find_organization, session_scope, verify_chain

    prepare_home()
    with session_scope() as session:
        org_id = find_organization(session, org, include_deleted=True).id
        report = verify_chain(session, org_id)
    _print_json(asdict(report))
    if not report.ok:
        raise typer.Exit(1)


@app.command()
def verify(
    file: Path,
    as_json: Annotated[bool, typer.Option("--json", help="The report as JSON.")] = False,
    trust_root: Annotated[
        list[Path] | None,
        typer.Option(help="A trusted root (PEM); default: this instance's seal and TSA roots."),
    ] = None,
) -> None:
    """Check a sealed PDF: exit 0 when the seal is intact, covers the file, chains to a
    trusted root and carries a valid timestamp; exit 1 with the reason otherwise."""
    from coffre.settings import get_settings
    from coffre.tasks.pki import load_certificates
    from coffre.tasks.sealing import seal_config
    from coffre.tasks.verify import verify_pdf

    if not file.is_file():
        _fail(f"no such file: {file}", 2)
    settings = get_settings()
    roots = trust_root or list(seal_config(settings).trust_root_paths)
    report = verify_pdf(
        file.read_bytes(),
        load_certificates(roots),
        revocation_mode=settings.seal_revocation_mode,
    )
    if as_json:
        _print_json(report.to_json())
    elif report.ok:
        typer.echo(
            f"valid seal ({report.level}) by {report.signer}, sealed {report.signing_time}, "
            f"timestamp {report.timestamp_time}"
        )
    else:
        typer.echo("NOT VALID: " + "; ".join(report.reasons))
    if not report.ok:
        raise typer.Exit(1)


def _add_subcommands() -> None:
    from coffre.cli_backup import backup_app
    from coffre.cli_bank import bank_app, match_app, reconcile_command
    from coffre.cli_invoice import invoice_app
    from coffre.cli_mail import mail_app

    app.add_typer(mail_app, name="mail")
    app.add_typer(bank_app, name="bank")
    app.add_typer(match_app, name="match")
    app.command("reconcile")(reconcile_command)
    app.add_typer(invoice_app, name="invoice")
    app.add_typer(backup_app, name="backup")


_add_subcommands()


def main() -> None:
    app()


if __name__ == "__main__":
    main()
