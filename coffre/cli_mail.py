"""`coffre mail …`: connect, list, fetch and delete customers' mailboxes."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

import typer

from coffre.bootstrap import configure_prefect_home, prepare_home

mail_app = typer.Typer(help="Mail connections (read-only mailboxes).", no_args_is_help=True)
OrgOption = Annotated[str, typer.Option("--org", help="Organisation id or SIREN.")]


def _org_id(org: str) -> str:
    from coffre.cli import _fail
    from coffre.models import NotFound, find_organization, session_scope

    prepare_home()
    try:
        with session_scope() as session:
            return find_organization(session, org).id
    except NotFound as error:
        _fail(str(error), 2)
        raise AssertionError("unreachable") from error


def _public(connection: Any) -> dict[str, Any]:
    """What may be shown of a connection: never its credentials."""
    return {
        "id": connection.id,
        "org_id": connection.org_id,
        "provider": str(connection.provider),
        "display_name": connection.display_name,
        "folder": connection.folder,
        "criteria": connection.criteria,
        "status": str(connection.status),
        "last_error": connection.last_error,
        "last_run_at": connection.last_run_at,
    }


@mail_app.command("add")
def mail_add(
    org: OrgOption,
    provider: Annotated[str, typer.Option(help="imap or nylas.")],
    name: Annotated[str, typer.Option(help="A name the customer recognises.")] = "Boîte mail",
    host: Annotated[str | None, typer.Option(help="IMAP server.")] = None,
    port: Annotated[int, typer.Option(help="IMAP port (993 for ssl, 143 for starttls).")] = 993,
    tls: Annotated[str, typer.Option(help="ssl or starttls.")] = "ssl",
    username: Annotated[str | None, typer.Option(help="IMAP user name.")] = None,
    password: Annotated[
        str | None,
        typer.Option(
            envvar="COFFRE_MAIL_PASSWORD",
            help="IMAP password; prompted for if absent (never pass it on the command line "
            "in production: use COFFRE_MAIL_PASSWORD).",
        ),
    ] = None,
    grant_id: Annotated[str | None, typer.Option(help="Nylas grant id.")] = None,
    folder: Annotated[
        str, typer.Option(help="Folder to read (Sent and Drafts refused).")
    ] = "INBOX",
    sender: Annotated[
        list[str] | None, typer.Option(help="Sender address or domain; repeatable.")
    ] = None,
    subject: Annotated[
        list[str] | None, typer.Option(help="Text the subject contains; repeatable.")
    ] = None,
    filename_pattern: Annotated[
        str | None, typer.Option(help="Glob on attachment names, e.g. '*facture*'.")
    ] = None,
    received_after: Annotated[
        str | None, typer.Option(help="Ignore mail received before this date (YYYY-MM-DD).")
    ] = None,
    check: Annotated[bool, typer.Option(help="Log in once before saving.")] = True,
) -> None:
    """Connect a mailbox; prints the connection as JSON (without its credentials)."""
    from coffre.cli import _fail, _print_json
    from coffre.tasks.mail_connections import add_connection
    from coffre.tasks.mail_errors import MailError

    org_id = _org_id(org)
    if provider == "imap":
        if not host or not username:
            _fail("an IMAP connection needs --host and --username", 2)
        if password is None:
            password = typer.prompt("IMAP password", hide_input=True)
        credentials: dict[str, Any] = {
            "host": host,
            "port": port,
            "tls": tls,
            "username": username,
            "password": password,
        }
    elif provider == "nylas":
        credentials = {"grant_id": grant_id or ""}
    else:
        _fail("--provider must be imap or nylas", 2)
    criteria: dict[str, Any] = {
        "senders": sender or [],
        "subject_contains": subject or [],
        "filename_pattern": filename_pattern,
        "received_after": date.fromisoformat(received_after) if received_after else None,
    }
    try:
        connection = add_connection(
            org_id, provider, name, credentials, criteria=criteria, folder=folder, check=check
        )
    except MailError as error:
        _fail(str(error), 2)
    _print_json(_public(connection))


@mail_app.command("list")
def mail_list(
    org: OrgOption,
    deleted: Annotated[bool, typer.Option(help="Include deleted connections.")] = False,
) -> None:
    """The organisation's mail connections, one JSON object per line."""
    from coffre.cli import _print_json
    from coffre.models import session_scope
    from coffre.models.mail_queries import list_connections

    org_id = _org_id(org)
    with session_scope() as session:
        for connection in list_connections(session, org_id, include_deleted=deleted):
            _print_json(_public(connection))


@mail_app.command("fetch")
def mail_fetch(connection_id: str, org: OrgOption) -> None:
    """Fetch one connection now (the fetch-mail flow) and print what it did as JSON."""
    from coffre.cli import _fail, _print_json

    org_id = _org_id(org)
    configure_prefect_home()
    from coffre.flows.mail import fetch_mail

    state = fetch_mail(org_id, connection_id, return_state=True)
    if not state.is_completed():
        try:
            state.result()
        except Exception as error:  # noqa: BLE001 - report the flow's error in words
            _fail(str(error), 1)
        _fail(f"the fetch ended {state.name}", 1)
    _print_json(state.result())


@mail_app.command("delete")
def mail_delete(connection_id: str, org: OrgOption) -> None:
    """Disconnect a mailbox: the Nylas grant is revoked, credentials and processed ids
    are deleted; documents already captured stay."""
    from coffre.cli import _fail, _print_json
    from coffre.tasks.mail_connections import delete_connection
    from coffre.tasks.mail_errors import MailError

    org_id = _org_id(org)
    try:
        _print_json(_public(delete_connection(org_id, connection_id)))
    except MailError as error:
        _fail(str(error), 1)
