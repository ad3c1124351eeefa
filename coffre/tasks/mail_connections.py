"""Adding and deleting mail connections.

A connection is checked before it is saved (the server answers, the credentials work,
the folder exists and is not Sent or Drafts), so that a customer learns at once what
is wrong. Deleting one revokes the Nylas grant, then forgets the credentials and the
processed message ids; the row stays, emptied, so that documents can still say which
mailbox they came from.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from coffre.models import append_event, new_id, session_scope, utcnow
from coffre.models.mail import MailConnection, MailConnectionStatus, MailProvider
from coffre.models.mail_queries import forget_processed, get_connection
from coffre.runtime import get_engine
from coffre.tasks.mail_criteria import MailCriteria
from coffre.tasks.mail_errors import MailConfigError
from coffre.tasks.mail_fetch import open_mailbox
from coffre.tasks.mail_imap import ImapAccount
from coffre.tasks.mail_nylas import NylasMailbox
from coffre.tasks.org_secrets import grant_lookup, open_credentials, seal_credentials

ACTOR = "mail"


def validate_credentials(provider: MailProvider, credentials: dict[str, Any]) -> dict[str, Any]:
    """The credentials a provider needs, and nothing else."""
    if provider == MailProvider.NYLAS:
        grant_id = str(credentials.get("grant_id") or "").strip()
        if not grant_id:
            raise MailConfigError("A Nylas connection needs the grant id.")
        return {"grant_id": grant_id}
    try:
        account = ImapAccount.from_credentials(credentials)
    except (KeyError, TypeError, ValueError) as error:
        raise MailConfigError(
            f"An IMAP connection needs host, port, tls, username and password ({error})."
        ) from error
    if account.tls not in ("ssl", "starttls"):
        raise MailConfigError("IMAP needs TLS: tls must be 'ssl' or 'starttls'.")
    if not 0 < account.port < 65536:
        raise MailConfigError(f"{account.port} is not a port number.")
    return {
        "host": account.host,
        "port": account.port,
        "tls": account.tls,
        "username": account.username,
        "password": account.password,
    }


def add_connection(
    org_id: str,
    provider: str,
    display_name: str,
    credentials: dict[str, Any],
    *,
    criteria: dict[str, Any] | None = None,
    folder: str = "INBOX",
    check: bool = True,
) -> MailConnection:
    kind = MailProvider(provider)
    try:
        parsed = MailCriteria.model_validate(criteria or {})
    except ValidationError as error:
        raise MailConfigError(f"Invalid criteria: {error.errors()[0]['msg']}") from error
    clean = validate_credentials(kind, credentials)
    connection = MailConnection(
        id=new_id(),
        org_id=org_id,
        provider=kind,
        display_name=display_name.strip() or "Boîte mail",
        criteria=parsed.model_dump(mode="json", exclude_defaults=True),
        folder=folder or "INBOX",
    )
    if check:
        with open_mailbox(connection, clean):
            pass  # opening logs in and finds the folder, or says in words why not
    connection.credentials = seal_credentials(org_id, connection.id, clean)
    if kind == MailProvider.NYLAS:
        connection.grant_lookup = grant_lookup(clean["grant_id"])
    with session_scope(get_engine()) as session:
        session.add(connection)
        session.flush()
        append_event(
            session,
            org_id,
            actor=ACTOR,
            action="mail_connection.added",
            subject_type="mail_connection",
            subject_id=connection.id,
            details={"provider": kind.value, "folder": connection.folder},
        )
        session.refresh(connection)
        session.expunge(connection)
    return connection


def delete_connection(org_id: str, connection_id: str) -> MailConnection:
    """Revoke access, forget credentials and processed ids; captured documents stay."""
    with session_scope(get_engine()) as session:
        connection = get_connection(session, org_id, connection_id)
        session.expunge(connection)
    if connection.status == MailConnectionStatus.DELETED:
        return connection
    if connection.provider == MailProvider.NYLAS and connection.credentials is not None:
        credentials = open_credentials(org_id, connection_id, connection.credentials)
        from coffre.tasks.mail_fetch import nylas_settings

        NylasMailbox(nylas_settings(), str(credentials["grant_id"])).revoke_without_session()
    with session_scope(get_engine()) as session:
        row = get_connection(session, org_id, connection_id)
        forgotten = forget_processed(session, connection_id)
        row.credentials = None
        row.grant_lookup = None
        row.cursor = {}
        row.status = MailConnectionStatus.DELETED
        row.deleted_at = utcnow()
        row.lease_until = None
        session.add(row)
        append_event(
            session,
            org_id,
            actor=ACTOR,
            action="mail_connection.deleted",
            subject_type="mail_connection",
            subject_id=connection_id,
            details={"processed_ids_forgotten": forgotten},
        )
        session.flush()
        session.refresh(row)
        session.expunge(row)
    return row
